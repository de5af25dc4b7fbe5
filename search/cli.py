"""The ``news-search`` command line: build, update, optimize, watch, stats, query, serve.

Exit codes: 0 success (zero hits is success); 1 operational failure (no index,
index busy, unreadable corpus, bad query); 2 bad usage; 3 the build or update
finished but skipped some files (listed in the report); 130 interrupted.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import click

from .text.analysis import ENGINES
from .backend import BACKEND_URLS, Backend, SearchIndex, open_backend
from .corpus.blog import HEXO_DEFAULTS, Blog, BlogError, open_blog
from .corpus.posts import Problem
from .errors import SearchError
from .local.indexer import build_index
from .corpus.permalinks import PostUrls
from .query.results import SearchResults
from .query.request import MAX_PER_PAGE, MAX_SERVED_PER_PAGE, SORTS
from .local.searcher import warm_up_segmenter
from .writing.storage import DEFAULT_INDEX_DIR
from .writing.builds import BuildReport
from .sphinx.commands import cluster, cluster_option

EXIT_SKIPPED = 3
EXIT_INTERRUPTED = 130


def demo_corpus() -> Path:
    """Return the path of the small demo corpus bundled with the package."""
    return Path(str(resources.files("search") / "demo_corpus"))


def index_option(fn):
    return click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path),
                        default=DEFAULT_INDEX_DIR, envvar="NEWS_SEARCH_INDEX", show_default=True,
                        help="Index directory (env NEWS_SEARCH_INDEX).")(fn)


def backend_option(fn):
    return click.option("--backend", "backend_url", default=None, envvar="NEWS_SEARCH_BACKEND", metavar="URL",
                        help=f"Use a Sphinx cluster instead of --index: {BACKEND_URLS} (env NEWS_SEARCH_BACKEND).")(fn)


def synonyms_option(fn):
    return click.option("--synonyms", default=None, envvar="NEWS_SEARCH_SYNONYMS", metavar="FILE|none",
                        help="Synonyms applied to queries, in Solr's format ('通胀, 通货膨胀' or "
                             "'电动车 => 电动车, 新能源汽车'); 'none' switches them off [default: the built-in list "
                             "of news abbreviations and regional names] (env NEWS_SEARCH_SYNONYMS).")(fn)


def today_option(fn):
    return click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
                        envvar="NEWS_SEARCH_TODAY",
                        help="The day relative dates (去年, 上周, 近三天) count from, YYYY-MM-DD "
                             "[default: today, UTC] (env NEWS_SEARCH_TODAY).")(fn)


def blog_option(fn):
    return click.option("--blog", "blog_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
                        default=None, envvar="NEWS_SEARCH_BLOG", metavar="DIR",
                        help="The Hexo blog's folder (env NEWS_SEARCH_BLOG): its _config.yml gives the posts' URLs "
                             "(url, root, permalink, permalink_defaults, pretty_urls, timezone).")(fn)


def read_blog(blog_dir: Path | None) -> Blog | None:
    """Return the blog in ``blog_dir`` (None without one), or fail as a usage error."""
    if blog_dir is None:
        return None
    try:
        blog = open_blog(blog_dir)
        blog.post_urls()  # a setting we cannot use fails here, before any work
    except (BlogError, ValueError) as exc:
        raise click.BadParameter(str(exc), param_hint="--blog") from None
    return blog


def writer_options(fn):
    for decorator in reversed((
        click.option("--procs", type=click.IntRange(1, 64), default=None,
                     help="Worker processes for parsing and indexing [default: all cores]."),
        click.option("--wait", is_flag=True, help="Wait for another build/update to finish instead of failing."),
        click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object on stdout."),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar or log lines."),
    )):
        fn = decorator(fn)
    return fn


class _Cli(click.Group):
    """Turns library errors into one-line messages and Ctrl-C into exit code 130."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SearchError as exc:
            raise click.ClickException(str(exc)) from None
        except KeyboardInterrupt:
            click.echo("Interrupted; the index is unchanged.", err=True)
            ctx.exit(EXIT_INTERRUPTED)


@click.group(cls=_Cli)
@click.version_option(package_name="news-search")
def cli() -> None:
    """Full-text search for Chinese news archives kept as Hexo posts.

    \b
    Quick start:
        news-search build --corpus path/to/posts
        news-search query 冬奥会
        news-search serve
    """


