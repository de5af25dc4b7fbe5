"""A Hexo blog's folder as the source of posts and of their URLs: ``--blog DIR`` on build and serve."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from search.corpus.blog import BlogError, open_blog
from search.cli import cli
from tests.helpers import write_post
from web import create_app

CONFIG = """\
title: 测试博客
url: https://blog.example.com/news
timezone: Asia/Shanghai
permalink: :category/:title.html
permalink_defaults:
  lang: zh
pretty_urls:
  trailing_html: false
theme: landscape
"""


def make_blog(root: Path, config: str = CONFIG) -> Path:
    """A Hexo blog folder: _config.yml and three posts under source/_posts, one Hexo cannot render."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "_config.yml").write_text(config, encoding="utf-8")
    posts = root / "source" / "_posts"
    write_post(posts, "科技/芯片.md", title="芯片新闻", date="2022-09-26", categories=("科技",),
               body="<p>国产芯片量产。</p>")
    write_post(posts, "国际/峰会.md", title="峰会开幕", date="2022-09-03", categories=("国际", "亚洲"),
               body="<p>中亚五国峰会开幕。</p>")
    write_post(posts, "财经/涨超3%.md", title="涨超3%", date="2022-09-05", categories=("财经",),
               body="<p>股指涨超百分之三。</p>")
    return root


@pytest.fixture
def blog(tmp_path) -> Path:
    return make_blog(tmp_path / "blog")


def test_the_blog_settings_come_from_config_with_hexos_defaults(blog):
    urls = open_blog(blog).post_urls()
    assert (urls.site, urls.permalink, urls.timezone, urls.build_timezone) == (
        "https://blog.example.com/news", ":category/:title.html", "Asia/Shanghai", "")
    assert (dict(urls.permalink_defaults), urls.trailing_index, urls.trailing_html, urls.new_post_name) == (
        {"lang": "zh"}, True, False, ":title.md")


def test_given_values_win_over_the_blogs(blog):
    urls = open_blog(blog).post_urls(site="https://other.example", permalink=":title/", timezone="UTC",
                                     build_timezone="Asia/Tokyo")
    assert (urls.site, urls.permalink, urls.timezone, urls.build_timezone) == (
        "https://other.example", ":title/", "UTC", "Asia/Tokyo")


def test_an_empty_config_means_hexos_defaults(tmp_path):
    (tmp_path / "_config.yml").write_text("# nothing\n", encoding="utf-8")
    blog = open_blog(tmp_path)
    assert blog.posts_dir == tmp_path / "source" / "_posts"
    urls = blog.post_urls()
    assert (urls.site, urls.permalink, urls.timezone) == ("http://example.com", ":year/:month/:day/:title/", "")


def test_root_places_the_blog_in_a_folder_when_url_names_none(tmp_path):
    (tmp_path / "_config.yml").write_text("url: https://me.github.io\nroot: /blog/\nsource_dir: src\n")
    blog = open_blog(tmp_path)
    assert (blog.site, blog.posts_dir) == ("https://me.github.io/blog/", tmp_path / "src" / "_posts")


@pytest.mark.parametrize(("config", "message"), [
    (None, "has no _config.yml"),
    ("url: [unclosed\n", "cannot read"),
    ("- a list\n", "not a mapping"),
])
def test_a_folder_that_is_not_a_readable_blog_is_refused(tmp_path, config, message):
    if config is not None:
        (tmp_path / "_config.yml").write_text(config, encoding="utf-8")
    with pytest.raises(BlogError, match=message):
        open_blog(tmp_path)


# --- build --blog ----------------------------------------------------------------------------------

def test_build_indexes_the_blogs_posts_and_lists_those_hexo_cannot_render(blog, tmp_path):
    result = CliRunner().invoke(cli, ["build", "--blog", str(blog), "--index", str(tmp_path / "ix"), "-q"])
    assert result.exit_code == 0, result.output
    assert "index holds 3" in result.output and "no page on the blog 1" in result.output
    assert "  no page  财经/涨超3%.md: Hexo 8 cannot build a URL with this '%'" in result.output


