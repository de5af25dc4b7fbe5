"""Synonyms, applied when a query is read: Solr's synonym file format, and the default list.

A reader types 通胀 and the post says 通货膨胀; K8s and Kubernetes, 駭客 and
黑客 name the same thing. The file format is Solr's (``SynonymGraphFilter``
with ``expand=true``), one rule a line::

    # a comment (a whole line)
    通胀, 通货膨胀                       equivalent: each finds all of them
    电动车 => 电动车, 新能源汽车         one way: 电动车 finds both; 新能源汽车 only itself

Words are folded as everything else is (Traditional/Simplified, width, case,
spaces), so ``K8S``, ``ｋ８ｓ`` and ``k8s`` are one key, and 駭客 is 骇客. A
rule applies to a whole query word, or to a run of the words the segmenter cuts
it into (``新能源车销量`` expands 新能源车); quoted phrases are taken
literally. Applying them happens at query time: changing the file needs no
rebuild. A synonym ranks a little below the word typed
(:data:`search.query.syntax.SYNONYM_WEIGHT`) and is highlighted like it.

The package ships a small default list of common news abbreviations and
regional names (``search/query/synonyms.txt``, :func:`default_synonyms`); pass
another file, or :data:`NO_SYNONYMS`, to :meth:`search.Index.open`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..text.analysis import compact, normalise
from ..errors import SynonymFileError

#: The list used unless another is chosen (documented in the README).
DEFAULT_FILE = Path(__file__).with_name("synonyms.txt")
#: What ``--synonyms`` and the web's ``SYNONYMS`` setting accept to switch synonyms off.
OFF = "none"
#: Longest run of query units a rule is looked up for.
MAX_RUN = 6

_SPLIT_COMMA = re.compile(r"(?<!\\),")
_SPLIT_ARROW = re.compile(r"(?<!\\)=>")


@dataclass(frozen=True)
class Synonyms:
    """Folded words, each with the folded words a query for it also finds (itself included where it should be).

    >>> s = Synonyms.parse("通胀, 通货膨胀\\n电动车 => 电动车, 新能源汽车")
    >>> s.alternatives("通貨膨脹"), s.alternatives("电动车"), s.alternatives("新能源汽车")
    (('通货膨胀', '通胀'), ('电动车', '新能源汽车'), None)
    """

    rules: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    name: str = ""  # where the rules came from, for messages

    @classmethod
    def parse(cls, text: str, *, name: str = "") -> Synonyms:
        """Return the rules in ``text`` (Solr's format).

        :raises SynonymFileError: naming the line that is malformed.
        """
        rules: dict[str, list[str]] = {}
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):  # as Solr: only whole lines are comments (C# is a word)
                continue
            sides = _SPLIT_ARROW.split(line)
            if len(sides) > 2:
                raise SynonymFileError(f"{name or 'synonyms'} line {number}: more than one '=>' in {raw.strip()!r}")
            groups = [_words(side) for side in sides]
            if any(not group for group in groups):
                raise SynonymFileError(f"{name or 'synonyms'} line {number}: no words "
                                       f"{'on one side of =>' if len(sides) == 2 else ''} in {raw.strip()!r}")
            targets = groups[-1]
            for source in groups[0]:
                found = rules.setdefault(source, [source] if len(groups) == 1 else [])
                found.extend(t for t in targets if t not in found)
        return cls({key: tuple(values) for key, values in rules.items() if values != [key]}, name)

    @classmethod
    def load(cls, path: Path | str) -> Synonyms:
        """Return the rules of the file at ``path``.

        :raises SynonymFileError: if it cannot be read or has a malformed line.
        """
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SynonymFileError(f"cannot read the synonym file {path}: {reason}") from None
        return cls.parse(text, name=str(path))

    def alternatives(self, folded: str) -> tuple[str, ...] | None:
        """Return what a query for ``folded`` (folded, compacted) finds, or None if no rule names it."""
        return self.rules.get(compact(normalise(folded))[0])

    def __bool__(self) -> bool:
        return bool(self.rules)


#: No synonyms at all.
NO_SYNONYMS = Synonyms(name=OFF)


@functools.cache
def default_synonyms() -> Synonyms:
    """Return the default list (``search/query/synonyms.txt``), read once."""
    return Synonyms.load(DEFAULT_FILE)


def read_synonyms(spec: Path | str | Synonyms | None) -> Synonyms:
    """Return the synonyms a setting names: None for the default list, ``"none"`` for none, else a file.

    :raises SynonymFileError: for a file that cannot be read or is malformed.
    """
    if isinstance(spec, Synonyms):
        return spec
    if spec is None or str(spec) == "":
        return default_synonyms()
    if str(spec).strip().lower() == OFF:
        return NO_SYNONYMS
    return Synonyms.load(spec)


def _words(side: str) -> list[str]:
    words = (compact(normalise(w.replace("\\,", ",").replace("\\=>", "=>")))[0] for w in _SPLIT_COMMA.split(side))
    return list(dict.fromkeys(w for w in words if w))
