"""Blanking out configured secrets (an API key, a server token) in text that came from outside.

A provider may echo what it was sent, in any field, any letter case and any of the encodings a
request or a careless server uses: URL-encoding, JSON escapes, hex, base64 (of the key alone, of
``key:`` as in basic auth, at any offset inside a longer base64 text). ``Scrubber`` replaces every
such occurrence, overlapping ones included, with a fixed marker, then bounds the length.
"""

from __future__ import annotations

import base64
import functools
import logging
import re
from collections.abc import Iterator, Mapping

DEFAULT_LIMIT = 300
MIN_FRAGMENT = 8
"""Base64 fragments shorter than this are not looked for alone (they would blank out ordinary words)."""

_JSON_SHORT = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


class Scrubber:
    """Replaces every encoding of every secret, case-insensitively, with its marker; bounds the length.

    ``secrets`` maps each secret to the marker that replaces it; empty secrets are ignored.
    """

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Mapping[str, str]) -> None:
        self._secrets = tuple(sorted((s, m) for s, m in secrets.items() if s))
        # The pattern is compiled on first use (a tenth of a second), not while the server starts.

    def __repr__(self) -> str:  # never show what it hides
        return f"Scrubber({len(self._secrets)} secret(s))"

    def __call__(self, text: str, *, limit: int | None = DEFAULT_LIMIT) -> str:
        """``text`` with every secret blanked out, cut to ``limit`` characters (``None``: not cut)."""
        bound = limit
        if bound is not None and bound < 0:
            raise ValueError("limit must not be negative")
        pattern, markers, longest = _compiled(self._secrets)
        if pattern is None:
            return text if bound is None else text[:bound]
        if bound is None or len(text) <= bound * 16 + longest:
            window, safe_end = text, len(text)
        else:  # look at a generous head only; its last few characters may hold a cut secret: drop them
            window = text[: bound * 16 + longest]
            safe_end = len(window) - longest
        pieces: list[str] = []
        size = position = 0
        for start, end, marker in _spans(pattern, markers, window):
            if start >= safe_end or (bound is not None and size >= bound):
                break
            if start > position:
                pieces.append(window[position:start])
                size += start - position
            pieces.append(marker)
            size += len(marker)
            position = end
        if position < safe_end and (bound is None or size < bound):
            pieces.append(window[position:safe_end])
        cleaned = "".join(pieces)
        return cleaned if bound is None else cleaned[:bound]

    def contains_secret(self, text: str) -> bool:
        """Whether ``text`` holds any encoding of any secret."""
        pattern = _compiled(self._secrets)[0]
        return pattern is not None and pattern.search(text) is not None


def _spans(pattern: re.Pattern[str], markers: tuple[str, ...], text: str) -> Iterator[tuple[int, int, str]]:
    """Merged spans of every (possibly overlapping) occurrence, in order, each with its marker."""
    current: tuple[int, int, str] | None = None
    for match in pattern.finditer(text):
        name = match.lastgroup
        assert name is not None
        start, end = match.span(name)
        marker = markers[int(name[1:])]
        if current is not None and start <= current[1]:
            current = (current[0], max(current[1], end), current[2])
            continue
        if current is not None:
            yield current
        current = (start, end, marker)
    if current is not None:
        yield current


class ScrubbingLogFilter(logging.Filter):
    """A filter for third-party loggers (httpx, httpcore) that blanks secrets out of each record's message."""

    def __init__(self, scrub: Scrubber) -> None:
        super().__init__()
        self._scrub = scrub

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._scrub.contains_secret(message):
            record.msg, record.args = self._scrub(message, limit=None), None
        return True


@functools.lru_cache(maxsize=32)
def _compiled(secrets: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str] | None, tuple[str, ...], int]:
    """The pattern for these secrets (compiling takes a tenth of a second, so each set is compiled once)."""
    chosen = sorted(secrets, key=lambda pair: len(pair[0]), reverse=True)
    branches: list[str] = []
    longest = 0
    for index, (secret, _) in enumerate(chosen):
        forms = sorted(_forms(secret), key=len, reverse=True)
        longest = max(longest, *(_widest(form) for form in forms))
        branches.append(f"(?P<s{index}>{'|'.join(_pattern(form) for form in forms)})")
    # A lookahead finds occurrences that overlap one another too; Scrubber merges their spans.
    pattern = re.compile(f"(?=(?:{'|'.join(branches)}))", re.IGNORECASE) if branches else None
    return pattern, tuple(marker for _, marker in chosen), longest


def _forms(secret: str) -> set[str]:
    """The plain spellings to look for: the secret itself, and its hex and base64 encodings."""
    forms = {secret}
    for variant in {secret, secret.lower(), secret.upper()}:
        raw = variant.encode()
        forms.add(raw.hex())
        for prefixed in (raw, raw + b":"):
            forms.add(base64.b64encode(prefixed).decode())
            forms.add(base64.urlsafe_b64encode(prefixed).decode())
        for offset in range(3):  # inside a longer base64 text the secret may start at any byte offset
            encoded = base64.b64encode(b"\0" * offset + raw).decode()
            head = 4 if offset else 0  # the first group mixes in the bytes before the secret
            tail = 4 if (offset + len(raw)) % 3 else 0  # the last group mixes in the bytes after it
            fragment = encoded[head : len(encoded) - tail]
            if len(fragment) >= MIN_FRAGMENT:
                forms.add(fragment)
                forms.add(fragment.replace("+", "-").replace("/", "_"))
    return forms


def _spellings(char: str) -> list[str]:
    """How one character may be written: itself, percent-encoded, JSON-escaped (either letter case)."""
    found = {char}
    for variant in {char, char.lower(), char.upper()}:
        found.add("".join(f"%{byte:02x}" for byte in variant.encode()))
        found.add("".join(f"\\u{unit:04x}" for unit in _utf16_units(variant)))
        if variant in _JSON_SHORT:
            found.add(_JSON_SHORT[variant])
    if char == " ":
        found.add("+")  # form encoding
    return sorted(found, key=len, reverse=True)


def _utf16_units(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _pattern(form: str) -> str:
    return "".join(f"(?:{'|'.join(re.escape(s) for s in _spellings(c))})" for c in form)


def _widest(form: str) -> int:
    """The longest text one occurrence of ``form`` can take (every character at its widest spelling)."""
    return sum(max(len(s) for s in _spellings(c)) for c in form)
