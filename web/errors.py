"""Errors as readers see them: an HTML page on the site, a JSON object under ``/api/``.

No stack trace ever reaches the client: unexpected exceptions are logged and
answered with a plain 500.
"""

from __future__ import annotations

from flask import Flask, current_app, jsonify, make_response, render_template, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from search import IndexCorruptError, IndexNotFoundError, IndexVersionError, QuerySyntaxError, WhooshIncompatibleError

from .params import ParamError, SearchParams

#: Titles of the error page, by status.
TITLES = {400: "请求有误", 404: "找不到这个页面", 405: "不支持的请求方法", 500: "服务器出错了",
          503: "索引不可用"}
MESSAGES = {
    404: "链接可能已失效，或者文章已从索引中删除。",
    405: "这个地址只接受 GET 请求。",
    500: "服务器处理请求时出错，已记录下来。请稍后再试。",
    503: "搜索索引暂时无法打开（可能还没有建立，或正在重建）。请稍后再试。",
}


def init_app(app: Flask) -> None:
    app.register_error_handler(ParamError, _bad_request)
    app.register_error_handler(QuerySyntaxError, _bad_query)
    app.register_error_handler(IndexNotFoundError, _index_unavailable)
    app.register_error_handler(IndexCorruptError, _index_unavailable)
    # Written by another Whoosh, or a Whoosh lacking what we rely on: the log says which; a rebuild
    # (or the pinned Whoosh) fixes it, as for a damaged index.
    app.register_error_handler(IndexVersionError, _index_unavailable)
    app.register_error_handler(WhooshIncompatibleError, _index_unavailable)
    # Index files that vanish or cannot be read under a running server (directory
    # deleted, disk failing): the reader gets a 503 and the site keeps answering.
    app.register_error_handler(OSError, _index_unavailable)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)


def error_response(status: int, message: str | None = None):
    """Return the error page (or JSON object, under /api/) for ``status`` with a reader-facing message."""
    message = message or MESSAGES.get(status) or TITLES.get(status, "出错了")
    if request.path.startswith("/api/"):
        response = jsonify(error={"status": status, "message": message})
    else:
        response = render_template("error.html", status=status, title=TITLES.get(status, "出错了"),
                                   message=message, params=SearchParams(q=request.args.get("q", "")[:1000]))
    return response, status


def _bad_request(exc: ParamError):
    return error_response(400, str(exc))


def _bad_query(exc: QuerySyntaxError):
    return error_response(400, exc.zh or str(exc))


def _index_unavailable(exc: Exception):
    current_app.logger.warning("index %s unavailable: %s", current_app.config["INDEX_DIR"], exc)
    return error_response(503)


def _http_error(exc: HTTPException):
    status = exc.code or 500
    response = make_response(error_response(status, MESSAGES.get(status) if status in MESSAGES else None))
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # a 405 must say what is allowed
    return response


def _unexpected(exc: Exception):
    current_app.logger.exception("unhandled error on %s", request.path)
    return error_response(500)
