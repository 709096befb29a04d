"""The composition root: reads settings, builds adapters, wires services, starts a door.

It is the only module that knows every concrete class. ``bootstrap(settings)`` builds the
application (settings → backend factory → the MCP server with its lifespan, or the CLI's
actions); ``main()``, ``cli_main()`` and the tests all start there. To keep the answer to
``initialize`` fast, the database half (SQLAlchemy, aiosqlite, migrations) is imported on a
worker thread and started in a background task that the first tool call waits for.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

import anyio

from mcp_server import __version__
from mcp_server.config import ConfigError, Settings, default_database_path, load_settings
from mcp_server.handlers.consumers.card_settler import run_card_settler
from mcp_server.handlers.consumers.outbox_worker import run_outbox_worker
from mcp_server.handlers.mcp.context import AppContext, BackendUnavailableError, ServiceRegistry
from mcp_server.models.access import Caller

if TYPE_CHECKING:
    from anyio.abc import TaskGroup
    from mcp.server.mcpserver import MCPServer
    from starlette.applications import Starlette

    from mcp_server.adapters.database import Creation, PoolOptions
    from mcp_server.adapters.service_factories import Backend, CardOptions, MailOptions
    from mcp_server.handlers.cli.main import CliActions, CopyMade
    from mcp_server.handlers.http.jwt_tokens import JwtVerifier
    from mcp_server.handlers.web.approval_page import ApprovalPage
    from mcp_server.services.results import Unavailable

logger = logging.getLogger("mcp_server")


class Warmup:
    """Opens the database in the background; ``services()`` waits for it.

    If opening fails (a locked or unwritable file), the next tool call tries again, so a
    passing problem does not leave the server useless until it is restarted. A missing
    database is created only as ``creation`` allows (see ``server_creation``).
    """

    RETRY_AFTER_S = 5.0
    UNAVAILABLE = "it could not be opened or migrated at the configured location."

    def __init__(self, open_backend: Callable[[], Awaitable[Backend]]) -> None:
        self._open_backend = open_backend
        self._lock = anyio.Lock()
        self._backend: Backend | None = None
        self._failed_at: float | None = None
        self._problem = self.UNAVAILABLE
        self._logged: str | None = None
        self._announce_new_shop = False

    async def run(self) -> None:
        await self._start()

    async def _start(self) -> None:
        async with self._lock:
            if self._backend is not None:
                return
            try:
                # Shielded: a shutdown that arrives mid-migration waits for it rather than
                # abandoning a half-open connection (which would keep the process alive).
                with anyio.CancelScope(shield=True):
                    self._backend = await self._open_backend()
                    self._announce_new_shop = self._backend.is_new
                    self._logged = None
            except Exception as exc:
                self._failed_at = time.monotonic()
                log_line, self._problem = _server_problem(exc)
                # The same problem again (each retry, each worker asking) is not news: logged once.
                logger.log(logging.DEBUG if log_line == self._logged else logging.ERROR, "%s", log_line)
                self._logged = log_line
                logger.debug("details of the failed start", exc_info=True)

    async def services(self) -> ServiceRegistry:
        if self._backend is None and not self._failed_recently():
            await self._start()  # waits for the start in progress, or tries again after a failure
        if self._backend is None:
            raise BackendUnavailableError(self._problem)
        return self._backend.services

    def new_shop(self) -> bool:
        """True once, for the first answer after this server made the shop (created its file, or found it
        without a schema): the assistant is told, so a mistyped location shows at once."""
        announce, self._announce_new_shop = self._announce_new_shop, False
        return announce

    def _failed_recently(self) -> bool:
        """After a failure, answer at once for a few seconds instead of queueing behind retries."""
        if self._failed_at is None or self._lock.locked():
            return False
        return time.monotonic() - self._failed_at < self.RETRY_AFTER_S

    async def ready(self) -> str | None:
        """None when the shop can serve (the database answers, its schema is this version's); else why not."""
        try:
            await self.services()
        except BackendUnavailableError as exc:
            return exc.public_message
        assert self._backend is not None
        from mcp_server.adapters.database import current_revision
        from mcp_server.adapters.migrations import HEAD_REVISION

        try:
            revision = await current_revision(self._backend.engine)
        except Exception:
            logger.debug("the readiness check could not read the schema revision", exc_info=True)
            return "the shop's database does not answer"
        if revision != HEAD_REVISION:
            return f"the database's schema is at revision {revision}, not {HEAD_REVISION}: run 'shopkeeper db upgrade'"
        return None

    async def close(self) -> None:
        if self._backend is not None:
            await self._backend.close()
            self._backend = None


def _server_problem(exc: BaseException) -> tuple[str, str]:
    """(one line for the server's log, the words an agent gets) for a failed start."""
    try:
        from mcp_server.adapters.database import DatabaseMissingError, describe_failure
    except Exception:  # the database half could not even be imported
        return f"could not open or migrate the database: {_one_line(exc)}", Warmup.UNAVAILABLE
    if isinstance(exc, DatabaseMissingError):
        return (
            f"{exc}; {CREATE_IT} (the server creates a database by itself only at the default location, "
            "or as a new file in a directory that exists)",
            "there is no shop database at the configured location (SHOPKEEPER_DATABASE_URL); the person running "
            "Shopkeeper can create it with 'shopkeeper db init', or correct the setting.",
        )
    return f"could not open or migrate the database: {describe_failure(exc)}", Warmup.UNAVAILABLE


def server_creation(settings: Settings) -> Creation:
    """Where the MCP server may create a missing database: at the default location (its directories
    too), else only as a new file in a directory that already exists."""
    if not settings.is_sqlite:
        return "never"  # a database server's database is made by its administrator (createdb), then migrated here
    return "anywhere" if settings.sqlite_path == default_database_path() else "new-file"


def _one_line(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


def _import_options() -> tuple[type[MailOptions], type[CardOptions]]:
    from mcp_server.adapters.service_factories import CardOptions, MailOptions

    return MailOptions, CardOptions


def card_options(settings: Settings) -> dict[str, Any] | None:
    """The payment gateway's settings, or None when no secret key is set (card payments off)."""
    if settings.stripe_secret_key is None:
        return None
    return {"secret_key": settings.stripe_secret_key.get_secret_value(), "api_base": settings.stripe_api_base}


def mail_options(settings: Settings) -> dict[str, Any]:
    token = settings.email_api_token.get_secret_value() if settings.email_api_token else None
    return {
        "directory": settings.mail_dir,
        "sender": settings.email_from,
        "api_base": settings.email_api_base,
        "token": token,
    }


def pool_options(settings: Settings) -> PoolOptions:
    """The connection pool for a database server (SQLite ignores it)."""
    from mcp_server.adapters.database import PoolOptions

    return PoolOptions(size=settings.db_pool_size, timeout_s=settings.db_pool_timeout, pgbouncer=settings.db_pgbouncer)


def _import_backend() -> type[Backend]:
    from mcp_server.adapters.service_factories import Backend

    return Backend


class BackendFactory:
    """Opens the database-backed half on one set of settings: the one place settings become a
    ``Backend`` (engine, services, e-mail, card gateway), for the MCP server and the CLI alike."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def start(self, create: Creation) -> Backend:
        """The backend, a missing database created only as ``create`` allows. The database half is
        imported on a worker thread, so the event loop keeps answering meanwhile."""
        backend_class = await anyio.to_thread.run_sync(_import_backend)
        mail_class, card_class = _import_options()
        cards = card_options(self.settings)
        if self.settings.approvals == "none":
            logger.warning(
                "SHOPKEEPER_APPROVALS=none: money goes back with no person's approval (for unattended automation "
                "only); every audit entry it lets through says so"
            )
        return await backend_class.start(
            self.settings.database_url,
            timezone=self.settings.timezone,
            mail=mail_class(**mail_options(self.settings)),
            cards=card_class(**cards) if cards else None,
            create=create,
            approval_ttl=timedelta(seconds=self.settings.approval_ttl),
            approvals_required=self.settings.approvals == "person",
            pool=pool_options(self.settings),
        )


@dataclass(frozen=True, slots=True)
class Application:
    """The shop wired on one set of settings; each door is built when asked for (nothing heavy before)."""

    settings: Settings
    backends: BackendFactory

    def mcp_server(self) -> MCPServer[AppContext]:
        """The MCP server, whose lifespan opens the backend in the background (and runs the workers)."""
        from mcp_server.handlers.mcp.server import build_server

        return build_server(self.lifespan, log_level=self.settings.log_level)

    def cli_actions(self) -> CliActions:
        """What the command line can do (see ``_cli_actions``)."""
        return _cli_actions(self.settings, self.backends)

    @asynccontextmanager
    async def lifespan(self, _server: MCPServer[AppContext]) -> AsyncGenerator[AppContext]:
        """The stdio server's: the database opened in the background, callers with the settings' scopes."""
        settings = self.settings
        warmup = Warmup(lambda: self.backends.start(server_creation(settings)))
        stdio_caller = Caller(actor=settings.actor, scopes=settings.granted_scopes)
        async with self._serving(warmup, lambda: stdio_caller) as context:
            yield context

    @asynccontextmanager
    async def _serving(
        self,
        warmup: Warmup,
        caller: Callable[[], Caller],
        approval_link: Callable[[str], Awaitable[str | None]] | None = None,
    ) -> AsyncGenerator[AppContext]:
        """The server's running state; the approval page starts on first need unless the door serves it."""
        settings = self.settings
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(warmup.run)
                if settings.worker:
                    tasks.start_soon(run_outbox_worker, warmup.services)
                    tasks.start_soon(run_card_settler, warmup.services)
                if approval_link is None:
                    approval_link = _PageOnDemand(warmup.services, settings.approval_port, tasks).link
                try:
                    yield AppContext(
                        services=warmup.services,
                        actor=settings.actor,
                        new_shop=warmup.new_shop,
                        approval_link=approval_link,
                        caller=caller,
                    )
                finally:
                    tasks.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await warmup.close()

    def http_app(self, *, host: str, port: int) -> Starlette:
        """The HTTP door: MCP over Streamable HTTP at ``/mcp`` (stateless, a bearer token on every request,
        the token's scopes), with ``/healthz`` and ``/readyz``, Host and Origin allow-lists and the body limit."""
        from mcp.server.auth.settings import AuthSettings
        from mcp.server.request_state import RequestStateSecurity
        from mcp.server.transport_security import TransportSecuritySettings

        from mcp_server.handlers.http.auth import FirstOf, ShopTokenVerifier, http_caller
        from mcp_server.handlers.http.door import door_routes, host_checked
        from mcp_server.handlers.http.webhooks import stripe_webhook_route
        from mcp_server.handlers.mcp.server import build_server
        from mcp_server.handlers.web.approval_page import ApprovalPage
        from mcp_server.utils.time import SystemClock

        settings = self.settings
        warmup = Warmup(lambda: self.backends.start(server_creation(settings)))
        base = f"http://{_url_host(host)}:{port}"
        hosts = _listed(settings.http_allowed_hosts) or _own_hosts(host, port)
        origins = _listed(settings.http_allowed_origins) or [f"http://{h}" for h in hosts]

        key = settings.request_state_key
        # The approval pages are the door's own routes; every worker accepts the forms any worker showed.
        form_key = hashlib.sha256(b"approval forms\0" + key.get_secret_value().encode()).digest() if key else None
        page = ApprovalPage.on_door(
            warmup.services, base_url=base, hosts=hosts, origins=origins, secret=form_key or os.urandom(32)
        )

        async def approval_link(approval_id: str) -> str:
            return page.link(approval_id)

        @asynccontextmanager
        async def lifespan(_server: MCPServer[AppContext]) -> AsyncGenerator[AppContext]:
            async with self._serving(warmup, http_caller, approval_link) as context:
                yield context

        server = build_server(
            lifespan,
            log_level=settings.log_level,
            # The shop's own tokens are for this server alone (they carry no audience to check).
            auth=AuthSettings(
                issuer_url=base,  # pyright: ignore[reportArgumentType] - pydantic parses the URL
                resource_server_url=f"{base}/mcp",  # pyright: ignore[reportArgumentType]
                validate_token_resource=False,
            ),
            token_verifier=FirstOf([*_jwt_verifiers(settings), ShopTokenVerifier(warmup.services)]),
            # Every worker seals an unfinished elicitation with the same key, so any worker can finish it.
            request_state_security=RequestStateSecurity(keys=[key.get_secret_value()]) if key else None,
        )
        secret = settings.stripe_webhook_secret
        webhook = stripe_webhook_route(warmup.services, secret.get_secret_value() if secret else None, SystemClock())
        for route in [*door_routes(warmup.ready), webhook, *page.routes()]:
            server.custom_route(route.path, methods=sorted(route.methods or ()))(host_checked(route.endpoint, hosts))
        return server.streamable_http_app(
            stateless_http=True,
            host=host,
            max_request_body_size=settings.max_message_bytes,
            transport_security=TransportSecuritySettings(
                enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
            ),
        )


def _jwt_verifiers(settings: Settings) -> list[JwtVerifier]:
    """An identity provider's JWTs, when SHOPKEEPER_JWT_KEY is set (its issuer and audience are then required)."""
    if settings.jwt_key is None or settings.jwt_issuer is None or settings.jwt_audience is None:
        return []
    from mcp_server.handlers.http.jwt_tokens import JwtVerifier

    algorithms = settings.jwt_algorithms.replace(",", " ").split()
    return [
        JwtVerifier(
            key=settings.jwt_key.get_secret_value(),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            algorithms=algorithms,
        )
    ]


def _listed(text: str | None) -> list[str]:
    return [item.strip() for item in (text or "").split(",") if item.strip()]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _own_hosts(host: str, port: int) -> list[str]:
    """The Host values a client reaching this address sends: the loopback names for a loopback bind."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return [f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]
    return [f"{_url_host(host)}:{port}"]


class _PageOnDemand:
    """The approval page, started in the server's task group the first time an answer needs its link."""

    def __init__(self, services: Callable[[], Awaitable[ServiceRegistry]], port: int, tasks: TaskGroup) -> None:
        self._services = services
        self._port = port
        self._tasks = tasks
        self._lock = anyio.Lock()
        self._page: ApprovalPage | None = None
        self._failed = False

    async def link(self, approval_id: str) -> str | None:
        async with self._lock:
            if self._page is None and not self._failed:
                from mcp_server.handlers.web.approval_page import ApprovalPage

                page = ApprovalPage(self._services, port=self._port)
                try:
                    await self._tasks.start(page.run)
                except OSError as exc:  # e.g. SHOPKEEPER_APPROVAL_PORT taken: the terminal still works
                    logger.error("the approval page could not start: %s", exc.strerror or type(exc).__name__)
                    self._failed = True
                    return None
                self._page = page
        return self._page.link(approval_id) if self._page is not None else None


def bootstrap(settings: Settings) -> Application:
    """The application on ``settings``: the one wiring ``main()``, ``cli_main()`` and the tests use.

    Tests change what they need through the settings (a stand-in gateway's URL, a time zone, the
    worker off), never by wiring their own copy."""
    return Application(settings, BackendFactory(settings))


def _settings_or_exit(program: str) -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        sys.stderr.write(f"{program}: {exc}\n")
        raise SystemExit(2) from None


_MCP_USAGE = """\
usage: shopkeeper-mcp [--transport stdio|http] [--host HOST] [--port PORT] [--workers N] [--version]

Serves Shopkeeper over MCP: on stdio (the default, for desktop assistants), or over Streamable HTTP at
/mcp for remote assistants (--transport http; a bearer token from 'shopkeeper tokens create' on every
request). Configure with SHOPKEEPER_* environment variables (see README).

  --transport stdio|http   stdio (default) or http
  --host HOST              HTTP: the address to listen on (default 127.0.0.1)
  --port PORT              HTTP: the port (default 8765)
  --workers N              HTTP: worker processes serving one shop (default 1)
  --version                print the version and exit
"""


def main(argv: Sequence[str] | None = None) -> None:
    """``shopkeeper-mcp`` and ``python -m mcp_server``: serve MCP over stdio, or over HTTP when asked."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        sys.stderr.write(_MCP_USAGE)
        return
    if "--version" in args:  # before the settings: a bad SHOPKEEPER_* value does not hide the version
        sys.stdout.write(f"shopkeeper-mcp {__version__}\n")
        return
    door = _door(args) if args else None
    settings = _settings_or_exit("shopkeeper-mcp")
    logging.getLogger("mcp_server").setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
    if door is not None and door.transport == "http":
        serve_http(settings, host=door.host, port=door.port, workers=door.workers)
        return
    # Building the server makes ~140,000 objects that all stay (the SDK, the models, the tools and their
    # schemas): the collector's passes over them while they are made free next to nothing and cost ≈65 ms
    # before the answer to initialize. So none run meanwhile; what was built is then frozen (later passes
    # skip it) and collection goes on as usual for what serving allocates.
    gc.disable()
    try:
        server = bootstrap(settings).mcp_server()
        from mcp_server.handlers.mcp.stdio import serve_stdio
    finally:
        gc.freeze()
        gc.enable()

    try:
        stopped_by = anyio.run(serve_stdio, server, settings.max_message_bytes)
    except KeyboardInterrupt:  # a Ctrl-C before serving began, or a second one during the cleanup
        stopped_by = signal.SIGINT
    if stopped_by == signal.SIGINT:  # Ctrl-C in a terminal: stopped (cleanup done), exit as shells expect
        raise SystemExit(130)
    # stdin closed, or SIGTERM (a desktop app quitting, a service manager): a clean stop, exit 0


@dataclass(frozen=True, slots=True)
class Door:
    transport: str
    host: str
    port: int
    workers: int


def _door(args: list[str]) -> Door:
    """The door the command line asks for; exit 2 with one line on anything else."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            sys.stderr.write(f"shopkeeper-mcp: {message} (see shopkeeper-mcp --help)\n")
            raise SystemExit(2)

    parser = _Parser(prog="shopkeeper-mcp", add_help=False)
    parser.add_argument("--transport", choices=("stdio", "http"), default="stdio")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=1)
    parsed = parser.parse_args(args)
    if parsed.transport == "stdio" and any(a.split("=")[0] in ("--host", "--port", "--workers") for a in args):
        parser.error("--host, --port and --workers are for --transport http")
    if not 0 < parsed.port < 65_536:
        parser.error(f"--port {parsed.port} is not a port (1-65535)")
    if not 0 < parsed.workers <= 64:
        parser.error("--workers takes 1 to 64")
    return Door(parsed.transport, parsed.host, parsed.port, parsed.workers)


WORKER_BIND = "SHOPKEEPER_HTTP_BIND"
"""How ``serve_http`` tells each worker process where it listens (``host port``)."""


def serve_http(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve the HTTP door with uvicorn until SIGINT or SIGTERM; several workers share the port and one key."""
    import uvicorn

    logging.basicConfig(level=settings.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":
        logging.getLogger("mcp").setLevel(logging.WARNING)  # a line per stateless request is not news
    # An idle connection is closed after 5 s; a stop waits up to 20 s for the calls in flight.
    limits: dict[str, Any] = {"timeout_keep_alive": 5, "timeout_graceful_shutdown": 20, "log_level": "warning"}
    if workers == 1:
        uvicorn.run(bootstrap(settings).http_app(host=host, port=port), host=host, port=port, **limits)
        return
    import secrets

    # Every worker must seal and open elicitation state with one key, and know its own address.
    os.environ.setdefault("SHOPKEEPER_REQUEST_STATE_KEY", secrets.token_urlsafe(32))
    os.environ[WORKER_BIND] = f"{host} {port}"
    uvicorn.run(
        "mcp_server.entrypoint:http_worker_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **limits,
    )


def http_worker_app() -> Starlette:
    """One worker's HTTP app (uvicorn imports this in each worker process)."""
    host, port = os.environ[WORKER_BIND].split(" ")
    return bootstrap(_settings_or_exit("shopkeeper-mcp")).http_app(host=host, port=int(port))


def cli_main(argv: Sequence[str] | None = None) -> None:
    """``shopkeeper``: the command-line door."""
    from mcp_server.handlers.cli.main import run

    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:  # before the settings: a bad setting must not hide which version this is
        sys.stdout.write(f"shopkeeper {__version__}\n")  # the command line's answer (no MCP stream here)
        raise SystemExit(0)
    settings = _settings_or_exit("shopkeeper")
    logging.basicConfig(level=settings.log_level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if settings.log_level != "DEBUG":
        # A person reads stderr: one line per problem, not every HTTP request or migration step.
        for noisy in ("alembic", "httpx", "httpcore"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    raise SystemExit(run(args, bootstrap(settings).cli_actions()))


def _cli_actions(settings: Settings, backends: BackendFactory) -> CliActions:
    """What the command line can do, on the database and settings given.

    Only ``db init`` and ``db upgrade`` create a missing database; every other command refuses it in
    one line that names the path and ``shopkeeper db init`` (a mistyped location is not a new shop).
    """
    from mcp_server.handlers.cli.common import CommandError, Exit
    from mcp_server.handlers.cli.main import BackupMade, CliActions, SchemaState

    label = settings.database_label

    async def prepare_schema(*, only_new: bool) -> SchemaState:
        from mcp_server.adapters.database import (
            create_engine,
            current_revision,
            describe_failure,
            provide_database_file,
            upgrade,
        )
        from mcp_server.adapters.migrations import HEAD_REVISION

        try:
            created = settings.is_sqlite and provide_database_file(settings.sqlite_path, "anywhere")
            engine = create_engine(settings.database_url, pool=pool_options(settings))
            try:
                before = await current_revision(engine)
                if only_new and before is not None:
                    raise CommandError(
                        f"{label} already exists (revision {before}); 'shopkeeper db upgrade' upgrades its schema",
                        Exit.REFUSED,
                    )
                upgraded = before != HEAD_REVISION and await upgrade(engine)
            finally:
                await engine.dispose()
        except CommandError:
            raise
        except Exception as exc:
            logger.debug("could not create or upgrade the database", exc_info=True)
            verb = "create" if only_new else "upgrade"
            raise CommandError(f"could not {verb} {label}: {describe_failure(exc)}", Exit.ERROR) from None
        return SchemaState(HEAD_REVISION, upgraded, new=created or before is None)

    async def init_database() -> SchemaState:
        return await prepare_schema(only_new=True)

    async def upgrade_database() -> SchemaState:
        return await prepare_schema(only_new=False)

    @asynccontextmanager
    async def open_services() -> AsyncGenerator[ServiceRegistry]:
        """The services for one command or worker run: the database opened (and migrated), then closed."""
        try:
            backend = await backends.start("never")
        except Exception as exc:
            logger.debug("could not open the database", exc_info=True)
            raise BackendUnavailableError(_cli_problem(exc, label)) from None
        try:
            yield backend.services
        finally:
            with anyio.CancelScope(shield=True):
                await backend.close()

    async def run_worker(once: bool) -> Unavailable | None:
        """Deliver e-mails and settle card rows; with ``once``, the database's refusal if it refused."""
        async with open_services() as registry:

            async def services() -> ServiceRegistry:
                return registry

            refusals: list[Unavailable | None] = []

            async def settle() -> None:
                refusals.append(await run_card_settler(services, once=once))

            async with anyio.create_task_group() as tasks:  # e-mails, and card rows left pending
                tasks.start_soon(settle)
                refusals.append(await run_outbox_worker(services, stop_when_idle=once))
            return next((refused for refused in refusals if refused is not None), None)

    def backup_database(target: str) -> BackupMade:
        from mcp_server.adapters.database import BackupError, backup_sqlite

        if not settings.is_sqlite:
            raise CommandError(server_backup_advice(settings.database_label), Exit.REFUSED)
        try:
            made = backup_sqlite(settings.sqlite_path, target)
        except BackupError as exc:
            if exc.refused:
                raise CommandError(str(exc), Exit.REFUSED) from None
            raise CommandError(f"could not back up {label}: {exc}", Exit.ERROR) from None
        except Exception as exc:
            logger.debug("could not back up the database", exc_info=True)
            raise CommandError(_cli_problem(exc, label, doing="back up"), Exit.ERROR) from None
        return BackupMade(made.path, made.pages, made.tables)

    async def copy_database(target: str) -> CopyMade:
        """``db copy --to URL``: the shop copied into an empty PostgreSQL database; errors as one line."""
        from mcp_server.adapters.copy import CopyError
        from mcp_server.adapters.copy import copy_database as copy
        from mcp_server.handlers.cli.main import CopyMade

        try:
            report = await copy(settings.database_url, target)
        except CopyError as exc:
            match exc.problem:
                case "bad-url":
                    raise CommandError(f"--to: {exc}", Exit.USAGE) from None
                case "outdated":
                    raise CommandError(
                        f"{exc}; run 'shopkeeper db upgrade' first, then copy again. Nothing was copied", Exit.REFUSED
                    ) from None
                case "refused":
                    raise CommandError(str(exc), Exit.REFUSED) from None
                case "failed":
                    raise CommandError(str(exc), Exit.ERROR) from None
        except Exception as exc:
            logger.debug("could not copy the database", exc_info=True)
            raise CommandError(_cli_problem(exc, label, doing="copy"), Exit.ERROR) from None
        return CopyMade(report.target, report.tables)

    return CliActions(
        upgrade_database=upgrade_database,
        database_label=label,
        run_worker=run_worker,
        backup_database=backup_database,
        open_services=open_services,
        actor=settings.actor,
        init_database=init_database,
        copy_database=copy_database,
    )


CREATE_IT = "create it with 'shopkeeper db init', or correct SHOPKEEPER_DATABASE_URL"


def server_backup_advice(label: str) -> str:
    """What `db backup` says on PostgreSQL: the server's own tool makes a consistent copy while it runs."""
    return (
        f"the shop is on a PostgreSQL server ({label}), so back it up with PostgreSQL's own tool while "
        "Shopkeeper keeps running: pg_dump --format=custom --file shop-$(date +%Y%m%d).dump "
        "'postgresql://USER@HOST:PORT/DATABASE' (restore into an empty database with pg_restore --dbname=…); "
        "nothing was written"
    )


def _cli_problem(exc: BaseException, label: str, doing: str = "open or migrate") -> str:
    """One line for a person at the terminal: what is wrong with the database, and for a missing one, the fix."""
    from mcp_server.adapters.database import DatabaseMissingError, describe_failure

    if isinstance(exc, DatabaseMissingError):
        return f"{exc}; {CREATE_IT}"
    return f"could not {doing} {label}: {describe_failure(exc)}"
