"""A matcher that replaces one of Whoosh's, mending a bug in a private step."""

from __future__ import annotations

from whoosh.matching import AndNotMatcher


class WithoutMatcher(AndNotMatcher):
    """Whoosh's ``AndNotMatcher`` whose first match is checked against the excluded side like every other.

    Whoosh's ``_find_first`` checks ``a``'s first document against ``b`` only
    when ``b``'s first match is that same document, so in each segment the
    first match of ``a`` was kept even when ``b`` matched it later on.
    """

    def _find_first(self):
        if self.a.is_active() and self.b.is_active():
            self._find_next()  # skips b to a's document first, then steps a past every document b has
