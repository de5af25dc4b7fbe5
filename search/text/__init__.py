"""Text analysis, shared by indexing and querying whatever the engine: folding, segmenting, a text's language.

* :mod:`.analysis`: folding (Traditional to Simplified, full width, case), segmenting with jieba or rjieba,
  the sections of the recall field, word and character counts;
* :mod:`.language`: the language a post is written in, as a BCP 47 tag, from its mix of scripts.

Nothing here imports Whoosh; the same analysis as Whoosh analyzers, for the local index's schema, is
:mod:`search.local.tokenizers`.
"""
