"""Dates typed in Chinese in a query: every form against a fixed "today", what stays text, and searching with them."""

from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search import Index, build_index
from search.query.dates import read_date, read_dates
from search.query.syntax import And, DateFilter, Not, Or, Term, parse_query
from search.local.whoosh_query import compile_query
from search.query.results import QueryDate
from tests.helpers import write_post

TODAY = date(2023, 6, 15)  # a Thursday


def period(first: tuple, after: tuple | None) -> DateFilter:
    """The range from day ``first`` up to (not including) day ``after``."""
    return DateFilter(datetime(*first), datetime(*after) if after else None)


# --- the recogniser ----------------------------------------------------------------------------

@pytest.mark.parametrize("words, first, after", [
    ("2022年", (2022, 1, 1), (2023, 1, 1)),
    ("2022年3月", (2022, 3, 1), (2022, 4, 1)),
    ("3月5日", (2023, 3, 5), (2023, 3, 6)),
    ("去年", (2022, 1, 1), (2023, 1, 1)),
    ("今年", (2023, 1, 1), (2024, 1, 1)),
    ("上个月", (2023, 5, 1), (2023, 6, 1)),
    ("上周", (2023, 6, 5), (2023, 6, 12)),          # Monday to Sunday of the week before
    ("最近一周", (2023, 6, 9), (2023, 6, 16)),       # seven days, today included
    ("近三天", (2023, 6, 13), (2023, 6, 16)),
    ("2021年至2022年", (2021, 1, 1), (2023, 1, 1)),
])
def test_the_date_expressions_of_the_issue(words, first, after):
    assert read_date(words, TODAY) == period(first, after)


@pytest.mark.parametrize("words, first, after", [
    ("2021年到2022年", (2021, 1, 1), (2023, 1, 1)),
    ("从2021年到2022年", (2021, 1, 1), (2023, 1, 1)),
    ("2021-2022年", (2021, 1, 1), (2023, 1, 1)),
    ("2022年至2021年", (2021, 1, 1), (2023, 1, 1)),   # written backwards
    ("2022年3-5月", (2022, 3, 1), (2022, 6, 1)),
    ("2022年3月至5月", (2022, 3, 1), (2022, 6, 1)),
    ("3月5日至10日", (2023, 3, 5), (2023, 3, 11)),
    ("11月至2月", (2022, 11, 1), (2023, 3, 1)),       # across the new year
    ("2021年以来", (2021, 1, 1), None),
    ("2022年3月至今", (2022, 3, 1), None),
    ("今年以来", (2023, 1, 1), None),
    ("2022年3月5日", (2022, 3, 5), (2022, 3, 6)),
    ("2022年3月份", (2022, 3, 1), (2022, 4, 1)),
    ("3月5号", (2023, 3, 5), (2023, 3, 6)),
    ("2022 年 3 月", (2022, 3, 1), (2022, 4, 1)),
    ("２０２２年３月", (2022, 3, 1), (2022, 4, 1)),    # full-width
    ("二〇二二年", (2022, 1, 1), (2023, 1, 1)),
    ("三月五日", (2023, 3, 5), (2023, 3, 6)),
    ("十二月", (2022, 12, 1), (2023, 1, 1)),
    ("十月三十一日", (2022, 10, 31), (2022, 11, 1)),
    ("去年12月", (2022, 12, 1), (2023, 1, 1)),
    ("去年3月5日", (2022, 3, 5), (2022, 3, 6)),
    ("前年", (2021, 1, 1), (2022, 1, 1)),
    ("今天", (2023, 6, 15), (2023, 6, 16)),
    ("昨天", (2023, 6, 14), (2023, 6, 15)),
    ("前天", (2023, 6, 13), (2023, 6, 14)),
    ("本周", (2023, 6, 12), (2023, 6, 19)),
    ("这周", (2023, 6, 12), (2023, 6, 19)),
    ("上个星期", (2023, 6, 5), (2023, 6, 12)),
    ("上週", (2023, 6, 5), (2023, 6, 12)),            # Traditional
    ("本月", (2023, 6, 1), (2023, 7, 1)),
    ("这个月", (2023, 6, 1), (2023, 7, 1)),
    ("上月", (2023, 5, 1), (2023, 6, 1)),
    ("近3天", (2023, 6, 13), (2023, 6, 16)),
    ("最近7天", (2023, 6, 9), (2023, 6, 16)),
    ("最近两周", (2023, 6, 2), (2023, 6, 16)),
    ("近一个月", (2023, 5, 16), (2023, 6, 16)),
    ("过去三个月", (2023, 3, 16), (2023, 6, 16)),
    ("近半年", (2022, 12, 16), (2023, 6, 16)),
    ("近一年", (2022, 6, 16), (2023, 6, 16)),
])
def test_variants_a_reader_types(words, first, after):
    assert read_date(words, TODAY) == period(first, after)


