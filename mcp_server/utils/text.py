"""Checks for text that people type: visible, without control characters."""

from __future__ import annotations

import unicodedata

_LINE_BREAKS = {"\n", "\r", "\t"}


def clean_line(value: str) -> str:
    """A one-line value (a name): no control or invisible formatting characters, something visible."""
    return _checked(value, allow_breaks=False)


def clean_text(value: str) -> str:
    """A multi-line value (notes): line breaks and tabs allowed, other control characters not."""
    return _checked(value, allow_breaks=True)


def _checked(value: str, *, allow_breaks: bool) -> str:
    for char in value:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf") and not (allow_breaks and char in _LINE_BREAKS):
            raise ValueError(f"contains an invisible or control character (U+{ord(char):04X}); remove it")
    if value and not any(not unicodedata.category(c).startswith(("Z", "C")) for c in value):
        raise ValueError("has no visible characters")
    return value


def has_digit(value: str) -> str:
    if not any(char.isdigit() for char in value):
        raise ValueError("must contain at least one digit")
    return value
