"""Colleagues' names and email addresses in free text replaced by ``[a colleague]``.

Feedback is written by managers and peers, and may name other reps. Before a note goes into a
rep's context, every other rep's full name and email address in it is replaced (whole words, any
case, any spacing between the parts of a name); the rep's own name and address stay.

One regular expression with every name as an alternative is exact but slow: Python tries each
alternative at each position, so its cost grows with texts x reps (quadratic in the size of the
org). :class:`Redactor` first looks up which names can occur in a text at all (every word of the
name is a word of the text, compared case-folded) and matches only those, with the same kind of
expression, compiled once per set of names. The result is the same as with the one big expression.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from functools import lru_cache

from salesreports.i18n import N_

__all__ = ["COLLEAGUE", "Redactor", "fold"]

COLLEAGUE = N_("[a colleague]")  # written in English into the contexts; a page shows it in its language
MIN_LENGTH = 3  # shorter names and addresses are not looked for (too many false hits)
_WORD = re.compile(r"\w+")
# str.casefold() keeps Turkish dotless ı apart from i, and turns İ into i + a combining dot, while a
# case-insensitive regular expression matches both with i and I: fold them together, so that the
# look-up never misses a name the expression would find.
_FOLD = {ord("ı"): "i", 0x307: None}


def fold(text: str) -> str:
    """Text compared without case: ``fold("ANN") == fold("ann")`` (also for ß, ſ, K, ı and İ)."""
    return text.casefold().translate(_FOLD)


@lru_cache(maxsize=4096)
def _pattern(names: frozenset[str]) -> re.Pattern[str]:
    """Whole-word, case-insensitive, any spacing; the longest name first where several match."""
    ordered = sorted(names, key=lambda w: (-len(w), w))
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in w.split()) for w in ordered)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


class Redactor:
    """Replaces any of ``names`` (full names and email addresses of every rep) in a text.

    Examples
    --------
    >>> r = Redactor(["Bob Baker", "bob@example.com", "Ann Archer"])
    >>> r.redact("Ask bob  BAKER or bob@example.com. Ann Archer agrees.", keep=["Ann Archer"])
    'Ask [a colleague] or [a colleague]. Ann Archer agrees.'
    """

    def __init__(self, names: Iterable[str]) -> None:
        self._index: dict[str, list[tuple[frozenset[str], str]]] = {}
        self._always: list[str] = []  # names without a word character: looked for in every text
        for name in {str(n).strip() for n in names}:
            if len(name) < MIN_LENGTH:
                continue
            words = frozenset(_WORD.findall(fold(name)))
            if words:
                self._index.setdefault(min(words), []).append((words, name))
            else:
                self._always.append(name)

    def __bool__(self) -> bool:
        return bool(self._index or self._always)

    def candidates(self, text: str) -> list[str]:
        """The names whose every word occurs in ``text`` (the only ones that can match)."""
        words = set(_WORD.findall(fold(text)))
        found = list(self._always)
        for word in words:
            found.extend(name for need, name in self._index.get(word, ()) if need <= words)
        return found

    def redact(self, text: str, keep: Collection[str] = ()) -> str:
        """``text`` with every name replaced by :data:`COLLEAGUE`, except those in ``keep`` (any case)."""
        names = self.candidates(text)
        if not names:
            return text
        own = {str(k).strip().casefold() for k in keep}

        def hide(match: re.Match[str]) -> str:
            return match.group(0) if match.group(0).casefold() in own else COLLEAGUE

        return _pattern(frozenset(names)).sub(hide, text)
