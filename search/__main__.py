"""``python -m search`` is the ``news-search`` command."""

from .cli import main

main()
