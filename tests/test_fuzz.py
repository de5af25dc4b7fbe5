"""Hostile and malformed input, property-based: the corpus reader, the query language and the API.

* ``read_post`` never raises, whatever the bytes; a file it skips always comes
  back with a reason, and a document never carries NUL or control characters.
* Any unicode query either searches or is refused with a message (400 on the web).
* The JSON API, fuzzed from its own OpenAPI document with schemathesis
  (valid and invalid parameters), never answers 5xx and always answers as documented.

``stress/run.py`` runs the same properties with thousands of examples.
"""

from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search import Index, QuerySyntaxError, build_index, read_post
from tests.helpers import missing
from web import create_app

pytestmark = pytest.mark.slow

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# --- the corpus reader ---------------------------------------------------------------------------

YAML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.dates() | st.datetimes(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8)
FRONT_MATTER = st.dictionaries(
    st.sampled_from(["title", "date", "author", "source", "categories", "tags", "headimg", "thumbnail", "cover"])
    | st.text(max_size=8), YAML_VALUES, max_size=6)
ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "big5", "shift_jis", "latin-1", "utf-16", "cp1252")


def check_read(root, raw: bytes):
    """Write ``raw`` as a post, read it, and check the reader's contract; return the result."""
    path = root / "post.md"
    path.write_bytes(raw)
    result = read_post(root, path)
    assert all(p.reason and p.path == "post.md" for p in result.problems)
    if result.document is None:
        assert result.problems and result.problems[0].skipped, "a skipped file must say why"
    else:
        doc = result.document
        assert doc.id == "post.md" and doc.title
        for value in (doc.title, doc.text, doc.source, *doc.categories):
            assert isinstance(value, str) and "\x00" not in value and "\x1b" not in value
    return result


@FAST
@given(raw=st.binary(max_size=2048))
def test_reader_survives_random_bytes(tmp_path, raw):
    check_read(tmp_path, raw)


@settings(FAST, max_examples=40)
@given(meta=FRONT_MATTER, body=st.text(max_size=300))
def test_reader_survives_random_yaml_front_matter(tmp_path, meta, body):
    header = yaml.safe_dump(meta, allow_unicode=True)
    result = check_read(tmp_path, f"---\n{header}---\n{body}".encode("utf-8", "surrogatepass"))
    if result.document is None:  # only files with nothing in them, or binary ones, are skipped
        assert result.problems[0].reason in ("empty file", "binary file (NUL bytes)")


@FAST
@given(text=st.text(max_size=300), garbage=st.text(max_size=300))
def test_reader_survives_broken_yaml_and_keeps_the_body(tmp_path, text, garbage):
    raw = f"---\ntitle: [{garbage}\n: {{\n---\n<p>正文{text}</p>".encode("utf-8", "surrogatepass")
    result = check_read(tmp_path, raw)
    assert result.document is None or "正文" in result.document.text


@FAST
@given(parts=st.lists(st.tuples(st.text(min_size=1, max_size=40), st.sampled_from(ENCODINGS)), min_size=1,
                      max_size=6))
def test_reader_survives_mixed_encodings(tmp_path, parts):
    raw = b"---\ntitle: mixed\n---\n" + b"".join(text.encode(enc, "replace") for text, enc in parts)
    check_read(tmp_path, raw)


@FAST
@given(before=st.text(max_size=200), after=st.text(max_size=200), offset=st.integers(0, 20000))
def test_reader_handles_nul_bytes_anywhere(tmp_path, before, after, offset):
    raw = f"---\ntitle: 空字符\n---\n<p>{before}".encode() + b"x" * offset + b"\x00" + f"{after}</p>".encode()
    result = check_read(tmp_path, raw)
    if offset < 8000:
        assert result.document is None and result.problems[0].reason == "binary file (NUL bytes)"


@FAST
@given(tags=st.lists(st.sampled_from(["div", "p", "b", "span", "table", "td", "li", "ul", "a", "i", "script",
                                      "svg", "iframe", "blockquote", "font", "x-custom"]), min_size=1, max_size=8),
       depth=st.integers(1, 3000), closed=st.booleans())
