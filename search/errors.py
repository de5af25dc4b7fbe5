"""The exceptions the library raises; the CLI and the web app turn them into messages."""


class SearchError(Exception):
    """Base class: anything the user can fix or should be told about."""


class IndexNotFoundError(SearchError):
    """The index directory holds no (readable) index."""


class IndexCorruptError(SearchError):
    """The index exists but its files cannot be read; rebuilding fixes it."""


class IndexBusyError(SearchError):
    """Another process is writing the index."""


class IndexWriteError(SearchError):
    """A build or update could not write (disk full, read-only, no permission); the live index is unchanged."""


class QuerySyntaxError(SearchError):
    """A query or a filter value that cannot be understood (the message says why).

    ``zh`` says the same in Chinese, for user interfaces in Chinese (empty if
    not translated).
    """

    def __init__(self, message: str, zh: str = ""):
        super().__init__(message)
        self.zh = zh


class CorpusError(SearchError):
    """The corpus directory cannot be read at all (single bad posts are reported, not raised)."""


class SynonymFileError(SearchError):
    """A synonym file that cannot be read or has a malformed line (the message names the file and the line)."""


class IndexVersionError(SearchError):
    """The index was written by another version of Whoosh than the one installed; rebuilding fixes it."""


class WhooshIncompatibleError(SearchError):
    """The installed Whoosh lacks an internal news-search relies on (the message names each one)."""


#: Longest part of a bad value quoted back in an error message.
SHOWN_CHARS = 40


def shown(value: str) -> str:
    """Return ``value`` quoted for an error message, cut to :data:`SHOWN_CHARS` characters.

    >>> shown("x" * 50)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…'"
    """
    if len(value) <= SHOWN_CHARS:
        return repr(value)
    quoted = repr(value[:SHOWN_CHARS])
    return f"{quoted[:-1]}…{quoted[-1]}"
