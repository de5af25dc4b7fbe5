"""The query language parser: every form, and robustness against anything a user can type."""

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.errors import QuerySyntaxError
from search.query.syntax import MAX_QUERY_CHARS, And, DateFilter, FieldFilter, Not, Or, Term, parse_query
from search.query.terms import units
from search.local.whoosh_query import compile_query


def test_plain_words_are_anded():
    assert parse_query("冬奥会 开幕") == And((Term("冬奥会"), Term("开幕")))


def test_quoted_phrase():
    assert parse_query('"国际 论坛"') == Term("国际 论坛", quoted=True)


@pytest.mark.parametrize("text", ["“国际论坛”", "「国际论坛」", '“国际论坛"'])
def test_chinese_quotes_make_phrases(text):
    assert parse_query(text) == Term("国际论坛", quoted=True)


def test_exclusions():
    assert parse_query('芯片 -广告 -"付费 内容"') == And(
        (Term("芯片"), Not(Term("广告")), Not(Term("付费 内容", quoted=True))))


def test_or_and_parentheses():
    assert parse_query("(芯片 OR 半导体) 美国") == And((Or((Term("芯片"), Term("半导体"))), Term("美国")))


def test_lowercase_or_is_a_word():
    assert parse_query("rock or roll") == And((Term("rock"), Term("or"), Term("roll")))


@pytest.mark.parametrize("text, field", [("title:冬奥", "title"), ("source:果壳网", "source"),
                                         ("author:果壳网", "source"), ("category:科技", "category"),
                                         ("标题：冬奥", "title")])
def test_field_filters(text, field):
    node = parse_query(text)
    assert isinstance(node, FieldFilter) and node.field == field


def test_quoted_field_value_keeps_spaces():
    assert parse_query('source:"IT 之家"') == FieldFilter("source", "IT 之家", quoted=True)


def test_unknown_field_prefix_is_a_plain_word():
    assert parse_query("https://example.com") == Term("https://example.com")


@pytest.mark.parametrize("value, start, end", [
    ("2022", datetime(2022, 1, 1), datetime(2023, 1, 1)),
    ("2022-02", datetime(2022, 2, 1), datetime(2022, 3, 1)),
    ("2022-02-28", datetime(2022, 2, 28), datetime(2022, 3, 1)),
    ("2022-01..2022-03", datetime(2022, 1, 1), datetime(2022, 4, 1)),
    ("2022-01..", datetime(2022, 1, 1), None),
    ("..2022-03", None, datetime(2022, 4, 1)),
    (">=2022-09-01", datetime(2022, 9, 1), None),
    (">2022-09-01", datetime(2022, 9, 2), None),
    ("<2022-10", None, datetime(2022, 10, 1)),
    ("<=2022-10", None, datetime(2022, 11, 1)),
])
def test_date_ranges(value, start, end):
    assert parse_query(f"date:{value}") == DateFilter(start, end)


@pytest.mark.parametrize("value", ["2022-13", "yesterday", "2022-02-30", "2023..2022", ".."])
def test_bad_dates_raise_a_clear_error(value):
    with pytest.raises(QuerySyntaxError, match="date"):
        parse_query(f"date:{value}")


@pytest.mark.parametrize("text, expected", [
    ('"unclosed phrase', Term("unclosed phrase", quoted=True)),
    ("(芯片 OR 半导体", Or((Term("芯片"), Term("半导体")))),
    ("芯片)", Term("芯片")),
    ("OR 芯片", Term("芯片")),
    ("芯片 OR", Term("芯片")),
    ("- 芯片", Term("芯片")),
    ("--芯片", Term("芯片")),
    ("()", None),
    ('""', None),
    ("\u200b \u3000", None),
])
def test_broken_syntax_is_repaired(text, expected):
    assert parse_query(text) == expected


def test_too_long_query_is_rejected_with_the_limit():
    with pytest.raises(QuerySyntaxError, match=str(MAX_QUERY_CHARS)):
        parse_query("字" * (MAX_QUERY_CHARS + 1))


def test_too_many_terms_is_rejected():
    with pytest.raises(QuerySyntaxError, match="terms"):
        parse_query(" ".join(["词"] * 100))


def test_units_cut_chinese_and_keep_latin_runs_whole():
    assert units("中亚五国峰会") == ["中亚", "五国", "峰会"]
    assert units("c++编程") == ["c++", "编程"]


def test_units_drop_punctuation_unless_alone():
    assert units("你好，世界") == ["你好", "世界"]
    assert units("，") == ["，"]


def test_deeply_nested_parentheses_keep_their_words():
    assert parse_query("(" * 300 + "芯片 OR 半导体" + ")" * 300) == Or((Term("芯片"), Term("半导体")))


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_parses_and_compiles_or_gives_a_message(text):
    try:
        node = parse_query(text)
    except QuerySyntaxError as exc:
        assert str(exc)
        return
    compile_query(node)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(['"', "(", ")", "-", "OR", " ", "title:", "date:", "国", "a", "：", "“"]),
                max_size=30))
def test_operator_soup_parses_and_compiles_or_gives_a_message(parts):
    test_any_text_parses_and_compiles_or_gives_a_message.hypothesis.inner_test("".join(parts))
