"""The news-search command line: contracts that scripts and the eval rely on, and exit codes."""

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from search.cli import EXIT_SKIPPED, cli


@pytest.fixture
def runner():
    return CliRunner()


def run(runner, *args, input=None):
    return runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=False)


def test_build_prints_a_report_and_exits_zero(runner, corpus_dir, tmp_path):
    result = run(runner, "build", "--corpus", corpus_dir, "--index", tmp_path / "ix")
    assert result.exit_code == 0
    assert "build: indexed 4 posts" in result.output
    assert "skipped 0" in result.output


def test_build_json_report(runner, corpus_dir, tmp_path):
    result = run(runner, "build", "--corpus", corpus_dir, "--index", tmp_path / "ix", "--json", "-q")
    report = json.loads(result.stdout)
    assert (report["indexed"], report["docs"], report["skipped"]) == (4, 4, [])


def test_build_with_skipped_files_exits_3_and_names_them(runner, corpus_dir, tmp_path):
    (corpus_dir / "empty.md").write_bytes(b"")
    result = run(runner, "build", "--corpus", corpus_dir, "--index", tmp_path / "ix")
    assert result.exit_code == EXIT_SKIPPED
    assert "skipped  empty.md: empty file" in result.output


def test_build_without_corpus_indexes_the_demo(runner, tmp_path):
    result = run(runner, "build", "--index", tmp_path / "ix", "--json")
    assert json.loads(result.stdout)["docs"] == 32


def test_build_with_the_fast_segmenter_records_it(runner, corpus_dir, tmp_path):
    run(runner, "build", "--corpus", corpus_dir, "--index", tmp_path / "ix", "--segmenter", "rjieba", "-q")
    stats = json.loads(run(runner, "stats", "--index", tmp_path / "ix", "--json").output)
    assert stats["segmenter"].startswith("rjieba-")


def test_stats_json_contract(runner, index_dir, corpus_dir):
    stats = json.loads(run(runner, "stats", "--index", index_dir, "--json").output)
    assert stats["docs"] == 4
    assert stats["size_bytes"] > 0
    assert stats["built_at"]
    assert stats["corpus"] == str(corpus_dir.resolve())
    assert stats["sources"]["新华社"] == 1


def test_update_defaults_to_the_recorded_corpus(runner, index_dir, corpus_dir):
    (corpus_dir / "体育/新华/要闻/冬奥会开幕.md").unlink()
    result = run(runner, "update", "--index", index_dir, "--json")
    assert json.loads(result.stdout)["deleted"] == 1


def test_query_json_has_the_batch_line_shape(runner, small_index_dir):
    out = json.loads(run(runner, "query", "--index", small_index_dir, "--json", "國際論壇").output)
    assert (out["query"], out["total"]) == ("國際論壇", 1)
    assert isinstance(out["ms"], float)
    hit = out["hits"][0]
    assert hit["path"] == "国际/香港/要聞/論壇.md"
    assert isinstance(hit["score"], float)
    assert "<mark>" in hit["snippet"] and hit["title"] == "國際論壇在港舉行"


def test_query_prints_readable_results(runner, small_index_dir):
    result = run(runner, "query", "--index", small_index_dir, "冬奥会")
    assert result.exit_code == 0
    assert "1 results" in result.output
    assert "北京冬奥会开幕式举行" in result.output
    assert "体育/新华/要闻/冬奥会开幕.md" in result.output


def test_query_says_which_words_it_read_as_dates(runner, small_index_dir):
    result = run(runner, "query", "--index", small_index_dir, "--today", "2023-06-15", "去年")
    assert "2 results" in result.output
    assert "read '去年' as date:2022-01-01..2022-12-31 (--no-date-parse searches it as text)" in result.output


@pytest.mark.parametrize("flags, total, dates", [
    ((), 2, [{"text": "2022年", "kind": "range", "start": "2022-01-01T00:00:00+00:00",
              "end": "2023-01-01T00:00:00+00:00", "date": "2022-01-01..2022-12-31", "also_text": False}]),
    (("--no-date-parse",), 0, []),
])
def test_query_json_lists_the_dates_read(runner, small_index_dir, flags, total, dates):
    out = json.loads(run(runner, "query", "--index", small_index_dir, "--json", *flags, "2022年").output)
    assert (out["total"], out["dates"]) == (total, dates)


def test_today_for_relative_dates_comes_from_the_environment(runner, small_index_dir):
    result = runner.invoke(cli, ["query", "--index", str(small_index_dir), "--json", "今年"],
                           env={"NEWS_SEARCH_TODAY": "2023-06-15"})
    assert [h["path"] for h in json.loads(result.stdout)["hits"]] == ["科技/环球/科技/iPhone.md"]


def test_bad_today_exits_2(runner, small_index_dir):
    result = runner.invoke(cli, ["query", "--index", str(small_index_dir), "--today", "2023-02-30", "今年"])
    assert result.exit_code == 2
    assert "--today" in result.output


