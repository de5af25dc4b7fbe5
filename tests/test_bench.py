"""The benchmark suite still runs end to end (``--smoke``); timings are not checked, only that they exist."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench import living, mergesim
from bench.queries import KINDS
from bench.run import main
from search.cli import demo_corpus

pytestmark = pytest.mark.slow


def test_smoke_benchmark_writes_results_table_and_chart(tmp_path):
    result = CliRunner().invoke(main, ["--smoke", "--skip-web", "--skip-classic", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    [size] = data["sizes"]
    assert size["docs"] == size["posts"] == data["meta"]["corpus_posts"] > 0
    assert size["body_bytes"] > 0
    assert size["floor"]["seconds"] > 0 and size["floor"]["cpu_s"] > 0
    build = size["build"]
    assert build["wall_s"] > 0 and build["docs_per_s"] > 0 and build["index_bytes"] > 0
    assert build["peak_rss_bytes"] >= build["peak_pss_bytes"] > 0
    assert (size["update"]["changed"], size["update"]["added"]) == (5, 5)
    assert size["update"]["report"]["changed"] == size["update"]["report"]["added"] == 5
    assert set(size["queries"]["by_kind"]) - {"dev"} == set(KINDS) - {"dev"}  # dev queries live in ../shared
    assert size["queries"]["errors"] == {}
    assert size["queries"]["overall"]["n"] > 0 and size["queries"]["rss_bytes"] > 0
    assert "classic" not in size and "web" not in size
    assert [t["met"][0] for t in data["targets"] if t["target"].startswith("web")] == [None, None, None]
    assert "| build wall (median) |" in (tmp_path / "results.md").read_text(encoding="utf-8")
    assert (tmp_path / "scaling.svg").read_text(encoding="utf-8").startswith("<svg")


def test_smoke_living_archive_writes_checkpoints_targets_and_chart(tmp_path):
    result = CliRunner().invoke(living.main, ["--smoke", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "living.json").read_text(encoding="utf-8"))
    assert [c["updates"] for c in data["checkpoints"]] == [5, 10]
    last = data["checkpoints"][-1]
    assert last["docs"] == last["fresh"]["docs"] == 12 + 10 * 2 - 2  # the tenth update deletes two
    assert last["living"]["queries"]["overall"]["n"] > 0 and last["window"]["update_s"]["n"] == 5
    assert data["all_updates"]["update_s"]["n"] == 10
    assert data["optimized"]["living"]["segments"] == data["optimized"]["fresh"]["segments"]
    assert len(data["targets"]) == 6 and all(isinstance(t["met"], bool) for t in data["targets"])
    assert "| target | limit | measured | met |" in (tmp_path / "living.md").read_text(encoding="utf-8")
    assert (tmp_path / "living.svg").read_text(encoding="utf-8").startswith("<svg")


def test_mergesim_replays_policies_on_the_kept_calibration(tmp_path):
    calibration = Path(mergesim.__file__).parent / "results" / "mergesim-calibration.json"
    shutil.copy(calibration, tmp_path)
    result = CliRunner().invoke(mergesim.main, [
        "--corpus", str(demo_corpus()), "--base", "12", "--updates", "10", "--posts", "2", "--out", str(tmp_path),
        "--policy", "", "--policy", "small_share=1", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [r["policy"]["small_share"] for r in data["results"]] == [0.1, 1.0]
    assert all(r["worst_ratio"] > 0 and r["rewritten"]["total"] >= 20 for r in data["results"])
    assert "| default |" in (tmp_path / "mergesim.md").read_text(encoding="utf-8")
