"""Which Whoosh this code was written against: a start-up check of every internal it relies on, the
version recorded in an index, and the errors that mean an index's files are damaged.
"""

from __future__ import annotations

import dis
import functools
import importlib
import inspect
import json
import pickle
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

import whoosh
from whoosh.index import IndexError as WhooshIndexError

from ..errors import IndexVersionError, WhooshIncompatibleError
from .postings import DamagedFileError

#: The Whoosh news-search is pinned to (``whoosh-reloaded`` in pyproject.toml) and was checked against.
PINNED_WHOOSH = "2.7.5"
#: The Whoosh installed in this process.
WHOOSH_VERSION: str = whoosh.versionstring()
#: The key of meta.json that records which Whoosh wrote an index.
META_KEY = "whoosh_version"


@dataclass(frozen=True)
class Internal:
    """One thing of Whoosh's that news-search relies on: ``name`` in ``owner`` (a module or a class).

    ``kind`` is how it is checked: ``name`` (a module-level name), ``method``, ``attribute`` (on the
    class), ``instance attribute`` (assigned by one of the class's methods), ``parameter`` (of
    ``owner``'s ``__init__``), or ``source`` (the function ``name`` still computes ``expected``).
    """

    owner: str
    name: str
    kind: str
    expected: str = ""

    def __str__(self) -> str:
        if self.kind == "parameter":
            return f"{self.owner}.__init__({self.name}=...)"
        if self.kind == "source":
            return f"{self.owner}.{self.name} computing {self.expected}"
        return f"{self.owner}.{self.name}"


def _internals(owner: str, kind: str, *names: str) -> list[Internal]:
    return [Internal(owner, name, kind) for name in names]


_W3 = "whoosh.codec.whoosh3"
#: Everything of Whoosh's the seam (:mod:`search.whoosh_internals`) uses that is not its public API.
INTERNALS: tuple[Internal, ...] = (
    *_internals("whoosh.writing.SegmentWriter", "method", "_check_state", "_check_fields", "_flush_segment",
                "_finalize_segment", "_close_segment", "get_segment"),
    *_internals("whoosh.writing.SegmentWriter", "instance attribute", "_added", "pool", "perdocwriter",
                "fieldwriter", "newsegment", "docnum", "is_closed", "segments"),
    Internal("whoosh.writing.SegmentWriter", "_lk", "parameter"),
    Internal("whoosh.index.FileIndex", "_segments", "method"),
    *_internals("whoosh.index", "name", "TOC", "clean_files"),
    *_internals(_W3, "name", "WHOOSH3_HEADER_MAGIC", "LENGTHS_COLUMN", "_lenfield"),
    *_internals(f"{_W3}.W3FieldWriter", "instance attribute", "_btext", "_tindex", "_postwriter", "_fieldid"),
    *_internals(f"{_W3}.W3PostingsWriter", "instance attribute", "_ids", "_weights", "_maxweight", "_minlength",
                "_maxlength", "_blockcount", "_postfile", "_terminfo", "_compression"),
    *_internals(f"{_W3}.W3PostingsWriter", "method", "_new_block", "start_postings", "finish_postings"),
    Internal(f"{_W3}.W3TermInfo", "_struct", "attribute"),
    *_internals(f"{_W3}.W3TermInfo", "method", "add_block", "set_inlined", "inlined_postings", "is_inlined",
                "extent", "to_bytes"),
    *_internals(f"{_W3}.W3TermsReader", "instance attribute", "_postfile", "_fieldmap", "_tindex"),
    *_internals(f"{_W3}.W3TermsReader", "method", "_keycoder", "items_from"),
    *_internals("whoosh.reading.SegmentReader", "instance attribute", "_terms", "_perdoc"),
    *_internals("whoosh.util.numeric", "name", "_length_byte_cache", "length_to_byte"),
    *_internals("whoosh.system", "name", "pack_ushort"),
    Internal("whoosh.columns.NumericColumn", "_typecode", "instance attribute"),
    *_internals("whoosh.columns.NumericColumn.Reader", "instance attribute", "_dbfile", "_basepos", "_count",
                "_default", "_typecode"),
    Internal("whoosh.columns.EmptyColumnReader", "_default", "instance attribute"),
    Internal("whoosh.scoring.BM25F", "_field_B", "instance attribute"),
    # search.local.evaluate repeats these computations in the same float-operation order, for the same scores
    Internal("whoosh.scoring", "bm25", "source", "idf * ((tf * (K1 + 1)) / (tf + K1 * ((1 - B) + B * fl / avgfl)))"),
    Internal("whoosh.util", "make_weighted_tree", "source", "insort(ls, (a[0] + b[0], fn(a[1], b[1])))"),
    Internal("whoosh.query.compound.Or", "_matcher", "source",
             "len(subs) < self.TOO_MANY_CLAUSES and ( needs_current or self.scale or len(subs) == 2 or dc > 5000 )"),
    *_internals("whoosh.matching.AndNotMatcher", "method", "_find_first", "_find_next"),
)


def missing_internals(internals: tuple[Internal, ...] = INTERNALS) -> list[Internal]:
    """Return the internals the installed Whoosh lacks (none, for the version news-search is pinned to)."""
    return [internal for internal in internals if not _present(internal)]


