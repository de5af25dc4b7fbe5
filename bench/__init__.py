"""The benchmark suite: build, update, query and web measurements on the news-big corpus.

Run ``python -m bench.run --help``. Nothing here is imported by ``search`` or
``web``; the suite drives the installed CLI in subprocesses (so time and memory
are those a user sees) and the library in one child process (for query
latency and the searcher's memory).
"""
