"""Web security: headers on every response, method and header abuse, oversized input, XSS through every
field a post or a request carries, and post HTML (scripts, handlers, javascript: links, frames, CSS
expressions) rendered inert, checked in the sanitiser, in the pages and in a real Chromium.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import quote

import pytest

from search import build_index
from tests.browsing import require_browser
from tests.helpers import write_post
from tests.servers import running_server
from web import SECURITY_HEADERS, create_app
from web.sanitize import clean_html

XSS = '"><script>window.__xss=1;alert(1)</script><img src=x onerror="window.__xss=1">'
#: Post bodies that try to run code; none of it may survive sanitising.
HOSTILE_BODIES = {
    "script": "<p>前<script>window.__xss=1;alert(1)</script>后</p>",
    "onerror": '<img src="https://img.example.com/a.png" onerror="window.__xss=1">',
    "onload": '<body onload="window.__xss=1"><p onmouseover="window.__xss=1">移过来</p></body>',
    "javascript link": '<a href="javascript:window.__xss=1">点我</a><a href="JaVaScRiPt:alert(1)">再点</a>',
    "javascript entity link": '<a href="jav&#x09;ascript:alert(1)">点</a><a href="&#106;avascript:alert(1)">点</a>',
    "data link": '<a href="data:text/html,<script>alert(1)</script>">点</a>',
    "iframe": '<iframe src="https://evil.example" srcdoc="<script>parent.__xss=1</script>"></iframe>',
    "css expression": '<p style="width: expression(alert(1))">样式</p>',
    "style element": "<style>body{background:url(javascript:alert(1));width:expression(alert(1))}</style>",
    "style url": "<div style=\"background:url('javascript:alert(1)')\">背景</div>",
    "link stylesheet": '<link rel="stylesheet" href="javascript:alert(1)">',
    "svg": '<svg onload="window.__xss=1"><script>window.__xss=1</script></svg>',
    "math": '<math><mtext><script>window.__xss=1</script></mtext></math>',
    "object embed": '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "base": '<base href="javascript:alert(1)//">',
    "form": '<form action="javascript:alert(1)"><button formaction="javascript:alert(1)">提交</button></form>',
    "img javascript src": '<img src="javascript:alert(1)"><img srcset="javascript:alert(1) 1x">',
    "template": "<template><script>window.__xss=1</script></template>",
    "noscript mutation": '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>"></noscript>',
    "comment break-out": "<!--><script>window.__xss=1</script>-->",
    "nested tags": "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
}
FORBIDDEN = [r"<script", r"\son\w+\s*=", r"javascript:", r"<iframe", r"expression\(", r"<style", r"\sstyle=",
             r"<link", r"<meta", r"<base", r"<form", r"<object", r"<embed", r"<svg", r"<math", r"data:text/html",
             r"srcdoc", r"formaction", r"srcset"]


def assert_inert(html: str) -> None:
    for pattern in FORBIDDEN:
        assert re.search(pattern, html, re.IGNORECASE) is None, f"{pattern} survived in {html[:300]}"


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture(scope="module")
def app(demo_index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(demo_index_dir)})


@pytest.fixture
def client(app):
    return app.test_client()


# --- sanitising post HTML ------------------------------------------------------------------------

@pytest.mark.parametrize("name", HOSTILE_BODIES)
def test_sanitiser_removes_everything_that_could_run(name):
    assert_inert(clean_html(HOSTILE_BODIES[name], ["点"]))


def test_sanitiser_keeps_the_text_and_safe_markup_around_hostile_parts():
    html = clean_html('<p style="color:red" onclick="x()">正文<b>加粗</b><a href="https://ok.example/">链接</a>'
                      '<script>x()</script></p>')
    assert html == ('<p>正文<b>加粗</b><a href="https://ok.example/" target="_blank" '
                    'rel="noopener noreferrer nofollow">链接</a></p>')


@pytest.fixture(scope="module")
def hostile_index(tmp_path_factory):
    """An index of posts with hostile HTML bodies, and markup in title, author and category."""
    root = tmp_path_factory.mktemp("hostile")
    for i, body in enumerate(HOSTILE_BODIES.values()):
        write_post(root / "posts", f"evil/{i}.md", title=f"恶意{i}{XSS}", author=f"恶意来源{XSS}",
                   categories=(f"恶意分类{XSS}", f"恶意来源{XSS}", "要闻"), body=f"<p>恶意正文{i}</p>{body}")
    build_index(root / "posts", root / "index", procs=1)
    return root / "index"


@pytest.fixture
def hostile_client(hostile_index):
    return create_app({"TESTING": True, "INDEX_DIR": str(hostile_index)}).test_client()


def test_every_hostile_post_page_is_inert(hostile_client):
    for i in range(len(HOSTILE_BODIES)):
        response = hostile_client.get(f"/post/evil/{i}.md?q=" + quote("恶意 点"))
        assert response.status_code == 200
        page = text(response)
        body = page.split('<div class="article-body">', 1)[1].split("</article>", 1)[0]
        assert_inert(body)
        assert f"恶意{i}&#34;&gt;&lt;script&gt;" in page.replace("<mark>", "").replace("</mark>", "")


@pytest.mark.parametrize("path", [
    "/search?q=" + quote("恶意"), "/search?source=" + quote(f"恶意来源{XSS}"),
    "/search?category=" + quote(f"恶意分类{XSS}"), "/search?q=" + quote(XSS), "/search?q=" + quote(XSS) + "&page=-1",
    "/post/nothing.md?q=" + quote(XSS),
    "/search?q=" + quote("恶意") + "&source=" + quote(XSS) + "&category=" + quote(XSS),
])
def test_markup_in_queries_filters_titles_authors_and_categories_is_escaped(hostile_client, path):
    page = text(hostile_client.get(path))
    assert "<script>window.__xss" not in page and "<img src=x" not in page
    assert re.findall(r"<script[^>]*>", page) == ['<script src="/static/app.js" defer>']


def test_api_answers_markup_as_json_text_never_as_html(hostile_client):
    response = hostile_client.get("/api/search?q=" + quote(XSS))
    assert response.mimetype == "application/json" and response.headers["X-Content-Type-Options"] == "nosniff"
    data = hostile_client.get("/api/search?format=html&q=" + quote("恶意")).get_json()
    assert "<script" not in data["html"] and re.search(r"<[^>]*\son\w+=", data["html"]) is None
    assert all("<script" not in h["title_html"] and "<script" not in h["snippet"] for h in data["hits"])


# --- security headers on every response, errors included ------------------------------------------

def assert_security_headers(response) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, name


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE"])
@pytest.mark.parametrize("path", ["/", "/search?q=冬奥", "/api/search?q=冬奥", "/api/stats", "/post/x.md",
                                  "/api/post/x.md", "/api/openapi.json", "/static/app.js"])
def test_other_methods_get_405_with_allow_and_security_headers(client, method, path):
    response = client.open(path, method=method, data="x=1")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    assert_security_headers(response)
    if path.startswith("/api/"):
        assert response.get_json() == {"error": {"status": 405, "message": "这个地址只接受 GET 请求。"}}


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/search?q=冬奥", "/api/search?q=冬奥", "/nothing", "/api/search?page=-1"])
def test_head_and_options_carry_security_headers(client, method, path):
    response = client.open(path, method=method)
    assert response.status_code < 500
    if method == "HEAD":
        assert response.get_data() == b""
    assert_security_headers(response)


def test_500_has_security_headers_and_no_trace(demo_index_dir):
    app = create_app({"INDEX_DIR": str(demo_index_dir)})

    def boom():
        raise RuntimeError("secret internal detail")

    app.add_url_rule("/api/boom", view_func=boom)
    app.add_url_rule("/boom", view_func=boom)
    client = app.test_client()
    for path in ("/api/boom", "/boom"):
        response = client.get(path)
        assert response.status_code == 500
        assert_security_headers(response)
        assert "secret internal detail" not in text(response) and "Traceback" not in text(response)


@pytest.mark.parametrize("path", ["/", "/search?q=冬奥", "/api/search?q=冬奥", "/api/stats", "/post/x.md"])
def test_503_without_an_index_has_security_headers_and_a_message(tmp_path, path):
    response = create_app({"INDEX_DIR": str(tmp_path / "none")}).test_client().get(path)
    assert response.status_code == 503
    assert_security_headers(response)
    assert "搜索索引暂时无法打开" in text(response)


# --- oversized input ------------------------------------------------------------------------------

@pytest.mark.parametrize("name, value, message", [
    ("q", "冬" * 20_000, "查询太长了（20000 个字符），请缩短到 200 个字符以内。"),
    ("source", "源" * 201, "source 太长了（201 个字符），最多 200 个字符。"),
    ("category", "类" * 50_000, "category 太长了（50000 个字符），最多 200 个字符。"),
    ("date", "2" * 5000, "date 太长了（5000 个字符），最多 200 个字符。"),
    ("from", "2" * 201, "from 太长了（201 个字符），最多 200 个字符。"),
    ("page", "9" * 5000, "page 必须是 1 到 500 之间的整数，收到 '9999999999999999999999999999999999999999…'。"),
    ("per_page", "1" * 5000, "per_page 必须是 1 到 50 之间的整数，收到 '1111111111111111111111111111111111111111…'。"),
    ("sort", "s" * 5000, "sort 只能是 relevance（相关度）、newest（最新）或 oldest（最早），收到 "
                         "'ssssssssssssssssssssssssssssssssssssssss…'。"),
    ("page", "１２", "page 必须是 1 到 500 之间的整数，收到 '１２'。"),
])
def test_oversized_or_odd_parameters_are_400_with_a_short_message(client, name, value, message):
    response = client.get("/api/search", query_string={"q": "冬奥", name: value} if name != "q" else {name: value})
    assert response.status_code == 400
    assert response.get_json() == {"error": {"status": 400, "message": message}}


def test_thousands_of_parameters_are_answered(client):
    response = client.get("/api/search?" + "&".join(f"p{i}=1" for i in range(20_000)) + "&q=冬奥")
    assert response.status_code == 200
    assert response.get_json()["total"] == client.get("/api/search?q=冬奥").get_json()["total"]


@pytest.mark.parametrize("path", ["/post/" + "a/" * 20_000 + "x.md", "/post/x.md?q=" + "冬" * 50_000])
def test_oversized_post_urls_are_404(client, path):
    assert client.get(path).status_code == 404


# --- raw HTTP against the real server (waitress) ------------------------------------------------

@pytest.fixture(scope="module")
def server(demo_index_dir):
    with running_server(demo_index_dir) as base:
        yield base


def raw_request(base: str, data: bytes) -> bytes:
    """Send ``data`` as it is; return everything the server answers until it closes."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except ConnectionResetError:  # refused before it read everything we sent
            pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


