"""Where the index lives: a local directory (Whoosh, the default) or a Sphinx cluster, behind one interface.

Both backends take the same documents, analysed by the same code, and answer
the same query language with the same result objects; the CLI and the web
app choose one with :func:`open_backend` and never look further. What the
two opened indexes do alike is written once, in :class:`IndexBase`; each
engine's module holds only how it matches, ranks and stores.

>>> open_backend(None, index_dir="index")
LocalBackend(index_dir=PosixPath('index'))
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

from .text.analysis import Segmenter
from .errors import QuerySyntaxError, SearchError
from .query.highlight import highlight_title, make_snippet
from .corpus.permalinks import PostUrls
from .query.syntax import parse_query, plan_query
from .query.readings import search_as_meant
from .query.request import DEFAULT_SORT, Filters, read_request
from .query.results import Copy, Hit, IndexStats, Post, SearchResults, Share
from .writing.storage import DEFAULT_INDEX_DIR
from .query.vocabulary import Vocabulary
from .query.synonyms import Synonyms
from .writing.builds import BuildReport, OptimizeReport, ProgressCallback

#: How ``--backend`` URLs look (the local index needs no URL).
BACKEND_URLS = "sphinx://HOST:PORT[,HOST:PORT…][/INDEX]"


class SearchIndex(Protocol):
    """An opened index: what :class:`search.Index` and :class:`search.sphinx.SphinxIndex` both provide."""

    segmenter: Segmenter
    synonyms: Synonyms

    def search(self, text: str, **options) -> SearchResults: ...
    def suggest(self, typed: str, *, limit: int = ...) -> list[str]: ...
    def get(self, doc_id: str) -> Post | None: ...
    def more_like(self, doc_id: str, *, limit: int = 5) -> list[Hit]: ...
    def related_coverage(self, doc_id: str, *, days: float = ..., limit: int = 10) -> list[Hit]: ...
    def stats(self) -> IndexStats: ...
    def close(self) -> None: ...
    def __enter__(self): ...
    def __exit__(self, *exc) -> None: ...


#: Characters of a post's text that its related posts are chosen by (after its title, twice).
RELATED_TEXT_CHARS = 4000
#: Key terms of a post that related posts are looked up by (as Whoosh's ``more_like``).
KEY_TERMS = 12


def similar_text(post: Post) -> str:
    """Return the text a post's related posts are chosen by: its title twice, then the start of its text."""
    return f"{post.title} {post.title} {post.text[:RELATED_TEXT_CHARS]}"


def by_date(hits: list[Hit]) -> list[Hit]:
    """Return related coverage in the order it is shown: earliest first, undated last."""
    return sorted(hits, key=lambda h: (h.date is None, h.date or datetime.min.replace(tzinfo=UTC)))


@dataclass(frozen=True)
class StoredPost:
    """A post's stored fields, as either engine gives them back: what hits, copies, posts and URLs are made of."""

    id: str
    title: str
    source: str
    categories: tuple[str, ...]
    date: datetime | None
    image: str | None
    lang: str | None
    date_zoned: bool
    front_matter: Any  # the front matter a URL may need (see search.corpus.permalinks), or None/{} without

    def link_fields(self) -> dict:
        """What the post's blog URL is made of (:meth:`search.PostUrls.link`'s arguments)."""
        return {"doc_id": self.id, "title": self.title, "categories": self.categories, "date": self.date,
                "date_zoned": self.date_zoned, "front_matter": self.front_matter}


