"""The Sphinx backend without a running searchd: tokens, MATCH() expressions, the shard map, the CLI's checks.

Tests against real searchd nodes are in test_cluster.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from click.testing import CliRunner

from search import SearchError
from search.query import plan
from search.text.analysis import SECTION_BREAK, fold_sections, word_counts
from search.backend import open_backend
from search.local.backend import LocalBackend
from search.cli import cli
from search.query.syntax import parse_query, plan_query
from search.query.ranking import BM25_B, BM25_K1
from search.sphinx import ClusterURL, SphinxBackend
from search.sphinx.cluster import (MAP_FILE, ClusterConfigError, load_map, map_from_dict, plan_cluster, searchd_config,
                                   write_map)
from search.sphinx.documents import (FIELDS, bigrams, date_cover, date_tokens, doc_key, document_row, encode,
                                     gram_stream, unpack_row_content, word_token, words)
from search.sphinx.match import to_match
from search.sphinx.ranking import Collection, ranked_match, ranker_options
from search.sphinx.writer import sql_literal
from tests.helpers import EVAL, require_shared

TEXT = "國際論壇在港舉行，ＧＤＰ增長５．２％。iPhone 15 發布\u200b會"


# --- without Whoosh ----------------------------------------------------------------------------

#: Run with Whoosh made unimportable: the Sphinx backend loads, and a search request is read and planned.
WITHOUT_WHOOSH = """
import sys
sys.modules["whoosh"] = None  # any `import whoosh...` now raises ImportError
from search import Filters, SearchResults
from search.query.request import read_request
from search.query.syntax import plan_query
import search.sphinx, search.sphinx.searcher, search.sphinx.writer
from search.sphinx.match import to_match
from search.sphinx.ranking import ranked_match
request = read_request("芯片 去年", page=1, per_page=10, sort="relevance", filters={"source": "IT之家"},
                       half_life_days=None, now=None, date_parse=True)
planned = plan_query(request.node)
print(request.sort, request.filters.source, len(request.dates), bool(to_match(planned.match)),
      bool(ranked_match(planned.match)), any(name.startswith("whoosh") and sys.modules[name] for name in sys.modules))