@cli.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Directory of Hexo posts (*.md) [default: the --blog's source/_posts, else the bundled demo "
                   "corpus].")
@blog_option
@index_option
@backend_option
@cluster_option
@click.option("--userdict", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Extra jieba dictionary (one 'word [freq [tag]]' per line).")
@click.option("--segmenter", type=click.Choice(ENGINES), default="jieba", show_default=True,
              help="Word segmenter: jieba, or rjieba (the same algorithm in Rust, about 19x faster; "
                   "pip install 'news-search[fast]'). The index remembers it; queries use the same one.")
@writer_options
def build(corpus, blog_dir, index_dir, backend_url, cluster_file, userdict, segmenter, procs, wait, as_json, quiet):
    """Index every post under --corpus from scratch.

    The live index keeps answering queries until the new one is complete, then
    is replaced atomically; an interrupted build leaves it as it was. The
    report also lists the posts Hexo gives no page a link can reach (a '%' in
    the file name, no date, ...), by the --blog's settings or Hexo's defaults.

    \b
    Examples:
        news-search build --blog ~/blog
        news-search build --corpus ~/blog/source/_posts --index index/
        news-search build --corpus ~/blog/source/_posts --segmenter rjieba
    """
    blog = read_blog(blog_dir)
    if corpus is None and blog is not None:
        corpus = blog.posts_dir
        if not corpus.is_dir():
            raise click.BadParameter(f"the blog has no posts folder {corpus}", param_hint="--blog")
    if corpus is None:
        corpus = demo_corpus()
        _log(f"No --corpus given: indexing the bundled demo corpus ({corpus}).", quiet)
    with _progress("Indexing", quiet) as progress:
        backend = open_backend(backend_url, index_dir=index_dir, cluster_file=cluster_file)
        report = backend.build(corpus, userdict=userdict, segmenter=segmenter, procs=procs, wait=wait,
                               progress=progress)
    _report(report, "build", as_json, quiet, _unlinked(backend, blog))


@cli.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
              help="Directory of Hexo posts [default: the corpus of the last build].")
@blog_option
@index_option
@backend_option
@cluster_option
@writer_options
def update(corpus, blog_dir, index_dir, backend_url, cluster_file, procs, wait, as_json, quiet):
    """Re-index only the posts added, changed or deleted since the last build/update.

    \b
    Example:
        news-search update --index index/
    """
    blog = read_blog(blog_dir)  # with a blog, the report lists the posts it gives no page, as build's does
    with _progress("Updating", quiet) as progress:
        backend = open_backend(backend_url, index_dir=index_dir, cluster_file=cluster_file)
        report = backend.update(corpus, procs=procs, wait=wait, progress=progress)
    _report(report, "update", as_json, quiet, _unlinked(backend, blog) if blog is not None else ())


@cli.command()
@index_option
@backend_option
@cluster_option
@writer_options
def optimize(index_dir, backend_url, cluster_file, procs, wait, as_json, quiet):
    """Merge the index down to the segments a fresh build makes, purging deleted posts.

    Updates already merge small segments as they go, so the index stays fast
    without this; optimize is for the moment after a large clean-up (many
    posts deleted) or before copying the index elsewhere. Readers keep
    answering from the old segments until the merged ones are published.

    \b
    Example:
        news-search optimize --index index/
    """
    backend = open_backend(backend_url, index_dir=index_dir, cluster_file=cluster_file)
    report = backend.optimize(procs=procs, wait=wait)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
    elif report.segments is None:
        _log(f"optimize: asked every node to merge its shards' disk chunks ({report.docs} posts)", quiet)
    elif not report.merged_docs:
        _log(f"optimize: nothing to do; {report.segments} segment(s), as a fresh build of "
             f"{report.docs} posts makes", quiet)
    else:
        _log(f"optimize: {report.segments_before} segments -> {report.segments} in {report.seconds:.1f} s; "
             f"{report.merged_docs} posts rewritten, {report.deleted_purged} deleted posts purged", quiet)


