"""The search widget for other sites' pages: ``/widget.js`` and its stylesheet ``/widget.css``.

A blog adds one tag to its theme::

    <script src="https://search.example.com/widget.js" data-endpoint="https://search.example.com"
            data-placeholder="搜索文章" defer></script>

and gets a search box with instant results, drawn in a shadow root so that the
page's styles and ours leave each other alone (see ``static/widget.js``). The
script's requests to the JSON API need the blog's origin in ``CORS_ORIGINS``.
"""

from __future__ import annotations

from flask import Blueprint, current_app

bp = Blueprint("widget", __name__)


@bp.get("/widget.js")
def script():
    return _for_other_sites("widget.js")


@bp.get("/widget.css")
def stylesheet():
    return _for_other_sites("widget.css")


def _for_other_sites(filename: str):
    response = current_app.send_static_file(filename)
    # Pages that isolate themselves (Cross-Origin-Embedder-Policy) load it only when we say they may.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response
