"""The search site and JSON API: a Flask app factory over the ``search`` library.

Run it with ``news-search serve`` (waitress) or, for development,
``flask --app web run``. Configuration comes from, in order: the defaults
below, environment variables (:data:`ENV_CONFIG`), then ``test_config`` (which
the CLI uses for its flags). ``TODAY`` (``YYYY-MM-DD``) fixes the day relative
dates in queries count from; by default it is the current day.
"""

from __future__ import annotations

import os
from datetime import date

from flask import Flask

from search.query.request import MAX_SERVED_PER_PAGE

from . import api, cors, errors, feeds, index, pages, templating, widget

#: Environment variable -> (config key, type); a list is written separated by spaces or commas.
ENV_CONFIG = {
    "NEWS_SEARCH_INDEX": ("INDEX_DIR", str),
    "NEWS_SEARCH_BACKEND": ("BACKEND", str),
    "NEWS_SEARCH_PER_PAGE": ("PER_PAGE", int),
    "NEWS_SEARCH_TITLE": ("SITE_TITLE", str),
    "NEWS_SEARCH_MAX_QUERY": ("MAX_QUERY_CHARS", int),
    "NEWS_SEARCH_ALLOW_ORIGINS": ("CORS_ORIGINS", list),
    "NEWS_SEARCH_BLOG": ("BLOG_DIR", str),
    "NEWS_SEARCH_BLOG_URL": ("BLOG_URL", str),
    "NEWS_SEARCH_PERMALINK": ("PERMALINK", str),
    "NEWS_SEARCH_BLOG_TIMEZONE": ("BLOG_TIMEZONE", str),
    "NEWS_SEARCH_BUILD_TIMEZONE": ("BUILD_TIMEZONE", str),
    "NEWS_SEARCH_TODAY": ("TODAY", str),
    "NEWS_SEARCH_SYNONYMS": ("SYNONYMS", str),
}

#: Sent with every response, errors and static files included. Scripts and
#: styles only from our own static files; images from anywhere (thumbnails and
#: article pictures are remote), never frames, plugins or form posts elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
        "media-src 'none'; object-src 'none'; frame-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the site.

    ``CORS_ORIGINS`` lists the sites whose pages may call the JSON API (see
    :mod:`web.cors`); with ``BLOG_DIR`` (a Hexo blog's folder, whose ``_config.yml``
    gives the rest) or ``BLOG_URL`` (and ``PERMALINK``, ``BLOG_TIMEZONE``,
    ``BUILD_TIMEZONE``, which win over the blog's settings) hits and posts
    carry their URL on the blog (see :mod:`search.corpus.permalinks`).

    ``TODAY`` fixes the day relative dates in queries count from. ``SYNONYMS`` is a synonym file in Solr's
    format, ``"none"``, or None for the built-in list (see :mod:`search.query.synonyms`). ``BACKEND`` (a
    ``sphinx://`` URL) serves the index on a Sphinx cluster instead of the one in ``INDEX_DIR``.

    :raises ValueError: for a setting that is malformed or out of range (the message names it).
    """
    app = Flask(__name__)
    app.config.from_mapping(INDEX_DIR="index", BACKEND=None, PER_PAGE=10, SITE_TITLE="新闻搜索", MAX_QUERY_CHARS=200,
                            CORS_ORIGINS=[], BLOG_DIR="", BLOG_URL="", PERMALINK="", BLOG_TIMEZONE=None,
                            BUILD_TIMEZONE="", TODAY=None, SYNONYMS=None)
    app.config.update(_from_environment(os.environ))
    if test_config is not None:
        app.config.update(test_config)
    if not 1 <= int(app.config["PER_PAGE"]) <= MAX_SERVED_PER_PAGE:
        raise ValueError(f"PER_PAGE must be from 1 to {MAX_SERVED_PER_PAGE}, not {app.config['PER_PAGE']!r}")
    app.config["TODAY"] = _day(app.config["TODAY"])
    app.json.ensure_ascii = False

    index.init_app(app)
    cors.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(feeds.bp)
    app.register_blueprint(widget.bp)
    app.after_request(_add_security_headers)
    return app


def _from_environment(environ) -> dict:
    config = {}
    for name, (key, kind) in ENV_CONFIG.items():
        value = environ.get(name, "").strip()
        if not value:
            continue
        if kind is list:
            config[key] = value.replace(",", " ").split()
            continue
        try:
            config[key] = kind(value)
        except ValueError:  # only int() can fail
            raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    return config


def _day(value: date | str | None) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"TODAY (NEWS_SEARCH_TODAY) must be a date, YYYY-MM-DD, not {value!r}") from None


def _add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
