"""Posts' URLs on the blog: Hexo's permalink settings, reproduced (expected values from Hexo's own tests)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from search import Index, PostUrls, Problem, build_index
from search.corpus.permalinks import Link, find_unlinked, slugize
from tests.helpers import write_post

SITE = "https://blog.example.com"


def link(pattern: str = ":year/:month/:day/:title/", *, zone: str = "UTC", build: str = "", doc_id: str = "foo.md",
         title: str = "标题", categories: tuple[str, ...] = (), date: datetime | None = datetime(2014, 1, 2),
         date_zoned: bool = False, front_matter: dict | None = None, site: str = SITE, **settings) -> Link:
    urls = PostUrls(site, permalink=pattern, timezone=zone, build_timezone=build, **settings)
    return urls.link(doc_id=doc_id, title=title, categories=categories,
                     date=date.replace(tzinfo=timezone.utc) if date else None,
                     date_zoned=date_zoned, front_matter=front_matter)


def url(pattern: str = ":year/:month/:day/:title/", **options) -> str | None:
    return link(pattern, **options).url


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
    assert url(":title/", doc_id="科技/a b#c;d.md") == f"{SITE}/%E7%A7%91%E6%8A%80/a%20b%23c;d/"


def test_a_percent_that_is_a_valid_escape_is_kept_as_written():
    # Hexo writes the page at the name as written: "%41" stays "%41" on disk, so the URL encodes the "%"
    assert url(":title/", doc_id="a%41b.md") == f"{SITE}/a%2541b/"


@pytest.mark.parametrize("doc_id", ["涨超3%.md", "Zero % Shower.md", "上涨%AB.md"])
def test_a_percent_hexo_cannot_decode_gives_no_url_and_says_why(doc_id):
    found = link(":title/", doc_id=doc_id)
    assert found.url is None and "URIError: URI malformed" in found.problem


def test_a_percent_in_a_front_matter_permalink_is_refused_too():
    assert "URIError" in link(front_matter={"permalink": "p/100%/"}).problem


def test_a_question_mark_in_the_path_gives_no_url_and_names_the_file_hexo_writes():
    found = link(":year/:month/:day/:title/", doc_id="为什么?.md")
    assert found.url is None and "'?'" in found.problem and "'2014/01/02/为什么'" in found.problem


@pytest.mark.parametrize("doc_id", ["_draft.md", ".hidden.md", "_folder/post.md", "新闻/.cache/post.md"])
def test_files_hexo_skips_give_no_url(doc_id):
    assert "'_' or '.'" in link(doc_id=doc_id).problem


def test_a_permalink_giving_the_home_page_is_refused():
    assert "home page" in link(":post_title/", title="!!!").problem
    assert "home page" in link(":title.html", doc_id="index.md").problem


def test_a_missing_value_says_which_variable():
    problem = link("posts/:abbrlink/").problem
    assert ":abbrlink" in problem and "undefined" in problem
    assert "no date" in link(date=None).problem


def test_backslashes_and_doubled_slashes_become_one_slash_as_in_hexos_router():
    assert url(":category/:title/", categories=("a", ""), doc_id="b\\c.md") == f"{SITE}/a/b/c/"


# --- the rest of Hexo's URL settings ------------------------------------------------------------------

def test_permalink_defaults_fill_variables_the_post_lacks():
    assert url(":lang/:title/", permalink_defaults={"lang": "zh"}) == f"{SITE}/zh/foo/"
    assert url(":lang/:title/", permalink_defaults={"lang": "zh"}, front_matter={"lang": "en"}) == f"{SITE}/en/foo/"


def test_pretty_urls_drop_trailing_index_and_html_as_hexo():
    assert url(":title/index.html", trailing_index=False) == f"{SITE}/foo/"
    assert url(":title.html", trailing_html=False) == f"{SITE}/foo"
    assert url(":title/index.html", trailing_html=False) == f"{SITE}/foo/index.html"


def test_post_asset_folder_ends_paths_with_a_slash():
    assert url(":title", post_asset_folder=True) == f"{SITE}/foo/"
    assert url(":title.html", post_asset_folder=True) == f"{SITE}/foo.html"
    assert url(front_matter={"permalink": "p/x"}, post_asset_folder=True) == f"{SITE}/p/x/"


def test_category_map_and_filename_case_shape_category_slugs():
    assert url(":category/:title/", categories=("科技", "Web Dev"), category_map={"科技": "tech"},
               filename_case=1) == f"{SITE}/tech/web-dev/foo/"


def test_new_post_name_with_a_date_gives_the_title_and_a_missing_date():
    options = {"new_post_name": ":year-:month-:day-:title.md", "doc_id": "2021-03-04-hello.md"}
    assert url(":year/:title/", date=datetime(2022, 1, 1), **options) == f"{SITE}/2022/hello/"
    assert url(":year/:month/:day/:title/", date=None, **options) == f"{SITE}/2021/03/04/hello/"
    # a name the pattern does not fit is slugified whole, as Hexo does
    assert url(":title/", new_post_name=":year-:title.md", doc_id="sub/a b.md") == f"{SITE}/sub-a-b/"


# --- dates as Hexo shows them ---------------------------------------------------------------------

@pytest.mark.parametrize("zone", ["", "UTC", "Asia/Shanghai", "America/New_York"])
def test_a_date_written_without_zone_is_the_day_written_when_built_in_the_blogs_zone(zone):
    assert url(zone=zone, date=datetime(2022, 9, 3, 23, 30)) == f"{SITE}/2022/09/03/foo/"


@pytest.mark.parametrize("build", ["UTC", "Asia/Shanghai", "America/New_York"])
def test_without_a_timezone_setting_a_date_without_zone_is_the_day_written_wherever_built(build):
    assert url(zone="", build=build, date=datetime(2022, 9, 3, 23, 30)) == f"{SITE}/2022/09/03/foo/"


@pytest.mark.parametrize(("build", "day"), [("UTC", "2022/09/25"), ("Asia/Shanghai", "2022/09/26"),
                                            ("America/New_York", "2022/09/25"), ("Asia/Tokyo", "2022/09/26")])
def test_a_blog_in_shanghai_built_elsewhere_files_midnight_posts_under_that_machines_day(build, day):
    # Hexo reads 2022-09-26 as Shanghai midnight (2022-09-25 16:00 UTC) and formats it on the building machine
    assert url(zone="Asia/Shanghai", build=build, date=datetime(2022, 9, 26)) == f"{SITE}/{day}/foo/"


@pytest.mark.parametrize(("zone", "build", "day"), [
    ("", "UTC", "2022/01/25"), ("", "Asia/Shanghai", "2022/01/26"), ("UTC", "UTC", "2022/01/25"),
    ("Asia/Shanghai", "Asia/Shanghai", "2022/01/26"), ("America/New_York", "America/New_York", "2022/01/25"),
    # Hexo shifts an instant by (build zone - timezone) too: 17:07 GMT becomes 09:07 UTC
    ("Asia/Shanghai", "UTC", "2022/01/25"), ("UTC", "Asia/Shanghai", "2022/01/26"),
])
def test_a_date_written_with_its_zone_follows_hexos_arithmetic(zone, build, day):
    # 'Tue, 25 Jan 2022 17:07:56 GMT' is 01:07:56 on the 26th in Shanghai
    assert url(zone=zone, build=build, date=datetime(2022, 1, 25, 17, 7, 56), date_zoned=True) == f"{SITE}/{day}/foo/"


def test_timestamp_and_hash_use_the_moment_hexo_holds():
    # Shanghai midnight of 2025-01-09, built anywhere: 2025-01-08 16:00 UTC
    assert url(":timestamp/", zone="Asia/Shanghai", build="UTC", date=datetime(2025, 1, 9)) == f"{SITE}/1736352000/"


# --- settings --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("settings", "message"), [
    ({"site": "blog.example.com"}, "blog URL"),
    ({"site": "ftp://blog.example.com"}, "blog URL"),
    ({"site": "https://blog.example.com/?x=1"}, "blog URL"),
    ({"site": SITE, "permalink": ":id/"}, ":id"),
    ({"site": SITE, "permalink": " "}, "empty"),
    ({"site": SITE, "timezone": "Mars/Olympus"}, "time zone"),
    ({"site": SITE, "timezone": "../etc/passwd"}, "time zone"),
    ({"site": SITE, "build_timezone": "Beijing"}, "time zone"),
    ({"site": SITE, "filename_case": 3}, "filename_case"),
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


def test_a_quoted_date_alone_is_midnight_utc_as_javascript_reads_it(tmp_path):
    root = tmp_path / "posts"
    write_post(root, "quoted.md", date="'2022-09-26'")
    write_post(root, "plain.md", date="2022-09-26")
    build_index(root, tmp_path / "index", procs=1)
    urls = PostUrls(SITE, permalink=":year/:month/:day/:title/", build_timezone="America/New_York")
    with Index.open(tmp_path / "index", post_urls=urls) as ix:
        assert ix.get("quoted.md").url == f"{SITE}/2022/09/25/quoted/"  # 20:00 on the 25th in New York
        assert ix.get("plain.md").url == f"{SITE}/2022/09/26/plain/"


def test_posts_hexo_gives_one_page_are_reported_with_the_other():
    urls = PostUrls(SITE, permalink=":post_title/")
    posts = [{"doc_id": f"{name}.md", "title": title, "categories": (), "date": None}
             for name, title in [("b", "Hello World"), ("a", "hello, world"), ("c", "其他")]]
    assert find_unlinked(urls, posts) == [Problem("b.md", "Hexo gives it the same page as a.md, and writes only one "
                                                          "of them", skipped=False)]


def test_index_lists_the_posts_without_a_url_and_why(tmp_path):
    root = tmp_path / "posts"
    write_post(root, "ok.md")
    write_post(root, "涨超3%.md")
    write_post(root, "undated.md", date=None)
    build_index(root, tmp_path / "index", procs=1)
    with Index.open(tmp_path / "index", post_urls=PostUrls(SITE)) as ix:
        assert [(p.path, p.reason.split(":")[0][:20]) for p in ix.unlinked()] == [
            ("undated.md", "the post has no date"), ("涨超3%.md", "Hexo 8 cannot build ")]
        assert ix.get("涨超3%.md").url is None
    with Index.open(tmp_path / "index") as ix:
        assert ix.unlinked() == []
