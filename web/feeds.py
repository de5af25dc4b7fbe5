"""Every search is a feed: ``/search.atom?q=…`` is an Atom feed of the newest matches.

Readers follow news by subscribing: a feed reader polls the URL and shows the
posts it has not seen. The parameters are the results page's; the feed always
lists the newest :data:`FEED_ENTRIES` stories, with the highlighted snippet as
an escaped HTML summary. Answers carry an ``ETag`` (of the feed itself) and a
``Last-Modified`` (when the index last changed), so a reader polling an
unchanged search gets a ``304 Not Modified``.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import datetime, timezone

from flask import Blueprint, current_app, make_response, render_template, request, url_for

from .index import get_index
from .pages import run_search, search_params

bp = Blueprint("feeds", __name__)

#: Stories a feed lists, newest first.
FEED_ENTRIES = 50
ATOM = "application/atom+xml"


@bp.get("/search.atom")
def search_feed():
    asked = search_params()
    # A subscription follows what the query matches: partial matches (which the page shows when a query
    # finds little) would fill it with posts that lack some of its words.
    params = replace(asked, sort="newest", page=1, per_page=FEED_ENTRIES, partial=False)
    results = run_search(params)
    changed = _index_changed()
    page_url = url_for("pages.search", _external=True, **asked.to_args(sort="newest")) if not asked.is_empty \
        else url_for("pages.home", _external=True)
    body = render_template("search.atom.xml", params=params, results=results, updated=_updated(results, changed),
                           self_url=request.url, page_url=page_url, entry_url=_entry_url)
    response = make_response(body)
    response.mimetype = ATOM
    response.set_etag(hashlib.sha1(body.encode("utf-8")).hexdigest())
    response.last_modified = changed
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response.make_conditional(request)


@bp.app_template_filter("feed_html")
def feed_html(snippet: str) -> str:
    """Return a snippet's HTML for a feed reader, as text for the template to escape into the XML: matches
    in ``<b>``, which readers keep (they drop ``<mark>``).

    >>> feed_html("北京<mark>冬奥</mark>会")
    '北京<b>冬奥</b>会'
    """
    return str(snippet).replace("<mark>", "<b>").replace("</mark>", "</b>")


def _entry_url(hit) -> str:
    """The entry's link: the post on the blog when the server knows the blog, else its article page here."""
    return hit.url or url_for("pages.post", doc_id=hit.id, _external=True)


def _index_changed() -> datetime:
    """When the index was last written (its build or latest update): the feed's Last-Modified."""
    built = get_index().stats().built_at
    try:
        return datetime.fromisoformat(built).astimezone(timezone.utc) if built else _epoch()
    except ValueError:
        current_app.logger.warning("the index records an unreadable build time %r", built)
        return _epoch()


def _updated(results, changed: datetime) -> datetime:
    """The feed's ``updated``: its newest entry's date, or when the index changed if no entry has one."""
    dates = [hit.date for hit in results.hits if hit.date]
    return max(dates) if dates else changed


def _epoch() -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc)
