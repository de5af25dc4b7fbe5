"""The seam to Whoosh: only search/whoosh_internals touches Whoosh's private names; a start-up self-check names
any internal the installed Whoosh lacks; the Whoosh version is recorded in meta.json and checked on open;
only damaged files (not bugs) become IndexCorruptError."""

from __future__ import annotations

import ast
import json
import logging
import re
import shutil
from pathlib import Path

import pytest
import whoosh
from click.testing import CliRunner
from whoosh import scoring
from whoosh.writing import SegmentWriter

import search.local.searcher
from search import Index, IndexCorruptError, IndexVersionError, WhooshIncompatibleError, update_index
from search.cli import cli
from search.whoosh_internals import HookedSegmentWriter, check_internals, compat
from web import create_app

ROOT = Path(__file__).resolve().parent.parent
SEAM = ROOT / "search" / "whoosh_internals"
WHOOSH_SOURCE = "\n".join(p.read_text(encoding="utf-8") for p in Path(whoosh.__file__).parent.rglob("*.py"))


# --- only the seam touches Whoosh's private names --------------------------------------------------

def modules(root: Path) -> list[Path]:
    return sorted(root.rglob("*.py"))


def private(name: str | None) -> bool:
    return bool(name) and name.startswith("_") and not name.startswith("__")


def seam_private_names() -> set[str]:
    """Private names the seam uses but does not define: Whoosh's."""
    used, defined = set(), set()
    for path in modules(SEAM):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and private(node.attr):
                used.add(node.attr)
            elif isinstance(node, ast.keyword) and private(node.arg):
                used.add(node.arg)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
                used.update(alias.name for alias in node.names if private(alias.name))
            elif isinstance(node, ast.FunctionDef | ast.ClassDef) and private(node.name):
                defined.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and private(node.id):
                defined.add(node.id)
    overridden = {"_flush_segment", "_find_first"}  # defined in the seam to replace Whoosh's own
    return (used - defined) | overridden


WHOOSH_PRIVATE = seam_private_names()


def whoosh_imports(tree: ast.Module) -> set[str]:
    """Names a module binds to Whoosh's modules or classes."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names
                         if alias.name.startswith("whoosh"))
    return names


def root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def violations(path: Path) -> list[str]:
    """What ``path`` does that only the seam may: Whoosh's private names, its codec and storage modules, ``__dict__``
    of another object, getattr/setattr of a private name, private steps of a Whoosh class it extends."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    whooshy = whoosh_imports(tree)
    found = []

    def flag(node: ast.AST, what: str) -> None:
        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
            if node.module.startswith(("whoosh.codec", "whoosh.filedb")):
                flag(node, f"imports {node.module}")
            for alias in node.names:
                if private(alias.name):
                    flag(node, f"imports {node.module}.{alias.name}")
        elif isinstance(node, ast.Attribute):
            if node.attr in WHOOSH_PRIVATE and root_name(node.value) not in ("self", "cls"):
                flag(node, f"reaches .{node.attr}")
            if node.attr == "__dict__" and root_name(node.value) != "self":
                flag(node, "reaches another object's __dict__")
        elif isinstance(node, ast.keyword) and node.arg in WHOOSH_PRIVATE:
            flag(node, f"passes {node.arg}=")
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr")
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
              and private(str(node.args[1].value))):
            flag(node, f"{node.func.id}(..., {node.args[1].value!r})")
        elif isinstance(node, ast.ClassDef) and any(root_name(base) in whooshy for base in node.bases):
            found += [f"{path.relative_to(ROOT)}:{n.lineno}: {w}" for n, w in whoosh_subclass_violations(node)]
    return found


def whoosh_subclass_violations(cls: ast.ClassDef) -> list[tuple[ast.AST, str]]:
    """In a class extending one of Whoosh's: the private methods of Whoosh's it overrides and the private
    attributes of Whoosh's (by name) it reads or assigns."""
    found = []
    for node in ast.walk(cls):
        if isinstance(node, ast.FunctionDef) and private(node.name) and re.search(rf"def {node.name}\(", WHOOSH_SOURCE):
            found.append((node, f"{cls.name} overrides Whoosh's {node.name}"))
        elif (isinstance(node, ast.Attribute) and private(node.attr) and root_name(node) == "self"
              and re.search(rf"self\.{node.attr}\b", WHOOSH_SOURCE)):
            found.append((node, f"{cls.name} reaches Whoosh's self.{node.attr}"))
    return found


def test_the_seam_knows_whoosh_private_names_by_what_it_uses():
    assert {"_check_state", "_flush_segment", "_terms", "_postfile", "_perdoc", "_field_B", "_find_first",
            "_lk", "_lenfield", "_length_byte_cache", "_segments", "_dbfile"} <= WHOOSH_PRIVATE
    assert not [name for name in WHOOSH_PRIVATE if not re.search(rf"\b{name}\b", WHOOSH_SOURCE)]


