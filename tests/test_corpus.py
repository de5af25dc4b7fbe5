"""Reading Hexo posts: fields, dates, visible text, and every kind of broken file."""

import os
from datetime import datetime, timezone

import pytest

from search.corpus.posts import find_posts, html_to_text, parse_date, read_post, unwrap_image_url
from tests.helpers import write_post


def read(root, rel):
    return read_post(root, root / rel)


def test_reads_front_matter_fields(tmp_path):
    write_post(tmp_path, "新媒体/果壳网/专栏/鲨鱼.md", title="鲨鱼会走路", author="果壳网",
               categories=("新媒体", "果壳网", "果壳网专栏"),
               extra="headimg: 'https://cors.zfour.workers.dev/?http://img.example.com/a.jpg'\n")
    doc = read(tmp_path, "新媒体/果壳网/专栏/鲨鱼.md").document
    assert doc.id == "新媒体/果壳网/专栏/鲨鱼.md"
    assert doc.title == "鲨鱼会走路"
    assert doc.source == "果壳网"
    assert doc.categories == ("新媒体", "果壳网", "果壳网专栏")
    assert doc.image == "http://img.example.com/a.jpg"


def test_id_is_posix_path_with_spaces_and_chinese(tmp_path):
    write_post(tmp_path, "新媒体/IT 之家/热榜/a b.md")
    assert read(tmp_path, "新媒体/IT 之家/热榜/a b.md").document.id == "新媒体/IT 之家/热榜/a b.md"


@pytest.mark.parametrize("value, expected", [
    ("Tue, 25 Jan 2022 17:07:56 GMT", datetime(2022, 1, 25, 17, 7, 56, tzinfo=timezone.utc)),
    ("2021-10-28 14:08:07", datetime(2021, 10, 28, 14, 8, 7, tzinfo=timezone.utc)),
    ("2022-06-07", datetime(2022, 6, 7, tzinfo=timezone.utc)),
    (datetime(2022, 6, 7, 8, 0), datetime(2022, 6, 7, 8, 0, tzinfo=timezone.utc)),
    ("1970-01-01", datetime(1970, 1, 1, tzinfo=timezone.utc)),
    ("2022-06-07T08:00:00+08:00", datetime(2022, 6, 7, 0, 0, tzinfo=timezone.utc)),
])
def test_parses_every_date_format_to_utc(value, expected):
    assert parse_date(value) == (expected, "")


@pytest.mark.parametrize("front, reason", [("date: 'next tuesday'\n", "unparseable date"), ("", "no date")])
def test_post_without_usable_date_is_indexed_and_reported(tmp_path, front, reason):
    path = tmp_path / "a.md"
    path.write_text(f"---\ntitle: t\n{front}---\n正文\n", encoding="utf-8")
    result = read_post(tmp_path, path)
    assert result.document.date is None
    assert [p.reason.split(" '")[0] for p in result.problems] == [reason]
    assert not result.problems[0].skipped


def test_yaml_date_value_is_parsed(tmp_path):
    write_post(tmp_path, "a.md", date="2021-10-28 14:08:07")
    assert read(tmp_path, "a.md").document.date == datetime(2021, 10, 28, 14, 8, 7, tzinfo=timezone.utc)


def test_other_short_front_matter_values_are_kept_for_blog_urls(tmp_path):
    write_post(tmp_path, "a.md", extra=("abbrlink: 3201\npermalink: /p/short/\nlang: zh-CN\ncomments: false\n"
                                        "tags: [科技]\nupdated: 2022-06-08\ndescription: '" + "长" * 101 + "'\n"))
    assert read(tmp_path, "a.md").document.front_matter == {"abbrlink": "3201", "permalink": "/p/short/",
                                                            "lang": "zh-CN"}


@pytest.mark.parametrize("date, zoned", [
    ("'Tue, 25 Jan 2022 17:07:56 GMT'", True), ("'2022-06-07T08:00:00+08:00'", True),
    ("2022-06-07T08:00:00+08:00", False),  # a YAML timestamp: Hexo shows it as UTC wall-clock time
    ("2022-06-07", False), ("'2021-10-28 14:08:07'", False), ("nonsense", False),
])
def test_date_written_as_text_with_its_zone_is_marked(tmp_path, date, zoned):
    write_post(tmp_path, "a.md", date=date)
    assert read(tmp_path, "a.md").document.date_zoned is zoned


def test_unwraps_nested_proxy_prefixes():
    url = "https://cors.zfour.workers.dev/?https://proxy.example/?http://img.example.com/x.png"
    assert unwrap_image_url(url) == "http://img.example.com/x.png"


def test_rejects_non_http_image_urls():
    assert unwrap_image_url("data:image/png;base64,AAAA") is None
    assert unwrap_image_url("") is None