def watch_options(fn):
    for decorator in reversed((
        click.option("--debounce", type=click.FloatRange(0, 60), default=1.0, show_default=True, metavar="SECONDS",
                     help="Quiet time after a change before a batch is indexed."),
        click.option("--settle", type=click.FloatRange(0, 600), default=0.5, show_default=True, metavar="SECONDS",
                     help="A post modified more recently is taken by the next batch (files written in pieces)."),
        click.option("--rescan", type=click.FloatRange(1, None), default=300.0, show_default=True, metavar="SECONDS",
                     help="Look for changes this often even without events (events the system dropped)."),
        click.option("--poll", "poll_interval", type=click.FloatRange(0.1, 3600), default=None, metavar="SECONDS",
                     help="Poll the folder this often instead of waiting for events [default: events; polling "
                          "every second on network file systems, which send none]."),
        click.option("--retry", type=click.FloatRange(0.1, None), default=30.0, show_default=True, metavar="SECONDS",
                     help="After a failed write (disk full), wait this long before trying again."),
    )):
        fn = decorator(fn)
    return fn


def watch_settings(debounce: float, settle: float, rescan: float, poll_interval: float | None, retry: float):
    from .local.watching import WatchSettings

    return WatchSettings(debounce=debounce, settle=settle, rescan=rescan, retry=retry,
                         polling=True if poll_interval else None, poll_interval=poll_interval or 1.0)


@cli.command()
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of Hexo posts [default: the corpus of the last build].")
@index_option
@watch_options
@click.option("--procs", type=click.IntRange(1, 64), default=None, help="Processes for merging [default: all cores].")
def watch(corpus, index_dir, debounce, settle, rescan, poll_interval, retry, procs):
    """Keep the index up to date with the corpus until stopped (Ctrl-C or SIGTERM).

    Posts added, changed, moved or deleted are indexed within seconds, in
    batches; one log line per batch on stderr, nothing while nothing
    changes. Hidden files (editors' and sync tools' work files) are
    ignored, files still being written are taken once complete, and another
    writer (a build, an update) is waited for. Without an index, one is
    built from --corpus first.

    \b
    Examples:
        news-search watch --corpus ~/blog/source/_posts
        news-search watch --poll 10        # a network mount that sends no events
    """
    import signal

    from .local.watching import Watcher

    logging.basicConfig(format="%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S", level=logging.INFO)
    backend = open_backend(None, index_dir=index_dir)
    if not backend.exists():
        if corpus is None:
            raise click.UsageError(f"no index in {index_dir}/ yet: give --corpus DIR to build one and watch it")
        click.echo(f"No index in {index_dir}/: building it from {corpus} first.", err=True)
        _report(build_index(corpus, index_dir, procs=procs, wait=True), "build", False, True, exit_on_skip=False)
    watcher = Watcher(index_dir, corpus, settings=watch_settings(debounce, settle, rescan, poll_interval, retry),
                      procs=procs)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: watcher.stop())
    watcher.run()
    click.echo(f"watch: stopped after {watcher.batches} batches", err=True)


@cli.command()
@index_option
@backend_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def stats(index_dir, backend_url, as_json):
    """Show what the index holds: documents, size, build time, corpus, sources.

    \b
    Example:
        news-search stats --json
    """
    with open_backend(backend_url, index_dir=index_dir).open() as ix:
        s = ix.stats()
    if as_json:
        click.echo(json.dumps(s.to_dict(), ensure_ascii=False))
        return
    click.echo(f"documents   {s.docs}")
    if s.segments is not None:
        click.echo(f"segments    {s.segments} ({s.deleted} deleted posts held until merged)")
    click.echo(f"size        {s.size_bytes / 1e6:.1f} MB")
    click.echo(f"built       {s.built_at}")
    click.echo(f"corpus      {s.corpus}")
    if s.whoosh_version:  # the installed Whoosh: the index would not have opened otherwise
        click.echo(f"whoosh      {s.whoosh_version} (wrote this index; its internals news-search uses are present)")
    if s.first_date:
        click.echo(f"dates       {s.first_date:%Y-%m-%d} .. {s.last_date:%Y-%m-%d}")
    click.echo(f"sources     {len(s.sources)}")
    for f in s.sources:
        click.echo(f"  {f.count:6d}  {f.value}")


