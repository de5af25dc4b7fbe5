"""Module paths that moved stay loadable where existing indexes' pickled schemas name them (search.moved)."""

import pickle
import re
import subprocess
import sys

import pytest

from search.local.indexer import make_schema

#: Every global from this package in the schemas of indexes written before search/ was split, as read from their
#: TOCs with pickletools: a format-5 index (tokenizers still in search.analysis) and one built just before the split.
WRITTEN = [
    *(("search.analysis", name) for name in ("Segmenter", "word_counts", "char_counts", "JiebaTokenizer",
                                             "CharTokenizer", "PunctuationFilter")),
    *(("search.tokenizers", name) for name in ("JiebaTokenizer", "CharTokenizer", "PunctuationFilter")),
    *(("search.indexer", name) for name in ("CountField", "KeysField", "Counts")),
]


@pytest.mark.parametrize("module, name", WRITTEN)
def test_each_global_an_old_index_names_loads(module, name):
    found = pickle.loads(f"c{module}\n{name}\n.".encode())  # a pickle of just that global
    assert found.__name__ == name and found.__module__ != module
    assert pickle.loads(pickle.dumps(found)) is found  # the object the package uses today


@pytest.mark.parametrize("old", sorted({module for module, _ in WRITTEN}))
def test_a_schema_written_before_the_split_loads(old):
    today = make_schema()
    names = {name for module, name in WRITTEN if module == old}
    data = re.sub(rb"csearch\.[\w.]+\n(\w+)\n",  # protocol 0 names a global as "c<module>\n<name>\n"
                  lambda m: b"c%s\n%s\n" % (old.encode(), m[1]) if m[1].decode() in names else m[0],
                  pickle.dumps(today, protocol=0))
    assert f"c{old}\n".encode() in data  # as in the TOC of an index written before the split
    schema = pickle.loads(data)
    assert [(name, type(schema[name])) for name in schema.names()] == \
        [(name, type(today[name])) for name in today.names()]
    assert [t.text for t in schema["title"].analyzer("北京冬奥会")] == \
        [t.text for t in today["title"].analyzer("北京冬奥会")]


def test_a_name_an_old_path_never_held_is_an_import_error():
    with pytest.raises(ImportError):
        from search.indexer import no_such_name  # noqa: F401


def test_old_paths_load_nothing_until_a_name_is_asked():
    code = ("import sys; sys.modules['whoosh'] = None; import search; "
            "from search.analysis import Segmenter; print(Segmenter.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "search.text.analysis"