def test_text_drops_scripts_styles_iframes_and_svg():
    html = ("<p>可见</p><script>var hidden=1</script><style>.x{}</style>"
            "<iframe src='x'>框架</iframe><svg><text>图形</text></svg><noscript>无</noscript>")
    assert html_to_text(html) == "可见"


def test_text_keeps_paragraph_breaks_and_captions():
    html = "<p>第一段</p><figure><img src=a.jpg><figcaption>图说：夜景</figcaption></figure><p>第二<b>段</b></p>"
    assert html_to_text(html) == "第一段\n图说：夜景\n第二段"


def test_text_decodes_entities_and_strips_zero_width():
    assert html_to_text("<p>a&nbsp;b &#123;x&#125; 博\u200b物馆</p>") == "a b {x} 博物馆"


def test_text_survives_deeply_nested_html():
    html = "<div>" * 5000 + "深处" + "</div>" * 5000
    assert html_to_text(html) == "深处"


def test_markdown_body_is_rendered(tmp_path):
    path = tmp_path / "md.md"
    path.write_text("---\ntitle: 标题\n---\n\n## 小标题\n\n第一段 **加粗**\n\n- 列表项\n", encoding="utf-8")
    doc = read_post(tmp_path, path).document
    assert "<h2>小标题</h2>" in doc.html
    assert doc.text == "小标题\n第一段 加粗\n列表项"


@pytest.mark.parametrize("content, reason", [
    (b"", "empty file"),
    (b"   \n", "empty file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file (NUL bytes)"),
    (b"\xff\xfe\xfa\x80\x81", "not UTF-8 or GB18030 text"),
])
def test_unreadable_files_are_skipped_with_reason(tmp_path, content, reason):
    path = tmp_path / "bad.md"
    path.write_bytes(content)
    result = read_post(tmp_path, path)
    assert result.document is None
    assert [(p.path, p.reason, p.skipped) for p in result.problems] == [("bad.md", reason, True)]


def test_gb18030_file_is_read_and_reported(tmp_path):
    path = tmp_path / "gbk.md"
    path.write_bytes("---\ntitle: 国际新闻\ndate: 2022-01-01\n---\n<p>中文正文</p>\n".encode("gb18030"))
    result = read_post(tmp_path, path)
    assert result.document.title == "国际新闻"
    assert result.document.text == "中文正文"
    assert [p.reason for p in result.problems] == ["decoded as GB18030"]


def test_invalid_yaml_keeps_the_body(tmp_path):
    path = tmp_path / "坏头.md"
    path.write_text("---\ntitle: [unclosed\ndate: : :\n---\n<p>正文还在</p>\n", encoding="utf-8")
    result = read_post(tmp_path, path)
    assert result.document.title == "坏头"
    assert result.document.text == "正文还在"
    assert result.problems[0].reason.startswith("invalid YAML front matter")


def test_post_without_front_matter_uses_file_name(tmp_path):
    path = tmp_path / "无头.md"
    path.write_text("<p>只有正文</p>", encoding="utf-8")
    result = read_post(tmp_path, path)
    assert result.document.title == "无头"
    assert result.document.text == "只有正文"
    assert result.problems[0].reason == "no front matter; title taken from file name"


def test_find_posts_reports_symlink_loops_and_broken_links(tmp_path):
    write_post(tmp_path, "a/one.md")
    os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
    os.symlink(tmp_path / "missing.md", tmp_path / "dangling.md")
    posts, problems = find_posts(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p in posts] == ["a/one.md"]
    assert sorted((p.path, p.reason) for p in problems) == [
        ("a/loop", "symlink loop: directory already visited"), ("dangling.md", "broken symlink")]


def test_find_posts_ignores_other_files_and_hidden_directories(tmp_path):
    write_post(tmp_path, "a/one.md")
    write_post(tmp_path, ".git/x.md")
    (tmp_path / "a" / "image.png").write_bytes(b"png")
    posts, _ = find_posts(tmp_path)
    assert [p.name for p in posts] == ["one.md"]


def test_missing_corpus_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        find_posts(tmp_path / "nope")


def test_a_read_post_carries_the_sha1_of_the_bytes_read(tmp_path):
    import hashlib

    path = tmp_path / "p.md"
    path.write_text("---\ntitle: 标题\n---\n<p>正文</p>\n", encoding="utf-8")
    assert read_post(tmp_path, path).sha1 == hashlib.sha1(path.read_bytes()).hexdigest()
    (tmp_path / "empty.md").write_bytes(b"")
    assert read_post(tmp_path, tmp_path / "empty.md").sha1 == hashlib.sha1(b"").hexdigest()  # skipped, still known
