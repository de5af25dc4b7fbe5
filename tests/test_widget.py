"""Embedding the search in another site: CORS on the JSON API, the widget's files, posts' blog URLs.

The widget itself runs in a real browser in test_browser.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner

import web
from search.cli import cli
from tests.helpers import check_response
from web import SECURITY_HEADERS, create_app

BLOG = "https://blog.example.com"
WIDGET_JS = Path(web.__file__).parent / "static" / "widget.js"


@pytest.fixture
def client(demo_index_dir):
    return create_app({"INDEX_DIR": str(demo_index_dir), "CORS_ORIGINS": [BLOG]}).test_client()


def cors_headers(response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


# --- CORS ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/search?q=冬奥会", "/api/stats", "/api/openapi.json"])
def test_api_answers_name_an_allowed_origin(client, path):
    response = client.get(path, headers={"Origin": BLOG})
    assert response.status_code == 200
    assert cors_headers(response) == {"Access-Control-Allow-Origin": BLOG}
    assert "Origin" in response.headers["Vary"]


def test_other_origins_get_no_cors_headers(client):
    for origin in ("https://evil.example", "https://blog.example.com.evil.example", "null", "http://blog.example.com"):
        response = client.get("/api/search?q=冬奥会", headers={"Origin": origin})
        assert cors_headers(response) == {}, origin
        assert "Origin" in response.headers["Vary"]


def test_no_origin_is_allowed_by_default(demo_index_dir):
    client = create_app({"INDEX_DIR": str(demo_index_dir)}).test_client()
    assert cors_headers(client.get("/api/search?q=冬奥会", headers={"Origin": BLOG})) == {}


def test_preflight_from_an_allowed_origin_is_answered(client):
    response = client.options("/api/search?q=冬奥会", headers={
        "Origin": BLOG, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "content-type"})
    assert response.status_code == 200
    assert cors_headers(response) == {
        "Access-Control-Allow-Origin": BLOG, "Access-Control-Allow-Methods": "GET, HEAD",
        "Access-Control-Allow-Headers": "Accept, Content-Type", "Access-Control-Max-Age": "600"}


def test_preflight_from_another_origin_gets_no_cors_headers(client):
    response = client.options("/api/search", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert cors_headers(response) == {}


def test_error_answers_carry_cors_headers_so_the_widget_can_show_the_message(client):
    response = client.get("/api/search?page=-1", headers={"Origin": BLOG})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == BLOG
    assert "page" in response.get_json()["error"]["message"]


@pytest.mark.parametrize("path", ["/", "/search?q=冬奥会", "/widget.js", "/static/app.js"])
def test_pages_and_files_never_carry_cors_headers(client, path):
    response = client.get(path, headers={"Origin": BLOG})
    response.close()
    assert cors_headers(response) == {}


def test_every_origin_only_when_star_is_listed(demo_index_dir):
    client = create_app({"INDEX_DIR": str(demo_index_dir), "CORS_ORIGINS": ["*"]}).test_client()
    response = client.get("/api/stats", headers={"Origin": "https://anyone.example"})
    assert cors_headers(response) == {"Access-Control-Allow-Origin": "*"}


def test_allowed_origins_are_compared_as_browsers_send_them(demo_index_dir):
    app = create_app({"INDEX_DIR": str(demo_index_dir), "CORS_ORIGINS": ["HTTPS://Blog.Example.com:443/"]})
    response = app.test_client().get("/api/stats", headers={"Origin": BLOG})
    assert response.headers["Access-Control-Allow-Origin"] == BLOG


@pytest.mark.parametrize("origin", ["https://blog.example.com/path", "blog.example.com", "ftp://blog.example.com",
                                    "https://user@blog.example.com", "https://blog.example.com:99999", ""])
def test_an_entry_that_is_not_an_origin_is_refused(demo_index_dir, origin):
    with pytest.raises(ValueError, match="not an origin"):
        create_app({"INDEX_DIR": str(demo_index_dir), "CORS_ORIGINS": [origin]})


def test_allowed_origins_come_from_the_environment(monkeypatch, demo_index_dir):
    monkeypatch.setenv("NEWS_SEARCH_ALLOW_ORIGINS", "https://a.example, https://b.example:8443")
    client = create_app({"INDEX_DIR": str(demo_index_dir)}).test_client()
    for origin in ("https://a.example", "https://b.example:8443"):
        assert client.get("/api/stats", headers={"Origin": origin}).headers["Access-Control-Allow-Origin"] == origin


# --- the widget's files ----------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "kind"), [("/widget.js", "text/javascript"), ("/widget.css", "text/css")])
def test_widget_files_are_served_for_other_sites(client, path, kind):
    response = client.get(path)
    response.close()
    assert response.status_code == 200 and response.mimetype == kind
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_widget_script_never_parses_html():
    source = WIDGET_JS.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser", "eval(",
                 "new Function", "setHTML"):
        assert sink not in source, sink


# --- posts' URLs on the blog -----------------------------------------------------------------------

@pytest.fixture
def blog_client(demo_index_dir):
    app = create_app({"INDEX_DIR": str(demo_index_dir), "BLOG_URL": BLOG + "/", "PERMALINK": "posts/:title/",
                      "BLOG_TIMEZONE": "Asia/Shanghai"})
    return app.test_client()


def test_hits_and_posts_carry_their_blog_url(blog_client):
    hit = blog_client.get("/api/search?q=冬奥会").get_json()["hits"][0]
    assert hit["url"] == f"{BLOG}/posts/{quote(hit['path'].removesuffix('.md'))}/"
    assert blog_client.get("/api/post/" + quote(hit["path"])).get_json()["url"] == hit["url"]


def test_without_a_blog_url_the_url_is_null(client):
    hit = client.get("/api/search?q=冬奥会").get_json()["hits"][0]
    assert hit["url"] is None


def test_article_page_links_to_the_post_on_the_blog(blog_client, client):
    hit = blog_client.get("/api/search?q=冬奥会").get_json()["hits"][0]
    html = blog_client.get("/post/" + quote(hit["path"])).get_data(as_text=True)
    assert re.search(rf'<a class="article-blog" href="{re.escape(hit["url"])}">', html)
    assert 'class="article-blog"' not in client.get("/post/" + quote(hit["path"])).get_data(as_text=True)


def test_openapi_document_describes_blog_urls(blog_client):
    doc = blog_client.get("/api/openapi.json").get_json()
    components = doc["components"]["schemas"]
    results = blog_client.get("/api/search?q=冬奥会").get_json()
    check_response(doc, components["SearchResults"], results)
    check_response(doc, components["Post"], blog_client.get("/api/post/" + quote(results["hits"][0]["path"])).get_json())
    assert "url" in components["Hit"]["required"] and "url" in components["Post"]["required"]


@pytest.mark.parametrize(("settings", "message"), [
    ({"BLOG_URL": "blog.example.com"}, "blog URL"),
    ({"BLOG_URL": BLOG, "PERMALINK": ":id/"}, ":id"),
    ({"BLOG_URL": BLOG, "BLOG_TIMEZONE": "Beijing"}, "time zone"),
])
def test_bad_blog_settings_are_refused(demo_index_dir, settings, message):
    with pytest.raises(ValueError, match=message):
        create_app({"INDEX_DIR": str(demo_index_dir), **settings})


def test_blog_settings_come_from_the_environment(monkeypatch, demo_index_dir):
    monkeypatch.setenv("NEWS_SEARCH_BLOG_URL", BLOG)
    monkeypatch.setenv("NEWS_SEARCH_PERMALINK", "p/:name.html")
    client = create_app({"INDEX_DIR": str(demo_index_dir)}).test_client()
    hit = client.get("/api/search?q=冬奥会").get_json()["hits"][0]
    assert hit["url"] == f"{BLOG}/p/{quote(Path(hit['path']).stem)}.html"


# --- serve's flags ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["--allow-origin", "https://blog.example.com/path"], "is not an origin"),
    (["--blog-url", BLOG, "--blog-timezone", "Nowhere/City"], "unknown time zone"),
    (["--blog-url", BLOG, "--permalink", ":id"], ":id"),
])
def test_serve_refuses_bad_flags_before_starting(tmp_path, args, message):
    result = CliRunner().invoke(cli, ["serve", "--index", str(tmp_path / "index"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "index").exists()  # refused before indexing the demo corpus


@pytest.mark.parametrize("allowed", ["http://127.0.0.1:4000", "http://localhost:4000", "http://[::1]:4000"])
def test_the_local_machines_names_are_one_origin(demo_index_dir, allowed):
    client = create_app({"INDEX_DIR": str(demo_index_dir), "CORS_ORIGINS": [allowed]}).test_client()
    for origin in ("http://localhost:4000", "http://127.0.0.1:4000", "http://[::1]:4000"):
        assert client.get("/api/stats", headers={"Origin": origin}).headers["Access-Control-Allow-Origin"] == origin
    for origin in ("http://localhost:4001", "https://localhost:4000", "http://127.0.0.2:4000"):
        assert cors_headers(client.get("/api/stats", headers={"Origin": origin})) == {}, origin
