"""Merge policies replayed in seconds: ``bench.living``'s updates through a model of segment sizes.

``bench.living`` takes most of an hour and measures one policy. To compare
policies first, this replays the same updates (the same posts arriving, the
same posts changed and deleted) on segment sizes only, through each
:class:`~search.local.merging.MergePolicy`, and estimates every segment's
bytes from the posts it holds with a model fitted to indexes built from the
corpus:

    bytes = a·T + b·T^β + c      (T: bytes of the posts' files, deleted ones included)

The ``T^β`` term is the vocabulary, which grows more slowly than the text
(Heaps' law): that is why many small segments cost more than a few large
ones. A fresh build of the same posts is estimated the same way, so every
update, not only every hundredth, gets a size ratio; beside it the segments
and the posts the update rewrites (its new posts and those its merges copy,
which is what an update's time follows). On news-big the model puts the
living run's checkpoints within 0.02 of their measured size ratios.

    python -m bench.mergesim                                  # the default policy and the alternatives
    python -m bench.mergesim --policy small_share=1 --policy factor=3,floor=300
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import click
import numpy as np

from search import build_index
from search.local.indexer import BATCH_POSTS, DEFAULT_MERGE_POLICY, fresh_segment_count
from search.local.merging import MergePolicy, SegmentSize
from search.writing.storage import current_generation

from . import corpus
from .living import CHANGED, DELETED, EDIT_EVERY
from .measure import dir_bytes, median, percentile

#: Indexes built to fit the model: (posts, first post counted from the first arrival). Arrivals, since
#: the small segments hold them; two slices, since the corpus's sources differ in length.
CALIBRATION = ((10, 0), (30, 0), (100, 0), (300, 0), (1000, 0), (3000, 0), (300, 5000), (1000, 5000), (10000, 0))
#: Policies compared besides the default (fields of MergePolicy that differ from it).
ALTERNATIVES = ({"small_share": 1.0}, {"small_share": 0.05}, {"small_share": 0.2}, {"floor": 100},
                {"factor": 3, "floor": 300}, {"factor": 3, "floor": 300, "small_share": 1.0}, {"factor": 4})


@dataclass(frozen=True)
class SizeModel:
    """A segment's bytes from the bytes of the posts it holds: ``a·T + b·T**beta + c``."""

    a: float
    b: float
    beta: float
    c: float

    def bytes(self, text: float) -> float:
        return self.a * text + self.b * text ** self.beta + self.c

    @classmethod
    def fit(cls, points: list[tuple[float, float]]) -> SizeModel:
        """Fit to (post bytes, index bytes) points, least relative error, ``beta`` by a grid search.

        >>> model = SizeModel.fit([(t, 2 * t + 50 * t ** 0.6 + 1000) for t in (1e4, 1e5, 1e6, 1e7, 1e8)])
        >>> round(model.beta, 2), round(model.a, 2)
        (0.6, 2.0)
        """
        text, size = np.array(points, float).T
        best = None
        for beta in np.arange(0.30, 0.951, 0.01):
            design = np.stack([text, text ** beta, np.ones_like(text)], axis=1) / size[:, None]
            coef, *_ = np.linalg.lstsq(design, np.ones_like(text), rcond=None)
            error = float(np.abs(design @ coef - 1).max())
            if best is None or error < best[0]:
                best = (error, cls(float(coef[0]), float(coef[1]), float(beta), float(coef[2])))
        return best[1]


def calibrate(source: Path, arrivals: list[Path], work: Path) -> list[dict]:
    """Build one single-segment index per entry of :data:`CALIBRATION`; return posts, post bytes, index bytes."""
    points = []
    for n, start in CALIBRATION:
        posts = arrivals[start:start + n]
        if len(posts) < n:
            continue  # fewer arrivals than this slice needs: fit to the others
        folder = work / f"calibrate-{n}-{start}"
        corpus.link_tree(source, posts, folder / "corpus")
        build_index(folder / "corpus", folder / "index", procs=1)
        points.append({"posts": len(posts), "first": start, "text_bytes": sum(p.stat().st_size for p in posts),
                       "bytes": dir_bytes(current_generation(folder / "index"))})
        shutil.rmtree(folder)
        click.echo(f"calibrated: {points[-1]}", err=True)
    return points


