from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcp_server.config import ConfigError, default_data_dir, load_settings
from mcp_server.utils.cursors import CursorError, decode_cursor, encode_cursor
from mcp_server.utils.emails import normalize_email
from mcp_server.utils.ids import IdGenerator, canonical_id, has_prefix
from mcp_server.utils.markdown import escape
from mcp_server.utils.text import clean_line, clean_text


def test_ids_are_prefixed_well_formed_and_sorted_in_creation_order():
    ids = IdGenerator()
    made = [ids.new("cus") for _ in range(1000)]
    assert all(has_prefix(i, "cus") for i in made)
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert not has_prefix(made[0], "ord")
    assert not has_prefix("cus_short", "cus")


@pytest.mark.parametrize("raw", ["Ada@Example.COM", "  ada@example.com ", "first.last+tag@sub.example.co.uk"])
def test_good_emails_are_normalized(raw: str):
    assert normalize_email(raw) == raw.strip().lower()


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ada",
        "ada@",
        "@example.com",
        "ada@example",
        "a b@example.com",
        "a@b..com",
        "x" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_bad_emails_are_refused_with_a_reason(raw: str):
    with pytest.raises(ValueError, match=r"\S"):
        normalize_email(raw)


@given(
    st.lists(st.one_of(st.from_regex(r"[A-Za-z0-9_]{0,40}", fullmatch=True), st.integers()), min_size=1, max_size=3),
    st.text(max_size=200),
)
def test_cursor_round_trip(after: list[str | int], text: str):
    filters = {"text": text}
    cursor = encode_cursor("customers", filters, after)
    assert decode_cursor(cursor, "customers", filters, arity=len(after)) == after


@given(st.text(max_size=600))
def test_garbage_cursor_is_refused_not_crashing(garbage: str):
    try:
        decode_cursor(garbage, "customers", {"text": None}, arity=1)
    except CursorError:
        return
    # Only a string that really is a cursor for this query may pass.
    assert garbage == encode_cursor("customers", {"text": None}, decode_cursor(garbage, "customers", {"text": None}, 1))


def test_cursor_bound_to_kind_and_filters():
    cursor = encode_cursor("customers", {"text": "a"}, ["cus_1"])
    with pytest.raises(CursorError, match="different filters"):
        decode_cursor(cursor, "customers", {"text": "b"}, arity=1)
    with pytest.raises(CursorError):
        decode_cursor(cursor, "audit", {"text": "a"}, arity=1)


def test_markdown_escape_keeps_user_text_inert():
    assert escape("a|b *c* [x](y)\nnext") == r"a\|b \*c\* \[x\](y) next"


def test_settings_defaults_to_sqlite_in_the_data_dir(tmp_path: Path):
    settings = load_settings({"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'shopkeeper' / 'shopkeeper.db'}"
    assert settings.log_level == "INFO"
    assert settings.actor is None


def test_settings_read_prefixed_variables():
    settings = load_settings(
        {
            "SHOPKEEPER_DATABASE_URL": "sqlite+aiosqlite:////tmp/x.db",
            "SHOPKEEPER_LOG_LEVEL": "debug",
            "SHOPKEEPER_ACTOR": "night-shift",
        }
    )
    assert (settings.database_url, settings.log_level, settings.actor) == (
        "sqlite+aiosqlite:////tmp/x.db",
        "DEBUG",
        "night-shift",
    )
    assert settings.sqlite_path == Path("/tmp/x.db")


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SHOPKEEPER_DATABASE_URL": "mysql://db/shop"}, "SHOPKEEPER_DATABASE_URL"),
        ({"SHOPKEEPER_LOG_LEVEL": "LOUD"}, "SHOPKEEPER_LOG_LEVEL"),
        ({"SHOPKEEPER_DATABASE_URL": "sqlite+aiosqlite:///:memory:"}, "in-memory"),
        ({"SHOPKEEPER_DATABASE_URL": "sqlite+aiosqlite://"}, "in-memory"),
        ({"SHOPKEEPER_DATABASE_URL": "sqlite+aiosqlite:///shop.db"}, "absolute path"),
    ],
)
def test_bad_settings_give_one_clear_line(env: dict[str, str], names: str):
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    message = str(info.value)
    assert names in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("platform", "env", "expected"),
    [
        ("linux", {"HOME": "/home/a"}, Path("/home/a/.local/share/shopkeeper")),
        ("darwin", {"HOME": "/Users/a"}, Path("/Users/a/Library/Application Support/Shopkeeper")),
        (
            "win32",
            {"HOME": "C:/Users/a", "LOCALAPPDATA": "C:/Users/a/AppData/Local"},
            Path("C:/Users/a/AppData/Local/Shopkeeper"),
        ),
    ],
)
def test_data_dir_per_platform(platform: str, env: dict[str, str], expected: Path):
    assert default_data_dir(env, platform) == expected


def test_canonical_id_accepts_any_letter_case_and_crockford_aliases():
    real = IdGenerator().new("cus")
    assert canonical_id(real.lower(), "cus") == real
    assert canonical_id(" " + real.upper().replace("CUS_", "Cus_") + " ", "cus") == real
    assert canonical_id("cus_0123456789abcdefghjkmnpqrs".replace("0", "o"), "cus") == "cus_0123456789ABCDEFGHJKMNPQRS"
    assert canonical_id(real, "ord") is None
    assert canonical_id("cus_short", "cus") is None
    assert canonical_id("cus_" + "U" * 26, "cus") is None  # U is not in the alphabet


@pytest.mark.parametrize("bad", ["\u200b", "Ada\x07", "tab\there", " \u200d "])
def test_names_must_be_visible_text_on_one_line(bad: str):
    with pytest.raises(ValueError, match=r"invisible|control|visible"):
        clean_line(bad)


def test_notes_may_span_lines_but_not_hold_control_characters():
    assert clean_text("first line\nsecond\tline") == "first line\nsecond\tline"
    with pytest.raises(ValueError, match="U\\+0000"):
        clean_text("nul\x00byte")


def test_a_jwt_key_needs_its_issuer_and_audience_and_none_is_never_an_algorithm() -> None:
    with pytest.raises(ConfigError, match="needs SHOPKEEPER_JWT_ISSUER and SHOPKEEPER_JWT_AUDIENCE"):
        load_settings({"SHOPKEEPER_JWT_KEY": "secret"})
    with pytest.raises(ConfigError, match="may not include none"):
        load_settings({"SHOPKEEPER_JWT_ALGORITHMS": "RS256,none"})
    done = load_settings(
        {"SHOPKEEPER_JWT_KEY": "k", "SHOPKEEPER_JWT_ISSUER": "https://id.example", "SHOPKEEPER_JWT_AUDIENCE": "shop"}
    )
    assert done.jwt_audience == "shop"
