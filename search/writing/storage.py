"""The index directory on disk: immutable generations, an atomic ``CURRENT`` pointer, one writer lock.

Layout of an index directory::

    index/
      CURRENT          name of the live generation, replaced atomically (rename)
      gen-000007/      the live Whoosh index + meta.json + manifest.json
      gen-000006/      the previous one, kept so readers that opened it finish
      .lock            flock()ed by the one running build/update

A build or update never touches the live generation: it writes a new one
(an update starts from hard links of the live files, which Whoosh never
modifies in place) and then swaps ``CURRENT``. A killed writer leaves at most
an unreferenced ``gen-*`` directory, removed by the next writer; its flock dies
with it, so there is no stale lock to clean by hand.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing.util
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import IndexBusyError, IndexNotFoundError, IndexWriteError
from .processes import die_with_parent

#: Default location of the local index, relative to the working directory.
DEFAULT_INDEX_DIR = Path("index")
CURRENT = "CURRENT"
LOCK = ".lock"
META = "meta.json"
MANIFEST = "manifest.json"
GEN_PREFIX = "gen-"
#: Generations kept besides the live one, for readers still using them.
KEEP_PREVIOUS = 1
#: A generation being deleted is renamed to this prefix and its name first.
TRASH_PREFIX = ".deleted-"


def current_generation(index_dir: Path) -> Path:
    """Return the live generation directory of ``index_dir``.

    :raises IndexNotFoundError: if ``index_dir`` holds no built index.
    """
    index_dir = Path(index_dir)
    try:
        name = (index_dir / CURRENT).read_text(encoding="ascii").strip()
    except (FileNotFoundError, NotADirectoryError):
        raise IndexNotFoundError(
            f"no index in {index_dir}/; build one with: news-search build --corpus DIR --index {index_dir}"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexNotFoundError(f"cannot read {index_dir / CURRENT}: {exc}") from None
    generation = index_dir / name
    if not name.startswith(GEN_PREFIX) or "/" in name or not generation.is_dir():
        raise IndexNotFoundError(
            f"index in {index_dir}/ is damaged: CURRENT names {name!r}, which is missing; "
            f"rebuild with: news-search build --corpus DIR --index {index_dir}"
        )
    return generation


def generation_key(index_dir: Path) -> str | None:
    """Return a cheap fingerprint of the live generation (changes when a writer swaps it)."""
    try:
        return (Path(index_dir) / CURRENT).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def generation_fingerprint(index_dir: Path) -> str | None:
    """Return the live generation's name, inode and ctime: changes when a writer swaps it, and also
    when the index directory is deleted and built again (generation names then start over)."""
    name = generation_key(index_dir)
    try:
        st = (Path(index_dir) / name).stat() if name else None
    except OSError:
        return None
    return f"{name}:{st.st_ino}:{st.st_ctime_ns}" if st else None


def new_generation(index_dir: Path) -> Path:
    """Create and return an empty directory for the next generation."""
    index_dir = Path(index_dir)
    numbers = [int(p.name[len(GEN_PREFIX):]) for p in _generations(index_dir)]
    generation = index_dir / f"{GEN_PREFIX}{max(numbers, default=0) + 1:06d}"
    generation.mkdir()
    return generation


def clone_generation(source: Path, target: Path) -> None:
    """Fill ``target`` with hard links to ``source``'s files (copies where links are impossible).

    Whoosh writes new segment and TOC files on commit and never rewrites old
    ones, so the live generation is untouched by an update working on links.
    Our JSON sidecars are replaced by rename, never written in place.
    """
    for item in source.iterdir():
        if item.is_file():
            try:
                os.link(item, target / item.name)
            except OSError:
                shutil.copy2(item, target / item.name)


def publish(index_dir: Path, generation: Path) -> None:
    """Atomically make ``generation`` the live index, then drop generations nobody needs."""
    index_dir = Path(index_dir)
    tmp = index_dir / f"{CURRENT}.tmp"
    tmp.write_text(generation.name + "\n", encoding="ascii")
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)
    _fsync_dir(index_dir)
    remove_stale_generations(index_dir)


def remove_stale_generations(index_dir: Path) -> None:
    """Delete generations older than the live one and its :data:`KEEP_PREVIOUS` predecessors,
    and any unpublished generation left by a killed writer (call with the lock held)."""
    live = generation_key(index_dir)
    gens = sorted(_generations(index_dir), key=lambda p: p.name)
    if live is None:
        keep: set[str] = set()
    else:
        older = [p.name for p in gens if p.name < live]
        keep = {live, *older[len(older) - KEEP_PREVIOUS:]} if KEEP_PREVIOUS else {live}
    for trash in Path(index_dir).glob(f"{TRASH_PREFIX}*"):  # left by a writer killed while deleting
        shutil.rmtree(trash, ignore_errors=True)
    for gen in gens:
        if gen.name not in keep:
            _delete_generation(gen)
    (Path(index_dir) / f"{CURRENT}.tmp").unlink(missing_ok=True)


def _delete_generation(generation: Path) -> None:
    """Delete a generation, renamed away first so that it vanishes at once, not file by file: a reader
    that finds it still there after reading what it needs read all of it (see ``Index.refresh``)."""
    trash = generation.with_name(TRASH_PREFIX + generation.name)
    try:
        os.rename(generation, trash)
    except OSError:
        trash = generation
    shutil.rmtree(trash, ignore_errors=True)


def _generations(index_dir: Path) -> Iterator[Path]:
    for p in Path(index_dir).glob(f"{GEN_PREFIX}*"):
        if p.is_dir() and p.name[len(GEN_PREFIX):].isdigit():
            yield p


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def writer_lock(index_dir: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the index's single-writer lock for the duration of the block.

    The lock is an ``flock`` on ``.lock``: the kernel releases it when the
    holder exits, even after ``kill -9``, so a crashed writer never blocks the
    next one.

    :raises IndexBusyError: if another process holds it and ``wait`` is False.
    :raises IndexWriteError: if the block (or taking the lock) fails to write: disk full, read-only, ….
    """
    index_dir = Path(index_dir)
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(index_dir / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise IndexWriteError(_write_failure(index_dir, exc)) from exc
    handle = _LockHandle(fd)
    # Worker processes forked while the lock is held must not keep it alive
    # after this process dies, and must not outlive it.
    multiprocessing.util.register_after_fork(handle, _detach_child)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "another process"
            raise IndexBusyError(
                f"index {index_dir}/ is being written by pid {holder}; "
                "wait for it to finish or pass --wait"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    except OSError as exc:
        raise IndexWriteError(_write_failure(index_dir, exc)) from exc
    finally:
        os.close(fd)


def _write_failure(index_dir: Path, exc: OSError) -> str:
    where = f" ({exc.filename})" if exc.filename else ""
    return (f"cannot write the index in {index_dir}/: {exc.strerror or exc}{where}; "
            "the live index is unchanged")


class _LockHandle:
    def __init__(self, fd: int):
        self.fd = fd


def _detach_child(handle: _LockHandle) -> None:
    """In a forked worker: drop our copy of the lock and die when the writer dies."""
    try:
        os.close(handle.fd)
    except OSError:
        pass
    die_with_parent()


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` atomically (temp file + rename)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> dict:
    """Return the JSON object in ``path`` ({} if it does not exist)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