def test_no_module_outside_the_seam_touches_whoosh_internals():
    others = [p for root in (ROOT / "search", ROOT / "web") for p in modules(root) if SEAM not in p.parents]
    assert len(others) > 30
    assert [v for path in others for v in violations(path)] == []


def test_the_check_finds_a_private_reach_outside_the_seam(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from whoosh.writing import SegmentWriter\nfrom whoosh.util.numeric import _length_byte_cache\n\n"
                   "class W(SegmentWriter):\n    def _flush_segment(self):\n        self._added = True\n\n"
                   "def f(reader, ix):\n    getattr(reader, '_news_search_x')\n    reader.__dict__.clear()\n"
                   "    return reader._terms, SegmentWriter(ix, _lk=False)\n")
    found = [v.split(": ", 1)[1] for v in violations_in(bad)]
    assert found == ["imports whoosh.util.numeric._length_byte_cache", "W overrides Whoosh's _flush_segment",
                     "W reaches Whoosh's self._added", "getattr(..., '_news_search_x')",
                     "reaches another object's __dict__", "reaches ._terms", "passes _lk="]


def violations_in(path: Path) -> list[str]:
    global ROOT
    saved, ROOT = ROOT, path.parent
    try:
        return sorted(violations(path), key=lambda v: int(v.split(":")[1]))
    finally:
        ROOT = saved


def test_the_self_check_covers_every_private_name_the_seam_uses():
    checked = {internal.name for internal in compat.INTERNALS}
    assert sorted(WHOOSH_PRIVATE - checked) == []


# --- the start-up self-check -----------------------------------------------------------------------

@pytest.fixture
def fresh_check():
    check_internals.cache_clear()
    yield
    check_internals.cache_clear()


