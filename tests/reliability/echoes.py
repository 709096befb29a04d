"""How a careless or hostile provider might echo a secret back, and how a test spots any of it.

``echoes(secret)`` gives each way of writing the secret that a stand-in puts into its answers.
``leaks(secret, text)`` names every one of them found in ``text``, in any letter case, whole or as
a 12-character piece of it: a test that finds none knows no encoding of the secret got through.
The list is written out here, independently of the scrubber it checks.
"""

from __future__ import annotations

import base64
import functools
import json
from urllib.parse import quote, quote_plus

CHUNK = 12
"""A piece this long of any spelling of the secret counts as a leak."""


def _b64(data: str) -> str:
    return base64.b64encode(data.encode()).decode()


def _inner_b64(prefix: str, secret: str) -> str:
    """The part of base64(prefix + secret) that encodes only the secret's bytes (the rest mixes in others)."""
    encoded = _b64(prefix + secret)
    head = 4 if len(prefix) % 3 else 0
    tail = 4 if (len(prefix) + len(secret)) % 3 else 0
    return encoded[head : len(encoded) - tail]


def echoes(secret: str) -> dict[str, str]:
    """Each spelling a stand-in echoes, by name."""
    return {
        "as sent": secret,
        "upper case": secret.upper(),
        "lower case": secret.lower(),
        "swapped case": secret.swapcase(),
        "bearer header": f"Bearer {secret}",
        "url-encoded": quote(secret, safe=""),
        "form-encoded": quote_plus(secret),
        "every byte percent-encoded": "".join(f"%{b:02X}" for b in secret.encode()),
        "percent-encoded in lower case": "".join(f"%{b:02x}" for b in secret.encode()),
        "only underscores percent-encoded": secret.replace("_", "%5F").replace("-", "%2D"),
        "json \\u escapes": "".join(f"\\u{ord(c):04x}" for c in secret),
        "json string": json.dumps(secret),
        "hex": secret.encode().hex(),
        "hex in upper case": secret.encode().hex().upper(),
        "hex of the upper-cased key": secret.upper().encode().hex(),
        "base64": _b64(secret),
        "base64 of key: (basic auth)": _b64(f"{secret}:"),
        "basic auth header": f"Basic {_b64(f'{secret}:')}",
        "base64 of the upper-cased key": _b64(secret.upper()),
        "base64url": base64.urlsafe_b64encode(secret.encode()).decode(),
        "base64 one byte in": _b64(f"u{secret}:"),
        "base64 two bytes in": _b64(f"us{secret}"),
        "url-encoded base64": quote(_b64(f"{secret}:"), safe=""),
        "base64 in upper case": _b64(secret).upper(),
    }


def spellings(secret: str) -> dict[str, str]:
    """What must not appear anywhere: each echo stripped to the part that encodes the secret alone."""
    found = {name: text for name, text in echoes(secret).items() if name not in _DECORATED}
    found["base64 one byte in"] = _inner_b64("u", secret)
    found["base64 two bytes in"] = _inner_b64("us", secret)
    found["base64 of key: (basic auth)"] = _inner_b64("", secret)
    found["url-encoded base64"] = quote(_inner_b64("", secret), safe="")
    found["json string"] = secret
    return found


_DECORATED = {"bearer header", "basic auth header"}


def leaks(secret: str, text: str) -> list[str]:
    """The names of the spellings of ``secret`` found in ``text`` (whole or a 12-character piece), any case."""
    pieces, short = _pieces(secret)
    haystack = text.lower()
    found = {name for spelling, name in short if spelling in haystack}
    for start in range(len(haystack) - CHUNK + 1):  # one pass, however many pieces there are
        names = pieces.get(haystack[start : start + CHUNK])
        if names:
            found |= names
    return sorted(found)


@functools.cache
def _pieces(secret: str) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """Every 12-character piece of every spelling (lower case), with the spellings it comes from; and the
    spellings too short to have one."""
    pieces: dict[str, set[str]] = {}
    short: list[tuple[str, str]] = []
    for name, spelling in spellings(secret).items():
        needle = spelling.lower()
        if len(needle) < CHUNK:
            short.append((needle, name))
        for start in range(len(needle) - CHUNK + 1):
            pieces.setdefault(needle[start : start + CHUNK], set()).add(name)
    return pieces, short
