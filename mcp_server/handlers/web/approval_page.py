"""The approval page: a person approves or denies an approval request in a browser, with their passphrase.

Served on 127.0.0.1 by the running MCP server (a free port unless SHOPKEEPER_APPROVAL_PORT is
set), started the first time an answer needs its link, stopped with the server. The assistant
only ever gets the link: approving takes an approver's name and passphrase, typed by the person.
Every request's Host must be the page's own; a form post must come from the page itself (Origin
or Referer) and carry the page's anti-forgery token; the request must still be pending. Plain
HTML forms: no JavaScript, readable on a phone.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import hmac
import logging
import secrets
import socket
from collections.abc import Awaitable, Callable, Generator, Sequence
from html import escape
from urllib.parse import parse_qs

import anyio
import uvicorn
from anyio.abc import TaskStatus
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from mcp_server.handlers.http.door import host_allowed
from mcp_server.handlers.mcp.context import BackendUnavailableError, ServiceRegistry
from mcp_server.services.approvals import ApprovalRead
from mcp_server.services.results import NotFound, Rejected, Success
from mcp_server.utils.time import isoformat_utc

logger = logging.getLogger("mcp_server.approval_page")

MAX_FORM_BYTES = 16 * 1024
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f6f4;color:#1d1d1b}
main{max-width:34rem;margin:0 auto;padding:1.25rem}
h1{font-size:1.35rem;margin:.5rem 0 1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:.6rem;padding:1rem 1.1rem;margin:0 0 1rem}
.what{font-size:1.1rem;line-height:1.45}
.meta{color:#555;font-size:.9rem;margin:.6rem 0 0}
label{display:block;font-weight:600;margin:.8rem 0 .25rem}
input{width:100%;box-sizing:border-box;font-size:1.05rem;padding:.6rem;border:1px solid #bbb;border-radius:.4rem}
.buttons{display:flex;gap:.75rem;margin-top:1.1rem}
button{flex:1;font-size:1.05rem;padding:.75rem;border-radius:.4rem;border:1px solid #888;background:#fff}
button.approve{background:#1f6f43;color:#fff;border-color:#1f6f43}
.note{font-size:.9rem;color:#444}
.bad{border-color:#b3261e;color:#b3261e}
.good{border-color:#1f6f43}
a{color:#1d4f91}
"""


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the MCP server's own (decision 0009) stay in charge."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


