"""Every search is a feed: ``/search.atom`` read back by a real feed parser (feedparser)."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import feedparser
import pytest

from search import build_index, update_index
from tests.helpers import write_post
from web import SECURITY_HEADERS, create_app


@pytest.fixture
def client(small_index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(small_index_dir)}).test_client()


@pytest.fixture
def demo_client(demo_index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(demo_index_dir)}).test_client()


def parsed(response):
    feed = feedparser.parse(response.get_data())
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def test_a_search_feed_is_valid_atom(demo_client):
    response = demo_client.get("/search.atom?q=冬奥")
    feed = parsed(response)
    assert (response.status_code, response.mimetype, feed.version) == (200, "application/atom+xml", "atom10")
    assert feed.feed.title == "新闻搜索：冬奥"
    assert {link.rel: link.href for link in feed.feed.links} == {
        "self": "http://localhost/search.atom?q=冬奥",
        "alternate": "http://localhost/search?q=%E5%86%AC%E5%A5%A5&sort=newest"}


def test_entries_are_the_newest_matches_with_title_link_date_source_and_summary(demo_client):
    feed = parsed(demo_client.get("/search.atom?q=冬奥"))
    dates = [entry.updated for entry in feed.entries]
    assert len(dates) > 2 and dates == sorted(dates, reverse=True)
    first = feed.entries[0]
    assert first.title == "冬奥场馆赛后利用：“冰立方”变身大众冰雪乐园"
    assert first.link.startswith("http://localhost/post/") and first.id == first.link
    assert first.author == "东方体育" and first.published == first.updated
    assert "<b>冬奥</b>会落幕" in first.summary  # the highlighted snippet, escaped in the XML, HTML once read


def test_the_summary_is_escaped_html(demo_client):
    xml = demo_client.get("/search.atom?q=冬奥").get_data(as_text=True)
    assert "<summary type=\"html\">&lt;b&gt;冬奥&lt;/b&gt;会落幕四个月后" in xml


def test_a_feed_lists_the_fifty_newest_stories_whatever_page_was_asked(tmp_path):
    for day in range(1, 61):
        write_post(tmp_path / "posts", f"快讯/{day}.md", title=f"快讯第{day}期", date=f"2022-{1 + day // 28:02d}-{1 + day % 28:02d}")
    build_index(tmp_path / "posts", tmp_path / "index", procs=1)
    client = create_app({"TESTING": True, "INDEX_DIR": str(tmp_path / "index")}).test_client()
    feed = parsed(client.get("/search.atom?q=快讯&per_page=5&page=3&sort=oldest"))
    assert [entry.title for entry in feed.entries] == [f"快讯第{day}期" for day in range(60, 10, -1)]


def test_entries_link_to_the_blog_when_the_server_knows_it(demo_index_dir):
    client = create_app({"TESTING": True, "INDEX_DIR": str(demo_index_dir), "BLOG_URL": "https://blog.example.com",
                         "PERMALINK": ":year/:month/:day/:title/"}).test_client()
    links = [entry.link for entry in parsed(client.get("/search.atom?q=冬奥")).entries]
    assert links and all(link.startswith("https://blog.example.com/20") for link in links)


def test_an_unchanged_feed_answers_304_to_its_etag(client):
    first = client.get("/search.atom?q=冬奥会")
    again = client.get("/search.atom?q=冬奥会", headers={"If-None-Match": first.headers["ETag"]})
    assert (again.status_code, again.get_data()) == (304, b"")


def test_an_unchanged_feed_answers_304_since_its_last_modified(client):
    first = client.get("/search.atom?q=冬奥会")
    again = client.get("/search.atom?q=冬奥会", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert again.status_code == 304
    earlier = format_datetime(datetime(2020, 1, 1, tzinfo=timezone.utc), usegmt=True)
    assert client.get("/search.atom?q=冬奥会", headers={"If-Modified-Since": earlier}).status_code == 200


def test_a_new_matching_post_changes_the_feed(corpus_dir, index_dir):
    client = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    first = client.get("/search.atom?q=冬奥会")
    write_post(corpus_dir, "体育/新华/要闻/冬奥会闭幕.md", title="北京冬奥会闭幕", date="2022-02-20")
    update_index(index_dir)
    again = client.get("/search.atom?q=冬奥会", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 200
    assert [entry.title for entry in parsed(again).entries] == ["北京冬奥会闭幕", "北京冬奥会开幕式举行"]


def test_a_feed_carries_the_security_headers(client):
    response = client.get("/search.atom?q=冬奥会")
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS


def test_a_feed_of_filters_alone_lists_their_newest_posts(client):
    feed = parsed(client.get("/search.atom?source=新华社"))
    assert [entry.title for entry in feed.entries] == ["北京冬奥会开幕式举行"]


def test_a_bad_parameter_is_refused_with_a_message(client):
    response = client.get("/search.atom?q=冬奥&date=yesterday")
    assert response.status_code == 400 and "“yesterday”不是日期" in response.get_data(as_text=True)


def test_the_results_page_advertises_its_feed(client):
    html = client.get("/search?q=冬奥会&source=新华社").get_data(as_text=True)
    feed_url = "/search.atom?q=%E5%86%AC%E5%A5%A5%E4%BC%9A&amp;source=%E6%96%B0%E5%8D%8E%E7%A4%BE"
    assert f'<link rel="alternate" type="application/atom+xml" title="订阅「冬奥会」"\n        href="{feed_url}">' in html
    assert f'<a class="feed-link" href="{feed_url}" type="application/atom+xml"' in html
