"""The engine-neutral query layer: what a reader asks, read and planned once for either backend, and the answer.

In the order a search goes through it:

* :mod:`.request`: the arguments checked and read (sorts, filters, paging, facets); :mod:`.dates`: date
  words such as 去年 or 上周;
* :mod:`.syntax`: the query language, parsed into a syntax tree and planned into :mod:`.plan`'s nodes
  (what matches, how each part scores); :mod:`.terms`: each word's units, optional words and synonyms
  (:mod:`.synonyms`, ``synonyms.txt``); :mod:`.ranking`: the weights;
* :mod:`.readings`: pinyin, typos and date words read as the reader meant them, against the index's own
  words (:mod:`.vocabulary`); :mod:`.fallback`: partial matches when all the words find too little;
* :mod:`.results`: the value types a search returns; :mod:`.facets`: facet counts; :mod:`.highlight`:
  snippets and highlighted titles.

Each backend translates the plan for its engine (:mod:`search.local.whoosh_query`, :mod:`search.sphinx.match`).
Nothing here imports Whoosh when loaded: ``tests/test_sphinx.py`` reads and plans a request in a process where
Whoosh cannot be imported.
"""