def test_the_pinned_whoosh_has_every_internal():
    assert whoosh.versionstring() == compat.PINNED_WHOOSH
    assert compat.missing_internals() == []
    pin = re.search(r'"whoosh-reloaded==([\d.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)
    assert pin == compat.PINNED_WHOOSH


def test_a_missing_method_is_named_with_the_version_needed(fresh_check, monkeypatch):
    monkeypatch.delattr(SegmentWriter, "_flush_segment")
    with pytest.raises(WhooshIncompatibleError) as raised:
        check_internals()
    assert str(raised.value) == (f"whoosh {whoosh.versionstring()} lacks whoosh.writing.SegmentWriter._flush_segment; "
                                 f"news-search needs whoosh-reloaded=={compat.PINNED_WHOOSH}")


def test_a_missing_instance_attribute_and_parameter_are_named(fresh_check, monkeypatch):
    def init(self, B=0.75, K1=1.2, **kwargs):  # a BM25F that keeps per-field B some other way
        self.B, self.K1 = B, K1

    def writer_init(self, ix, lock=True, **kwargs):
        pass

    monkeypatch.setattr(scoring.BM25F, "__init__", init)
    monkeypatch.setattr(SegmentWriter, "__init__", writer_init)
    with pytest.raises(WhooshIncompatibleError, match=r"lacks whoosh\.writing\.SegmentWriter\.pool, .*"
                                                      r"SegmentWriter\.__init__\(_lk=\.\.\.\), "
                                                      r"whoosh\.scoring\.BM25F\._field_B;"):
        check_internals()


def test_a_changed_formula_is_named(fresh_check, monkeypatch):
    monkeypatch.setattr(scoring, "bm25", lambda idf, tf, fl, avgfl, B, K1: idf * tf)
    assert [str(i) for i in compat.missing_internals()] == [
        "whoosh.scoring.bm25 computing idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))"]


def test_opening_or_writing_an_index_runs_the_self_check(fresh_check, monkeypatch, demo_index_dir, tmp_path):
    monkeypatch.delattr(SegmentWriter, "_close_segment")
    with pytest.raises(WhooshIncompatibleError, match="SegmentWriter._close_segment"):
        Index.open(demo_index_dir)
    with pytest.raises(WhooshIncompatibleError, match="SegmentWriter._close_segment"):
        HookedSegmentWriter(whoosh.index.open_dir(next(demo_index_dir.glob("gen-*"))), lock=False)
    result = CliRunner().invoke(cli, ["stats", "--index", str(demo_index_dir)])
    assert result.exit_code == 1 and "lacks whoosh.writing.SegmentWriter._close_segment" in result.output


def test_stats_show_the_whoosh_that_wrote_the_index(demo_index_dir):
    result = CliRunner().invoke(cli, ["stats", "--index", str(demo_index_dir)])
    assert f"whoosh      {whoosh.versionstring()} (wrote this index" in result.output
    as_json = CliRunner().invoke(cli, ["stats", "--index", str(demo_index_dir), "--json"]).output
    assert json.loads(as_json)["whoosh_version"] == whoosh.versionstring()


# --- the Whoosh version in meta.json ---------------------------------------------------------------

@pytest.fixture
def copied_index(demo_index_dir, tmp_path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(demo_index_dir, target)
    return target


def edit_meta(index_dir: Path, **changes) -> None:
    meta_file = next(index_dir.glob("gen-*")) / "meta.json"
    meta = {**json.loads(meta_file.read_text()), **changes}
    meta_file.write_text(json.dumps({k: v for k, v in meta.items() if v is not None}))


def test_the_index_records_the_whoosh_that_wrote_it(demo_index_dir):
    meta = json.loads((next(demo_index_dir.glob("gen-*")) / "meta.json").read_text())
    assert meta["whoosh_version"] == whoosh.versionstring() and meta["schema_version"] >= 5


def test_an_index_written_by_another_whoosh_is_refused_with_a_clear_error(copied_index):
    edit_meta(copied_index, whoosh_version="2.7.4")
    with pytest.raises(IndexVersionError) as raised:
        Index.open(copied_index)
    assert not isinstance(raised.value, IndexCorruptError)
    assert str(raised.value) == (
        f"the index in {copied_index}/ was written by whoosh 2.7.4, and whoosh {whoosh.versionstring()} is installed; "
        f"rebuild it with: news-search build --corpus DIR --index {copied_index} (or install whoosh-reloaded==2.7.4)")
    with pytest.raises(IndexVersionError):
        update_index(copied_index)


def test_an_index_from_before_the_version_was_recorded_counts_as_the_pinned_whoosh(copied_index):
    edit_meta(copied_index, whoosh_version=None)
    with Index.open(copied_index) as ix:
        assert ix.search("冬奥会").total > 0
        assert ix.stats().whoosh_version == compat.PINNED_WHOOSH


def test_the_cli_and_the_web_report_an_index_of_another_whoosh(copied_index, caplog):
    edit_meta(copied_index, whoosh_version="3.0.0")
    result = CliRunner().invoke(cli, ["query", "--index", str(copied_index), "冬奥会"])
    assert result.exit_code == 1 and "written by whoosh 3.0.0" in result.output and "Traceback" not in result.output
    client = create_app({"TESTING": True, "INDEX_DIR": str(copied_index)}).test_client()
    with caplog.at_level(logging.WARNING):
        response = client.get("/api/search?q=冬奥会")
    assert response.status_code == 503 and response.get_json()["error"]["status"] == 503
    assert "written by whoosh 3.0.0" in caplog.text


# --- only damaged files become IndexCorruptError ---------------------------------------------------

def test_a_bug_while_opening_surfaces_as_itself(demo_index_dir, monkeypatch):
    def broken(reader, facets):
        raise TypeError("a plain bug")

    monkeypatch.setattr(search.local.searcher, "FacetTable", broken)
    with pytest.raises(TypeError, match="a plain bug"):
        Index.open(demo_index_dir)


def test_a_bug_while_searching_surfaces_as_itself(demo_index_dir, monkeypatch):
    with Index.open(demo_index_dir) as ix:
        def broken(*args, **kwargs):
            raise TypeError("a plain bug")

        monkeypatch.setattr(search.local.searcher, "evaluate", broken)
        with pytest.raises(TypeError, match="a plain bug"):
            ix.search("冬奥会")


def test_a_bug_on_the_web_is_a_500_with_a_logged_traceback(demo_index_dir, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise TypeError("a plain bug")

    app = create_app({"TESTING": True, "INDEX_DIR": str(demo_index_dir)})
    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(search.local.searcher, "evaluate", broken)
    with caplog.at_level(logging.ERROR):
        response = app.test_client().get("/api/search?q=冬奥会")
    assert response.status_code == 500 and "a plain bug" not in response.get_data(as_text=True)
    assert "Traceback" in caplog.text and "TypeError: a plain bug" in caplog.text


@pytest.mark.parametrize("suffix", [".trm", ".pst", ".rcl", "._stored.col"])
def test_a_truncated_segment_file_is_still_a_damaged_index(copied_index, suffix):
    generation = next(copied_index.glob("gen-*"))
    damaged = max(generation.glob(f"*{suffix}"), key=lambda p: p.stat().st_size)
    damaged.write_bytes(damaged.read_bytes()[:100])
    with pytest.raises(IndexCorruptError, match="rebuild it with"):
        with Index.open(copied_index) as ix:
            for q in ("的", "冬奥会", "国际 经济"):
                ix.search(q)


def test_only_storage_and_format_errors_count_as_damage():
    assert not compat.is_storage_error(TypeError("a bug in our code"))
    assert not compat.is_storage_error(KeyError("missing"))
    for exc in (json.JSONDecodeError("x", "", 0), EOFError(), OSError(5, "I/O error"), whoosh.index.EmptyIndexError()):
        assert compat.is_storage_error(exc)
