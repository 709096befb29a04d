"""Settings from environment variables (prefix SHOPKEEPER_), validated once at start.

Kept free of heavy imports: the server reads these before it answers ``initialize``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import quote, unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from mcp_server.models.access import EVERY_SCOPE, READ_ONLY, Scope, parse_scopes

ENV_PREFIX = "SHOPKEEPER_"
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
_SUPPORTED_SCHEMES = ("sqlite+aiosqlite://", "postgresql+asyncpg://", "postgresql+psycopg://")
_POSTGRES_ALIASES = ("postgresql://", "postgres://")  # what psql, pg_dump and most hosts print


class ConfigError(Exception):
    """A setting has a value the server cannot start with; the message is one line for a person."""


def default_data_dir(env: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The user's data directory for Shopkeeper, following each platform's convention."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    home = Path(env.get("HOME") or Path.home())
    if platform == "win32":
        base = env.get("LOCALAPPDATA") or env.get("APPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "Shopkeeper"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "Shopkeeper"
    xdg = env.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else home / ".local" / "share") / "shopkeeper"


def default_database_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the database lives when SHOPKEEPER_DATABASE_URL is not set."""
    return default_data_dir(env) / "shopkeeper.db"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    database_url: str = Field(min_length=1)
    log_level: LogLevel = "INFO"
    actor: str | None = Field(default=None, min_length=1, max_length=200)
    timezone: str = Field(default="UTC", description="IANA time zone for reports and date filters")
    worker: bool = Field(default=True, description="deliver queued e-mails from inside the MCP server")
    email_api_base: str = Field(default="https://api.postmarkapp.com", min_length=8, max_length=300)
    email_api_token: SecretStr | None = None
    email_from: str = Field(default="shop@localhost", min_length=3, max_length=254)
    stripe_api_base: str = Field(default="https://api.stripe.com", min_length=8, max_length=300)
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = Field(
        default=None, description="the signing secret (whsec_…) of the gateway's webhook endpoint /webhooks/stripe"
    )
    approvals: Literal["person", "none"] = Field(
        default="person",
        description="who lets money go back: a person (default), or none, for unattended automation only",
    )
    approval_ttl: int = Field(
        default=600, ge=60, le=86_400, description="seconds an approval request stays open (10 minutes by default)"
    )
    approval_port: int = Field(
        default=0, ge=0, le=65_535, description="the approval page's port on 127.0.0.1 (0: a free one)"
    )
    db_pool_size: int = Field(
        default=5, ge=1, le=200, description="PostgreSQL: connections one process keeps open at most"
    )
    db_pool_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="PostgreSQL: seconds a call waits for a free connection (or a locked row) before it "
        "answers busy, nothing changed",
    )
    db_pgbouncer: bool = Field(
        default=False,
        description="PostgreSQL behind PgBouncer's transaction pooling: no server-side prepared statements",
    )
    mail_dir_setting: Path | None = Field(
        default=None,
        alias="mail_dir",
        description="where e-mails are written as files when no provider token is set (default: beside "
        "a SQLite database; the data directory for PostgreSQL)",
    )
    scopes: str = Field(
        default="all",
        max_length=200,
        description="what this server's callers may do: all, or scopes such as read,orders (see README)",
    )
    read_only: bool = Field(default=False, description="only the read scope, whatever SHOPKEEPER_SCOPES says")
    http_allowed_hosts: str | None = Field(
        default=None,
        max_length=2000,
        description="HTTP door: Host values it serves, comma-separated (* a wildcard, e.g. shop.example.com,"
        "127.0.0.1:*); by default the address it listens on",
    )
    http_allowed_origins: str | None = Field(
        default=None,
        max_length=2000,
        description="HTTP door: browser Origins allowed to call /mcp, comma-separated; by default its own address",
    )
    jwt_key: SecretStr | None = Field(
        default=None,
        description="HTTP door: an identity provider's public key (PEM) or HS256 secret; JWTs it signed are accepted",
    )
    jwt_issuer: str | None = Field(default=None, max_length=500, description="HTTP door: the JWTs' required iss")
    jwt_audience: str | None = Field(default=None, max_length=500, description="HTTP door: the JWTs' required aud")
    jwt_algorithms: str = Field(default="RS256", max_length=100, description="HTTP door: accepted JWT algorithms")
    request_state_key: SecretStr | None = Field(
        default=None,
        description="HTTP door: the key every worker seals an unfinished elicitation with (made per start if unset)",
    )
    max_message_bytes: int = Field(
        default=4_194_304,  # 4 MiB, the MCP SDK's default for an HTTP request body
        ge=65_536,
        le=268_435_456,
        description="largest MCP message accepted, in bytes; a larger one is refused without being kept in memory",
    )

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        example = (
            "e.g. sqlite+aiosqlite:////home/me/shop.db (four slashes before an absolute path), "
            "or postgresql://user:password@host:5432/shop"
        )
        if value.startswith(_POSTGRES_ALIASES):
            value = "postgresql+asyncpg://" + value.split("://", 1)[1]  # decision 0013: asyncpg
        if not value.startswith(_SUPPORTED_SCHEMES):
            raise ValueError(f"must start with one of {', '.join(_SUPPORTED_SCHEMES)} ({example})")
        if value.startswith("postgresql"):
            rest = value.split("://", 1)[1]
            if not rest.split("?", 1)[0].rstrip("/").partition("/")[2]:
                raise ValueError("name the database after the host, e.g. postgresql://user@host:5432/shop")
            return value
        path = unquote(value.split(":///", 1)[1].split("?", 1)[0]) if ":///" in value else ""
        if path in ("", ":memory:") or "mode=memory" in value:
            # Every unit of work would share one connection: no isolation, no concurrent writers.
            raise ValueError(f"an in-memory database is not supported; give a file ({example})")
        if not Path(path).is_absolute():
            # A desktop app starts the server in a working directory of its own choosing.
            raise ValueError(f"the database file must be an absolute path ({example})")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"'{value[:60]}' is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
        return value

    @field_validator("scopes")
    @classmethod
    def _known_scopes(cls, value: str) -> str:
        if value.strip().lower() != "all":
            parse_scopes(value.lower())
        return value.strip().lower()

    @field_validator("worker", "db_pgbouncer", "read_only", mode="before")
    @classmethod
    def _on_off(cls, value: object) -> object:
        if isinstance(value, str):
            word = value.strip().lower()
            if word in ("on", "true", "1", "yes"):
                return True
            if word in ("off", "false", "0", "no"):
                return False
            raise ValueError("must be on or off")
        return value

    @field_validator("email_api_base", "stripe_api_base")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, e.g. https://api.stripe.com")
        return value

    @field_validator("stripe_secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("sk_", "rk_")):
            raise ValueError("must be a Stripe secret or restricted key (sk_… or rk_…)")
        return value

    @field_validator("stripe_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("whsec_"):
            raise ValueError("must be a Stripe webhook signing secret (whsec_…)")
        return value

    @field_validator("approvals", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("mail_dir_setting")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_absolute():
            raise ValueError("must be an absolute path, e.g. /home/me/shop-mail")
        return value

    @model_validator(mode="after")
    def _jwt_complete(self) -> Settings:
        if self.jwt_key is not None and not (self.jwt_issuer and self.jwt_audience):
            raise ValueError("SHOPKEEPER_JWT_KEY needs SHOPKEEPER_JWT_ISSUER and SHOPKEEPER_JWT_AUDIENCE as well")
        if "none" in self.jwt_algorithms.lower().replace(",", " ").split():
            raise ValueError("SHOPKEEPER_JWT_ALGORITHMS may not include none")
        return self

    @property
    def granted_scopes(self) -> frozenset[Scope]:
        """The scopes a caller on this server's own door (stdio) has: SHOPKEEPER_SCOPES, or only ``read``."""
        if self.read_only:
            return READ_ONLY
        return EVERY_SCOPE if self.scopes == "all" else parse_scopes(self.scopes)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def mail_dir(self) -> Path:
        """Where e-mails are written as files when no provider token is set: SHOPKEEPER_MAIL_DIR, else
        beside a SQLite database, else in the data directory."""
        if self.mail_dir_setting is not None:
            return self.mail_dir_setting
        return self.sqlite_path.parent / "mail" if self.is_sqlite else default_data_dir() / "mail"

    @property
    def sqlite_path(self) -> Path:
        """The database file (validated absolute); %-escapes decoded as SQLAlchemy decodes them (%3F is '?').

        Only for a SQLite URL (see ``is_sqlite``)."""
        if not self.is_sqlite:
            raise ValueError("not a SQLite database")
        return Path(unquote(self.database_url.split(":///", 1)[1].split("?", 1)[0]))

    @property
    def database_label(self) -> str:
        """How to name the database to a person: the file, or the server's URL with its password hidden."""
        if self.is_sqlite:
            return str(self.sqlite_path)
        # As psql and pg_dump take it: no driver name (an implementation detail), no password.
        return "postgresql://" + hide_password(self.database_url).split("://", 1)[1]


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ***, for logs and messages."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, tail = rest.partition("/")
    credentials, at, host = authority.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}{slash}{tail}"


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read SHOPKEEPER_* variables; raise ConfigError with one readable line on a bad value."""
    env = os.environ if env is None else env
    raw: dict[str, str] = {}
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and value != "":
            raw[key[len(ENV_PREFIX) :].lower()] = value
    known = {field.alias or name for name, field in Settings.model_fields.items()}
    unknown = sorted(k for k in raw if k not in known)
    for name in unknown:
        raw.pop(name)  # later issues add variables; an unknown one is not fatal
    if "database_url" not in raw:
        default = quote(str(default_database_path(env)), safe="/\\:")  # a '#', '?' or '%' in HOME stays in the path
        raw["database_url"] = f"sqlite+aiosqlite:///{default}"
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ENV_PREFIX + str(first["loc"][0]).upper() if first["loc"] else "a SHOPKEEPER_ variable"
        raise ConfigError(f"invalid {name}: {first['msg']}") from None