@functools.cache
def check_internals() -> None:
    """Check, once per process, that the installed Whoosh still has every internal news-search relies on.

    :raises WhooshIncompatibleError: naming each missing one, the installed version and the pinned one.
    """
    missing = missing_internals()
    if missing:
        raise WhooshIncompatibleError(
            f"whoosh {WHOOSH_VERSION} lacks {', '.join(map(str, missing))}; "
            f"news-search needs whoosh-reloaded=={PINNED_WHOOSH}")


def written_by() -> dict:
    """Return what meta.json records about the Whoosh writing an index."""
    return {META_KEY: WHOOSH_VERSION}


def index_whoosh_version(meta: dict) -> str:
    """Return the version of the Whoosh that wrote the index whose meta.json is ``meta``.

    An index from before the version was recorded counts as written by
    :data:`PINNED_WHOOSH`: every news-search that wrote one pinned exactly that.
    """
    return meta.get(META_KEY, PINNED_WHOOSH)


def check_written_by(meta: dict, index_dir: Path | str) -> None:
    """Check that the index whose meta.json is ``meta`` was written by the installed Whoosh
    (see :func:`index_whoosh_version`).

    :raises IndexVersionError: naming both versions and how to rebuild the index in ``index_dir``.
    """
    version = index_whoosh_version(meta)
    if version != WHOOSH_VERSION:
        raise IndexVersionError(
            f"the index in {index_dir}/ was written by whoosh {version}, and whoosh {WHOOSH_VERSION} is installed; "
            f"rebuild it with: news-search build --corpus DIR --index {index_dir} "
            f"(or install whoosh-reloaded=={version})")


#: Exceptions that mean an index file is missing, truncated or overwritten (not a bug in the code reading it).
STORAGE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, EOFError, struct.error, pickle.UnpicklingError, zlib.error, json.JSONDecodeError, UnicodeDecodeError,
    WhooshIndexError, DamagedFileError)
#: Whoosh's modules that decode index files. They report damage as whatever the bytes make of them: a
#: bare ``Exception("Block tag error ...")``, a ``KeyError`` from a truncated table header, ...
_WHOOSH_STORAGE_MODULES = ("whoosh.filedb", "whoosh.codec", "whoosh.columns", "whoosh.index", "whoosh.system",
                           "whoosh.util.numeric", "whoosh.util.varints")


def is_storage_error(exc: BaseException) -> bool:
    """Return True if ``exc`` says an index file is damaged or unreadable (rebuilding fixes it).

    That is one of :data:`STORAGE_ERRORS`, or any exception raised inside
    Whoosh's file-decoding modules. Anything else (a ``TypeError`` in our own
    code, say) is a bug, and must surface as one rather than as "rebuild the index".
    """
    if isinstance(exc, STORAGE_ERRORS):
        return True
    return isinstance(exc, Exception) and _raised_in(exc, _WHOOSH_STORAGE_MODULES)


def _raised_in(exc: BaseException, modules: tuple[str, ...]) -> bool:
    """Return True if the innermost Python frame of ``exc``'s traceback is in one of ``modules`` (or below)."""
    tb, name = exc.__traceback__, ""
    while tb is not None:
        name, tb = tb.tb_frame.f_globals.get("__name__", ""), tb.tb_next
    return any(name == module or name.startswith(module + ".") for module in modules)


def _present(internal: Internal) -> bool:
    try:
        owner = _resolve(internal.owner)
    except (ImportError, AttributeError):
        return False
    if internal.kind == "name":
        return hasattr(owner, internal.name)
    if internal.kind == "method":
        return callable(getattr(owner, internal.name, None))
    if internal.kind == "attribute":
        return hasattr(owner, internal.name)
    if internal.kind == "instance attribute":
        return any(internal.name in code.co_names and _assigns(code, internal.name) for klass in owner.__mro__
                   for value in vars(klass).values() for code in _code_objects(value))
    if internal.kind == "parameter":
        return internal.name in inspect.signature(owner.__init__).parameters
    if internal.kind == "source":
        function = getattr(owner, internal.name, None)
        return function is not None and internal.expected in " ".join(inspect.getsource(function).split())
    raise ValueError(f"unknown kind of internal {internal.kind!r}")


def _resolve(dotted: str):
    """Return the module or class a dotted path names (``whoosh.columns.NumericColumn.Reader``)."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            found = getattr(found, name)
        return found
    raise ImportError(dotted)


def _assigns(code: CodeType, name: str) -> bool:
    """Return True if ``code`` assigns attribute ``name`` of some object (``self.name = ...``)."""
    return any(op.opname == "STORE_ATTR" and op.argval == name for op in dis.get_instructions(code))


def _code_objects(value) -> Iterator[CodeType]:
    """Yield the code of a function (or property, static or class method) and the code nested in it."""
    for function in (getattr(value, "__func__", value), getattr(value, "fget", None)):
        code = getattr(function, "__code__", None)
        stack = [code] if code is not None else []
        while stack:
            code = stack.pop()
            yield code
            stack.extend(c for c in code.co_consts if isinstance(c, CodeType))
