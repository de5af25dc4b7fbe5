"""Posts' URLs on the blog: Hexo's permalink settings, reproduced (expected values from Hexo's own tests)."""

from __future__ import annotations

import doctest
from datetime import datetime, timezone

import pytest

import search.permalinks
from search import Index, PostUrls, build_index
from search.permalinks import slugize
from tests.conftest import write_post

SITE = "https://blog.example.com"


def url(pattern: str = ":year/:month/:day/:title/", *, zone: str = "UTC", doc_id: str = "foo.md",
        title: str = "标题", categories: tuple[str, ...] = (), date: datetime | None = datetime(2014, 1, 2),
        date_zoned: bool = False, front_matter: dict | None = None, site: str = SITE) -> str | None:
    urls = PostUrls(site, permalink=pattern, timezone=zone)
    return urls.url(doc_id=doc_id, title=title, categories=categories,
                    date=date.replace(tzinfo=timezone.utc) if date else None,
                    date_zoned=date_zoned, front_matter=front_matter)


def test_default_pattern_is_date_and_file_path():
    assert url() == f"{SITE}/2014/01/02/foo/"


def test_title_is_the_path_under_the_posts_folder_and_name_the_file_name():
    assert url(":title/:name", doc_id="sub/bar.md") == f"{SITE}/sub/bar/bar"
    assert url(":slug.html", doc_id="sub/bar.markdown") == f"{SITE}/sub/bar.html"


def test_time_parts_and_unpadded_month_and_day():
    date = datetime(2015, 5, 6, 12, 13, 14)
    assert url(":year/:month/:day/:hour/:minute/:second/", date=date) == f"{SITE}/2015/05/06/12/13/14/"
    assert url(":year/:i_month/:i_day/:title", date=date) == f"{SITE}/2015/5/6/foo"


def test_post_title_is_the_title_slugified_in_lower_case():
    assert url(":year/:month/:day/:post_title/", title="My New Post", date=datetime(2015, 5, 6)) \
        == f"{SITE}/2015/05/06/my-new-post/"


def test_category_is_the_category_path_or_the_default_category():
    assert url(":category/:title/", categories=("foo", "bar")) == f"{SITE}/foo/bar/foo/"
    assert url(":category/:title/") == f"{SITE}/uncategorized/foo/"


def test_timestamp_and_hash_are_hexos():
    date = datetime(2025, 1, 9, 5, 45, 14)
    assert url(":timestamp/:title", doc_id="test0.md", date=date) == f"{SITE}/1736401514/test0"
    # Hexo: sha1("foo" + "1736401514"), first 12 hex digits
    assert url(":hash/", date=date) == f"{SITE}/a68245e564ff/"


def test_other_front_matter_fields_are_variables():
    assert url("posts/:abbrlink/", front_matter={"abbrlink": "1a2b3c4d"}) == f"{SITE}/posts/1a2b3c4d/"
    assert url("posts/:lang/:title/", front_matter={"lang": "fr"}) == f"{SITE}/posts/fr/foo/"


def test_a_missing_value_gives_no_url():
    assert url("posts/:abbrlink/") is None
    assert url(date=None) is None
    assert url(":title/", date=None) == f"{SITE}/foo/"


@pytest.mark.parametrize("permalink", ["hexo/permalink-test", "/hexo/permalink-test"])
def test_front_matter_permalink_overrides_the_pattern(permalink):
    assert url(front_matter={"permalink": permalink}) == f"{SITE}/hexo/permalink-test"


def test_a_blog_below_a_path_keeps_it():
    assert url(site="https://example.com/blog/") == "https://example.com/blog/2014/01/02/foo/"


def test_paths_are_percent_encoded_except_slashes():
    assert url(":title/", doc_id="科技/a b?c#d%e.md") == f"{SITE}/%E7%A7%91%E6%8A%80/a%20b%3Fc%23d%25e/"