QUERY_HELP = """Search the index and print the results.

\b
Query language:
    冬奥会 开幕            all words must occur; ranked by relevance (when fewer than
                           10 results hold them all, partial matches follow: 部分匹配)
    家用 NAS 怎么搭建      question words and particles rank but are not required
    K8s  通胀              synonyms too (Kubernetes, 通货膨胀): see --synonyms
    中亚五国峰会           no spaces needed
    "国际 论坛"            exact phrase
    -广告  -"付费内容"     exclude
    芯片 OR 半导体         either; (a OR b) c groups
    title:冬奥  source:新华社  category:科技
    date:2022  date:2022-01..2022-03  date:>=2022-09-01
    芯片 去年  2022年3月  3月5日  上周  近三天  2021年至2022年
                           dates in Chinese filter by date (--no-date-parse: search them as text)
    最近 芯片              newer posts rank higher
    dongaohui  dah  冬aohui  pinyin, initials, mixed: read as the index's words (冬奥会)
    加那大  meiutan        typos that find nothing are corrected (--as-typed: search as typed)

Traditional/Simplified, full-width/half-width and case are folded, so 國際
finds 国际 and ＧＤＰ finds GDP. Copies of one story (re-posts, edited
re-publications) are one result listing the others; --no-fold lists each.

\b
Examples:
    news-search query 冬奥会 --sort newest --limit 5
    news-search query --json 'title:芯片 date:2022'
    news-search query --batch queries.txt --limit 0 --json > results.jsonl
"""


@cli.command(help=QUERY_HELP)
@click.argument("text", required=False)
@index_option
@backend_option
@click.option("--limit", type=click.IntRange(0, None), default=10, show_default=True,
              help="Results per page; 0 = every match.")
