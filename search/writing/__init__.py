"""What both engines' writers share: the corpus diff and reports, stored values, the index directory, workers.

The local index's writer (:mod:`search.local.indexer`) and a Sphinx cluster's (:mod:`search.sphinx.writer`)
both build on these:

* :mod:`.builds`: scanning the corpus, what changed since the last manifest, build and optimize reports;
* :mod:`.fields`: the values both indexes store and filter by (filter keys, packed content), so a filter or
  a snippet reads the same on either;
* :mod:`.storage`: the index directory: immutable generations, the atomic ``CURRENT`` pointer, one writer lock;
* :mod:`.processes`: worker processes that share out a job and never outlive their parent.
"""
