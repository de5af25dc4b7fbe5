"""Postings packed into runs while a segment is built come back exactly as they were added."""

from array import array

from search.local.segments import PostingRun


def run_of(terms: dict[bytes, tuple[list[int], list[float]]]) -> PostingRun:
    return PostingRun({t: (array("I", ids), array("f", weights)) for t, (ids, weights) in terms.items()})


def test_terms_come_out_in_order_with_their_postings():
    run = run_of({b"b": ([1, 4], [2.0, 1.0]), b"a": ([3], [5.0])})
    entries = list(run.entries(7))
    assert [(term, number) for term, number, _ in entries] == [(b"a", 7), (b"b", 7)]
    assert [[list(x) for x in run.postings(index)] for _, _, index in entries] == [[[3], [5.0]], [[1, 4], [2.0, 1.0]]]


def test_whole_frequencies_are_packed_in_two_bytes():
    run = run_of({b"a": ([1, 2], [1.0, 65535.0])})
    assert run.weights.typecode == "H"
    ids, weights = run.postings(0)
    assert weights.typecode == "f" and list(weights) == [1.0, 65535.0]


def test_fractional_or_large_weights_are_kept_as_floats():
    for weight in (1.5, 65536.0):
        run = run_of({b"a": ([1], [weight])})
        assert run.weights.typecode == "f"
        assert list(run.postings(0)[1]) == [weight]


def test_block_weights_are_minified_as_whoosh_reads_them():
    from search.whoosh_internals.postings import _packed_weights

    assert _packed_weights(array("f", [1.0, 1.0])) is None
    assert _packed_weights(array("f", [2.0, 2.0])) == 2.0
    assert _packed_weights(array("f", [1.0, 300.0])).typecode == "H"
    fractional = _packed_weights(array("f", [1.0, 1.5]))
    assert fractional.typecode == "f" and list(fractional) == [1.0, 1.5]


def test_block_document_numbers_are_deltas_in_the_narrowest_type():
    from search.whoosh_internals.postings import _packed_deltas

    assert list(_packed_deltas(array("I", [5, 6, 200]))) == [5, 1, 194]
    assert _packed_deltas(array("I", [5, 6, 200])).typecode == "B"
    assert _packed_deltas(array("I", [70000])).typecode == "I"
