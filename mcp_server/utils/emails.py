"""E-mail address checks. Deliberately simple: a shape check, not RFC 5322."""

from __future__ import annotations

import re

MAX_EMAIL_LENGTH = 254
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")


def normalize_email(raw: str) -> str:
    """Trim and lower-case an address; raise ValueError with a readable reason if it is not one."""
    value = raw.strip().lower()
    if not value:
        raise ValueError("e-mail address is empty")
    if len(value) > MAX_EMAIL_LENGTH:
        raise ValueError(f"e-mail address is longer than {MAX_EMAIL_LENGTH} characters")
    if len(value.split("@", 1)[0]) > 64:
        raise ValueError("the part before '@' is longer than 64 characters")
    if not _EMAIL.match(value):
        raise ValueError(f"'{raw.strip()[:80]}' is not an e-mail address like name@example.com")
    return value
