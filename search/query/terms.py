"""What one query word asks of a post: its units, which of them are optional, and their synonyms.

A word a reader types is cut into *units* (:func:`units`), each of which a post
must contain for the word to match. Two kinds of unit are softer:

* **optional** units (:data:`OPTIONAL_WORDS`: question words, particles and
  other words with little information of their own, ``怎么``, ``有哪些``,
  ``吗``) rank a post that holds them higher but are not required, as
  Elasticsearch's ``minimum_should_match`` allows: ``家用 NAS 怎么搭建`` finds
  the NAS guides that never say 怎么;
* a unit (or a run of units) that a synonym rule names (:mod:`search.query.synonyms`)
  is found by any of its alternatives: ``Golang入门`` finds Go语言 posts too.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..text.analysis import DEFAULT_SEGMENTER, Segmenter, is_cjk, is_word
from .synonyms import MAX_RUN, Synonyms

#: Words that rank but are not required (folded, Simplified): question words, particles,
#: auxiliaries and light verbs. A query made only of them requires them all.
OPTIONAL_WORDS = frozenset("""
    什么 什么样 啥 怎么 怎么样 怎样 怎么办 咋 咋样 如何 为什么 为何 哪 哪些 哪个 哪里 哪儿 哪种 几 多少 多久
    何时 是否 是不是 有没有 能不能 能否 可不可以 会不会 要不要 时候 有哪些
    吗 呢 吧 啊 呀 嘛 么 的 了 着 过 地 得 之
    是 有 在 能 会 可以 应该 要 该 做 搞 弄 值得 一下 一些 关于 有关
    和 与 及 以及 或 或者 还是 对 把 被 从 给 让 向
    我 你 他 她 它 我们 你们 他们 这 那 这个 那个 这些 那些
""".split())


@dataclass(frozen=True)
class Unit:
    """One part of a query word: ``text`` as typed (folded), found by any of ``alternatives``.

    ``alternatives`` is ``(text,)`` without a synonym rule; with one, it lists
    what the rule says (the typed text first when the rule keeps it).
    """

    text: str
    alternatives: tuple[str, ...]
    optional: bool = False

    @property
    def synonyms(self) -> tuple[str, ...]:
        """The alternatives other than the text typed."""
        return tuple(a for a in self.alternatives if a != self.text)


def units(folded: str, segmenter: Segmenter = DEFAULT_SEGMENTER) -> list[str]:
    """Split a folded, compacted term into the units that must each occur.

    Chinese is cut into jieba words; runs of Latin letters, digits and
    punctuation stay whole (``c++``, ``iphone14``); punctuation-only units are
    dropped unless nothing else is left.

    >>> units("中亚五国峰会")
    ['中亚', '五国', '峰会']
    >>> units("iphone14发布")
    ['iphone14', '发布']
    """
    out: list[str] = []
    for word, _, _ in segmenter.tokenize(folded):
        if out and not any(map(is_cjk, word)) and not any(map(is_cjk, out[-1])):
            out[-1] += word
        else:
            out.append(word)
    meaningful = [u for u in out if is_word(u)]
    return meaningful or out


def term_units(folded: str, synonyms: Synonyms, segmenter: Segmenter = DEFAULT_SEGMENTER) -> list[Unit]:
    """Return the units of a folded, compacted query word, with their synonyms and optional words marked.

    A rule for the whole word wins; otherwise the longest run of units a rule
    names becomes one unit.

    >>> from search.query.synonyms import Synonyms
    >>> [(u.text, u.alternatives, u.optional) for u in term_units("k8s怎么学", Synonyms.parse("k8s, kubernetes"))]
    [('k8s', ('k8s', 'kubernetes'), False), ('怎么', ('怎么',), True), ('学', ('学',), False)]
    """
    whole = synonyms.alternatives(folded) if synonyms else None
    if whole is not None:
        return [Unit(folded, whole)]
    parts = units(folded, segmenter)
    out: list[Unit] = []
    i = 0
    while i < len(parts):
        for j in range(min(len(parts), i + MAX_RUN), i, -1):
            text = "".join(parts[i:j])
            found = synonyms.alternatives(text) if synonyms else None
            if found is not None:
                out.append(Unit(text, found))
                i = j
                break
        else:
            out.append(Unit(parts[i], (parts[i],), parts[i] in OPTIONAL_WORDS))
            i += 1
    return out