def test_build_report_lists_them_in_json_too(blog, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_BLOG", str(blog))
    result = CliRunner().invoke(cli, ["build", "--index", str(tmp_path / "ix"), "--json", "-q"])
    report = json.loads(result.stdout)
    assert report["docs"] == 3
    assert [p["path"] for p in report["unlinked"]] == ["财经/涨超3%.md"]
    assert "URIError" in report["unlinked"][0]["reason"]


def test_without_a_blog_the_report_uses_hexos_default_settings(tmp_path):
    write_post(tmp_path / "posts", "a.md", date=None)
    result = CliRunner().invoke(cli, ["build", "--corpus", str(tmp_path / "posts"), "--index", str(tmp_path / "ix"),
                                      "--json", "-q"])
    assert "no date" in json.loads(result.stdout)["unlinked"][0]["reason"]


def test_update_reports_them_as_well(blog, tmp_path):
    CliRunner().invoke(cli, ["build", "--blog", str(blog), "--index", str(tmp_path / "ix"), "-q"])
    write_post(blog / "source" / "_posts", "_草稿.md", title="草稿")
    result = CliRunner().invoke(cli, ["update", "--blog", str(blog), "--index", str(tmp_path / "ix"), "--json"])
    assert [p["path"] for p in json.loads(result.stdout)["unlinked"]] == ["_草稿.md", "财经/涨超3%.md"]


def test_build_refuses_a_folder_that_is_not_a_blog(tmp_path):
    result = CliRunner().invoke(cli, ["build", "--blog", str(tmp_path), "--index", str(tmp_path / "ix")])
    assert result.exit_code == 2 and "has no _config.yml" in result.output


# --- serve --blog ----------------------------------------------------------------------------------

@pytest.fixture
def blog_index(blog, tmp_path) -> Path:
    CliRunner().invoke(cli, ["build", "--blog", str(blog), "--index", str(tmp_path / "ix"), "-q"])
    return tmp_path / "ix"


def _urls(client, query: str = "") -> dict[str, str | None]:
    return {h["path"]: h["url"] for h in client.get(f"/api/search?q={quote(query)}&per_page=50").get_json()["hits"]}


def test_serve_links_to_the_posts_as_the_blog_names_them(blog, blog_index):
    client = create_app({"INDEX_DIR": str(blog_index), "BLOG_DIR": str(blog)}).test_client()
    assert _urls(client, "芯片 OR 峰会 OR 股指") == {
        "科技/芯片.md": f"https://blog.example.com/news/{quote('科技/科技/芯片')}",  # pretty_urls: no .html
        "国际/峰会.md": f"https://blog.example.com/news/{quote('国际/亚洲/国际/峰会')}",
        "财经/涨超3%.md": None}  # Hexo writes no page for it: the widget links to our article page


def test_serve_flags_and_environment_win_over_the_blog(blog, blog_index, monkeypatch):
    monkeypatch.setenv("NEWS_SEARCH_BLOG", str(blog))
    monkeypatch.setenv("NEWS_SEARCH_BUILD_TIMEZONE", "UTC")
    client = create_app({"INDEX_DIR": str(blog_index), "PERMALINK": ":year/:month/:day/:title/"}).test_client()
    # the blog reads 2022-09-26 as Shanghai midnight; built in UTC, that is the 25th
    assert _urls(client, "芯片")["科技/芯片.md"] == f"https://blog.example.com/news/2022/09/25/{quote('科技/芯片')}/"


@pytest.mark.parametrize(("args", "message"), [
    (["--blog", "."], "has no _config.yml"),
    (["--blog-url", "https://blog.example.com", "--build-timezone", "Beijing"], "unknown time zone"),
])
def test_serve_refuses_a_bad_blog_before_starting(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["serve", "--index", str(tmp_path / "index"), *args])
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "index").exists()
