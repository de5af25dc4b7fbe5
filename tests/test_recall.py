"""The recall index: positional bigrams that find every substring of every post, exactly."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.local import recall
from search.text.analysis import SECTION_BREAK
from search.local.recall import RecallReader, RecallWriter, decode_varints, encode_varints, fold_sections


def recall_of(tmp_path, *posts: str, field: str = "f") -> RecallReader:
    writer = RecallWriter([field])
    for docnum, text in enumerate(posts):
        writer.add(docnum, {field: text})
    path = tmp_path / "seg.rcl"
    writer.write(path)
    return RecallReader(path)


def found(reader: RecallReader, text: str, field: str = "f") -> dict[int, int]:
    docs, counts = reader.matches(field, text)
    return dict(zip(docs.tolist(), counts.tolist()))


def test_a_substring_is_found_whatever_the_word_boundaries(tmp_path):
    reader = recall_of(tmp_path, "中亚五国峰会在西安举行", "五国联赛")
    assert found(reader, "国峰") == {0: 1}
    assert found(reader, "五国") == {0: 1, 1: 1}


def test_bigrams_must_be_consecutive(tmp_path):
    reader = recall_of(tmp_path, "国际数字经济论坛", "亚洲国际论坛")
    assert found(reader, "国际论坛") == {1: 1}


def test_occurrences_are_counted(tmp_path):
    reader = recall_of(tmp_path, "哈哈哈 哈哈")
    assert found(reader, "哈哈") == {0: 4}
    assert found(reader, "哈哈哈哈") == {0: 2}


def test_whitespace_is_ignored_and_text_is_folded(tmp_path):
    reader = recall_of(tmp_path, "國際 ＧＤＰ 論壇")
    assert found(reader, "国际gdp论坛") == {0: 1}


def test_no_match_spans_two_sections(tmp_path):
    reader = recall_of(tmp_path, f"标题{SECTION_BREAK}正文")
    assert found(reader, "题正") == {}
    assert found(reader, "正文") == {0: 1}


def test_no_match_spans_two_documents(tmp_path):
    reader = recall_of(tmp_path, "北京", "上海", "a", "b")
    assert found(reader, "京上") == {}
    assert found(reader, "北京上海") == {}
    assert found(reader, "ab") == {}


def test_a_match_may_start_a_document_and_the_segment(tmp_path):
    reader = recall_of(tmp_path, "国际论坛", "国际论坛")
    assert found(reader, "国际") == {0: 1, 1: 1}
    assert found(reader, "国际论坛") == {0: 1, 1: 1}


def test_a_match_may_end_a_document(tmp_path):
    reader = recall_of(tmp_path, "论坛国际", "论坛")
    assert found(reader, "坛国际") == {0: 1}


def test_a_match_may_end_with_a_bigram_that_also_starts_the_segment(tmp_path):
    reader = recall_of(tmp_path, "国际论坛国际")
    assert found(reader, "坛国际") == {0: 1}


def test_a_string_longer_than_a_document_matches_nothing(tmp_path):
    reader = recall_of(tmp_path, "国际", "论坛", "国际论")
    assert found(reader, "国际论坛") == {}


def test_one_character_sections_are_found_alone_and_never_joined(tmp_path):
    reader = recall_of(tmp_path, f"a{SECTION_BREAK}b{SECTION_BREAK}c", "b")
    assert found(reader, "b") == {0: 1, 1: 1}
    assert found(reader, "ab") == {}
    assert found(reader, "bc") == {}


def test_empty_documents_hold_nothing_and_shift_nothing(tmp_path):
    reader = recall_of(tmp_path, "", "北京", "", f"{SECTION_BREAK}北京", "")
    assert found(reader, "北京") == {1: 1, 3: 1}
    assert found(reader, "京") == {1: 1, 3: 1}


def test_documents_missing_from_the_numbering_are_empty(tmp_path):
    writer = RecallWriter(["f"])
    writer.add(0, {"f": "北京"})
    writer.add(3, {"f": "北京"})
    writer.doc_count = 5
    writer.write(tmp_path / "seg.rcl")
    reader = RecallReader(tmp_path / "seg.rcl")
    assert found(reader, "北京") == {0: 1, 3: 1}
    assert reader.lengths("f").tolist() == [3, 0, 0, 3, 0]


def test_documents_must_be_added_in_order(tmp_path):
    writer = RecallWriter(["f"])
    writer.add(1, {"f": "北京"})
    with pytest.raises(ValueError, match="document 0 added after document 1"):
        writer.add(0, {"f": "上海"})


def test_a_segment_too_long_for_4_byte_positions_is_refused(monkeypatch):
    monkeypatch.setattr(recall, "_MAX_POSITION", 10)
    writer = RecallWriter(["f"])
    writer.add(0, {"f": "北京"})
    with pytest.raises(OverflowError, match="at most 4 Gi characters"):
        writer.add(1, {"f": "上海市人民政府"})


def test_one_character_is_found_at_either_end_of_a_bigram_or_alone(tmp_path):
    reader = recall_of(tmp_path, "中国", "国家", "赞", "美国")
    assert sorted(found(reader, "国")) == [0, 1, 3]
    assert found(reader, "赞") == {2: 1}


def test_unknown_text_matches_nothing(tmp_path):
    reader = recall_of(tmp_path, "北京")
    assert found(reader, "上海") == {}
    assert found(reader, "") == {}


def test_lengths_count_characters_per_document(tmp_path):
    reader = recall_of(tmp_path, "北京 冬奥", "", "a")
    assert reader.lengths("f").tolist()[:3] == [5, 1, 2]


def test_characters_outside_the_basic_plane_are_indexed(tmp_path):
    reader = recall_of(tmp_path, "𠮷野家牛丼")
    assert found(reader, "𠮷野") == {0: 1}


def test_an_empty_segment_is_readable(tmp_path):
    reader = recall_of(tmp_path)
    assert found(reader, "北京") == {}


@pytest.mark.parametrize("content", [b"garbage", b"NSRECALL1\n"], ids=["garbage", "the first format"])
def test_a_file_that_is_not_a_recall_index_is_refused(tmp_path, content):
    (tmp_path / "x.rcl").write_bytes(content)
    with pytest.raises(ValueError, match="not a recall index"):
        RecallReader(tmp_path / "x.rcl")


@given(st.lists(st.integers(min_value=0, max_value=2**63 - 1), max_size=50))
def test_varints_round_trip(values):
    data, offsets = encode_varints(np.array(values, dtype=np.uint64))
    assert decode_varints(data).tolist() == values
    assert [decode_varints(data[a:b]).tolist() for a, b in zip(offsets[:-1], offsets[1:])] == [[v] for v in values]


def occurrences(needle: str, post: str) -> int:
    """Overlapping occurrences of ``needle`` in the sections of ``post``."""
    return sum(section[i:].startswith(needle) for section in fold_sections(post) for i in range(len(section)))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=f"国际论坛中亚 ab{SECTION_BREAK}", max_size=30), min_size=1, max_size=6),
       st.text(alphabet="国际论坛中亚ab", min_size=1, max_size=4))
def test_matches_agree_with_substring_search(tmp_path_factory, posts, needle):
    reader = recall_of(tmp_path_factory.mktemp("r"), *posts)
    expected = {i: occurrences(needle, post) for i, post in enumerate(posts) if occurrences(needle, post)}
    if len(needle) == 1:  # a character is counted once per bigram holding it: only where it is found is compared
        assert set(found(reader, needle)) == set(expected)
    else:
        assert found(reader, needle) == expected


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(alphabet=f"国际论坛中亚 ab{SECTION_BREAK}", max_size=30), min_size=1, max_size=6),
       st.lists(st.text(alphabet="国际论坛中亚ab", min_size=2, max_size=4), min_size=1, max_size=5))
def test_a_memo_shared_by_several_lookups_changes_no_result(tmp_path_factory, posts, needles):
    reader = recall_of(tmp_path_factory.mktemp("r"), *posts)
    memo: dict = {}
    for needle in needles:
        with_memo = reader.matches("f", needle, memo)
        without = reader.matches("f", needle)
        assert [a.tolist() for a in with_memo] == [a.tolist() for a in without]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=f"国际论坛中亚 ab{SECTION_BREAK}", max_size=30), min_size=1, max_size=8),
       st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=8))
def test_a_field_buffered_in_runs_writes_the_same_file(tmp_path_factory, posts, run_size, merge_bytes):
    """Runs bound a large segment's memory while it is built; the file must not depend on them."""
    directory = tmp_path_factory.mktemp("r")
    recall_of(directory, *posts)
    whole = (directory / "seg.rcl").read_bytes()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recall, "RUN_OCCURRENCES", run_size)
        patch.setattr(recall, "MERGE_BYTES", merge_bytes)
        recall_of(directory, *posts)
    assert (directory / "seg.rcl").read_bytes() == whole
