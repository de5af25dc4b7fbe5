"""The documents measured: the corpus unpacked once, deterministic subsets of it, and their body text.

Subsets are every k-th post in name order, so a size always means the same
posts on every run and every machine, spread over all sources and years. They
are directories of hard links, because the CLI indexes a directory.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from search import normalise, read_post
from search.corpus.posts import find_posts

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TARBALL = REPO.parent / "shared" / "corpus" / "news-big.tar.xz"
CACHE_DIR = Path(tempfile.gettempdir()) / "news-search-bench"
#: Marks a directory as completely written (an interrupted unpack or link is redone).
COMPLETE = ".complete"


@dataclass(frozen=True)
class Text:
    """What the benchmark needs of one post's text."""

    body_bytes: int  # the visible body text in UTF-8, the measure of corpus size
    folded: str  # title and body, folded as the indexer folds them: what jieba segments


def locate_corpus(spec: Path, cache: Path = CACHE_DIR) -> Path:
    """Return a directory of posts: ``spec`` if it is one, else the tarball ``spec`` unpacked under ``cache``.

    The tarball is unpacked once; later runs reuse the directory.

    :raises FileNotFoundError: if ``spec`` does not exist.
    """
    if spec.is_dir():
        return spec
    if not spec.is_file():
        raise FileNotFoundError(f"no corpus directory or tarball at {spec}")
    dest = cache / f"corpus-{spec.name.split('.')[0]}"
    if (dest / COMPLETE).exists():
        return dest
    partial = cache / f".unpacking-{dest.name}"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(spec), "-C", str(partial)], check=True)
    entries = list(partial.iterdir())
    root = entries[0] if len(entries) == 1 and entries[0].is_dir() else partial
    shutil.rmtree(dest, ignore_errors=True)
    root.rename(dest)
    shutil.rmtree(partial, ignore_errors=True)
    (dest / COMPLETE).touch()
    return dest


def post_paths(corpus: Path) -> list[Path]:
    """Return every post under ``corpus``, sorted, as the indexer finds them."""
    return find_posts(corpus)[0]


def every_kth(items: list, n: int) -> list:
    """Return ``n`` items spread evenly over ``items`` (all of them if ``n`` is not smaller).

    >>> every_kth(list(range(10)), 4)
    [0, 2, 5, 7]
    """
    if n >= len(items):
        return list(items)
    return [items[i * len(items) // n] for i in range(n)]


def subset_dir(corpus: Path, posts: list[Path], n: int, cache: Path = CACHE_DIR) -> Path:
    """Return a directory holding ``n`` of ``posts`` (see :func:`every_kth`), made once under ``cache``.

    The whole corpus is its own largest subset.
    """
    if n >= len(posts):
        return corpus
    dest = cache / "subsets" / f"{corpus.name}-{n}"
    if not (dest / COMPLETE).exists():
        shutil.rmtree(dest, ignore_errors=True)
        link_tree(corpus, every_kth(posts, n), dest)
        (dest / COMPLETE).touch()
    return dest


def link_tree(corpus: Path, posts: list[Path], dest: Path) -> None:
    """Recreate ``posts`` under ``dest`` at their paths relative to ``corpus``, as hard links (copies if need be)."""
    for path in posts:
        target = dest / path.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:  # another file system, or no hard links there
            shutil.copy2(path, target)


def make_update_corpus(corpus: Path, dest: Path, *, changed: int, added: int) -> tuple[int, int]:
    """Copy ``corpus`` to ``dest`` and edit it as a day of news would: some posts changed, some new.

    Changed posts get a sentence appended; new posts are copies of existing
    ones under new names, with a sentence appended (synthetic, so this works
    even when the subset is the whole corpus). Edited files are rewritten, never
    written through a hard link into the original. Returns ``(changed, added)``.
    """
    posts = post_paths(corpus)
    shutil.rmtree(dest, ignore_errors=True)
    link_tree(corpus, posts, dest)
    edits = every_kth(posts, min(changed, len(posts)))
    for i, path in enumerate(edits):
        append_sentence(dest / path.relative_to(corpus), i)
    sources = every_kth(posts[1:] + posts[:1], min(added, len(posts)))
    for i, path in enumerate(sources):
        target = (dest / path.relative_to(corpus)).with_name(f"bench-new-{i:04d}.md")
        target.write_bytes(path.read_bytes() + _sentence(i))
    return len(edits), len(sources)


def append_sentence(post: Path, i: int) -> None:
    """Change ``post`` as an editor would: a sentence appended (the file is replaced, so a hard link to the
    original corpus is never written through)."""
    raw = post.read_bytes()
    post.unlink()
    post.write_bytes(raw + _sentence(i))


def _sentence(i: int) -> bytes:
    return f"\n<p>（更新）本台记者第{i + 1}次补充报道：有关部门表示将继续跟进此事。</p>\n".encode()


def read_texts(corpus: Path, posts: list[Path], *, procs: int = 2) -> list[Text]:
    """Return the :class:`Text` of each readable post, read on ``procs`` processes (parsing HTML is slow)."""
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        texts = pool.starmap(_read_text, [(corpus, p) for p in posts], chunksize=64)
    return [t for t in texts if t is not None]


def _read_text(corpus: Path, path: Path) -> Text | None:
    doc = read_post(corpus, path).document
    if doc is None:
        return None
    return Text(body_bytes=len(doc.text.encode("utf-8")), folded=normalise(f"{doc.title}\n{doc.text}"))