class _Segment:
    """Which posts a segment holds (by arrival number) and which of them are deleted."""

    def __init__(self, posts: list[int], text: list[int]):
        self.posts, self.deleted = posts, set()
        self.text = sum(text[i] for i in posts)

    def live(self) -> list[int]:
        return [i for i in self.posts if i not in self.deleted]

    def size(self) -> SegmentSize:
        return SegmentSize(len(self.posts), len(self.deleted))


def _built(posts: list[int], text: list[int], procs: int = 2) -> list[list[int]]:
    """The posts of each segment a build of ``posts`` makes: batches dealt in turn to as many segments
    as it writes."""
    count = fresh_segment_count(len(posts), procs)
    batches = [posts[i:i + BATCH_POSTS] for i in range(0, len(posts), BATCH_POSTS)]
    return [[p for batch in batches[k::count] for p in batch] for k in range(count)]


def _built_bytes(posts: list[int], text: np.ndarray, model: SizeModel, procs: int = 2) -> float:
    """The bytes of a build of ``posts`` (:func:`_built`, summed by batch: it runs after every update)."""
    count = fresh_segment_count(len(posts), procs)
    batches = np.add.reduceat(text[posts], np.arange(0, len(posts), BATCH_POSTS))
    return sum(model.bytes(float(batches[k::count].sum())) for k in range(count))


def replay(policy: MergePolicy, text: list[int], model: SizeModel, *, base: int, updates: int,
           per_update: int) -> list[dict]:
    """Replay ``bench.living``'s updates through ``policy``; return, after each, the segments, the size
    ratio to a fresh build of the same posts and the posts the update wrote.

    ``text[i]`` is the file size of the ``i``-th post to arrive; the random changes and deletions are
    drawn as ``bench.living`` draws them.
    """
    rng = random.Random(5)
    present = list(range(base))
    segments = [_Segment(posts, text) for posts in _built(present, text)]
    text_array = np.array(text, dtype=np.float64)
    holder = {i: s for s in segments for i in s.posts}
    rows = []
    for n in range(1, updates + 1):
        new = list(range(base + (n - 1) * per_update, base + n * per_update))
        present += new
        changed, gone = [], set()
        if n % EDIT_EVERY == 0:
            picked = rng.sample(present, CHANGED + DELETED)
            changed, gone = picked[:CHANGED], set(picked[CHANGED:])
            present = [i for i in present if i not in gone]
        for i in [*changed, *gone]:
            if i in holder:
                holder.pop(i).deleted.add(i)
        written = _Segment(sorted({*new, *changed} - gone), text)
        segments.append(written)
        holder.update((i, written) for i in written.posts)
        groups = policy.select([s.size() for s in segments])
        merged = [_Segment([i for g in group for i in segments[g].live()], text) for group in groups]
        gone_segments = {g for group in groups for g in group}
        segments = [s for g, s in enumerate(segments) if g not in gone_segments] + [m for m in merged if m.posts]
        holder.update((i, m) for m in merged for i in m.posts)
        living = sum(model.bytes(s.text) for s in segments)
        fresh = _built_bytes(present, text_array, model)
        rows.append({"update": n, "segments": len(segments), "ratio": living / fresh,
                     "rewritten": len(written.posts) + sum(len(m.posts) for m in merged)})
    return rows


def summarise(rows: list[dict]) -> dict:
    worst = max(rows, key=lambda r: r["ratio"])
    rewritten = [r["rewritten"] for r in rows]
    return {"worst_ratio": round(worst["ratio"], 3), "worst_at": worst["update"],
            "max_segments": max(r["segments"] for r in rows),
            "rewritten": {"median": median(rewritten), "p95": percentile(rewritten, 95), "max": max(rewritten),
                          "total": sum(rewritten), "over_2000": sum(r > 2000 for r in rewritten)},
            "every_100": [round(r["ratio"], 3) for r in rows if r["update"] % 100 == 0 or r is rows[-1]]}


def parse_policy(spec: str) -> MergePolicy:
    """``factor=2,small_share=1`` → the default policy with those fields changed.

    >>> parse_policy("factor=2,small_share=1").factor
    2
    """
    kinds = {f.name: f.type for f in fields(MergePolicy)}
    changes = {}
    for item in filter(None, spec.split(",")):
        name, _, value = item.partition("=")
        if name not in kinds:
            raise click.BadParameter(f"{name!r} is not a MergePolicy field ({', '.join(kinds)})")
        try:
            changes[name] = float(value) if kinds[name] in ("float", float) else int(value)
        except ValueError:
            raise click.BadParameter(f"{item!r}: {value!r} is not a number for {name}") from None
    return MergePolicy(**{**asdict(DEFAULT_MERGE_POLICY), **changes})