ABUSE = {
    "unknown method": b"FOO /api/search?q=x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "connect method": b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "absolute form": b"GET http://evil.example/api/stats HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "no host, HTTP/1.0": b"GET /api/stats HTTP/1.0\r\n\r\n",
    "markup in Host": b"GET /search?q=x HTTP/1.1\r\nHost: <script>alert(1)</script>\r\nConnection: close\r\n\r\n",
    "forwarded host": (b"GET /search?q=x HTTP/1.1\r\nHost: a\r\nX-Forwarded-Host: evil.example\r\n"
                       b"X-Forwarded-Proto: javascript\r\nConnection: close\r\n\r\n"),
    "invalid UTF-8": b"GET /search?q=%ff%fe%80 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "raw UTF-8 bytes": "GET /api/search?q=冬奥 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode(),
    "bad percent": b"GET /api/search?q=%zz%&page=%1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "NUL in path": b"GET /post/a%00b.md HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "body on GET": (b"GET /api/search?q=x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
                    b"hello"),
    "CL and TE": (b"POST /api/search HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n0\r\n\r\n"),
    "bad chunked": (b"POST /api/search HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
                    b"\r\nzz\r\n"),
    "negative length": b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\nConnection: close\r\n\r\n",
    "header injection": b"GET /search?q=x%0d%0aSet-Cookie:%20a=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "huge header": b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + b"x" * 300_000 + b"\r\nConnection: close\r\n\r\n",
    "many headers": (b"GET /api/stats HTTP/1.1\r\nHost: a\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(5000))
                     + b"Connection: close\r\n\r\n"),
    "huge URL": b"GET /search?q=" + b"%E5%86%AC" * 100_000 + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\r\n\r\n",
}


