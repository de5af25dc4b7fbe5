"""The shared normaliser and analyzers: folding, offsets, word positions, single characters."""

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.text.analysis import ENGINES, Segmenter, compact, nfkc, normalise, normalise_with_offsets
from search.local.tokenizers import CharTokenizer, JiebaTokenizer, word_analyzer


def test_normalise_folds_traditional_to_simplified():
    assert normalise("國際論壇") == "国际论坛"


def test_normalise_folds_full_width_to_half_width():
    assert normalise("ＧＤＰ增长５．２％") == "gdp增长5.2%"


def test_normalise_casefolds_latin():
    assert normalise("iPhone SOFTWARE") == "iphone software"


def test_normalise_removes_zero_width_characters():
    assert normalise("博\u200b物\u200d馆\ufeff") == "博物馆"


@given(st.text() | st.text(alphabet="ＡａＧ１，。ﬁ①㈱ｶﾞ\u0301\u0308\u1100\u1161\u11a8가ḁe\U0001d400\u2126国際 "))
def test_the_fast_nfkc_equals_unicodedatas(text):
    assert nfkc(text) == unicodedata.normalize("NFKC", text)


def test_the_fast_nfkc_composes_across_characters():
    assert nfkc("e\u0301ｶﾞ\u1100\u1161") == "é" + "ガ" + "가"


def test_offsets_point_at_original_characters():
    folded, origin = normalise_with_offsets("a\u200b國Ｂ")
    assert folded == "a国b"
    assert origin == [0, 2, 3]


def test_offsets_survive_expanding_characters():
    folded, origin = normalise_with_offsets("ﬁ國")
    assert folded == "fi国"
    assert origin == [0, 0, 1]


@given(st.text(alphabet="ＡａＧ１，。ﬁ①㈱…ßİ\u200b\u00ad國際論壇 abcXYZ"))
def test_offsets_map_every_folded_character_to_the_one_it_came_from(text):
    folded, origin = normalise_with_offsets(text)
    assert folded == normalise(text)
    assert origin == sorted(origin) and len(origin) == len(folded)
    assert folded == "".join(normalise(text[i]) for i in dict.fromkeys(origin))


def test_offset_fold_equals_fast_fold():
    text = "Ｈｅｌｌｏ 國際 ＧＤＰ\u200b增長 iPhone15 ①"
    assert normalise_with_offsets(text)[0] == normalise(text)


def test_compact_drops_whitespace_and_keeps_offsets():
    assert compact("ab c\nd", [0, 1, 2, 3, 4, 5]) == ("abcd", [0, 1, 3, 5])


@pytest.mark.slow
def test_tokenizer_positions_are_word_ordinals():
    tokens = [(t.text, t.pos) for t in JiebaTokenizer()("我来到北京清华大学", positions=True)]
    assert tokens == [("我", 0), ("来到", 1), ("北京", 2), ("清华大学", 3)]


def test_tokenizer_reports_offsets_in_original_text():
    tokens = [(t.text, t.startchar, t.endchar) for t in JiebaTokenizer()("國際 論壇", chars=True)]
    assert tokens == [("国际", 0, 2), ("论坛", 3, 5)]


def test_word_analyzer_does_not_stem_english():
    assert [t.text for t in word_analyzer()("iPhone15 running games")] == ["iphone15", "running", "games"]


def test_word_analyzer_drops_punctuation():
    assert [t.text for t in word_analyzer()("你好，世界！")] == ["你好", "世界"]


@pytest.mark.parametrize("engine", ENGINES)
def test_user_dictionary_keeps_a_new_word_whole(tmp_path, engine):
    userdict = tmp_path / "dict.txt"
    userdict.write_text("量子纠缠态 100 n\n", encoding="utf-8")
    plain = [t.text for t in word_analyzer(Segmenter(engine))("量子纠缠态")]
    custom = [t.text for t in word_analyzer(Segmenter(engine, str(userdict)))("量子纠缠态")]
    assert "量子纠缠态" not in plain
    assert custom == ["量子纠缠态"]


def test_rjieba_cuts_chinese_news_like_jieba():
    text = normalise("中亚五国峰会在西安举行，國際論壇聚焦數字轉型，ＧＤＰ增長５．２％")
    assert list(Segmenter("rjieba").tokenize(text)) == list(Segmenter("jieba").tokenize(text))


def test_an_unknown_segmenter_is_refused():
    with pytest.raises(ValueError, match="unknown segmenter 'thulac'; choose one of jieba, rjieba"):
        Segmenter("thulac")


def test_a_segmenter_is_recorded_with_its_version():
    meta = Segmenter("rjieba").to_meta()
    assert meta["segmenter"].startswith("rjieba-") and Segmenter.from_meta(meta) == Segmenter("rjieba")
    assert Segmenter.from_meta({}) == Segmenter("jieba")


def test_char_tokenizer_emits_folded_characters():
    assert [t.text for t in CharTokenizer()("國 Ａ")] == ["国", "a"]