"""


def test_sphinx_backend_imports_and_plans_without_whoosh():
    done = subprocess.run([sys.executable, "-c", WITHOUT_WHOOSH], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["relevance", "IT之家", "1", "True", "True", "False"]


def test_the_local_index_needs_whoosh():
    done = subprocess.run([sys.executable, "-c", "import sys; sys.modules['whoosh'] = None; from search import Index"],
                          capture_output=True, text=True, timeout=120)
    assert "ImportError" in done.stderr or "ModuleNotFoundError" in done.stderr


# --- tokens ----------------------------------------------------------------------------------

def test_encode_keeps_letters_and_digits_of_every_script():
    assert encode("国际gdp15ß") == "国际gdp15ß"


def test_encode_spells_other_characters_as_hex():
    assert encode("5.2%") == "5_2e_2_25_"


def test_encoding_a_string_is_encoding_its_characters_joined():
    assert encode("a.") == encode("a") + encode(".")  # so a prefix query over encoded tokens stays a prefix


def test_encoded_tokens_use_only_characters_sphinx_keeps_in_words():
    tokens = [encode(ch) for ch in "国a1.,;'\"\\@*-|()~^$=<>!/ \t\u3000\U00030000"]
    assert all(re.fullmatch(r"[\w]+", t, re.ASCII) or re.fullmatch(r"\w+", t) for t in tokens)
    assert not any(set(t) & set("\"'\\@*-|()~^$=<>!/ ") for t in tokens)


def test_long_tokens_are_hashed_below_sphinx_word_length():
    assert len(encode("x" * 60)) <= 42
    assert encode("x" * 60) != encode("x" * 61)


def test_words_are_kept_apart_from_the_bigrams_they_equal():
    assert word_token("国际") != encode("国际")


def test_document_words_are_the_local_index_word_terms():
    assert Counter(words(TEXT)) == Counter(word_counts(TEXT))


def test_gram_stream_holds_a_phrase_exactly_where_the_recall_index_finds_its_string():
    value = SECTION_BREAK.join(["國際論壇", "新", "", TEXT])
    stream = " " + " ".join(gram_stream(value)) + " "
    sections = fold_sections(value)
    text = "".join(sections)
    for length in (2, 3, 5):
        for sub in {text[i:i + length] for i in range(len(text) - length + 1)}:
            phrase = " " + " ".join(map(encode, bigrams(sub))) + " "
            assert (phrase in stream) == any(sub in section for section in sections), sub


def test_document_row_fills_every_field(corpus_dir):
    from search import read_post

    doc = read_post(corpus_dir, corpus_dir / "国际/香港/要聞/論壇.md").document
    row = document_row(doc)
    assert all(row[f] for f in FIELDS)
    assert row["id"] == doc_key(doc.id)
    assert "date_d20211028" in row["keys"].split()
    assert unpack_row_content(row["content"]) == (doc.text, doc.html)


def test_sql_literal_escapes_quotes_and_backslashes():
    assert sql_literal("it's a \\ path") == "'it\\'s a \\\\ path'"


# --- dates -----------------------------------------------------------------------------------

@pytest.mark.parametrize("start,end", [
    (datetime(2021, 12, 30), datetime(2022, 3, 1)),
    (datetime(2022, 2, 1), datetime(2022, 3, 1)),
    (datetime(1999, 12, 31), datetime(2001, 1, 2)),
    (None, datetime(2022, 3, 5)),
    (datetime(2022, 9, 1), None),
])
def test_date_cover_matches_exactly_the_days_of_the_range(start, end):
    cover = set(date_cover(start, end))
    day = date(1998, 1, 1)
    while day < date(2024, 1, 1):
        inside = (start is None or day >= start.date()) and (end is None or day < end.date())
        assert bool(cover & set(date_tokens(day))) == inside, day
        day += timedelta(days=1)


def test_date_cover_stays_short():
    assert len(date_cover(datetime(1987, 6, 15), datetime(2024, 2, 20))) < 60


# --- MATCH() ---------------------------------------------------------------------------------

def test_phrase_becomes_a_phrase_of_bigrams():
    assert to_match(plan.Contains("国际论坛")) == '(@grams "国际 际论 论坛")'


def test_one_character_is_looked_up_in_the_character_field():
    assert to_match(plan.Contains("猫")) == "(@chars 猫)"


def test_one_character_title_filter_is_looked_up_in_the_title_characters():
    assert to_match(plan.Contains("猫", "title_grams")) == "(@title_chars 猫)"


def test_query_made_only_of_exclusions_excludes_from_every_post():
    assert to_match(plan.Excluding(plan.Everything(), plan.Contains("广告"))) == "((@keys any) -(@grams 广告))"


def test_source_filter_is_a_key_token():
    match = to_match(plan_query(parse_query("source:果壳网")).match)
    assert match.startswith("(@keys source_") and len(match) < 40


def test_match_expressions_need_no_escaping():
    lines = require_shared(EVAL / "dev-queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["q"] for line in lines]
    queries += ['a:b "c \\d" (e|f) -g* ~h ^i$ =j @k', "title:猫 date:>=2022-09-01 -source:x"]
    for q in queries:
        match = ranked_match(plan_query(parse_query(q)).match)
        bare = re.sub(r"@\(?[a-z_,]+\)?|MAYBE|\*|\(|\)|\||\"|-(?=\()", " ", match)
        assert re.fullmatch(r"[\w ]*", bare), (q, match)


def test_ranked_match_numbers_bonus_phrases_first():
    match = ranked_match(plan_query(parse_query("不再感觉")).match)
    assert match.startswith('(((@grams "不再 再感 感觉") | (@title_grams "不再 再感 感觉") |')


def test_ranker_has_a_bonus_for_each_phrase_of_the_plan():
    options = ranker_options(plan_query(parse_query("不再感觉")).match, Collection(1000, 10_000, 500_000))
    assert "20*(user_weight==2)*(lcs>=3)" in options and "1*(user_weight==3)*(lcs>=3)" in options


def test_ranker_corrects_for_missing_length_totals_only_where_they_are_missing():
    node = plan_query(parse_query("国际")).match
    assert f"bm25f({BM25_K1 * (1 - BM25_B):g}, 2e-06" in ranker_options(node, Collection(1000, 10_000, 500_000))
    assert f"bm25f({BM25_K1:g}, {BM25_B:g}" in ranker_options(node, Collection(1000, 10_000, 500_000,
                                                                                  has_length_totals=True))


# --- shard map and searchd configuration -----------------------------------------------------

def test_every_shard_survives_the_loss_of_any_one_node(tmp_path):
    cluster = plan_cluster(tmp_path, shards=3, mirrors=2, nodes=4)
    for lost in cluster.nodes:
        assert all(set(mirrors) - {lost} for mirrors in cluster.shards)


def test_shard_map_round_trips_through_toml(tmp_path):
    planned = plan_cluster(tmp_path, shards=2, mirrors=2, nodes=3, base_port=9400)
    write_map(planned, tmp_path / MAP_FILE)
    loaded = load_map(tmp_path / MAP_FILE)
    assert loaded == planned
    assert loaded.nodes["node2"].data_dir == tmp_path.absolute() / "nodes" / "node2"
    assert 'data_dir = "nodes/node2"' in (tmp_path / MAP_FILE).read_text()


def test_shard_map_is_kept_in_the_cluster_without_local_paths(tmp_path):
    kept = plan_cluster(tmp_path).to_dict()
    assert "data_dir" not in json.dumps(kept)
    assert map_from_dict(kept).to_dict() == kept


@pytest.mark.parametrize("toml,problem", [
    ("", "no [nodes.NAME]"),
    ('[nodes.a]\nhost = "h"\nsql_port = 1\napi_port = 2\n', "no [[shards]]"),
    ('[nodes.a]\nhost = "h"\nsql_port = 1\napi_port = 2\n[[shards]]\nmirrors = ["b"]\n', "unknown node 'b'"),
    ('[nodes.a]\nhost = "h"\nsql_port = "x"\napi_port = 2\n', "port numbers"),
    ('index = "News!"\n', "index must be"),
    ("not toml = = =", "cannot read"),
])
def test_wrong_shard_maps_are_refused_with_the_reason(tmp_path, toml, problem):
    (tmp_path / MAP_FILE).write_text(toml, encoding="utf-8")
    with pytest.raises(ClusterConfigError, match=re.escape(problem)):
        load_map(tmp_path / MAP_FILE)


def test_missing_shard_map_says_how_to_make_one(tmp_path):
    with pytest.raises(ClusterConfigError, match="cluster init"):
        load_map(tmp_path / MAP_FILE)


def test_searchd_config_declares_shards_mirrors_and_settings(tmp_path):
    cluster = plan_cluster(tmp_path, shards=2, mirrors=2, nodes=3, base_port=9400)
    config = searchd_config(cluster, cluster.nodes["node1"])
    assert "index news_shard0\n" in config and "index news_shard1\n" in config
    assert "agent = 127.0.0.1:9401|127.0.0.1:9403:news_shard0" in config
    assert "agent = 127.0.0.1:9403|127.0.0.1:9405:news_shard1" in config
    assert "charset_table = 0..9, A..Z, a..z, _, U+80..U+2FFFF" in config
    assert "listen = 127.0.0.1:9402:mysql41" in config


def test_node_without_data_dir_has_no_config(tmp_path):
    data = plan_cluster(tmp_path).to_dict()
    cluster = map_from_dict(data)
    with pytest.raises(ClusterConfigError, match="no data_dir"):
        searchd_config(cluster, cluster.nodes["node0"])


# --- backends and the command line -----------------------------------------------------------

def test_no_backend_url_means_the_local_index(tmp_path):
    assert open_backend(None, index_dir=tmp_path) == LocalBackend(tmp_path)


def test_sphinx_url_lists_query_nodes_and_the_index():
    url = ClusterURL.parse("sphinx://10.0.0.1:9306,10.0.0.2:9306/archive")
    assert [str(a) for a in url.addresses] == ["10.0.0.1:9306", "10.0.0.2:9306"]
    assert url.index == "archive"


@pytest.mark.parametrize("url", ["sphinx://", "sphinx://host", "sphinx://host:port", "sphinx://h:70000"])
def test_bad_sphinx_urls_are_refused(url):
    with pytest.raises(SearchError, match="HOST:PORT"):
        ClusterURL.parse(url)


def test_unknown_backend_is_refused():
    with pytest.raises(SearchError, match="unknown backend"):
        open_backend("elastic://localhost:9200")


def test_writing_to_a_cluster_needs_its_shard_map():
    with pytest.raises(ClusterConfigError, match="--cluster"):
        SphinxBackend.from_url("sphinx://127.0.0.1:9306").shard_map()


def test_shard_map_must_describe_the_index_of_the_url(tmp_path):
    write_map(plan_cluster(tmp_path, index="other"), tmp_path / MAP_FILE)
    with pytest.raises(ClusterConfigError, match="names 'news'"):
        SphinxBackend.from_url("sphinx://127.0.0.1:9306", tmp_path / MAP_FILE).shard_map()


def test_cluster_init_writes_a_map_and_prints_the_next_steps(tmp_path):
    result = CliRunner().invoke(cli, ["cluster", "init", str(tmp_path / "c"), "--nodes", "3", "--base-port", "9400"])
    assert result.exit_code == 0
    assert load_map(tmp_path / "c" / MAP_FILE).shards == (("node0", "node1"), ("node1", "node2"))
    assert "--backend sphinx://127.0.0.1:9400,127.0.0.1:9402,127.0.0.1:9404/news" in result.output


def test_cluster_init_does_not_overwrite_a_map(tmp_path):
    CliRunner().invoke(cli, ["cluster", "init", str(tmp_path)])
    result = CliRunner().invoke(cli, ["cluster", "init", str(tmp_path)])
    assert result.exit_code == 1 and "exists already" in result.output


def test_cluster_config_prints_one_nodes_searchd_config(tmp_path):
    CliRunner().invoke(cli, ["cluster", "init", str(tmp_path)])
    result = CliRunner().invoke(cli, ["cluster", "config", "--cluster", str(tmp_path / MAP_FILE), "node1"])
    assert result.exit_code == 0 and "index news\n{\n    type = distributed" in result.output


def test_cluster_status_of_a_stopped_cluster_fails(tmp_path):
    CliRunner().invoke(cli, ["cluster", "init", str(tmp_path), "--base-port", "9"])
    result = CliRunner().invoke(cli, ["cluster", "status", "--cluster", str(tmp_path / MAP_FILE)])
    assert result.exit_code == 1 and "DOWN" in result.output


@pytest.mark.slow
def test_query_on_an_unreachable_cluster_is_a_one_line_error():
    result = CliRunner().invoke(cli, ["query", "国际", "--backend", "sphinx://127.0.0.1:9"])
    assert result.exit_code == 1
    assert "no Sphinx query node answers" in result.output


def test_build_on_a_cluster_without_its_shard_map_is_a_one_line_error(corpus_dir, tmp_path):
    result = CliRunner().invoke(cli, ["build", "--corpus", str(corpus_dir), "--backend", "sphinx://127.0.0.1:9",
                                      "--cluster", str(tmp_path / MAP_FILE)])
    assert result.exit_code == 1 and "cluster init" in result.output
