"""One shared index per app (local, or a Sphinx cluster when ``BACKEND`` is set), opened on first use.

Opening an index is expensive, so unlike flaskr's per-request database
connection, one Index serves every request and thread (it has its own lock)
and follows rebuilds by itself. It is opened lazily so the site starts, and
answers 503, while there is no index yet; the first request after the index
appears opens it. With a ``BLOG_DIR`` or ``BLOG_URL`` setting the Index gives
every hit and post its URL on the blog.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask, current_app

from search import PostUrls, SearchError, SynonymFileError
from search.corpus.blog import HEXO_DEFAULTS, Blog, BlogError, open_blog
from search.query.synonyms import read_synonyms
from search.backend import SearchIndex, open_backend

EXTENSION = "news_search"


def init_app(app: Flask) -> None:
    """Prepare ``app`` to share one Index (opened by the first :func:`get_index`).

    :raises ValueError: for a malformed blog URL, permalink pattern or time zone, or a synonym file that
        cannot be read.
    """
    try:
        synonyms = read_synonyms(app.config["SYNONYMS"])
    except SynonymFileError as exc:
        raise ValueError(str(exc)) from None
    app.extensions[EXTENSION] = {"index": None, "lock": threading.Lock(), "post_urls": post_urls(app.config),
                                 "synonyms": synonyms}


def post_urls(config) -> PostUrls | None:
    """Return the blog's URL settings from the app's ``config``, or None if neither BLOG_DIR nor BLOG_URL is set.

    ``BLOG_DIR``'s ``_config.yml`` gives what the other settings leave unset.

    :raises ValueError: naming the setting that is wrong.
    """
    if not config["BLOG_DIR"] and not config["BLOG_URL"]:
        return None
    try:
        blog = open_blog(config["BLOG_DIR"]) if config["BLOG_DIR"] else Blog(Path("."), HEXO_DEFAULTS)
    except BlogError as exc:
        raise ValueError(str(exc)) from None
    return blog.post_urls(site=config["BLOG_URL"] or None, permalink=config["PERMALINK"] or None,
                          timezone=config["BLOG_TIMEZONE"], build_timezone=config["BUILD_TIMEZONE"] or None)


def get_index() -> SearchIndex:
    """Return the app's Index, opening it the first time.

    :raises IndexNotFoundError: if the configured directory holds no index (the site answers 503).
    :raises IndexCorruptError: if the index cannot be read (503 as well).
    """
    state = current_app.extensions[EXTENSION]
    index = state["index"]
    if index is None:
        with state["lock"]:
            if state["index"] is None:
                backend = open_backend(current_app.config["BACKEND"], index_dir=current_app.config["INDEX_DIR"])
                state["index"] = backend.open(post_urls=state["post_urls"], synonyms=state["synonyms"])
            index = state["index"]
    return index


def open_early(app: Flask) -> Flask:
    """Open ``app``'s index now, if there is one, and return ``app``.

    A server worker calls this as it starts: its first request does not pay
    for opening (or for the statistics the home page shows), and it holds the
    index files open from then on, so a deleted index directory does not take
    down a worker that had not served yet.
    """
    with app.app_context():
        try:
            get_index().stats()
        except SearchError:
            pass  # answered with 503 until the index appears
    return app