@pytest.mark.parametrize("name", ABUSE)
def test_abusive_requests_never_get_5xx_or_reflected_markup(server, name):
    answer = raw_request(server, ABUSE[name])
    if answer:  # waitress may just close the connection on garbage
        assert status_of(answer) < 500, answer[:300]
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"<script>alert(1)" not in body and b"evil.example" not in body
        assert b"\r\nSet-Cookie" not in head
    assert raw_request(server, b"GET /api/stats HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200")


def test_requests_that_never_end_do_not_block_others(server):
    host, port = server.removeprefix("http://").split(":")
    stalled = []
    for data in (b"GET /api/stats HTTP/1.1\nHost: a\n\n", b"GET /api/sta", b"POST /api/search HTTP/1.1\r\n"
                 b"Host: a\r\nContent-Length: 1000000\r\n\r\nx"):
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock.sendall(data)
        stalled.append(sock)
    try:
        for _ in range(20):  # more than the server's threads
            assert raw_request(server, b"GET /api/stats HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")\
                .startswith(b"HTTP/1.1 200")
    finally:
        for sock in stalled:
            sock.close()


def test_flask_answers_carry_security_headers_on_the_real_server(server):
    for request in (b"GET /nothing HTTP/1.1\r\n", b"DELETE /api/search HTTP/1.1\r\n",
                    b"GET /api/search?page=-1 HTTP/1.1\r\n", b"HEAD / HTTP/1.1\r\n"):
        head = raw_request(server, request + b"Host: a\r\nConnection: close\r\n\r\n").split(b"\r\n\r\n")[0].decode()
        for name, value in SECURITY_HEADERS.items():
            assert f"\r\n{name}: {value}" in head, (request, name)


