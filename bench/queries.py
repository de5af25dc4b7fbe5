"""The query mix: the kinds of query a news archive's readers send, drawn deterministically from the corpus.

Kinds (each reported on its own, and together as ``overall``):

* ``dev``: the shared evaluation's dev queries (words, phrases, cross-word
  strings, Traditional/full-width/case variants) as typed.
* ``word``: one frequent news word, from the most common down to ones a
  few hundred places lower (long and medium posting lists).
* ``two-word``: two words that occur together in one article.
* ``filtered``: a word plus a source, category or date filter.
* ``sorted``: a word, newest first.
* ``page-50``: page 50 of a common word (collects 500 ranked hits).
* ``no-facets``: the ``word`` queries without facet counts, to show what facets
  cost; left out of ``overall``, since every web search computes facets.

``news`` pools the generated kinds, ``overall`` adds the dev queries.

Every query asks for 10 results with snippets.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from search import Document, read_post
from search.text.analysis import DEFAULT_SEGMENTER, is_cjk, is_word, normalise

from .corpus import REPO, every_kth

DEV_QUERIES = REPO.parent / "shared" / "eval" / "dev-queries.jsonl"
#: The generated news queries; the dev queries outnumber them but mostly match little in news-big.
NEWS_KINDS = ("word", "two-word", "filtered", "sorted", "page-50")
#: The realistic mix (``overall``); ``no-facets`` is only a comparison.
MIX_KINDS = ("dev", *NEWS_KINDS)
KINDS = (*MIX_KINDS, "no-facets")
PER_PAGE = 10
#: Frequent words are picked from this many most common ones (by document frequency).
WORD_POOL = 400


@dataclass(frozen=True)
class Query:
    """One search as the library and the web API take it."""

    kind: str
    text: str
    sort: str = "relevance"
    page: int = 1
    filters: dict = field(default_factory=dict)
    facets: bool = True

    def url(self) -> str:
        """Return the ``/api/search`` path that asks for the same results."""
        args = {"q": self.text, "per_page": PER_PAGE, **self.filters}
        if self.sort != "relevance":
            args["sort"] = self.sort
        if self.page != 1:
            args["page"] = self.page
        return "/api/search?" + urlencode(args)


def make_mix(docs: list[Document], *, per_kind: int = 20, dev_limit: int | None = None,
             dev_file: Path = DEV_QUERIES) -> list[Query]:
    """Return the query mix for a corpus, drawn from a sample of its documents.

    ``per_kind`` queries of each generated kind; ``dev_limit`` dev queries
    spread over the file (all if None; none if the file is missing).

    :raises ValueError: if the sample holds no Chinese words.
    """
    words_by_doc = [_words(doc) for doc in docs]
    document_frequency = Counter(w for words in words_by_doc for w in set(words))
    pool = [w for w, _ in sorted(document_frequency.items(), key=lambda item: (-item[1], item[0]))][:WORD_POOL]
    if not pool:
        raise ValueError("the sample holds no Chinese words to build queries from")
    words = every_kth(pool, per_kind)
    mix = [Query("dev", q) for q in load_dev_queries(dev_file, dev_limit)]
    mix += [Query("word", w) for w in words]
    mix += [Query("two-word", q) for q in _pairs(words_by_doc, set(pool[5:]), per_kind)]
    filters = _filters(docs)
    mix += [Query("filtered", w, filters=filters[i % len(filters)]) for i, w in enumerate(words)]
    mix += [Query("sorted", w, sort="newest") for w in words]
    mix += [Query("page-50", w, page=50) for w in pool[:3]]
    mix += [Query("no-facets", w, facets=False) for w in words]
    return mix


def load_dev_queries(path: Path, limit: int | None = None) -> list[str]:
    """Return ``limit`` query texts (field ``q``, spread over the file) of a JSON-lines query file.

    Returns [] if the file does not exist.
    """
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        texts = [json.loads(line)["q"] for line in fh if line.strip()]
    return every_kth(texts, limit) if limit is not None else texts


def sample_documents(corpus: Path, posts: list[Path], n: int) -> list[Document]:
    """Return ``n`` documents spread over ``posts`` (the readable ones)."""
    results = (read_post(corpus, p) for p in every_kth(posts, n))
    return [r.document for r in results if r.document is not None]


def save_mix(mix: list[Query], path: Path) -> None:
    """Write the mix as JSON lines (what the latency child process and readers of the results load)."""
    path.write_text("".join(json.dumps(asdict(q), ensure_ascii=False) + "\n" for q in mix), encoding="utf-8")


def load_mix(path: Path) -> list[Query]:
    """Read a mix written by :func:`save_mix`."""
    return [Query(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _words(doc: Document) -> list[str]:
    """Chinese words of two or more characters in ``doc``, in order: what readers type as news queries."""
    folded = normalise(f"{doc.title}\n{doc.text}")
    return [w for w, _, _ in DEFAULT_SEGMENTER.tokenize(folded) if len(w) >= 2 and is_word(w) and any(map(is_cjk, w))]


def _pairs(words_by_doc: list[list[str]], pool: set[str], n: int) -> list[str]:
    """Two distinct pool words from each of ``n`` articles spread over the sample, in reading order."""
    pairs = []
    for words in every_kth([w for w in words_by_doc if len(set(w) & pool) >= 2], n):
        first, second = list(dict.fromkeys(w for w in words if w in pool))[:2]
        pairs.append(f"{first} {second}")
    return pairs


def _filters(docs: list[Document]) -> list[dict]:
    """A source, a category, a year and a half-year: the most common of each in the sample."""
    source = Counter(d.source for d in docs if d.source).most_common(1)
    category = Counter(c for d in docs for c in d.categories).most_common(1)
    year = Counter(d.date.year for d in docs if d.date).most_common(1)
    filters = [{"source": source[0][0]}] if source else []
    filters += [{"category": category[0][0]}] if category else []
    if year:
        filters += [{"date": str(year[0][0])}, {"date": f"{year[0][0]}-01..{year[0][0]}-06"}]
    return filters or [{}]
