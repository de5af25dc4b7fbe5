"""The JSON API: ``/api/search``, ``/api/suggest``, ``/api/post/<id>``, ``/api/related/<id>``, ``/api/stats``,
OpenAPI.

Responses are the library's ``to_dict()``; errors are
``{"error": {"status": 400, "message": "..."}}``. ``/api/search?format=html``
adds ``html``, the results region rendered by the same template as the page,
which the instant search swaps in.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from search.errors import shown
from search.query.request import COVERAGE_DAYS

from .index import get_index
from .openapi import MAX_COVERAGE_DAYS, openapi_document
from .pages import is_safe_id, results_context, run_search, search_params
from .params import ParamError

bp = Blueprint("api", __name__, url_prefix="/api")
FORMATS = ("json", "html")
#: Stories returned by /api/related.
RELATED_LIMIT = 20


@bp.get("/search")
def search():
    response_format = request.args.get("format") or "json"
    if response_format not in FORMATS:
        raise ParamError(f"format 只能是 json 或 html，收到 {shown(response_format)}。")
    params = search_params()
    results = run_search(params)
    data = results.to_dict()
    if response_format == "html":
        data["html"] = render_template("_results.html", **results_context(params, results))
    return jsonify(data)


@bp.get("/suggest")
def suggest():
    q = request.args.get("q") or ""
    limit = int(current_app.config["MAX_QUERY_CHARS"])
    if len(q) > limit:
        raise ParamError(f"查询太长了（{len(q)} 个字符），请缩短到 {limit} 个字符以内。")
    return jsonify({"query": q, "suggestions": get_index().suggest(q)})


@bp.get("/post/<path:doc_id>")
def post(doc_id: str):
    if not is_safe_id(doc_id) or (article := get_index().get(doc_id)) is None:
        abort(404)
    return jsonify(article.to_dict())


@bp.get("/related/<path:doc_id>")
def related(doc_id: str):
    if not is_safe_id(doc_id) or get_index().get(doc_id) is None:
        abort(404)
    days = _days(request.args.get("days"))
    hits = get_index().related_coverage(doc_id, days=days, limit=RELATED_LIMIT)
    return jsonify({"path": doc_id, "days": days, "hits": [hit.to_dict() for hit in hits]})


def _days(raw: str | None) -> int:
    raw = (raw or "").strip()
    if not raw:
        return COVERAGE_DAYS
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_COVERAGE_DAYS):
        raise ParamError(f"days 必须是 1 到 {MAX_COVERAGE_DAYS} 之间的整数，收到 {shown(raw)}。")
    return int(raw)


@bp.get("/stats")
def stats():
    return jsonify(get_index().stats().to_dict())


@bp.get("/openapi.json")
def openapi():
    return jsonify(openapi_document())
