"""The HTTP door's own routes beside MCP's ``/mcp``: health and readiness, with the same Host check.

The SDK guards ``/mcp`` (DNS-rebinding: Host and Origin allow-lists, the body limit); these routes are
the door's, so the door checks their Host itself. ``/healthz`` says the process is up; ``/readyz`` says
the database answers and its schema is this version's (503 with one line saying why, otherwise).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Awaitable, Callable, Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

Readiness = Callable[[], Awaitable[str | None]]
"""None when the shop can serve; otherwise why not, in words safe to show."""


def host_allowed(host: str | None, allowed: Sequence[str]) -> bool:
    """``host`` (the Host header, with its port) matches one of ``allowed`` (``*`` as a wildcard)."""
    if not host:
        return False
    return any(fnmatch.fnmatchcase(host.lower(), pattern.lower()) for pattern in allowed)


Endpoint = Callable[[Request], Awaitable[Response]]


def host_checked(endpoint: Endpoint, allowed_hosts: Sequence[str]) -> Endpoint:
    """``endpoint``, refusing a request whose Host the door does not serve (421), before it reads anything."""

    async def guarded(request: Request) -> Response:
        if allowed_hosts and not host_allowed(request.headers.get("host"), allowed_hosts):
            return PlainTextResponse("Misdirected request: this server does not serve that host\n", 421)
        return await endpoint(request)

    return guarded


def door_routes(ready: Readiness) -> list[Route]:
    """``/healthz`` and ``/readyz`` (the door adds its Host check to every route of its own)."""

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        problem = await ready()
        if problem is None:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/readyz", readyz, methods=["GET"])]