@click.command()
@click.option("--corpus", "corpus_spec", type=click.Path(exists=True, path_type=Path),
              default=corpus.DEFAULT_TARBALL, show_default=True, help="Posts: a directory, or a tarball to unpack.")
@click.option("--base", type=click.IntRange(1, None), default=10000, show_default=True)
@click.option("--updates", type=click.IntRange(1, None), default=1000, show_default=True)
@click.option("--posts", "per_update", type=click.IntRange(1, None), default=10, show_default=True)
@click.option("--policy", "specs", multiple=True, metavar="FIELD=VALUE,...",
              help="A policy to replay (repeatable); default: the default policy and some alternatives.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bench/results"),
              show_default=True, help="Where the calibration is kept (mergesim-calibration.json) and the table goes.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def main(corpus_spec: Path, base: int, updates: int, per_update: int, specs: tuple[str, ...], out: Path,
         as_json: bool) -> None:
    """Replay bench.living's updates through merge policies on a model of segment sizes.

    The model is fitted once to indexes built from the corpus (a few minutes; kept in
    --out/mergesim-calibration.json, delete it to calibrate again).

    \b
    Examples:
        python -m bench.mergesim
        python -m bench.mergesim --base 2000 --posts 20 --policy small_share=0.05
    """
    source = corpus.locate_corpus(corpus_spec)
    arriving = base + updates * per_update
    chosen = corpus.every_kth(corpus.post_paths(source), arriving)
    if len(chosen) < arriving:
        raise click.ClickException(f"{source} holds {len(chosen):,} posts; the replay needs {arriving:,}")
    out.mkdir(parents=True, exist_ok=True)
    cache = out / "mergesim-calibration.json"
    if cache.exists():
        points = json.loads(cache.read_text(encoding="utf-8"))
    else:
        with tempfile.TemporaryDirectory(prefix="news-search-mergesim-") as work:
            points = calibrate(source, chosen[base:], Path(work))
        cache.write_text(json.dumps(points, indent=1), encoding="utf-8")
    model = SizeModel.fit([(p["text_bytes"], p["bytes"]) for p in points])
    text = [p.stat().st_size for p in chosen]
    policies = [parse_policy(s) for s in specs] or [DEFAULT_MERGE_POLICY, *(parse_policy(
        ",".join(f"{k}={v}" for k, v in alt.items())) for alt in ALTERNATIVES)]
    results = [{"policy": asdict(p), **summarise(replay(p, text, model, base=base, updates=updates,
                                                        per_update=per_update))} for p in policies]
    document = {"base": base, "updates": updates, "posts_per_update": per_update, "model": asdict(model),
                "results": results}
    table = render_table(document)
    (out / "mergesim.md").write_text(table, encoding="utf-8")
    click.echo(json.dumps(document, indent=1) if as_json else table)


def render_table(document: dict) -> str:
    model = document["model"]
    default = asdict(DEFAULT_MERGE_POLICY)
    lines = [f"# Merge policies replayed: {document['base']:,} posts, then {document['updates']:,} updates of "
             f"{document['posts_per_update']} (every {EDIT_EVERY}th also changes {CHANGED} and deletes {DELETED})",
             "",
             f"Segment bytes = {model['a']:.3g}·T + {model['b']:.3g}·T^{model['beta']:.2f} + {model['c']:.3g} "
             "(T: bytes of its posts' files); size ratio to a fresh build of the same posts after every update.",
             "",
             "| policy | worst size ratio (update) | every 100th update | most segments "
             "| posts written per update: median / p95 / max | updates writing > 2,000 | total |",
             "|---|---|---|---|---|---|---|"]
    for r in document["results"]:
        changed = {k: v for k, v in r["policy"].items() if v != default[k]}
        name = ", ".join(f"{k}={v}" for k, v in changed.items()) or "default"
        w = r["rewritten"]
        lines.append(f"| {name} | {r['worst_ratio']:.3f} ({r['worst_at']}) | {min(r['every_100']):.3f}–"
                     f"{max(r['every_100']):.3f} | {r['max_segments']} | {w['median']:.0f} / {w['p95']:.0f} / "
                     f"{w['max']:,} | {w['over_2000']} | {w['total']:,} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(prog_name="python -m bench.mergesim")