class ApprovalPage:
    """The pages on 127.0.0.1 that ``run`` serves for a stdio server, or (``on_door``) routes of the HTTP door."""

    def __init__(
        self, services: Callable[[], Awaitable[ServiceRegistry]], *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._services = services
        self._host = host
        self._wanted_port = port
        self._secret = secrets.token_bytes(32)
        self.port: int | None = None
        self._base: str | None = None
        self._hosts: Sequence[str] | None = None
        self._origins: Sequence[str] | None = None

    @classmethod
    def on_door(
        cls,
        services: Callable[[], Awaitable[ServiceRegistry]],
        *,
        base_url: str,
        hosts: Sequence[str],
        origins: Sequence[str],
        secret: bytes,
    ) -> ApprovalPage:
        """The pages as routes of the HTTP door at ``base_url``: its Host and Origin allow-lists, and a form
        key every worker shares (``secret``), so a page one worker showed is accepted by another."""
        page = cls(services)
        page._base, page._hosts, page._origins, page._secret = base_url.rstrip("/"), hosts, origins, secret
        return page

    def link(self, approval_id: str) -> str:
        if self._base is not None:
            return f"{self._base}/approvals/{approval_id}"
        return f"http://{self._host}:{self.port}/approvals/{approval_id}"

    async def run(self, *, task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports the port once it is listening."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._wanted_port))
        sock.listen(64)
        sock.setblocking(False)
        port: int = sock.getsockname()[1]
        self.port = port
        config = uvicorn.Config(
            self.app(), log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=1
        )
        server = _QuietServer(config)
        logger.info("approval page at http://%s:%s/approvals", self._host, self.port)
        task_status.started(port)
        try:
            await server.serve(sockets=[sock])
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(2):
                server.should_exit = True
                await server.shutdown(sockets=[sock])
            sock.close()

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    def routes(self) -> list[Route]:
        return [
            Route("/approvals", self._list, methods=["GET"]),
            Route("/approvals/{approval_id}", self._show, methods=["GET"]),
            Route("/approvals/{approval_id}", self._decide, methods=["POST"]),
        ]

    # -- the checks every request passes -------------------------------------------------------------

    def _own_origins(self) -> set[str]:
        return {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}

    def _wrong_host(self, request: Request) -> Response | None:
        if self._hosts is not None:
            if not host_allowed(request.headers.get("host"), self._hosts):
                return _page("Wrong address", "<p>Open this page at the address the shop gave you.</p>", status=421)
            return None
        if f"http://{request.headers.get('host', '')}" not in self._own_origins():
            return _page("Wrong address", "<p>Open this page at the address the shop gave you.</p>", status=421)
        return None

    def _origin_allowed(self, origin: str) -> bool:
        if self._origins is not None:
            return any(fnmatch.fnmatchcase(origin.lower(), pattern.lower()) for pattern in self._origins)
        return origin in self._own_origins()

    def _token(self, approval_id: str) -> str:
        return hmac.new(self._secret, approval_id.encode(), hashlib.sha256).hexdigest()

    # -- pages ---------------------------------------------------------------------------------------

    async def _list(self, request: Request) -> Response:
        if (refused := self._wrong_host(request)) is not None:
            return refused
        try:
            services = await self._services()
        except BackendUnavailableError:
            return _page("Not available", "<p>The shop's database cannot be opened right now.</p>", status=503)
        waiting = await services.approvals.requests(waiting_only=True)
        if not waiting:
            return _page("Nothing waits for approval", "<p>No approval request is waiting for a person.</p>")
        items = "".join(
            f'<div class="card"><div class="what">{escape(r.request.summary)}</div>'
            f'<p class="meta">asked by {escape(r.request.actor)} · open until {isoformat_utc(r.request.expires_at)}'
            f' · <a href="/approvals/{escape(r.request.id)}">decide {escape(r.request.id)}</a></p></div>'
            for r in waiting
        )
        return _page("Waiting for approval", items)

    async def _show(self, request: Request) -> Response:
        if (refused := self._wrong_host(request)) is not None:
            return refused
        found = await self._find(request.path_params["approval_id"])
        if isinstance(found, Response):
            return found
        return _page(*self._request_page(found))

    async def _decide(self, request: Request) -> Response:
        if (refused := self._wrong_host(request)) is not None:
            return refused
        origin = request.headers.get("origin") or _origin_of(request.headers.get("referer", ""))
        if not self._origin_allowed(origin):
            return _page("Refused", "<p>This form can only be sent from the approval page itself.</p>", status=403)
        body = await _bounded_body(request)
        if body is None:
            return _page("Refused", "<p>That form was too large.</p>", status=413)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=8).items()}
        approval_id = str(request.path_params["approval_id"])
        if not hmac.compare_digest(form.get("token", ""), self._token(approval_id)):
            return _page("Refused", "<p>This form is out of date: open the link again.</p>", status=403)
        decision = form.get("decision")
        if decision not in ("approve", "deny"):
            return _page("Refused", "<p>Choose Approve or Deny.</p>", status=400)
        try:
            services = await self._services()
        except BackendUnavailableError:
            return _page("Not available", "<p>The shop's database cannot be opened right now.</p>", status=503)
        decided = await services.approvals.decide(
            approval_id,
            approve=decision == "approve",
            name=form.get("name", "")[:60],
            passphrase=form.get("passphrase", ""),
        )
        match decided:
            case Success(value=read):
                verb = "Approved" if read.status == "approved" else "Denied"
                after = (
                    "The assistant can now finish it, once. Tell it you approved the request."
                    if read.status == "approved"
                    else "Nothing will be done."
                )
                body_html = (
                    f'<div class="card good"><div class="what">{escape(read.request.summary)}</div>'
                    f'<p class="meta">{verb} as {escape(read.request.decided_by or "")}.</p></div><p>{after}</p>'
                )
                return _page(f"{verb} {read.request.id}", body_html)
            case NotFound():
                return _page("Not found", f"<p>{escape(decided.message)}</p>", status=404)
            case Rejected():
                found = await self._find(approval_id)
                if isinstance(found, Response):
                    return found
                title, html = self._request_page(found, problem=decided.message)
                return _page(title, html, status=403 if decided.field == "passphrase" else 409)

    async def _find(self, approval_id: str) -> ApprovalRead | Response:
        try:
            services = await self._services()
        except BackendUnavailableError:
            return _page("Not available", "<p>The shop's database cannot be opened right now.</p>", status=503)
        found = await services.approvals.get(approval_id)
        if not isinstance(found, Success):
            return _page("Not found", f"<p>{escape(found.message)}</p>", status=404)
        return found.value

    def _request_page(self, read: ApprovalRead, *, problem: str | None = None) -> tuple[str, str]:
        r = read.request
        card = (
            f'<div class="card"><div class="what">{escape(r.summary)}</div>'
            f'<p class="meta">asked by {escape(r.actor)} at {isoformat_utc(r.created_at)} · open until '
            f"{isoformat_utc(r.expires_at)} · {escape(r.id)}</p></div>"
        )
        if read.status != "pending":
            decided = f" by {escape(r.decided_by)}" if r.decided_by else ""
            return f"This request is {read.status}", f"{card}<p>It is {read.status}{decided}; nothing to decide.</p>"
        warning = f'<div class="card bad" role="alert">{escape(problem)}</div>' if problem else ""
        form = (
            f'<form method="post" action="/approvals/{escape(r.id)}">'
            f'<input type="hidden" name="token" value="{self._token(r.id)}">'
            '<label for="name">Your approver name</label>'
            '<input id="name" name="name" autocomplete="username" required maxlength="40">'
            '<label for="passphrase">Your passphrase</label>'
            '<input id="passphrase" name="passphrase" type="password" autocomplete="current-password" required>'
            '<div class="buttons"><button class="approve" name="decision" value="approve">Approve</button>'
            '<button name="decision" value="deny">Deny</button></div></form>'
            '<p class="note">Approving lets the assistant do exactly this, once, before the time above. Denying '
            "stops it. Nothing happens on this page without your passphrase.</p>"
        )
        return "Approve or deny", f"{card}{warning}{form}"


def _origin_of(referer: str) -> str:
    scheme, _, rest = referer.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}" if rest else ""


async def _bounded_body(request: Request) -> bytes | None:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    return bytes(body)


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} — Shopkeeper</title><style>{STYLE}</style></head>"
        f'<body><main><p class="note">Shopkeeper · approvals</p><h1>{escape(title)}</h1>{body}'
        '<p class="note"><a href="/approvals">Everything waiting for approval</a></p></main></body></html>'
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)
