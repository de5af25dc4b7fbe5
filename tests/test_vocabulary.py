"""The vocabulary sidecar: written with every generation, what it holds, and its lookups."""

from __future__ import annotations

import pytest

from search import build_index, update_index
from search.local.indexer import install_vocabulary, stage_vocabulary, vocabulary_due
from search.writing import storage
from search.query.vocabulary import VOCABULARY, Vocabulary, char_syllables, spell
from tests.helpers import write_post


@pytest.fixture
def posts(tmp_path):
    root = tmp_path / "posts"
    write_post(root, "a.md", title="北京冬奥会开幕", body="<p>冬奥会开幕。银行发布公告。</p>")
    write_post(root, "b.md", title="北京冬奥会闭幕", body="<p>冬奥会闭幕。银行发布公告。</p>")
    write_post(root, "c.md", title="Xiaomi 新品", body="<p>银行发布公告。</p>")
    return root


def vocabulary_of(index_dir) -> Vocabulary:
    return Vocabulary.load(storage.current_generation(index_dir))


def test_a_build_writes_the_vocabulary_beside_the_generation(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    assert (storage.current_generation(tmp_path / "index") / VOCABULARY).is_file()


def test_title_words_count_titles_and_posts(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    word = vocabulary_of(tmp_path / "index").get("冬奥会")
    assert (word.titles, word.posts, word.spellings[0]) == (2, 2, ("dong", "ao", "hui"))


def test_body_words_are_kept_when_several_posts_hold_them(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    vocabulary = vocabulary_of(tmp_path / "index")
    assert (vocabulary.get("银行").titles, vocabulary.get("银行").posts) == (0, 3)
    assert vocabulary.get("闭幕") is not None  # in one title: every title word is kept


def test_title_phrases_are_entries_for_suggestions_not_words(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    vocabulary = vocabulary_of(tmp_path / "index")
    assert vocabulary.get("北京冬奥会") is None
    assert [w.text for w in vocabulary.complete("北京冬")] == ["北京冬奥会"]


def test_an_update_rewrites_the_vocabulary(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    write_post(posts, "d.md", title="智能手机销量", body="<p>手机。</p>")
    update_index(tmp_path / "index", procs=1)
    vocabulary = vocabulary_of(tmp_path / "index")
    assert vocabulary.get("智能手机").spellings[0] == ("zhi", "neng", "shou", "ji")
    assert vocabulary.get("冬奥会").titles == 2


def test_an_update_publishes_its_posts_before_working_the_vocabulary_out_again(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    write_post(posts, "d.md", title="智能手机销量", body="<p>手机。</p>")
    update_index(tmp_path / "index", procs=1, policy=None)
    before, after = sorted((tmp_path / "index").glob("gen-*"))[-2:]  # the generation kept for readers, the live one
    assert Vocabulary.load(before).get("智能手机") is None and "d.md" in storage.read_json(before / storage.MANIFEST)
    assert Vocabulary.load(after).get("智能手机") is not None


def test_an_update_can_leave_the_vocabulary_to_its_caller(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    write_post(posts, "d.md", title="智能手机销量", body="<p>手机。</p>")
    update_index(tmp_path / "index", procs=1, vocabulary=False)
    assert vocabulary_of(tmp_path / "index").get("智能手机") is None
    assert vocabulary_due(storage.read_json(storage.current_generation(tmp_path / "index") / storage.META))
    staged = stage_vocabulary(tmp_path / "index")
    install_vocabulary(tmp_path / "index", staged)
    assert vocabulary_of(tmp_path / "index").get("智能手机") is not None
    assert not vocabulary_due(storage.read_json(storage.current_generation(tmp_path / "index") / storage.META))
    assert not staged.exists()


def test_a_staged_vocabulary_older_than_the_live_one_is_dropped(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    staged = stage_vocabulary(tmp_path / "index")  # from the build's generation
    write_post(posts, "d.md", title="智能手机销量", body="<p>手机。</p>")
    update_index(tmp_path / "index", procs=1)  # works a newer vocabulary out itself
    install_vocabulary(tmp_path / "index", staged)
    assert vocabulary_of(tmp_path / "index").get("智能手机") is not None
    assert not staged.exists()


def test_a_deleted_posts_title_phrases_leave_the_vocabulary_its_segment_was_remembered_with(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)  # the process now remembers the segment's words
    (posts / "b.md").unlink()
    update_index(tmp_path / "index", procs=1, policy=None)  # the segment stays, with b.md deleted
    vocabulary = vocabulary_of(tmp_path / "index")
    assert vocabulary.complete("北京冬") == []  # the phrase is in one title now
    assert vocabulary.get("冬奥会").titles == 2  # a term table counts its deleted posts until a merge


def test_heteronyms_give_every_spelling_the_context_reading_first():
    assert spell("银行") == "yin'hang"  # a phrase of pypinyin's dictionary: its reading
    assert spell("行街") == "xing'jie|hang'jie|heng'jie"  # not a phrase: every reading of 行
    assert spell("冬奥会") == "dong'ao'hui|dong'ao'kuai|dong'yu'hui|dong'yu'kuai"  # character by character
    assert spell("重庆").split("|")[0] == "chong'qing"
    assert char_syllables("行") == ("xing", "hang", "heng")
    assert char_syllables("a") == ()


def test_lookups_by_pinyin_initials_and_edits(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    vocabulary = vocabulary_of(tmp_path / "index")
    assert [w.text for w in vocabulary.spelt("dongaohui")] == ["冬奥会"]
    assert [w.text for w in vocabulary.with_initials("dah")] == ["冬奥会"]
    assert [(w.text, d) for w, d in vocabulary.latin_within("xiaomo", 1)] == [("xiaomi", 1)]


def test_a_fast_update_keeps_the_vocabulary_until_the_quiet_full_update(posts, tmp_path):
    build_index(posts, tmp_path / "index", procs=1)
    write_post(posts, "d.md", title="智能手机销量", body="<p>手机。</p>")
    update_index(tmp_path / "index", procs=1, fast=True)
    assert vocabulary_of(tmp_path / "index").get("智能手机") is None  # the watcher's fast batch: not yet
    update_index(tmp_path / "index", procs=1)
    assert vocabulary_of(tmp_path / "index").get("智能手机") is not None
