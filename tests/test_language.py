"""The language of each post (HTML ``lang``): read from its scripts, stored in the index, carried by the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from search import Index, build_index, optimize_index, update_index
from search.corpus.posts import read_post
from search.text.language import detect_language, post_language
from tests.helpers import RSSHUB, require_shared, write_post
from web import create_app


@pytest.mark.parametrize(("text", "lang"), [
    ("第二十四届冬奥会开幕式在国家体育场举行。", "zh-Hans"),
    ("亞洲經濟國際論壇今日開幕，與會者討論數字轉型。", "zh-Hant"),
    ("フロントウイングは新作PCゲームを2023年に発売することを発表した。", "ja"),
    ("서울에서 국제 포럼이 열렸다", "ko"),
    ("I was taking a quick walk with my dog tonight and realized the red sky above my head.", "en"),
    ("Москва — столица России", "ru"),
])
def test_each_script_mix_names_its_language(text, lang):
    assert detect_language(text) == lang


def test_a_chinese_post_full_of_english_product_names_is_chinese():
    assert detect_language("Gurman：苹果 2023 年将密集发布 MacBook Air 15 英寸、新款 M3 iMac / Mac Pro、iPad 14 英寸等") \
        == "zh-Hans"


def test_an_english_post_quoting_a_chinese_name_is_english():
    text = ("The Honourable Mr. Justice Andrew Chan heard the case of Donald Tsang (曾蔭權), the former Chief "
            "Executive, and the court received letters from his former colleagues in support of him.")
    assert detect_language(text) == "en"


def test_chinese_with_a_japanese_name_in_brackets_stays_chinese():
    assert detect_language("《東方少女綺想譚（とうほうしょうじょきそうたん）》將於 9 月 29 日推出，身為《東方 Project》"
                           "二次創作遊戲，玩家將扮演少女展開冒險，遊戲支援繁體中文。遊戲預計於今年冬季在日本推出，售價為 3,500 "
                           "日圓，並同步推出實體限定版。") == "zh-Hant"


def test_urls_addresses_and_markup_shown_as_text_are_not_counted():
    markup = '<span style="font-size: 16px;color: rgb(51, 51, 51);">' * 20
    text = f"复活节兔子也应该是野兔 {markup} https://example.com/a/very/long/path?with=query&and=more mail@example.com"
    assert detect_language(text) == "zh-Hans"


def test_text_without_letters_has_no_language():
    assert detect_language("2022-10-01 12:00 ☆★ 😂") is None
    assert detect_language("") is None


@pytest.mark.parametrize(("declared", "lang"), [("en-GB", "en-GB"), ("zh-TW", "zh-TW"), ("ja", "ja"),
                                                 ("default", "zh-Hans"), ("", "zh-Hans"), ("zh_CN!", "zh-Hans")])
def test_a_post_declaring_its_language_in_front_matter_is_taken_at_its_word(declared, lang):
    assert post_language("标题", "正文是简体中文", declared) == lang


def _read(rel: str):
    root = require_shared(RSSHUB)
    return read_post(root, root / rel).document


@pytest.mark.parametrize(("folder", "lang"), [
    ("博客/Paul Graham 博客/Essays", "en"),
    ("设计/Monotype/Featured Article", "en"),
    ("编程/Hex-Rays/Hex-Rays News", "en"),
    ("游戏/4Gamers 新闻/主題", "zh-Hant"),
    ("二次元/Eventernote/声优活动及演唱会", "ja"),
    ("新媒体/IT 之家/热榜", "zh-Hans"),
    ("新媒体/果壳网/果壳网专栏", "zh-Hans"),  # Chinese, with the publisher's markup shown as text
])
def test_real_posts_are_marked_with_the_language_they_are_written_in(folder, lang):
    root = require_shared(RSSHUB)
    posts = sorted((root / folder).glob("*.md"))
    assert posts
    assert {p.name: _read(str(p.relative_to(root))).lang for p in posts} == {p.name: lang for p in posts}


@pytest.mark.slow
def test_no_english_post_of_the_real_corpus_is_marked_chinese():
    root = require_shared(RSSHUB)
    marked = [read_post(root, p).document for p in sorted(root.rglob("*.md"))]
    langs = {doc.id: doc.lang for doc in marked if doc is not None}
    assert langs["博客/Paul Graham 博客/Essays/Putting Ideas into Words.md"] == "en"
    counts = {lang: sum(1 for v in langs.values() if v == lang) for lang in set(langs.values())}
    assert 170 <= counts["en"] <= 200 and 120 <= counts["zh-Hant"] <= 150 and 20 <= counts["ja"] <= 40
    assert counts["zh-Hans"] > 1600


@pytest.fixture
def lang_index(tmp_path: Path) -> Path:
    root = tmp_path / "posts"
    write_post(root, "a/简体.md", title="冬奥会开幕", body="<p>第二十四届冬奥会开幕式在国家体育场举行。</p>")
    write_post(root, "a/繁體.md", title="冬奧會開幕", body="<p>第二十四屆冬奧會開幕式在國家體育場舉行。</p>",
               date="2022-06-08")
    write_post(root, "b/english.md", title="Winter Olympics open",
               body="<p>The opening ceremony of the Winter Olympics (冬奥会) was held in the National Stadium.</p>")
    write_post(root, "b/declared.md", title="Olympische Winterspiele", body="<p>Die Eröffnungsfeier fand statt.</p>",
               extra="lang: de\n")
    build_index(root, tmp_path / "index", procs=1)
    return tmp_path / "index"


def test_the_index_stores_each_posts_language_for_hits_copies_and_posts(lang_index):
    with Index.open(lang_index) as ix:
        results = ix.search("冬奥会 OR olympics OR winterspiele", per_page=10)
        langs = {hit.id: hit.lang for hit in results.hits}
        langs.update({copy.id: copy.lang for hit in results.hits for copy in hit.copies})
        assert langs == {"a/简体.md": "zh-Hans", "a/繁體.md": "zh-Hant", "b/english.md": "en", "b/declared.md": "de"}
        assert ix.get("b/english.md").lang == "en"


def test_languages_survive_updates_and_segment_merges(lang_index, tmp_path):
    write_post(tmp_path / "posts", "c/日本語.md", title="東京の天気", body="<p>今日は晴れです。明日は雨が降るでしょう。</p>")
    update_index(lang_index, tmp_path / "posts", policy=None)  # a second segment, merged below
    optimize_index(lang_index)
    with Index.open(lang_index) as ix:
        assert [ix.get(doc).lang for doc in ("a/繁體.md", "b/english.md", "b/declared.md", "c/日本語.md")] == \
            ["zh-Hant", "en", "de", "ja"]


def test_the_api_carries_each_posts_language(lang_index):
    client = create_app({"INDEX_DIR": str(lang_index)}).test_client()
    hits = client.get("/api/search?q=olympics").get_json()["hits"]
    assert [(hit["path"], hit["lang"]) for hit in hits] == [("b/english.md", "en")]
    assert client.get("/api/post/a/繁體.md").get_json()["lang"] == "zh-Hant"