def test_batch_prints_one_line_per_query_in_order(runner, small_index_dir):
    queries = "冬奥会\n不存在的词语\n\n(冬奥会 OR 论坛)\n"
    result = run(runner, "query", "--index", small_index_dir, "--batch", "-", "--limit", "0", "--json", input=queries)
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [(x["query"], x["total"], len(x["hits"])) for x in lines] == [
        ("冬奥会", 1, 1), ("不存在的词语", 0, 0), ("", 4, 4), ("(冬奥会 OR 论坛)", 2, 2)]


def test_batch_reports_bad_queries_inline_and_exits_1(runner, small_index_dir):
    result = runner.invoke(cli, ["query", "--index", str(small_index_dir), "--batch", "-", "--json"],
                           input="date:2022-13\n冬奥会\n")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert "not a valid date" in lines[0]["error"] or "not a date" in lines[0]["error"]
    assert lines[1]["total"] == 1
    assert result.exit_code == 1


def test_query_without_index_exits_1_with_advice(runner, tmp_path):
    result = runner.invoke(cli, ["query", "--index", str(tmp_path / "none"), "x"])
    assert result.exit_code == 1
    assert "news-search build" in result.output


def test_bad_query_exits_1_with_message(runner, small_index_dir):
    result = runner.invoke(cli, ["query", "--index", str(small_index_dir), "date:yesterday"])
    assert result.exit_code == 1
    assert "not a date" in result.output


def test_bad_option_exits_2(runner, small_index_dir):
    result = runner.invoke(cli, ["query", "--index", str(small_index_dir), "--sort", "random", "x"])
    assert result.exit_code == 2


def test_busy_index_exits_1_with_message(runner, corpus_dir, index_dir):
    from search.writing.storage import writer_lock

    with writer_lock(index_dir):
        result = runner.invoke(cli, ["build", "--corpus", str(corpus_dir), "--index", str(index_dir)])
    assert result.exit_code == 1
    assert "is being written by pid" in result.output


@pytest.mark.slow
def test_python_dash_m_runs_the_same_cli(index_dir):
    out = subprocess.run([sys.executable, "-m", "search", "stats", "--index", str(index_dir), "--json"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["docs"] == 4


def test_help_teaches_the_query_language(runner):
    assert 'date:2022-01..2022-03' in run(runner, "query", "--help").output


@pytest.mark.parametrize("damage", ["truncate segment", "garbage toc"])
def test_damaged_index_is_named_with_rebuild_advice(runner, index_dir, damage):
    generation = index_dir / (index_dir / "CURRENT").read_text().strip()
    if damage == "truncate segment":
        segment = max(generation.glob("MAIN_*"), key=lambda p: p.stat().st_size)
        segment.write_bytes(segment.read_bytes()[:1000])
    else:
        next(generation.glob("*.toc")).write_bytes(b"garbage")
    result = runner.invoke(cli, ["query", "--index", str(index_dir), "冬奥会"])
    assert result.exit_code == 1
    assert f"the index in {index_dir}/" in result.output
    assert "rebuild it with: news-search build" in result.output


@pytest.mark.slow
def test_serve_applies_its_flags(demo_index_dir):
    import urllib.request

    from tests.servers import running_server

    with running_server(demo_index_dir, "--title", "我的新闻库", "--per-page", "3", "--today", "2022-03-01") as base:
        home = urllib.request.urlopen(base + "/").read().decode()
        results = json.loads(urllib.request.urlopen(base + "/api/search?q=%E5%86%AC%E5%A5%A5").read())
        last_month = json.loads(urllib.request.urlopen(base + "/api/search?q=%E4%B8%8A%E4%B8%AA%E6%9C%88").read())
    assert "我的新闻库" in home
    assert results["per_page"] == 3 and len(results["hits"]) == 3
    assert last_month["dates"][0]["date"] == "2022-02-01..2022-02-28"  # 上个月


@pytest.mark.slow
def test_serve_without_an_index_builds_the_demo_first(tmp_path):
    import urllib.request

    from tests.servers import running_server

    with running_server(tmp_path / "fresh") as base:
        stats = json.loads(urllib.request.urlopen(base + "/api/stats").read())
    assert stats["docs"] == 32


@pytest.mark.parametrize("damaged, query", [("*.pst", "的"), ("*.rcl", "国际 经济")])
def test_damage_found_while_searching_is_reported_as_a_broken_index(runner, demo_index_dir, tmp_path, damaged,
                                                                    query):
    import shutil

    index_dir = tmp_path / "copy"
    shutil.copytree(demo_index_dir, index_dir)
    generation = index_dir / (index_dir / "CURRENT").read_text().strip()
    postings = next(generation.glob(damaged))
    postings.write_bytes(postings.read_bytes()[:100])  # opens fine; posting blocks are read per query
    result = runner.invoke(cli, ["query", "--index", str(index_dir), query])
    assert result.exit_code == 1
    assert f"the index in {index_dir}/" in result.output and "be read" in result.output
