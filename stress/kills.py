"""kill -9 of real ``build``, ``update`` and ``optimize`` processes at random points, many times.

Each round changes the corpus (a new marker post, the previous one deleted,
posts rewritten), starts the writer, kills it with SIGKILL after a random delay
(up to about one uninterrupted run), then checks that

* the index answers exactly as before, or with exactly the new corpus's posts if the writer got as far
  as publishing (or finished) before the kill landed: never a mix (an update publishes its posts before
  merging, and until a merge purges the old versions of changed posts their lengths still count in BM25's
  averages, so the scores of that moment may differ slightly from the merged index's; the posts may not),
* at most one unpublished generation is left behind, and nothing else,
* the next writer completes without any clean-up, leaving the live generation and one previous.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from search import Index, build_index, update_index

MARKER = "断电演练标记"
QUERIES = ("国际论坛", "数字经济", "人工智能 -火星", MARKER)
TEXT = "国际论坛在北京举行，各国代表讨论数字经济与人工智能的发展。" * 60


@dataclass
class KillResult:
    command: str
    rounds: int = 0
    killed: int = 0  # SIGKILLed mid-run
    killed_writing: int = 0  # ... of which while a new generation was being written
    finished_first: int = 0  # completed before the kill landed (checked against the new corpus)
    verified: int = 0  # rounds whose index answered as the old or the new corpus afterwards
    published_before_kill: int = 0  # killed after publishing, before exiting: the new corpus answers
    completed_after: int = 0  # next writer completed with no clean-up
    failures: list[str] = field(default_factory=list)
    kill_delays: list[float] = field(default_factory=list)
    run_seconds: float = 0.0  # one uninterrupted run, for the random delays

    def to_dict(self) -> dict:
        delays = sorted(self.kill_delays)
        return {"command": self.command, "rounds": self.rounds, "killed": self.killed,
                "killed_while_writing": self.killed_writing,
                "finished_before_kill": self.finished_first, "verified": self.verified,
                "published_before_kill": self.published_before_kill,
                "completed_after": self.completed_after, "failures": self.failures,
                "uninterrupted_run_s": round(self.run_seconds, 2),
                "kill_delay_s": {"min": round(delays[0], 2), "max": round(delays[-1], 2)} if delays else None}


def write_post(root: Path, rel: str, title: str, body: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\ntitle: '{title}'\ncategories:\n - 演练\nauthor: 压测\ndate: 2022-06-07\n---\n\n"
                    f"<p>{body}</p>\n", encoding="utf-8")


def make_corpus(root: Path, posts: int) -> None:
    for i in range(posts):
        write_post(root, f"slow/{i // 100}/{i}.md", f"演练文章{i}", f"{TEXT}{i}")


def mutate_corpus(root: Path, round_: int, rng: random.Random, rewrite: int) -> None:
    """Add this round's marker post, delete the previous one, rewrite ``rewrite`` posts."""
    for old in root.glob("marker/*.md"):
        old.unlink()
    write_post(root, f"marker/{round_}.md", f"{MARKER} 第{round_}轮", f"{MARKER}，第{round_}轮的文章。")
    for i in rng.sample(range(len(list(root.glob("slow/*/*.md")))), rewrite):
        write_post(root, f"slow/{i // 100}/{i}.md", f"演练文章{i}", f"{TEXT}{i} 第{round_}轮改写")


def snapshot(index_dir: Path) -> dict:
    """What the index answers: its post count and every match of each query with its score, in order of
    score then id (an update publishes its posts before merging, and a merge may reorder posts of equal
    score, never change a score)."""
    with Index.open(index_dir) as ix:
        return {"docs": ix.stats().docs,
                **{q: sorted((-round(h.score, 6), h.id) for h in ix.search(
                    q, per_page=0, partial=False, snippets=False, facets=False, fold=False).hits) for q in QUERIES}}


def _posts(answers: dict) -> dict:
    """What a snapshot says of the corpus alone: the post count and each query's matching posts."""
    return {q: v if q == "docs" else sorted(doc for _, doc in v) for q, v in answers.items()}


def generations(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.glob("gen-*"))


def leftovers(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir()
                  if p.name not in ("CURRENT", ".lock") and not p.name.startswith("gen-"))


