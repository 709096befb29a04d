"""The secret scrubber: every spelling of a configured secret is blanked out, and the result is bounded."""

from __future__ import annotations

import base64
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_server.utils.secrets import Scrubber, ScrubbingLogFilter
from tests.reliability.echoes import echoes, leaks

KEY = "sk_test_51Hx9QeLkdIwHu7ixEchoedBackKey0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
TOKEN = "5f3a9c1e-7b2d-4e8f-9a6c-1d2e3f4a5b6c"
SCRUB = Scrubber({KEY: "[secret key]", TOKEN: "[server token]"})

# Secrets from the characters API keys and tokens use; surrounding text from characters none of the
# encodings can produce, so whatever is left of it must come through unchanged.
KEY_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
secrets = st.text(st.sampled_from(KEY_CHARACTERS), min_size=8, max_size=110)
around = st.text(st.sampled_from(" .,;:!?()[]{}<>'#@*|~\n\täöüß€→"), max_size=40)


@pytest.mark.parametrize("secret", [KEY, TOKEN], ids=["stripe key", "e-mail token"])
@pytest.mark.parametrize("how", list(echoes(KEY)))
def test_every_spelling_of_a_secret_is_blanked_out(secret: str, how: str) -> None:
    text = f"No such key: {echoes(secret)[how]} (see the docs)"

    cleaned = SCRUB(text, limit=None)

    assert leaks(secret, cleaned) == []
    assert cleaned.startswith("No such key: ")
    assert cleaned.endswith(" (see the docs)")
    assert "[secret key]" in cleaned or "[server token]" in cleaned


@given(secret=secrets, before=around, after=around)
def test_an_echo_becomes_the_marker_and_the_text_around_it_stays(secret: str, before: str, after: str) -> None:
    scrub = Scrubber({secret: "[secret]"})
    exact = ("as sent", "upper case", "url-encoded", "json \\u escapes", "hex", "base64 of key: (basic auth)")

    for how in exact:
        assert scrub(before + echoes(secret)[how] + after, limit=None) == f"{before}[secret]{after}", how
    for how, echo in echoes(secret).items():
        assert leaks(secret, scrub(before + echo + after, limit=None)) == [], how


@given(text=st.text(max_size=2000), limit=st.integers(min_value=0, max_value=500))
def test_the_result_is_never_longer_than_the_limit(text: str, limit: int) -> None:
    assert len(SCRUB(text, limit=limit)) <= limit


@given(text=around)
def test_text_without_a_secret_passes_unchanged(text: str) -> None:
    assert SCRUB(text, limit=None) == text
    assert SCRUB(text) == text[:300]


@given(filler=st.integers(min_value=0, max_value=320), cut=st.integers(min_value=1, max_value=400))
def test_cutting_to_the_limit_never_leaves_a_piece_of_the_secret(filler: int, cut: int) -> None:
    cleaned = SCRUB("x" * filler + KEY.upper() + " tail", limit=cut)

    assert leaks(KEY, cleaned) == []
    assert set(cleaned[:filler]) <= {"x"}
    assert cleaned[filler:] == ("[secret key] tail")[: max(0, cut - filler)]


@given(shift=st.integers(min_value=0, max_value=700), copies=st.integers(min_value=1, max_value=80))
def test_a_long_answer_never_leaves_a_secret_cut_by_where_the_scrubber_stops_looking(shift: int, copies: int) -> None:
    """Each JSON-escaped copy takes 6 characters per character of the key but leaves only a marker, so
    the result reaches the end of how far the scrubber looks; a copy cut there must not show through."""
    escaped = echoes(TOKEN)["json \\u escapes"]
    cleaned = SCRUB("y" * shift + escaped * copies, limit=300)

    rest = cleaned.replace("[server token]", "")
    for end in range(len("[server token]"), 0, -1):  # the cut may leave the start of a marker
        rest = rest.removesuffix("[server token]"[:end])
    assert set(rest) <= {"y"}
    assert leaks(TOKEN, cleaned) == []


def test_overlapping_occurrences_are_blanked_out_entirely() -> None:
    scrub = Scrubber({"k3yk3yk3yk3y": "[secret]"})

    assert scrub("<k3yk3yk3yk3yk3y>") == "<[secret]>"  # two occurrences, three characters apart
    assert scrub("k3yk3yk3yk3y" + "K3YK3YK3YK3Y") == "[secret]"


@pytest.mark.parametrize("prefix", ["", "u", "us", "usr", "user:"])
@pytest.mark.parametrize("suffix", ["", ":", "::", ":pw"])
def test_a_secret_inside_a_longer_base64_text_is_found_at_any_offset(prefix: str, suffix: str) -> None:
    encoded = base64.b64encode(f"{prefix}{KEY}{suffix}".encode()).decode()

    assert leaks(KEY, SCRUB(f"Authorization: Basic {encoded}", limit=None)) == []


def test_without_secrets_text_is_only_bounded() -> None:
    assert Scrubber({"": "[x]"})("abc" * 200) == ("abc" * 200)[:300]
    assert Scrubber({})("sk_test_whatever", limit=7) == "sk_test"


def test_the_scrubber_does_not_show_what_it_hides() -> None:
    assert KEY not in repr(SCRUB)
    assert TOKEN not in repr(SCRUB)


def test_the_log_filter_blanks_secrets_out_of_a_record(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.secrets.third_party")
    scrubbing = ScrubbingLogFilter(SCRUB)
    logger.addFilter(scrubbing)
    try:
        with caplog.at_level(logging.DEBUG, logger=logger.name):
            logger.debug("receive_response_headers.complete return_value=%r", (b"HTTP/1.1", 402, KEY.encode()))
            logger.info('HTTP Request: POST %s "%s"', "http://gw/v1", echoes(TOKEN)["base64"])
            logger.info("nothing secret in %s", "here")
    finally:
        logger.removeFilter(scrubbing)

    assert [r.getMessage() for r in caplog.records] == [
        "receive_response_headers.complete return_value=(b'HTTP/1.1', 402, b'[secret key]')",
        'HTTP Request: POST http://gw/v1 "[server token]"',
        "nothing secret in here",
    ]
