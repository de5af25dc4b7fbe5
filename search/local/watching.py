"""Keeping the index fresh while posts arrive: watch the corpus folder, index what changes in batches.

Feeds, sync tools and editors change a corpus in bursts: a fetcher drops a
few posts every hour, a sync tool writes a file in pieces under a temporary
name and renames it, an editor saves through a swap file. :class:`Watcher`
turns that into few, complete updates:

* events come from the operating system through watchfiles (inotify on
  Linux), or from polling where a file system sends none (network mounts,
  detected from ``/proc/mounts``, or ``polling=True``); hidden files and
  folders (editors' and sync tools' work files) and anything that is neither a
  post nor a folder are ignored;
* a batch starts when the folder has been quiet for ``debounce`` seconds, and
  each batch is an ordinary :func:`~search.local.indexer.update_index` (a full scan
  of the corpus, so moved folders and renames need no special case); a post
  modified less than ``settle`` seconds ago is left for the next batch, so a
  file being written in pieces is read once, complete;
* every ``rescan`` seconds a batch runs even without events: the safety net
  for events the operating system dropped (an overflowing inotify queue);
* batches are fast updates (new posts searchable at once, stories carried
  forward); once the folder has been quiet for ``regroup_idle`` seconds, or
  ``regroup_every`` seconds after the first fast batch, an ordinary update
  works the stories out again;
* the vocabulary (pinyin, suggestions), once due, is worked out by a child
  process from a copy of the live generation and published between batches:
  at tens of thousands of posts it takes seconds that new posts never wait;
* another writer holding the index is waited for; a failed write (disk full)
  is logged and retried after ``retry`` seconds, the live index untouched;
  a corpus folder that disappears is reported once and waited for;
* :meth:`Watcher.stop` (the CLI's SIGTERM and Ctrl-C) ends the watch between
  batches, or abandons the batch under way, which publishes nothing.

Each batch logs one line (added / changed / deleted, seconds, segments) on
the ``news_search.watch`` logger; nothing is logged while nothing changes.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..writing import storage
from ..corpus.posts import is_hidden, is_post_name
from ..errors import IndexBusyError, IndexWriteError, SearchError
from .indexer import VOCABULARY_STAGE, install_vocabulary, read_meta, stage_vocabulary, update_index, vocabulary_due
from ..writing.builds import BuildReport, post_cost
from ..writing.processes import die_with_parent

log = logging.getLogger("news_search.watch")
logging.getLogger("watchfiles").setLevel(logging.WARNING)  # it logs every set of changes at INFO

#: File systems that deliver no change events to a watcher on this machine.
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph",
                                 "glusterfs", "fuse.rclone", "fuse.s3fs", "davfs", "fuse.davfs2"})


@dataclass(frozen=True)
class WatchSettings:
    """How a :class:`Watcher` batches changes (seconds)."""

    debounce: float = 1.0  # most time changes are gathered for before a batch starts
    settle: float = 0.5  # a post modified more recently waits for the next batch
    # Most a batch indexes, in bytes of posts (each counted a little longer, see ``post_cost``): a burst is
    # published in parts of about 500 posts of news-big's average length, ~4 s on two cores, shortest first.
    part_bytes: int = 2_000_000
    rescan: float = 300.0  # a batch without events, for events the system dropped
    regroup_idle: float = 2.0  # quiet time after fast batches before the stories are worked out again
    regroup_every: float = 60.0  # ... and at the latest after the first batch this long after the first fast one
    # that leaves no post waiting (so a burst is published in full first)
    retry: float = 30.0  # wait before retrying after a failed write (disk full)
    polling: bool | None = None  # None: poll only on network file systems
    poll_interval: float = 1.0  # between two polls of the folder


class Stopped(Exception):
    """Raised inside a batch when the watcher is asked to stop: the update is abandoned, nothing published."""


class Watcher:
    """Watches ``corpus_dir`` and keeps ``index_dir`` up to date with it until :meth:`stop` is called.

    ``corpus_dir`` defaults to the corpus the index was built from.
    """

    def __init__(self, index_dir: Path, corpus_dir: Path | None = None, *,
                 settings: WatchSettings = WatchSettings(), procs: int | None = None):
        self.index_dir = Path(index_dir)
        self.corpus_dir = Path(corpus_dir).resolve() if corpus_dir else _built_from(self.index_dir)
        self.settings = settings
        self.procs = procs
        self._stop = threading.Event()
        self.batches = 0  # batches that published a new generation
        self._stale_since: float | None = None  # when a fast batch first carried the stories forward
        self._vocabulary = _BackgroundVocabulary(self.index_dir, retry=settings.retry)

    def stop(self) -> None:
        """Stop at the next chance: between batches, or by abandoning the batch under way."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        """Index what changed since the last update, then watch until stopped."""
        polling = self.settings.polling
        if polling is None:
            polling = on_network_filesystem(self.corpus_dir)
        how = f"polling every {self.settings.poll_interval:g} s" if polling else "file system events"
        log.info("watching %s for %s (%s)", self.corpus_dir, self.index_dir, how)
        pending = True  # catch up first
        try:
            while not self.stopping:
                if not self._wait_for_corpus():
                    break
                pending = self._watch(polling, pending)
        finally:
            self._vocabulary.stop()

    def _watch(self, polling: bool, pending: bool) -> bool:
        """Watch until the corpus folder disappears or is replaced, or the watcher stops; return whether
        changes are waiting for a batch."""
        import watchfiles  # imported here: the rest of the library does not need it

        folder = _identity(self.corpus_dir)
        # The catch-up batch (a full scan) runs once the watch has started, so nothing changed in between
        # goes unseen.
        again = 0.0 if pending else None  # seconds after the last batch until the next one
        last_batch = time.monotonic()
        hints: set[Path] | None = None if pending else set()  # paths events named since; None: scan it all
        held: float | None = None  # when the batch due was first held back for posts still being written
        changes = watchfiles.watch(
            self.corpus_dir, watch_filter=self._relevant, debounce=int(self.settings.debounce * 1000),
            step=50, stop_event=self._stop, rust_timeout=100, yield_on_timeout=True, raise_interrupt=False,
            force_polling=polling, poll_delay_ms=int(self.settings.poll_interval * 1000))
        try:
            for events in changes:  # a set of changes, or an empty one every 0.1 s (a batch due waits no longer)
                if _identity(self.corpus_dir) != folder:
                    return True  # gone, or replaced by another folder: watch it anew when it is back
                if hints is not None:
                    hints.update(Path(path) for _, path in events)
                now = time.monotonic()
                rescan = now - last_batch >= self.settings.rescan
                stale = self._stale_since is not None
                overdue = self._overdue(now)
                if rescan:
                    hints = None
                if events or rescan or again is not None and now - last_batch >= again:
                    held = now if held is None else held
                    # A burst still being written: wait (at most ``settle``) and its next posts' events join
                    filling = min(self._filling(hints), held + self.settings.settle - now) if hints else 0.0
                    if filling > 0:
                        again, last_batch = filling, now
                    else:
                        held = None
                        # New posts never wait for the stories to be worked out again: that follows, once
                        # nothing is left waiting (a burst's last part published). A burst's next part
                        # follows at once (again == 0), with the events that came meanwhile.
                        again = self._batch(fast=hints is not None, only=hints)
                        if again is None:
                            hints = set()
                            if self._overdue(time.monotonic()):
                                again = self._regroup()
                        last_batch = time.monotonic()
                elif stale and (overdue or now - last_batch >= self.settings.regroup_idle):
                    again = self._regroup()  # quiet
                    last_batch = time.monotonic()
                self._vocabulary.tend()
        except OSError as exc:  # the folder went away while the watch started or ran
            log.debug("watch of %s ended: %s", self.corpus_dir, exc)
            return True
        finally:
            changes.close()
        return again is not None

    def _regroup(self) -> float | None:
        """Work the stories out again (a batch that indexes nothing); see :meth:`_batch`."""
        return self._batch(fast=False, only=set())

    def _overdue(self, now: float) -> bool:
        """Whether the stories carried forward by fast batches are due to be worked out again."""
        return self._stale_since is not None and now - self._stale_since >= self.settings.regroup_every

    def _relevant(self, _change, path: str) -> bool:
        """Whether a change can matter: a post or a folder (a moved folder), not a hidden work file."""
        try:
            parts = Path(path).relative_to(self.corpus_dir).parts
        except ValueError:
            return True  # the corpus folder itself
        if not parts or any(is_hidden(part) for part in parts):
            return not parts
        return is_post_name(parts[-1]) or os.path.isdir(path) or "." not in parts[-1]

    def _wait_for_corpus(self) -> bool:
        """Wait until the corpus folder exists (reporting once that it is gone); False if stopped first."""
        if self.corpus_dir.is_dir():
            return True
        log.warning("corpus folder %s is gone; the index keeps serving, and indexing resumes when it is back",
                    self.corpus_dir)
        while not self._stop.wait(self.settings.poll_interval):
            if self.corpus_dir.is_dir():
                log.info("corpus folder %s is back", self.corpus_dir)
                return True
        return False

    def _batch(self, *, fast: bool, only: set[Path] | None) -> float | None:
        """Run one update of the paths ``only`` (None: the whole corpus; ``fast``: carrying the stories
        forward, see :func:`~search.local.indexer.update_index`); return how soon the next batch should run for
        the posts it left (past its limit, still being written, a failed write), or None if it left none."""
        started = time.monotonic()
        try:
            report = self._update(fast, only)
        except Stopped:
            log.info("stopped during a batch; nothing was published")
            return None
        except IndexWriteError as exc:
            log.error("%s; retrying in %g s", exc, self.settings.retry)
            return self.settings.retry
        except SearchError as exc:  # a corpus that vanished between the check and the scan, ...
            log.error("update failed: %s", exc)
            return self.settings.retry
        if report.merge is not None:  # a new generation was published
            self.batches += 1
            self._vocabulary.changed()
            if fast:
                self._stale_since = self._stale_since or started
            else:
                self._stale_since = None
            if report.indexed or report.deleted or fast or report.searchable_after is None:
                log.info("%s", describe(report, time.monotonic() - started))  # or merges left undone alone
            else:
                log.info("stories worked out again in %.1f s", time.monotonic() - started)
        if report.deferred:
            return 0.0
        return self.settings.settle if report.unsettled else None

    def _filling(self, paths: set[Path]) -> float:
        """Return how long to wait for the posts among ``paths`` still being written to settle, when fewer
        than a part's worth are ready: a burst then starts with a full part, not with whatever was
        complete when its first events came (a part costs ~0.5 s besides its posts at 56,000, so every
        part saved is time off the burst's last posts)."""
        now, ready, youngest = time.time(), 0, 0.0
        for path in paths:
            if not is_post_name(path.name):
                continue
            try:
                st = path.stat()
            except OSError:
                continue
            if now - st.st_mtime >= self.settings.settle:
                ready += post_cost(st.st_size)
            else:
                youngest = max(youngest, st.st_mtime)
        if not youngest or ready >= self.settings.part_bytes:
            return 0.0
        return min(youngest + self.settings.settle - now, self.settings.settle)

    def _update(self, fast: bool, only: set[Path] | None) -> BuildReport:
        """Update the index, waiting (and staying stoppable) while another writer holds it."""
        waited = False
        while True:
            try:
                return update_index(self.index_dir, self.corpus_dir, procs=self.procs, settle=self.settings.settle,
                                    progress=self._check_stop, fast=fast, only=only,
                                    limit_bytes=self.settings.part_bytes, vocabulary=False)
            except IndexBusyError as exc:
                if not waited:
                    log.info("%s; waiting", exc)
                    waited = True
                if self._stop.wait(1.0):
                    raise Stopped from None

    def _check_stop(self, _done: int, _total: int) -> None:
        if self.stopping:
            raise Stopped


#: Seconds a vocabulary may take before its process is given up for stuck (56,000 posts: about 10).
VOCABULARY_TIMEOUT = 600.0


class _BackgroundVocabulary:
    """The index's vocabulary, worked out by a child process when due and published between batches.

    A batch publishes a generation in a second or so; the vocabulary reads
    every segment's term table, about 10 s at 56,000 posts in a new process,
    and new posts arriving meanwhile would wait for it. So the child works
    from a copy of the live generation (:func:`~search.local.indexer.stage_vocabulary`,
    niced, so batches keep the cores) and the watcher, still the one writer,
    publishes the result once it is ready (:func:`~search.local.indexer.install_vocabulary`).
    """

    def __init__(self, index_dir: Path, *, retry: float):
        self.index_dir, self.retry = index_dir, retry
        self._child: multiprocessing.process.BaseProcess | None = None
        self._started = 0.0
        self._ready = False  # staged, waiting for the writer lock
        self._not_before = 0.0  # after a failure
        self._unchecked = True  # whether the vocabulary may have fallen due since it was last looked at

    def tend(self) -> None:
        """Publish the child's work if it is done, or start a child if the vocabulary is due (between batches)."""
        now = time.monotonic()
        if self._child is not None:
            if self._child.is_alive() and now - self._started < VOCABULARY_TIMEOUT:
                return
            if self._child.is_alive():
                self._child.kill()
                self._child.join()
            code, self._child = self._child.exitcode, None
            if code != 0:
                self._failed(f"the process working the vocabulary out failed (exit code {code})")
                return
            self._ready = True
        if self._ready:
            try:
                install_vocabulary(self.index_dir, self.index_dir / VOCABULARY_STAGE)
            except IndexBusyError:
                return  # another writer: next time
            except (IndexWriteError, OSError) as exc:
                self._failed(f"publishing the vocabulary failed: {exc}")
                return
            self._ready = False
            log.info("vocabulary worked out again in %.1f s", time.monotonic() - self._started)
        elif self._unchecked and now >= self._not_before:
            self._unchecked = False
            if not self._due():
                return
            self._started = now
            self._child = multiprocessing.get_context("fork").Process(
                target=_stage_vocabulary, args=(self.index_dir,), name="news-search vocabulary", daemon=True)
            self._child.start()

    def changed(self) -> None:
        """Note that the watcher published a generation: the vocabulary may be due (read at the next
        :meth:`tend`, not every time the watcher wakes)."""
        self._unchecked = True

    def stop(self) -> None:
        """Abandon the work under way (nothing is published)."""
        if self._child is not None:
            self._child.kill()
            self._child.join()
            self._child = None
        self._ready = False
        shutil.rmtree(self.index_dir / VOCABULARY_STAGE, ignore_errors=True)

    def _due(self) -> bool:
        try:
            return vocabulary_due(storage.read_json(storage.current_generation(self.index_dir) / storage.META))
        except (OSError, SearchError):
            return False

    def _failed(self, message: str) -> None:
        log.error("%s; trying again in %g s", message, self.retry)
        self._ready = False
        self._unchecked = True
        self._not_before = time.monotonic() + self.retry


def _stage_vocabulary(index_dir: Path) -> None:
    """The child process of :class:`_BackgroundVocabulary`."""
    for sig in (signal.SIGTERM, signal.SIGINT):  # not the watcher's handlers, which a fork inherits
        signal.signal(sig, signal.SIG_DFL)
    die_with_parent()
    os.nice(10)
    stage_vocabulary(index_dir)


def describe(report: BuildReport, seconds: float) -> str:
    """Return the one log line of a batch.

    >>> describe(BuildReport(added=3, changed=1, deleted=0, total_docs=120), 0.84)
    'added 3, changed 1, deleted 0 in 0.8 s; 120 posts'
    >>> from search.local.merging import MergeResult
    >>> describe(BuildReport(added=500, total_docs=57742, searchable_after=2.93,
    ...                      merge=MergeResult(5, 3, merges=1, docs_merged=1100)), 4.46)
    'added 500, changed 0, deleted 0 in 4.5 s; 57742 posts, 3 segments (1100 posts merged, searchable after 2.9 s)'
    """
    line = f"added {report.added}, changed {report.changed}, deleted {report.deleted} in {seconds:.1f} s; " \
           f"{report.total_docs} posts"
    if report.merge:
        segments = report.merge.segments_after
        line += f", {segments} segment{'s' if segments != 1 else ''}"
        if report.merge.merges:
            line += f" ({report.merge.docs_merged} posts merged"
            if report.searchable_after is not None:  # the merge ran after the posts were published
                line += f", searchable after {report.searchable_after:.1f} s"
            line += ")"
    if report.unsettled:
        line += f"; {report.unsettled} still being written"
    if report.skipped:
        line += f"; skipped {', '.join(p.path for p in report.skipped[:3])}{' …' if len(report.skipped) > 3 else ''}"
    return line


def on_network_filesystem(path: Path, mounts: Iterable[str] | None = None) -> bool:
    """Whether ``path`` lies on a network file system (from ``/proc/mounts``), where no events arrive.

    >>> on_network_filesystem(Path("/mnt/nas/posts"), ["/dev/vda / ext4 rw 0 0", "nas:/p /mnt/nas nfs4 rw 0 0"])
    True
    """
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return False
    best, kind = "", ""
    target = str(path)
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3 and (target == fields[1] or target.startswith(fields[1].rstrip("/") + "/")) \
                and len(fields[1]) > len(best):
            best, kind = fields[1], fields[2]
    return kind in NETWORK_FILESYSTEMS


def _built_from(index_dir: Path) -> Path:
    generation = storage.current_generation(index_dir)
    corpus = read_meta(generation, index_dir).get("corpus")
    if not corpus:
        raise SearchError(f"the index in {index_dir}/ records no corpus; pass --corpus DIR")
    return Path(corpus)


def _identity(folder: Path) -> tuple[int, int] | None:
    try:
        st = folder.stat()
    except OSError:
        return None
    return st.st_dev, st.st_ino