@click.option("--page", type=click.IntRange(1, None), default=1, show_default=True, help="Page number.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--source", default=None, help="Only posts from this source/author.")
@click.option("--category", default=None, help="Only posts in this category (any level).")
@click.option("--date", default=None, help="Date or range: 2022, 2022-01..2022-03, >=2022-09-01.")
@click.option("--half-life", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Blend recency into relevance: a post this many days old scores half.")
@click.option("--no-date-parse", is_flag=True, help="Search date words (去年, 3月5日) as text, not as a date filter.")
@click.option("--as-typed", is_flag=True,
              help="Search exactly what was typed: no pinyin reading, no typo correction, and date words that "
                   "find nothing are not searched as text instead.")
@today_option
@click.option("--no-snippets", is_flag=True, help="Leave snippets out (faster for --limit 0).")
@click.option("--no-fold", is_flag=True,
              help="List every copy of a story as its own result (default: one result per story).")
@click.option("--batch", type=click.File("r", encoding="utf-8"), default=None,
              help="Run one query per line of FILE ('-' = stdin); print one JSON object per line.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (the batch line format).")
@synonyms_option
@click.option("--no-partial", is_flag=True,
              help="List only posts holding every word (default: when fewer than 10 do, the best posts holding "
                   "some follow, marked 部分匹配 / \"partial\": true).")
@click.option("--explain", is_flag=True,
              help="Show each hit's score feature by feature (words, title, phrase, ..., and factors); "
                   "local index only, relevance order only.")
def query(text, index_dir, backend_url, limit, page, sort, source, category, date, half_life, no_date_parse, as_typed,
          today, no_snippets, no_fold, batch, as_json, synonyms, no_partial, explain):
    if (text is None) == (batch is None):
        raise click.UsageError("give either a QUERY or --batch FILE")
    if limit > MAX_PER_PAGE and not batch and not as_json:
        raise click.UsageError(f"--limit above {MAX_PER_PAGE} needs --json or --batch")
    options = dict(per_page=limit, sort=sort, half_life_days=half_life, snippets=not no_snippets, fold=not no_fold,
                   partial=not no_partial,
                   filters={"source": source, "category": category, "date": date},
                   date_parse=not no_date_parse, as_typed=as_typed, now=today.date() if today else None)
    if explain:
        options["explain"] = True
    with open_backend(backend_url, index_dir=index_dir).open(synonyms=synonyms) as ix:
        if batch is not None:
            _run_batch(ix, batch, options)
            return
        results = ix.search(text, page=page, facets=not as_json, **options)
    if as_json:
        click.echo(json.dumps(_batch_line(results), ensure_ascii=False))
    else:
        _print_results(results)


def _run_batch(ix: SearchIndex, lines, options: dict) -> None:
    failed = 0
    for line in lines:
        text = line.rstrip("\n")
        started = time.perf_counter()
        try:
            out = _batch_line(ix.search(text, facets=False, **options))
        except SearchError as exc:
            failed += 1
            out = {"query": text, "total": 0, "ms": round((time.perf_counter() - started) * 1000, 3),
                   "hits": [], "error": str(exc)}
        click.echo(json.dumps(out, ensure_ascii=False))
    if failed:
        raise click.ClickException(f"{failed} queries failed (see their \"error\" fields)")


def _batch_line(results: SearchResults) -> dict:
    return {"query": results.query, "total": results.total, "total_posts": results.total_posts,
            "counts": results.counts, "ms": round(results.ms, 3), "page": results.page,
            "partial": bool(results.partial), "exact": results.exact,
            "dates": [d.to_dict() for d in results.dates],
            "reading": results.reading.to_dict() if results.reading else None,
            "offered": [r.to_dict() for r in results.offered],
            "hits": [h.to_dict() for h in results.hits]}


_MARK = re.compile(r"<mark>(.*?)</mark>", re.DOTALL)


def _print_results(results: SearchResults) -> None:
    from html import unescape

    def plain(html: str) -> str:
        return unescape(_MARK.sub(lambda m: click.style(m.group(1), bold=True, fg="red"), html))

    found = f"{results.total} results"
    if results.counts == "stories":
        found = f"{results.total} {'story' if results.total == 1 else 'stories'} ({results.total_posts} posts)"
    if results.partial:
        found = (f"no result holds every word; {results.partial} partial matches (部分匹配)" if not results.exact else
                 f"{found}, the last {results.partial} partial matches (部分匹配)")
    click.echo(f"{found} ({results.ms:.1f} ms), page {results.page} of {results.pages}")
    if results.reading is not None:
        read = results.reading
        shown = {"pinyin": f"pinyin read as {read.text!r}", "spelling": f"showing results for {read.text!r}",
                 "date_text": "date words found nothing as a date: searched as text"}[read.kind]
        click.echo(click.style(f"{shown} (--as-typed searches {results.query!r} as typed)", dim=True))
    for other in (r for r in results.offered if not r.is_typed):
        click.echo(click.style(f"did you mean {other.text!r}? ({other.total} posts)", dim=True))
    for d in results.dates:
        meaning = f"date:{d.date_filter}" if not d.recent else "newer posts rank higher"
        click.echo(click.style(f"read {d.text!r} as {meaning} (--no-date-parse searches it as text)", dim=True))
    first = (results.page - 1) * results.per_page
    for n, hit in enumerate(results.hits, first + 1):
        meta = " · ".join(x for x in (hit.source, f"{hit.date:%Y-%m-%d}" if hit.date else "") if x)
        click.echo()
        click.echo(f"{n:3d}. {plain(hit.title_html)}  " + click.style(meta, dim=True))
        if hit.partial:
            lacks = f", lacks {' '.join(hit.missing)}" if hit.missing else ""
            click.echo(click.style(f"     [部分匹配] partial match{lacks}", fg="yellow"))
        if hit.snippet:
            click.echo(f"     {plain(hit.snippet)}")
        click.echo(click.style(f"     {hit.id}", dim=True))
        if hit.explanation:
            click.echo(click.style(f"     score {hit.score:.3f} = {_explained(hit)}", fg="cyan"))
        if hit.copies:
            click.echo(f"     + {len(hit.copies)} other {'copy' if len(hit.copies) == 1 else 'copies'}:")
        for copy in hit.copies:
            when = f"{copy.date:%Y-%m-%d}" if copy.date else "undated"
            click.echo(click.style(f"       {copy.source} · {when}  {copy.id}", dim=True))


def _explained(hit) -> str:
    total = sum(s.value for s in hit.explanation if not s.factor)
    added = " + ".join(f"{s.feature} {s.value:.3f} ({s.value / total:.0%})" for s in hit.explanation
                       if not s.factor and total)
    factors = "".join(f" × {s.feature} {s.value:.3f}" for s in hit.explanation if s.factor)
    return f"({added}){factors}" if factors else added


@cli.command()
@index_option
@backend_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=min(os.cpu_count() or 1, 8), show_default=True,
              help="Worker processes (searching is CPU-bound: one per core; each holds its own searcher).")
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Threads per worker (they wait on the network, not on each other's searches).")
@click.option("--per-page", type=click.IntRange(1, MAX_SERVED_PER_PAGE), default=None, envvar="NEWS_SEARCH_PER_PAGE",
              help="Results per page [default: 10].")
@click.option("--title", default=None, envvar="NEWS_SEARCH_TITLE", help="Site title [default: 新闻搜索].")
@click.option("--max-query", type=click.IntRange(1, 1000), default=None, envvar="NEWS_SEARCH_MAX_QUERY",
              help="Longest query accepted, in characters [default: 200].")
@click.option("--allow-origin", "allow_origins", multiple=True, metavar="URL",
              help="A site whose pages may call the JSON API (the widget), e.g. https://blog.example.com; "
                   "repeatable. '*' allows every site. [default: none; env NEWS_SEARCH_ALLOW_ORIGINS, "
                   "separated by spaces or commas]")
@blog_option
@click.option("--blog-url", default=None, envvar="NEWS_SEARCH_BLOG_URL", metavar="URL",
              help="The blog's address (Hexo's url setting): results then link to the posts there "
                   "[default: from --blog].")
@click.option("--permalink", default=None, envvar="NEWS_SEARCH_PERMALINK", metavar="PATTERN",
              help="Hexo's permalink setting [default: from --blog, else :year/:month/:day/:title/].")
@click.option("--blog-timezone", default=None, envvar="NEWS_SEARCH_BLOG_TIMEZONE", metavar="ZONE",
              help="Hexo's timezone setting, the zone dates written without one are read in, e.g. Asia/Shanghai "
                   "[default: from --blog, else none].")
@click.option("--build-timezone", default=None, envvar="NEWS_SEARCH_BUILD_TIMEZONE", metavar="ZONE",
              help="The zone of the machine that runs 'hexo generate', which Hexo writes the dates in URLs in: "
                   "UTC for a blog built by CI such as GitHub Actions [default: --blog-timezone, else UTC].")
@today_option
@click.option("--watch", "watch_corpus", is_flag=True,
              help="Also keep the index up to date with the corpus, as `news-search watch` does, in a process "
                   "of the server's own.")
@click.option("--corpus", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="With --watch: the corpus to watch [default: the corpus of the last build].")
@click.option("--poll", "poll_interval", type=click.FloatRange(0.1, 3600), default=None, metavar="SECONDS",
              help="With --watch: poll the corpus this often instead of waiting for events.")
@synonyms_option
def serve(index_dir, backend_url, host, port, workers, threads, per_page, title, max_query, allow_origins, blog_dir,
          blog_url, permalink, blog_timezone, build_timezone, today, watch_corpus, corpus, poll_interval, synonyms):
    """Serve the search site and JSON API with a production WSGI server (waitress).

    Without an index, the bundled demo corpus (or, with --watch, --corpus) is
    indexed first. With --watch one service both answers and indexes new
    posts; the web workers follow each new generation of the index. With
    --blog (or --blog-url), results link to the posts on the blog.

    \b
    Examples:
        news-search serve --index index/ --port 8000
        news-search serve --watch --corpus ~/blog/source/_posts
        news-search serve --blog ~/blog --allow-origin https://blog.example.com
        news-search serve --blog ~/blog --build-timezone UTC   # the blog is built by CI, in UTC
        news-search serve --allow-origin https://blog.example.com \\
            --blog-url https://blog.example.com --permalink ':year/:month/:day/:title/'
    """
    from web import create_app
    from web.index import open_early
    from web.serving import serve as serve_app

    settings = {"INDEX_DIR": str(index_dir), "BACKEND": backend_url, "PER_PAGE": per_page, "SITE_TITLE": title,
                "MAX_QUERY_CHARS": max_query, "CORS_ORIGINS": list(allow_origins) or None,
                "BLOG_DIR": str(blog_dir) if blog_dir else None, "BLOG_URL": blog_url, "PERMALINK": permalink,
                "BLOG_TIMEZONE": blog_timezone, "BUILD_TIMEZONE": build_timezone,
                "TODAY": today.date().isoformat() if today else None, "SYNONYMS": synonyms}
    config = {key: value for key, value in settings.items() if value is not None}
    try:
        create_app(config)  # bad settings fail here, once, not in every worker
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if watch_corpus and backend_url:
        raise click.UsageError("--watch keeps a local index fresh; for a cluster, run `news-search update` instead")
    backend = open_backend(backend_url, index_dir=index_dir)
    if not backend.exists():
        source = corpus if watch_corpus and corpus else demo_corpus()
        click.echo(f"No index in {index_dir}/: indexing {source} first.", err=True)
        build_index(source, index_dir)
    warm_up_segmenter(index_dir)  # loaded before the workers fork, so they share its memory
    companions = []
    if watch_corpus:
        companions.append(functools.partial(_watch_forever, index_dir, corpus,
                                            watch_settings(1.0, 0.5, 300.0, poll_interval, 30.0)))
    click.echo(f"Serving {backend} on http://{host}:{port}/ ({workers} worker processes"
               f"{', watching the corpus' if watch_corpus else ''})", err=True)
    serve_app(lambda: open_early(create_app(config)), host=host, port=port, threads=threads, workers=workers,
              companions=companions)


def _watch_forever(index_dir: Path, corpus: Path | None, settings) -> None:
    """The watcher of ``serve --watch``, in its own process: stops on SIGTERM (sent when the server stops)."""
    import signal

    from .local.watching import Watcher

    logging.basicConfig(format="%(asctime)s %(message)s", datefmt="%Y-%m-%d %H:%M:%S", level=logging.INFO)
    watcher = Watcher(index_dir, corpus, settings=settings, procs=1)
    signal.signal(signal.SIGTERM, lambda *_: watcher.stop())
    watcher.run()


# --- reporting --------------------------------------------------------------------------------

class _progress:
    """A progress bar on a terminal, a log line every 10% in a pipe, nothing with --quiet."""

    def __init__(self, label: str, quiet: bool):
        self.label, self.quiet = label, quiet
        self.bar = None
        self.shown = 0
        self.next_log = 0.1

    def __enter__(self):
        return None if self.quiet else self

    def __call__(self, done: int, total: int) -> None:
        if sys.stderr.isatty():
            if self.bar is None:
                self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
                self.bar.__enter__()
            self.bar.update(done - self.shown)
            self.shown = done
        elif total and done / total >= self.next_log:
            click.echo(f"{self.label.lower()}: {done}/{total} posts", err=True)
            self.next_log += 0.1

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _log(message: str, quiet: bool) -> None:
    if not quiet:
        click.echo(message, err=True)


def _unlinked(backend: Backend, blog: Blog | None) -> list[Problem]:
    """Return the indexed posts Hexo gives no page a link reaches, by the blog's settings or Hexo's defaults."""
    urls = blog.post_urls() if blog is not None else PostUrls(HEXO_DEFAULTS["url"])
    with backend.open(post_urls=urls) as ix:
        return ix.unlinked()


def _report(report: BuildReport, verb: str, as_json: bool, quiet: bool, unlinked: Sequence[Problem] = (), *,
            exit_on_skip: bool = True) -> None:
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "unlinked": [{"path": p.path, "reason": p.reason}
                                                                 for p in unlinked]}, ensure_ascii=False))
    else:
        if verb == "update":
            click.echo(f"added {report.added}, changed {report.changed}, deleted {report.deleted}, "
                       f"unchanged {report.unchanged}", err=True)
        click.echo(f"{verb}: indexed {report.indexed} posts in {report.seconds:.1f} s "
                   f"({report.docs_per_second:.0f} docs/s); index holds {report.total_docs}; "
                   f"skipped {len(report.skipped)}, warnings {len(report.warnings)}, "
                   f"no page on the blog {len(unlinked)}", err=True)
        if report.merge and report.merge.merges:
            click.echo(f"merged {report.merge.docs_merged} posts: {report.merge.segments_before} segments "
                       f"-> {report.merge.segments_after}", err=True)
        for p in report.skipped:
            click.echo(f"  skipped  {p.path}: {p.reason}", err=True)
        for p in report.warnings:
            click.echo(f"  warning  {p.path}: {p.reason}", err=True)
        for p in unlinked:
            click.echo(f"  no page  {p.path}: {p.reason}", err=True)
    if report.skipped and exit_on_skip:
        sys.exit(EXIT_SKIPPED)


cli.add_command(cluster)


def main() -> None:
    cli(prog_name="news-search")
