"""The HTML pages: home, results and article."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from search import SearchResults
from search.query.highlight import highlight_title
from search.query.request import COVERAGE_DAYS, DEFAULT_SORT, SORT_LABELS

from .index import get_index
from .params import SearchParams, parse_search_args
from .sanitize import clean_html
from .timeline import make_timeline

bp = Blueprint("pages", __name__)

#: Example searches on the home page: (query, what it shows off).
EXAMPLES = (("苹果", "关键词"), ("芯片 OR 半导体", "任一词"), ('"人工智能"', "精确短语"),
            ("title:游戏", "只搜标题"), ("手机 -苹果", "排除词"), ("source:果壳网", "按来源"))
#: Stories listed as related coverage on the article page.
RELATED_STORIES = 8


def search_params() -> SearchParams:
    """Return the current request's search parameters, checked.

    :raise ParamError: for a bad value (answered with 400).
    """
    return parse_search_args(request.args, default_per_page=int(current_app.config["PER_PAGE"]),
                             max_query_chars=int(current_app.config["MAX_QUERY_CHARS"]))


def run_search(params: SearchParams) -> SearchResults:
    """Return the results for ``params`` from the shared index."""
    return get_index().search(params.q, page=params.page, per_page=params.per_page, sort=params.sort or DEFAULT_SORT,
                              filters=params.filters(), date_parse=params.date_parse, fold=params.fold,
                              as_typed=params.as_typed, partial=params.partial, now=current_app.config["TODAY"])


def results_context(params: SearchParams, results: SearchResults) -> dict:
    """Return what ``_results.html`` needs (the page and the API's ``format=html`` share it)."""
    return {"params": params, "results": results, "timeline": make_timeline(results.facets.get("month", ())),
            "words": params.q.split(), "sort_labels": SORT_LABELS}


@bp.get("/")
def home():
    return render_template("home.html", stats=get_index().stats(), examples=EXAMPLES, params=SearchParams())


@bp.get("/search")
def search():
    params = search_params()
    if params.is_empty:
        return redirect(url_for("pages.home"))
    results = run_search(params)
    return render_template("results.html", **results_context(params, results))


@bp.get("/post/<path:doc_id>")
def post(doc_id: str):
    if not is_safe_id(doc_id) or (article := get_index().get(doc_id)) is None:
        abort(404)
    q = request.args.get("q", "")[:int(current_app.config["MAX_QUERY_CHARS"])]
    highlights = get_index().highlights(q)
    return render_template("post.html", post=article, q=q, params=SearchParams(q=q),
                           title_html=highlight_title(article.title, highlights),
                           body=clean_html(article.html, highlights, lang=article.lang),
                           coverage=get_index().related_coverage(doc_id, limit=RELATED_STORIES),
                           coverage_days=COVERAGE_DAYS)


def is_safe_id(doc_id: str) -> bool:
    """Return False for ids no index can hold: absolute, with ``..`` segments, backslashes or NUL."""
    parts = doc_id.split("/")
    return bool(doc_id) and not doc_id.startswith("/") and "\\" not in doc_id and "\x00" not in doc_id \
        and ".." not in parts and "." not in parts
