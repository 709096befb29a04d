"""How close a mistyped SKU, e-mail or name is to the real ones: pieces for a database prefilter, and a
ranking (difflib's ratio) of the few candidates that prefilter keeps. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from difflib import SequenceMatcher
from typing import TypeVar

T = TypeVar("T")

MAX_PIECES = 8
"""A prefilter matches at most this many pieces of the typed text: each costs a LIKE per row it scans."""
CUTOFF = 0.6
"""Below this (difflib's ``get_close_matches`` default) a candidate is noise, not a near miss."""


def pieces(text: str) -> tuple[str, ...]:
    """Distinct runs of 3 letters of ``text`` in lower case (2 when it is short), at most MAX_PIECES,
    spread along it: a typo spoils only the few runs it touches, so the one meant shares most of them."""
    folded = text.lower()
    size = 2 if len(folded) < 8 else 3
    if len(folded) <= size:
        return (folded,) if folded.strip() else ()
    runs = list(dict.fromkeys(folded[i : i + size] for i in range(len(folded) - size + 1)))
    if len(runs) > MAX_PIECES:  # the first, the last and evenly between
        runs = [runs[round(i * (len(runs) - 1) / (MAX_PIECES - 1))] for i in range(MAX_PIECES)]
    return tuple(runs)


def email_pieces(email: str) -> tuple[str, ...]:
    """The pieces of an address's local part, and its whole domain as one more: a shared domain
    (gmail.com) counts once, so it cannot outweigh the name before the @."""
    local, at, domain = email.lower().rpartition("@")
    if not at:
        return pieces(email)
    return (*pieces(local)[: MAX_PIECES - 1], "@" + domain) if domain else pieces(local)


class Matcher:
    """difflib's ratio of ``typed`` against many texts, ``typed`` analysed once."""

    def __init__(self, typed: str) -> None:
        self.typed = typed.lower()
        self._matcher = SequenceMatcher(None, "", self.typed, autojunk=False)
        self._local: Matcher | None = None

    @property
    def local(self) -> Matcher:
        """A matcher for the part of ``typed`` before its last @ (all of it without one)."""
        if self._local is None:
            self._local = Matcher(self.typed.rpartition("@")[0] or self.typed)
        return self._local

    def ratio(self, text: str, floor: float = 0.0) -> float:
        """0-1; 0 when cheap upper bounds already show it is below ``floor``."""
        self._matcher.set_seq1(text.lower())
        if self._matcher.real_quick_ratio() < floor or self._matcher.quick_ratio() < floor:
            return 0.0
        return self._matcher.ratio()


def key_similarity(matcher: Matcher, key: str) -> float:
    """A SKU against a SKU, whole; 0 below CUTOFF."""
    return matcher.ratio(key, CUTOFF)


def email_similarity(matcher: Matcher, email: str) -> float:
    """Half the part before the @, half the whole address: a shared domain alone is not a match; 0 when
    either half is too far off for the two to reach CUTOFF."""
    local = email.lower().rpartition("@")[0] or email
    floor = 2 * CUTOFF - 1  # the least either half can score with the other at 1
    near_local = matcher.local.ratio(local, floor)
    return 0.5 * near_local + 0.5 * matcher.ratio(email, floor) if near_local else 0.0


def text_similarity(matcher: Matcher, *texts: str) -> float:
    """Part of a name (or SKU) against each text whole and against each run of as many words as it has;
    0 below CUTOFF (cheap bounds skip most of the work there)."""
    width = max(len(matcher.typed.split()), 1)
    best = 0.0
    for text in texts:
        best = max(best, matcher.ratio(text, max(best, CUTOFF)))
        words = text.split()
        for start in range(len(words) - width + 1 if len(words) > width else 0):
            best = max(best, matcher.ratio(" ".join(words[start : start + width]), max(best, CUTOFF)))
    return best


def closest(
    typed: str,
    candidates: Iterable[T],
    score: Callable[[Matcher, T], float],
    *,
    limit: int = 3,
    cutoff: float = CUTOFF,
) -> list[tuple[T, float]]:
    """The ``limit`` best candidates scoring at least ``cutoff``, best first (ties keep their order)."""
    matcher = Matcher(typed)
    scored = [(candidate, round(score(matcher, candidate), 3)) for candidate in candidates]
    kept = [pair for pair in scored if pair[1] >= cutoff]
    kept.sort(key=lambda pair: -pair[1])
    return kept[:limit]