class IndexBase:
    """What both opened indexes do alike, written once over what each engine provides.

    An engine's index sets ``segmenter``, ``synonyms`` and ``post_urls`` and
    provides ``search_tree`` and ``count_tree`` (see
    :class:`search.query.readings.TreeSearcher`) and :meth:`_search_state`.
    """

    segmenter: Segmenter
    synonyms: Synonyms
    post_urls: PostUrls | None
    #: Why scores cannot be explained feature by feature here (None: they can).
    cannot_explain: str | None = None

    def search(self, text: str, *, page: int = 1, per_page: int = 10, sort: str = DEFAULT_SORT,
               filters: Filters | dict | None = None, half_life_days: float | None = None,
               now: datetime | date | None = None, date_parse: bool = True, snippets: bool = True,
               facets: bool = True, fold: bool = True, as_typed: bool = False, partial: bool = True,
               explain: bool = False) -> SearchResults:
        """Return one page of results for ``text`` in the query language (see :mod:`search.query.syntax`).

        ``sort`` is ``relevance`` (default), ``newest`` or ``oldest``; a
        query with no words to rank by (``去年``, ``source:新华社``) is listed
        newest first (``SearchResults.sort`` is the sort used, ``.sorts`` those
        the query offers). ``half_life_days`` blends recency into relevance (a
        post that old scores half). ``per_page=0`` returns every match on one page.

        Date words in Chinese (``去年``, ``2022年3月``, ``近三天``) become date
        filters, listed in ``SearchResults.dates``; ``date_parse=False``
        searches them as text (see :mod:`search.query.dates`). ``now`` is the
        moment relative dates and ages count from (default: the current
        time; a date means its start, UTC).

        A query that finds nothing or very little is read as the reader may
        have meant it (pinyin, typos, date words as text; see
        :mod:`search.query.readings`): the reading searched instead is
        ``SearchResults.reading``, others are ``SearchResults.offered``.
        ``as_typed=True`` searches exactly what was typed.

        ``fold`` shows each story once, by its best-ranked matching copy and in
        that copy's place, with the story's other copies in ``Hit.copies``;
        totals, pages and facets then count stories (``counts == "stories"``).
        The best-ranked copy, not the canonical one, represents the story: it is
        the post the query asked for (on the dev set, showing the canonical copy
        lowered known-item MRR@10 from 0.951 to 0.941), and under a date sort its
        date is the one that places the story.

        When fewer than ten results hold every required word, the best posts
        holding some of them follow, marked ``Hit.partial`` (see
        :mod:`search.query.fallback`); ``partial=False`` lists only full matches.

        ``explain`` gives every hit its score feature by feature
        (``Hit.explanation``, see :mod:`search.local.explain`); it costs a search per
        feature.

        :raises QuerySyntaxError: for a bad query, filter, page or sort; the message says why.
        :raises SearchError: if ``explain`` is asked of an index that cannot explain (see ``cannot_explain``).
        """
        if explain and self.cannot_explain:
            raise SearchError(self.cannot_explain)
        started = time.perf_counter()
        newest, vocabulary = self._search_state()
        request = read_request(text, page=page, per_page=per_page, sort=sort, filters=filters,
                               half_life_days=half_life_days, now=now, date_parse=date_parse, newest=newest)
        return search_as_meant(self, request, vocabulary=vocabulary, as_typed=as_typed, started=started, page=page,
                               per_page=per_page, snippets=snippets, facets=facets, fold=fold, partial=partial,
                               explain=explain)

    def _search_state(self) -> tuple[date | None, Vocabulary | None]:
        """Return the day of the newest dated post (month and day words without a year mean their latest) and
        the vocabulary queries are read by (None: the index keeps none)."""
        raise NotImplementedError

    def highlights(self, text: str) -> tuple[str, ...]:
        """Return the folded strings a page marks for the query ``text`` (none for a query that cannot be read)."""
        if not text.strip():
            return ()
        try:
            return plan_query(parse_query(text), segmenter=self.segmenter, synonyms=self.synonyms).highlights
        except QuerySyntaxError:
            return ()

    def _url(self, post: StoredPost) -> str | None:
        """Return the post's URL on the blog (None without blog settings)."""
        if self.post_urls is None:
            return None
        return self.post_urls.url(**post.link_fields())

    def _make_hit(self, post: StoredPost, score: float, text: str, highlights: tuple[str, ...],
                  title_highlights: tuple[str, ...], *, snippets: bool, copies: tuple[Copy, ...] = (),
                  missing: tuple[str, ...] | None = None, explanation: tuple[Share, ...] = ()) -> Hit:
        """Return the hit of a stored post, its title and snippet (of ``text``) marked (partial if ``missing``)."""
        return Hit(id=post.id, title=post.title, title_html=highlight_title(post.title, title_highlights),
                   source=post.source, categories=post.categories, date=post.date, image=post.image, score=score,
                   snippet=make_snippet(text, highlights) if snippets else "", url=self._url(post), copies=copies,
                   lang=post.lang, partial=missing is not None, missing=missing or (), explanation=explanation)

    def _make_copy(self, post: StoredPost) -> Copy:
        return Copy(id=post.id, title=post.title, source=post.source, date=post.date, url=self._url(post),
                    lang=post.lang)

    def _make_post(self, post: StoredPost, text: str, html: str, copies: tuple[Copy, ...]) -> Post:
        return Post(id=post.id, title=post.title, source=post.source, categories=post.categories, date=post.date,
                    image=post.image, text=text, html=html, url=self._url(post), copies=copies, lang=post.lang)


class Backend(Protocol):
    """Builds, updates and opens one index."""

    def build(self, corpus_dir: Path, *, userdict: str | None = None, segmenter: str = "jieba",
              procs: int | None = None, wait: bool = False,
              progress: ProgressCallback | None = None) -> BuildReport: ...
    def update(self, corpus_dir: Path | None = None, *, procs: int | None = None, wait: bool = False,
               progress: ProgressCallback | None = None) -> BuildReport: ...
    def optimize(self, *, procs: int | None = None, wait: bool = False) -> OptimizeReport: ...
    def open(self, *, post_urls: PostUrls | None = None,
             synonyms: Synonyms | Path | str | None = None) -> SearchIndex: ...
    def exists(self) -> bool: ...


def open_backend(url: str | None = None, *, index_dir: Path | str = DEFAULT_INDEX_DIR,
                 cluster_file: Path | str | None = None) -> Backend:
    """Return the backend a ``--backend`` URL names; without one, the local index in ``index_dir``.

    :raises SearchError: for a URL of no known backend.
    """
    if not url:
        from .local.backend import LocalBackend

        return LocalBackend(Path(index_dir))
    if url.startswith("sphinx://"):
        from .sphinx import SphinxBackend

        return SphinxBackend.from_url(url, cluster_file)
    raise SearchError(f"unknown backend {url!r}; use {BACKEND_URLS}, or no --backend for the local index")