@pytest.mark.parametrize("words, first", [
    ("6月15日", (2023, 6, 15)),   # today
    ("6月16日", (2022, 6, 16)),   # tomorrow: last year's
    ("6月", (2023, 6, 1)),        # this month has begun
    ("7月", (2022, 7, 1)),
    ("2月29日", (2020, 2, 29)),   # the last leap year
])
def test_a_month_or_day_without_year_is_its_latest_occurrence_begun_by_today(words, first):
    assert read_date(words, TODAY).start == datetime(*first)


def test_relative_dates_count_from_the_given_today():
    assert read_date("去年", date(2020, 1, 1)) == period((2019, 1, 1), (2020, 1, 1))
    assert read_date("上个月", date(2023, 1, 31)) == period((2022, 12, 1), (2023, 1, 1))
    assert read_date("近一个月", date(2023, 3, 31)) == period((2023, 3, 1), (2023, 4, 1))


@pytest.mark.parametrize("words", [
    "5G", "iPhone 14", "3300多公里", "30年来", "八年", "2022年度报告", "2022年度", "2021", "2022-03", "14",
    "2022年冬奥会", "去年同期", "5日", "13月", "2月30日", "1 2月", "21-2022年", "近0天", "近半天", "最近", "今日",
])
def test_words_that_merely_contain_digits_or_dates_are_not_dates(words):
    assert read_date(words, TODAY) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["2022", "3", "十", "二〇", "年", "月", "日", "号", "至", "-", "以来", "去年", "上个月",
                                 "近", "最近", "半", "天", "周", " ", '"', "(", "OR", "芯片"]), max_size=12),
       st.dates())
def test_anything_date_like_reads_and_compiles(parts, today):
    node, _ = read_dates(parse_query("".join(parts)), today)
    compile_query(node)


# --- reading the dates of a parsed query ---------------------------------------------------------

def read(text: str):
    return read_dates(parse_query(text), TODAY)


def utc(*day: int) -> datetime:
    return datetime(*day, tzinfo=UTC)


def test_a_date_word_becomes_a_filter_beside_the_other_words():
    node, found = read("芯片 去年")
    assert node == And((Term("芯片"), period((2022, 1, 1), (2023, 1, 1))))
    assert found == (QueryDate("去年", utc(2022, 1, 1), utc(2023, 1, 1)),)


def test_a_date_may_span_several_words():
    node, found = read("2022 年 3 月 芯片")
    assert node == And((period((2022, 3, 1), (2022, 4, 1)), Term("芯片")))
    assert found[0].text == "2022 年 3 月"


def test_a_query_of_only_a_date_is_only_a_filter():
    assert read("上个月") == (period((2023, 5, 1), (2023, 6, 1)),
                             (QueryDate("上个月", utc(2023, 5, 1), utc(2023, 6, 1)),))


def test_quoted_dates_are_text():
    assert read('"去年" 芯片') == (And((Term("去年", quoted=True), Term("芯片"))), ())