def prepare_round(command: str, corpus: Path, index_dir: Path) -> None:
    """Give ``optimize`` work: the round's changes go in as a segment of their own, unmerged, so the index
    holds several segments and deleted posts (the other writers index the changes themselves)."""
    if command == "optimize":
        update_index(index_dir, corpus, policy=None)


def writer_command(command: str, corpus: Path, index_dir: Path) -> list[str]:
    extra = ["--corpus", str(corpus)] if command == "build" else []
    return [sys.executable, "-m", "search", command, "--index", str(index_dir), "-q", "--procs", "2", *extra]


def run_kills(command: str, workdir: Path, *, kills: int, posts: int, seed: int, log) -> KillResult:
    """Kill ``command`` (build, update or optimize) ``kills`` times at random points; return what was observed."""
    rng = random.Random(seed)
    result = KillResult(command)
    corpus, index_dir, tmp = workdir / f"{command}-corpus", workdir / f"{command}-index", workdir / f"{command}-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp)}  # writers' temporary files, checked for leftovers at the end
    make_corpus(corpus, posts)
    mutate_corpus(corpus, 0, rng, 0)
    build_index(corpus, index_dir)
    rewrite = posts // 3
    mutate_corpus(corpus, 1, rng, rewrite)
    prepare_round(command, corpus, index_dir)
    started = time.monotonic()
    subprocess.run(writer_command(command, corpus, index_dir), env=env, check=True, capture_output=True)
    result.run_seconds = time.monotonic() - started
    for round_ in range(2, kills + 2):
        result.rounds += 1
        expected = snapshot(index_dir)
        before = set(generations(index_dir))
        mutate_corpus(corpus, round_, rng, rewrite)
        prepare_round(command, corpus, index_dir)
        expected = snapshot(index_dir) if command == "optimize" else expected
        proc = subprocess.Popen(writer_command(command, corpus, index_dir), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        delay = rng.uniform(0.0, result.run_seconds * 1.05)
        time.sleep(delay)
        if proc.poll() is None:
            writing = bool(set(generations(index_dir)) - before)
            proc.send_signal(signal.SIGKILL)
            result.killed += 1
            result.killed_writing += writing
            result.kill_delays.append(delay)
        _, err = proc.communicate()
        problem = None
        after = snapshot(index_dir)
        if proc.returncode == 0:
            result.finished_first += 1
        elif proc.returncode != -signal.SIGKILL:
            problem = f"round {round_}: writer exited {proc.returncode}: {err.decode()[-300:]}"
        if len(generations(index_dir)) > 3 or leftovers(index_dir):
            problem = problem or f"round {round_}: leftovers {generations(index_dir)} {leftovers(index_dir)}"
        # The next writer must complete with no clean-up, and publish the new corpus.
        done = subprocess.run(writer_command(command, corpus, index_dir), env=env, capture_output=True)
        final = snapshot(index_dir)
        if done.returncode == 0 and [doc for _, doc in final[MARKER]] == [f"marker/{round_}.md"] and \
                len(generations(index_dir)) == 2 and not leftovers(index_dir):
            result.completed_after += 1
        else:
            problem = problem or (f"round {round_}: next {command} exited {done.returncode} "
                                  f"{generations(index_dir)} {done.stderr.decode()[-300:]}")
        # After the kill the index answered exactly as the old corpus, or with the new corpus's posts (a
        # writer killed after publishing, before exiting or before merging), never anything in between.
        if after != expected and _posts(after) != _posts(final):
            problem = problem or f"round {round_}: after a kill at {delay:.2f}s the index matched neither corpus"
        elif proc.returncode == 0 and _posts(after) != _posts(final):
            problem = problem or f"round {round_}: a finished writer did not publish the new corpus"
        else:
            result.verified += 1
            result.published_before_kill += proc.returncode == -signal.SIGKILL and after != expected
        if problem:
            result.failures.append(problem)
        log(f"  {command} round {round_ - 1}/{kills}: "
            f"{'killed at %.2fs' % delay if proc.returncode == -signal.SIGKILL else 'finished first'}"
            f"{'' if problem is None else ' FAILED: ' + problem}")
    left = sorted(p.name for p in tmp.iterdir() if p.name != "jieba.cache")  # jieba's dictionary cache is kept
    if left:
        result.failures.append(f"temporary files left in {tmp}: {left[:5]}")
    return result