def test_reader_survives_deeply_nested_html(tmp_path, tags, depth, closed):
    opening = "".join(f"<{t}>" for t in tags) * (depth // len(tags) + 1)
    closing = "".join(f"</{t}>" for t in reversed(tags)) * (depth // len(tags) + 1) if closed else ""
    check_read(tmp_path, f"---\ntitle: 深\n---\n{opening}深处的文字{closing}".encode())


@pytest.mark.parametrize("shape", ["nested divs", "unclosed inline tags", "markdown quotes"])
def test_reader_survives_twenty_thousand_levels_of_nesting(tmp_path, shape):
    body = {"nested divs": "<div>" * 20000 + "<p>深处</p>" + "</div>" * 20000,
            "unclosed inline tags": "<p>" + "<b><i>" * 10000 + "深处",
            "markdown quotes": "> " * 20000 + "深处"}[shape]
    result = check_read(tmp_path, f"---\ntitle: 深\n---\n{body}".encode())
    assert result.document is not None


def test_reader_reads_a_ten_megabyte_post(tmp_path):
    paragraph = "<p>" + "国际新闻段落内容，记者报道。" * 30 + "</p>\n"
    raw = ("---\ntitle: 很长的文章\ndate: 2022-06-07\n---\n" + paragraph * 22000).encode()
    assert len(raw) > 10_000_000
    started = time.monotonic()
    result = check_read(tmp_path, raw)
    assert time.monotonic() - started < 30
    assert result.problems == [] and result.document.text.count("\n") == 21999


def test_hostile_files_are_indexed_or_listed_with_reasons(tmp_path):
    corpus = tmp_path / "posts"
    corpus.mkdir()
    files = {
        "empty.md": b"", "nul.md": b"---\ntitle: x\n---\n\x00\x01", "latin1.md": "café é".encode("latin-1"),
        "gbk.md": "---\ntitle: 国标\n---\n中文正文".encode("gb18030"),
        "bom.md": "\ufeff---\ntitle: 有BOM\n---\n正文".encode(),
        "yaml-bomb.md": b"---\na: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\ntitle: *c\n---\nbody",
        "tab-yaml.md": b"---\n\ttitle: x\n---\nbody", "only-dashes.md": b"---\n---\n---\n",
        "utf16.md": "---\ntitle: 十六\n---\n正文".encode("utf-16"),
    }
    for name, raw in files.items():
        (corpus / name).write_bytes(raw)
    report = build_index(corpus, tmp_path / "ix", procs=1)
    listed = {p.path for p in report.skipped}
    assert report.total_docs + len(listed) == len(files)
    assert all(p.reason for p in report.problems)
    assert {"empty.md", "nul.md"} <= listed


# --- the query language through the library and the web ------------------------------------------

QUERY_SOUP = st.lists(st.sampled_from(['"', "“", "(", ")", "-", "OR", "AND", "title:", "date:", "source:",
                                       "category:", "..", ">=", "<", "冬奥", "國際", "ＧＤＰ", " ", "\u200b", "\x00",
                                       "2022-13", "*", "?", "\\", "\ufffd", "\U0001f600", "a" * 50]),
                      max_size=40).map("".join)


@pytest.fixture(scope="module")
def demo_index(demo_index_dir):
    with Index.open(demo_index_dir) as ix:
        yield ix


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=1100) | QUERY_SOUP)
def test_any_query_searches_or_is_refused_with_a_message(demo_index, text):
    try:
        results = demo_index.search(text, per_page=5)
    except QuerySyntaxError as exc:
        assert str(exc).strip()
    else:
        assert results.total >= len(results.hits)


@pytest.fixture(scope="module")
def client(demo_index_dir):
    return create_app({"TESTING": True, "INDEX_DIR": str(demo_index_dir)}).test_client()


@settings(max_examples=100, deadline=None)
@given(q=st.text(max_size=250) | QUERY_SOUP, path=st.sampled_from(["/api/search", "/search"]))
def test_any_query_on_the_web_answers_200_or_400_with_a_message(client, q, path):
    response = client.get(path, query_string={"q": q})
    assert response.status_code in (200, 302, 400)
    if response.status_code == 400:
        if path.startswith("/api/"):
            assert response.get_json()["error"]["message"]
        else:
            assert '<p class="error-message">' in response.get_data(as_text=True)


# --- the API from its OpenAPI document (schemathesis) --------------------------------------------

def _schemathesis():
    try:
        import schemathesis
    except ImportError:
        missing("schemathesis is not installed: pip install -e '.[test]' (it is in the test extra)")
    return schemathesis


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_api_fuzzed_from_its_openapi_document_never_answers_5xx(demo_index_dir, mode):
    schemathesis = _schemathesis()
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

    app = create_app({"TESTING": True, "INDEX_DIR": str(demo_index_dir)})
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    checks = [not_a_server_error, status_code_conformance, response_schema_conformance]
    calls = []
    for operation in (result.ok() for result in schema.get_all_operations()):
        if mode == "negative" and operation.label != "GET /api/search":
            continue  # the others take no parameters or any string: nothing can be invalid
        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=GenerationMode(mode)))
        def call(case):
            response = case.call()
            calls.append(response.status_code)
            case.validate_response(response, checks=checks)
        call()
    assert len(calls) >= 40 and max(calls) < 500