def test_dates_work_inside_or_and_not():
    node, found = read("(去年 OR 今年) -上个月")
    assert node == And((Or((period((2022, 1, 1), (2023, 1, 1)), period((2023, 1, 1), (2024, 1, 1)))),
                        Not(period((2023, 5, 1), (2023, 6, 1)))))
    assert [d.text for d in found] == ["去年", "今年", "上个月"]


def test_a_vague_time_word_at_the_top_level_asks_for_newer_posts():
    assert read("最近 芯片") == (Term("芯片"), (QueryDate("最近", recent=True),))
    assert read("近期") == (None, (QueryDate("近期", recent=True),))


def test_a_vague_time_word_inside_an_or_is_text():
    assert read("最近 OR 芯片") == (Or((Term("最近"), Term("芯片"))), ())


def test_a_read_date_knows_its_date_filter_value():
    _, found = read("2021年以来 上个月")
    assert [d.date_filter for d in found] == ["2021-01-01..", "2023-05-01..2023-05-31"]


# --- searching -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def dated(tmp_path_factory):
    """Chip news on known days around TODAY, and one post that says 去年 in its text."""
    root = tmp_path_factory.mktemp("dated")
    for day in ("2021-07-01", "2022-03-05", "2022-11-20", "2023-05-20", "2023-06-13", "2023-06-14"):
        write_post(root / "posts", f"芯片/{day}.md", title=f"芯片新闻 {day}", body="<p>芯片产业动态。</p>", date=day)
    write_post(root / "posts", "芯片/去年.md", title="芯片出口回顾", body="<p>去年芯片出口增长。</p>",
               date="2023-01-10")
    build_index(root / "posts", root / "index", procs=1)
    with Index.open(root / "index") as ix:
        yield ix


def ids(results) -> list[str]:
    return [h.id for h in results.hits]


def test_search_keeps_only_posts_of_the_period(dated):
    results = dated.search("芯片 去年", now=TODAY)
    assert sorted(ids(results)) == ["芯片/2022-03-05.md", "芯片/2022-11-20.md"]
    assert results.dates == (QueryDate("去年", utc(2022, 1, 1), utc(2023, 1, 1)),)


def test_a_query_of_only_a_date_lists_the_period_newest_first(dated):
    results = dated.search("近三天", now=TODAY)
    assert ids(results) == ["芯片/2023-06-14.md", "芯片/2023-06-13.md"]
    assert results.sort == "newest"


def test_relative_dates_count_from_now(dated):
    assert ids(dated.search("昨天", now=TODAY)) == ["芯片/2023-06-14.md"]
    assert ids(dated.search("昨天", now=date(2022, 3, 6))) == ["芯片/2022-03-05.md"]
    assert ids(dated.search("昨天", now=datetime(2022, 3, 6, 20, 0, tzinfo=UTC))) == ["芯片/2022-03-05.md"]


def test_date_parse_off_searches_the_words_as_text(dated):
    results = dated.search("芯片 去年", now=TODAY, date_parse=False, partial=False)
    assert ids(results) == ["芯片/去年.md"]
    assert results.dates == ()


def test_a_vague_time_word_ranks_newer_posts_first(dated):
    results = dated.search("最近 芯片", now=TODAY)
    assert results.total == 7 and results.sort == "relevance"
    assert ids(results)[:2] == ["芯片/2023-06-14.md", "芯片/2023-06-13.md"]
    assert results.dates == (QueryDate("最近", recent=True),)


def test_read_dates_are_in_the_json(dated):
    assert dated.search("芯片 2022年3月", now=TODAY).to_dict()["dates"] == [
        {"text": "2022年3月", "kind": "range", "start": "2022-03-01T00:00:00+00:00",
         "end": "2022-04-01T00:00:00+00:00", "date": "2022-03-01..2022-03-31", "also_text": False}]
