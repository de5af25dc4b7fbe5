"""Stress runs of news-search with real processes and files (``python -m stress.run --help``)."""