# --- dates as Hexo shows them ---------------------------------------------------------------------

@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai", "America/New_York"])
def test_a_date_written_without_zone_is_the_day_written_in_any_zone(zone):
    assert url(zone=zone, date=datetime(2022, 9, 3, 23, 30)) == f"{SITE}/2022/09/03/foo/"


@pytest.mark.parametrize(("zone", "day"), [("UTC", "2022/01/25"), ("Asia/Shanghai", "2022/01/26"),
                                           ("America/New_York", "2022/01/25")])
def test_a_date_written_with_its_zone_is_shown_in_the_blogs_zone(zone, day):
    # 'Tue, 25 Jan 2022 17:07:56 GMT' is 01:07:56 on the 26th in Shanghai
    assert url(zone=zone, date=datetime(2022, 1, 25, 17, 7, 56), date_zoned=True) == f"{SITE}/{day}/foo/"


# --- settings --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("settings", "message"), [
    ({"site": "blog.example.com"}, "blog URL"),
    ({"site": "ftp://blog.example.com"}, "blog URL"),
    ({"site": "https://blog.example.com/?x=1"}, "blog URL"),
    ({"site": SITE, "permalink": ":id/"}, ":id"),
    ({"site": SITE, "permalink": " "}, "empty"),
    ({"site": SITE, "timezone": "Mars/Olympus"}, "time zone"),
    ({"site": SITE, "timezone": "../etc/passwd"}, "time zone"),
])
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        PostUrls(**settings)


@pytest.mark.parametrize(("text", "slug"), [
    ("Hello World", "Hello-World"), ("Hell\u00f2 w\u00f2rld", "Hello-world"), ("Hello  World", "Hello-World"),
    ("~Hello World~", "Hello-World"), ("Hello ~`!@#$%^&*()-_+=[]{}|\\;:\"'<>,.?/World", "Hello-World"),
    ("遊戲", "遊戲"), ("ＧＤＰ 增长５％", "GDP-增长５％"),
])
def test_slugize_matches_hexo(text, slug):
    assert slugize(text) == slug


def test_permalinks_docstring_examples():
    assert doctest.testmod(search.permalinks).failed == 0


# --- through the index -----------------------------------------------------------------------------

def test_index_gives_hits_and_posts_their_blog_urls(tmp_path):
    root = tmp_path / "posts"
    write_post(root, "国际/峰会.md", title="峰会开幕", date="2022-09-03")
    write_post(root, "财经/快讯.md", title="快讯", date="'Tue, 25 Jan 2022 17:07:56 GMT'")
    write_post(root, "短链.md", title="短链文章", extra="abbrlink: 1a2b\n")
    build_index(root, tmp_path / "index", procs=1)
    urls = PostUrls(SITE, permalink=":year/:month/:day/:title/", timezone="Asia/Shanghai")
    with Index.open(tmp_path / "index", post_urls=urls) as ix:
        found = {hit.id: hit.url for hit in ix.search("", per_page=0).hits}
        assert found == {"国际/峰会.md": f"{SITE}/2022/09/03/%E5%9B%BD%E9%99%85/%E5%B3%B0%E4%BC%9A/",
                         "财经/快讯.md": f"{SITE}/2022/01/26/%E8%B4%A2%E7%BB%8F/%E5%BF%AB%E8%AE%AF/",
                         "短链.md": f"{SITE}/2022/06/07/%E7%9F%AD%E9%93%BE/"}
        assert ix.get("国际/峰会.md").url == found["国际/峰会.md"]
    with Index.open(tmp_path / "index", post_urls=PostUrls(SITE, permalink="p/:abbrlink/")) as ix:
        assert {hit.id: hit.url for hit in ix.search("", per_page=0).hits}["短链.md"] == f"{SITE}/p/1a2b/"
    with Index.open(tmp_path / "index") as ix:
        assert {hit.url for hit in ix.search("", per_page=0).hits} == {None}
