"""Long fuzzing runs: the same properties as tests/test_fuzz.py, with many more examples.

* corpus reader: random bytes and random front matter never raise; every skipped file has a reason;
* query language: any unicode string either searches or is refused with a message;
* JSON API: any query-string parameters (from the OpenAPI document's names) never answer 5xx.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from search import Index, QuerySyntaxError, read_post

FUZZ_SETTINGS = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=False)


def _run(test, examples: int) -> tuple[int, str | None]:
    """Run a hypothesis-decorated ``test`` for ``examples`` examples; return (count, first failure)."""
    counter = {"n": 0}

    @functools.wraps(test)
    def counted(*args, **kwargs):
        counter["n"] += 1
        test(*args, **kwargs)
    try:
        settings(max_examples=examples, **FUZZ_SETTINGS)(given(*test.strategies)(counted))()
    except Exception as exc:  # noqa: BLE001 - a falsified property is the result we report
        return counter["n"], f"{type(exc).__name__}: {str(exc)[:500]}"
    return counter["n"], None


def fuzz_corpus_reader(examples: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="fuzz-corpus-"))

    def check(raw: bytes) -> None:
        path = root / "post.md"
        path.write_bytes(raw)
        result = read_post(root, path)
        if result.document is None:
            assert result.problems and all(p.reason for p in result.problems) and result.problems[0].skipped
        else:
            assert isinstance(result.document.text, str) and result.document.id == "post.md"

    front = st.dictionaries(st.sampled_from(["title", "date", "author", "categories", "headimg", "x"]),
                            st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
                                         lambda inner: st.lists(inner, max_size=3)
                                         | st.dictionaries(st.text(max_size=5), inner, max_size=3)),
                            max_size=5)
    yaml_posts = st.tuples(front, st.text()).map(_yaml_post)
    check.strategies = (st.binary(max_size=4096) | yaml_posts | st.text().map(lambda t: t.encode("utf-8", "replace")),)
    count, failure = _run(check, examples)
    return {"target": "corpus reader (read_post)", "examples": count, "failure": failure}


def _yaml_post(item) -> bytes:
    import yaml

    meta, body = item
    return ("---\n" + yaml.safe_dump(meta, allow_unicode=True) + "---\n" + body).encode("utf-8", "replace")


def fuzz_queries(index_dir: Path, examples: int) -> dict:
    with Index.open(index_dir) as ix:
        def check(text: str) -> None:
            try:
                ix.search(text, per_page=5)
            except QuerySyntaxError as exc:
                assert str(exc).strip(), f"empty message for {text!r}"

        check.strategies = (st.text(max_size=1200) | st.lists(st.sampled_from(
            ['"', "(", ")", "-", "OR", "AND", "title:", "date:", "source:", "category:", "..", ">=", "冬奥",
             "國際", "ＧＤＰ", " ", "\u200b", "\x00", "2022-13", "*", "?", "\\"]), max_size=40).map("".join),)
        count, failure = _run(check, examples)
    return {"target": "query language (Index.search)", "examples": count, "failure": failure}


def fuzz_api(index_dir: Path, examples: int) -> dict:
    from web import create_app

    client = create_app({"TESTING": True, "INDEX_DIR": str(index_dir)}).test_client()
    names = [p["name"] for p in client.get("/api/openapi.json").get_json()["paths"]["/api/search"]["get"]["parameters"]]
    values = st.text(max_size=300) | st.integers().map(str) | st.sampled_from(
        ["2022", "2022-01..2022-03", ">=2022-09-01", "newest", "html", "json", "-1", "0", "9" * 30])

    def check(params: dict, path: str) -> None:
        response = client.get(path, query_string=params)
        assert response.status_code < 500, f"{response.status_code} for {path} {params!r}"
        assert response.status_code in (200, 302, 400, 404), response.status_code
        if path.startswith("/api/") and response.status_code != 200:
            assert response.get_json()["error"]["message"]

    check.strategies = (st.dictionaries(st.sampled_from(names) | st.text(max_size=10), values, max_size=6),
                        st.sampled_from(["/api/search", "/search", "/api/stats", "/"]))
    count, failure = _run(check, examples)
    return {"target": "HTTP API and pages (OpenAPI parameters)", "examples": count, "failure": failure}
