"""Near-duplicate detection on news-big against its manifest: precision, recall and cost.

    python -m bench.stories [--corpus /tmp/corpus-big] [--procs 2] [--json]

news-big's ``MANIFEST.tsv`` marks groups of posts with the same title and date
whose bodies were edited (``same_title_date_n`` > 1, ``same_title_date_first``
names the group). This reads every post, fingerprints it and groups the
fingerprints exactly as a build does (:mod:`search.corpus.duplicates`), then reports:

* pairwise precision and recall: post pairs put in one story against pairs in
  one manifest group;
* cluster-level numbers: manifest groups found exactly, stories that are
  exactly a manifest group;
* the predicted stories that join different titles (the manifest cannot see
  those), with a sample to inspect, and the biggest stories;
* the time: fingerprinting (CPU seconds, over all worker processes) and grouping.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import random
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import click
import numpy as np

from search.corpus.posts import find_posts, read_post
from search.corpus.duplicates import FingerprintTable, find_stories, fingerprint

DEFAULT_CORPUS = Path("/tmp/corpus-big")


def _fingerprint(job: tuple[Path, Path]):
    root, path = job
    doc = read_post(root, path).document
    if doc is None:
        return None
    started = time.process_time()
    fp = fingerprint(doc)
    return fp, doc.title, time.process_time() - started


def manifest_groups(corpus: Path) -> dict[str, str]:
    """Return post id -> manifest group for every post in a same-title-and-date group."""
    with open(corpus / "MANIFEST.tsv", encoding="utf-8") as fh:
        return {row["file"]: row["same_title_date_first"] for row in csv.DictReader(fh, delimiter="\t")
                if int(row["same_title_date_n"]) > 1}


def pairs_of(groups: dict[str, str]) -> set[tuple[str, str]]:
    members = defaultdict(list)
    for doc_id, group in groups.items():
        members[group].append(doc_id)
    return {pair for ids in members.values() for pair in combinations(sorted(ids), 2)}


def measure(corpus: Path, procs: int) -> dict:
    paths, _ = find_posts(corpus)
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        results = [r for r in pool.imap(_fingerprint, [(corpus, p) for p in paths], chunksize=200) if r]
    fingerprint_cpu = sum(r[2] for r in results)
    titles = {fp.id: title for fp, title, _ in results}
    table = FingerprintTable.from_fingerprints(fp for fp, _, _ in results)
    started = time.perf_counter()
    canonical = find_stories(table)
    grouping = time.perf_counter() - started

    sizes = np.bincount(canonical, minlength=len(table))
    predicted = {table.ids[i]: table.ids[c] for i, c in enumerate(canonical.tolist()) if sizes[c] > 1}
    truth = manifest_groups(corpus)
    truth_pairs, predicted_pairs = pairs_of(truth), pairs_of(predicted)
    both = truth_pairs & predicted_pairs
    stories, groups = defaultdict(set), defaultdict(set)
    for doc_id, story in predicted.items():
        stories[story].add(doc_id)
    for doc_id, group in truth.items():
        groups[group].add(doc_id)
    exact = {frozenset(s) for s in stories.values()} & {frozenset(g) for g in groups.values()}
    crossing = [sorted(s) for s in stories.values() if len({titles[d] for d in s}) > 1]
    outside = predicted_pairs - truth_pairs
    return {
        "posts": len(table), "manifest_groups": len(groups), "manifest_posts": len(truth),
        "stories": len(stories), "posts_in_stories": len(predicted),
        "pairs": {"manifest": len(truth_pairs), "predicted": len(predicted_pairs), "both": len(both),
                  "precision": round(len(both) / max(1, len(predicted_pairs)), 4),
                  "recall": round(len(both) / max(1, len(truth_pairs)), 4),
                  "predicted_outside_manifest": len(outside),
                  "outside_with_different_titles": sum(titles[a] != titles[b] for a, b in outside)},
        "clusters": {"manifest_groups_found_exactly": len(exact),
                     "recall": round(len(exact) / max(1, len(groups)), 4),
                     "stories_exactly_a_group": round(len(exact) / max(1, len(stories)), 4)},
        "crossing_titles": len(crossing),
        "crossing_sample": [[(d, titles[d]) for d in s]
                            for s in random.Random(8).sample(crossing, min(8, len(crossing)))],
        "largest": [[(d, titles[d]) for d in sorted(s)[:4]] + [len(s)]
                    for s in sorted(stories.values(), key=len, reverse=True)[:3]],
        "seconds": {"fingerprint_cpu": round(fingerprint_cpu, 1), "fingerprint_cpu_ms_per_post":
                    round(1000 * fingerprint_cpu / max(1, len(table)), 3), "grouping": round(grouping, 2)},
    }


@click.command()
@click.option("--corpus", type=click.Path(exists=True, file_okay=False, path_type=Path), default=DEFAULT_CORPUS,
              show_default=True, help="Unpacked news-big (with MANIFEST.tsv).")
@click.option("--procs", type=click.IntRange(1, 64), default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def main(corpus: Path, procs: int, as_json: bool) -> None:
    """Measure story detection on news-big against its manifest's near-duplicate groups."""
    out = measure(corpus, procs)
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    p, c = out["pairs"], out["clusters"]
    click.echo(f"{out['posts']} posts; manifest: {out['manifest_groups']} groups, {out['manifest_posts']} posts; "
               f"found: {out['stories']} stories, {out['posts_in_stories']} posts")
    click.echo(f"pairs: precision {p['precision']}, recall {p['recall']} ({p['both']} of {p['manifest']} "
               f"manifest pairs; {p['predicted_outside_manifest']} predicted pairs outside the manifest, "
               f"{p['outside_with_different_titles']} of them with different titles)")
    click.echo(f"clusters: {c['manifest_groups_found_exactly']} manifest groups found exactly (recall "
               f"{c['recall']}); {c['stories_exactly_a_group']} of stories are exactly a group")
    click.echo(f"stories joining different titles: {out['crossing_titles']}; sample:")
    for story in out["crossing_sample"]:
        click.echo("  " + " | ".join(f"{d} {t}" for d, t in story))
    click.echo(f"time: {out['seconds']}")


if __name__ == "__main__":
    main()
