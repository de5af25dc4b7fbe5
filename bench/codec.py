"""Whoosh's codec API against our bulk writer: the same posting lists written both ways, timed.

Whoosh's public extension point for how a segment is written is the codec
(``whoosh.codec.base``: ``Codec``, ``FieldWriter``, ``PostingsWriter``). Its
``FieldWriter`` takes postings one call at a time (``start_term``, ``add``
per posting, ``finish_term``) and writes blocks of pickled tuples; our
:class:`search.local.segments.BulkSegmentWriter` takes a term's whole list and
writes typed-array blocks. This script reads every posting list of an index
(all of its indexed fields), writes them into a fresh segment both ways, and
reports the time per posting and per term, and the postings file's size.

    python -m bench.codec --index /tmp/rsshub-index
"""

from __future__ import annotations

import shutil
import tempfile
import time
from array import array
from pathlib import Path

import click
from whoosh import index as whoosh_index
from whoosh.codec import default_codec

from search.local.segments import BulkSegmentWriter
from search.whoosh_internals import field_terms, index_segments, terminfo_postings, write_term
from search.writing.storage import current_generation


@click.command()
@click.option("--index", "index_dir", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True)
@click.option("--repeat", type=click.IntRange(1, None), default=3, show_default=True)
def main(index_dir: Path, repeat: int) -> None:
    """Write an index's posting lists through Whoosh's codec API and through our bulk writer; compare."""
    source = whoosh_index.open_dir(current_generation(index_dir))
    lists = _read_lists(source)
    postings = sum(len(ids) for _, terms in lists for _, ids, _ in terms)
    terms = sum(len(t) for _, t in lists)
    click.echo(f"{index_dir}: {terms:,} terms, {postings:,} postings in {len(lists)} fields")
    for name, write in (("whoosh codec (FieldWriter.add per posting)", _write_with_codec),
                        ("bulk writer (a term's list at once)", _write_in_bulk)):
        times, size = [], 0
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as scratch:
                folder = Path(scratch)
                for item in Path(source.storage.folder).glob("_*.toc"):
                    shutil.copy2(item, folder)
                target = whoosh_index.open_dir(folder)
                started = time.perf_counter()
                write(target, lists)
                times.append(time.perf_counter() - started)
                size = sum(p.stat().st_size for p in folder.glob("*.pst")) + sum(
                    p.stat().st_size for p in folder.glob("*.trm"))
        best = min(times)
        click.echo(f"{name}: {best:.2f} s (best of {repeat}), {best / postings * 1e6:.2f} µs a posting, "
                   f"{best / terms * 1e6:.1f} µs a term; term table + postings {size / 1e6:.1f} MB")


def _read_lists(ix) -> list[tuple[str, list]]:
    """Every indexed field's terms of the index's first segment, with their document numbers and weights."""
    from whoosh.reading import SegmentReader

    segment = index_segments(ix)[0]
    reader = SegmentReader(ix.storage, ix.schema, segment)
    lists = []
    for fieldname in sorted(name for name, field in ix.schema.items() if field.indexed):
        terms = [(btext, *terminfo_postings(reader, info)) for btext, info in field_terms(reader, fieldname)]
        terms = [t for t in terms if t[0]]
        lists.append((fieldname, [(b, ids.astype("uint32"), w.astype("float32")) for b, ids, w in terms
                                  if len(ids)]))
    reader.close()
    return lists


def _write_with_codec(ix, lists) -> None:
    segment = default_codec().new_segment(ix.storage, ix.indexname)
    writer = default_codec().field_writer(ix.storage, segment)
    for fieldname, terms in lists:
        field = ix.schema[fieldname]
        writer.start_field(fieldname, field)
        for btext, ids, weights in terms:
            writer.start_term(btext)
            for docnum, weight in zip(ids.tolist(), weights.tolist()):
                writer.add(docnum, weight, b"", 1)
            writer.finish_term()
        writer.finish_field()
    writer.close()


def _write_in_bulk(ix, lists) -> None:
    writer = BulkSegmentWriter(ix, lock=False, compound=False)
    fields = writer.fieldwriter
    for fieldname, terms in lists:
        field = ix.schema[fieldname]
        fields.start_field(fieldname, field)
        for btext, ids, weights in terms:
            write_term(fields, field.format, btext, array("I", ids.tobytes()), array("f", weights.tobytes()))
        fields.finish_field()
    fields.close()
    writer.discard()


if __name__ == "__main__":
    main(prog_name="python -m bench.codec")
