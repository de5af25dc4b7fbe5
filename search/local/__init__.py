"""The local backend: a Whoosh index in a directory of generations, its writer and its searcher.

Writing: :mod:`.indexer` builds, updates and optimizes (the schema, with :mod:`.tokenizers`' analyzers)
through :mod:`.segments` (the bulk segment writer) and :mod:`.recall` (the bigram recall index beside each
segment); :mod:`.merging` decides and runs merges, :mod:`.stories` keeps each generation's stories, and
:mod:`.watching` keeps an index fresh as posts change.

Searching: :mod:`.backend` (``LocalBackend``) opens :mod:`.searcher`'s ``Index``, which runs a plan as Whoosh
queries (:mod:`.whoosh_query`), evaluated a segment at a time with numpy (:mod:`.evaluate`), each score's
parts named by :mod:`.explain`.

This package and :mod:`search.whoosh_internals` (the only code that reaches Whoosh's internals) are the only
ones that import Whoosh.
"""
