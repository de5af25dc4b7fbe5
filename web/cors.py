"""Cross-origin reading of the JSON API, for pages of the sites on an allow-list (the widget on a blog).

A browser lets a page read another origin's answer only when the answer names
the page's origin in ``Access-Control-Allow-Origin``. Here only answers under
``/api/`` carry CORS headers, and only to a request whose ``Origin`` is on the
list (``CORS_ORIGINS``: ``news-search serve --allow-origin``); pages of any
other site cannot read them. ``*`` allows every site, and only when it is
listed. The API uses no cookies, so credentials are never allowed.

A preflight (``OPTIONS`` with ``Access-Control-Request-Method``) from a listed
origin is answered with the methods and headers allowed, and for how long a
browser may remember that.

The names of this machine, ``localhost``, ``127.0.0.1`` and ``[::1]``, are one
site to their owner: a blog previewed at ``http://localhost:4000`` (what
``hexo server`` prints) is allowed when ``http://127.0.0.1:4000`` is listed,
and the other way round (same scheme and port).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, request

EXTENSION = "news_search_cors"
ANY_ORIGIN = "*"
ALLOW_METHODS = "GET, HEAD"
#: Request headers a page on a listed origin may send, besides the ones browsers always allow.
ALLOW_HEADERS = "Accept, Content-Type"
#: Seconds a browser may reuse a preflight answer.
MAX_AGE = 600
DEFAULT_PORTS = {"http": 80, "https": 443}
#: Names of the local machine, as they appear in an origin: allowing one allows the others.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def init_app(app: Flask) -> None:
    """Check the allow-list in ``CORS_ORIGINS`` and add CORS headers to the API's answers.

    :raises ValueError: for an entry that is not an origin.
    """
    app.extensions[EXTENSION] = frozenset(alias for origin in app.config["CORS_ORIGINS"]
                                          for alias in loopback_aliases(normalise_origin(origin)))
    app.after_request(_add_cors_headers)


def normalise_origin(value: str) -> str:
    """Return ``value`` as browsers write an ``Origin``: lower case, no default port, no path.

    >>> normalise_origin("https://Blog.Example.com:443/")
    'https://blog.example.com'
    >>> normalise_origin("http://例子.中国:8080")
    'http://xn--fsqu00a.xn--fiqs8s:8080'

    :raises ValueError: if ``value`` is not ``*`` or ``http(s)://host[:port]``.
    """
    value = value.strip()
    if value == ANY_ORIGIN:
        return value
    problem = ValueError(f"{value!r} is not an origin: give scheme, host and port only, "
                         "e.g. https://blog.example.com")
    try:
        parts = urlsplit(value)
        port = parts.port
        host = parts.hostname or ""
        host = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise problem from None
    if parts.scheme not in DEFAULT_PORTS or not host or "@" in parts.netloc or parts.path not in ("", "/") \
            or parts.query or parts.fragment or "?" in value or "#" in value:
        raise problem
    shown_port = f":{port}" if port is not None and port != DEFAULT_PORTS[parts.scheme] else ""
    return f"{parts.scheme}://{host}{shown_port}"


def loopback_aliases(origin: str) -> tuple[str, ...]:
    """Return ``origin`` and, for the local machine, the same origin under its other names.

    >>> loopback_aliases("http://127.0.0.1:4000")
    ('http://localhost:4000', 'http://127.0.0.1:4000', 'http://[::1]:4000')
    >>> loopback_aliases("https://blog.example.com")
    ('https://blog.example.com',)
    """
    if origin == ANY_ORIGIN:
        return (origin,)
    parts = urlsplit(origin)
    host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
    if host not in LOOPBACK_HOSTS:
        return (origin,)
    port = f":{parts.port}" if parts.port is not None else ""
    return tuple(f"{parts.scheme}://{name}{port}" for name in LOOPBACK_HOSTS)


def _add_cors_headers(response):
    if not request.path.startswith("/api/"):
        return response
    response.vary.add("Origin")  # the answer differs by Origin: caches must keep them apart
    allowed = current_app.extensions[EXTENSION]
    origin = request.headers.get("Origin")
    if not origin or (origin not in allowed and ANY_ORIGIN not in allowed):
        return response
    response.headers["Access-Control-Allow-Origin"] = ANY_ORIGIN if ANY_ORIGIN in allowed else origin
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Max-Age"] = str(MAX_AGE)
    return response