def test_waitress_own_errors_are_plain_text_and_reflect_nothing(server):
    """Requests waitress refuses before Flask sees them get its own short plain-text answer (no CSP needed)."""
    answer = raw_request(server, b"GET /<script>alert(1)</script> HTTP/1.1\r\nHost: a\r\n<script>: x\r\n"
                         b"Connection: close\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert status_of(answer) == 400
    assert b"Content-Type: text/plain" in head and b"<script" not in body


# --- a real browser -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_site(hostile_index):
    require_browser()
    with running_server(hostile_index) as base:
        yield base


@pytest.mark.browser
def test_hostile_posts_run_nothing_in_chromium(browser, hostile_site):
    dialogs, errors = [], []
    page = browser.new_page()
    try:
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(hostile_site)
                   else route.abort())
        pages = ["/search?q=" + quote("恶意"), "/search?q=" + quote(XSS)]
        pages += [f"/post/evil/{i}.md?q=" + quote("恶意 点") for i in range(len(HOSTILE_BODIES))]
        for path in pages:
            page.goto(hostile_site + path)
            page.mouse.move(200, 300)
            for link in page.query_selector_all(".article-body a"):
                link.click(modifiers=["Control"], no_wait_after=True)  # any javascript: URL would run now
            found = page.evaluate("""() => ({
                xss: window.__xss === 1,
                scripts: [...document.scripts].map(s => s.getAttribute('src')),
                frames: document.querySelectorAll('iframe, object, embed, frame').length,
                handlers: [...document.querySelectorAll('*')].flatMap(e => [...e.attributes])
                    .filter(a => a.name.startsWith('on')).length,
                styled: document.querySelectorAll('.article-body [style], .article-body style').length,
                jsLinks: [...document.querySelectorAll('a[href], form[action]')]
                    .filter(a => /^\\s*javascript:/i.test(a.getAttribute('href') || a.getAttribute('action'))).length,
            })""")
            assert found == {"xss": False, "scripts": ["/static/app.js"], "frames": 0, "handlers": 0, "styled": 0,
                             "jsLinks": 0}, path
    finally:
        page.close()
    assert dialogs == [] and errors == []
