"""An e-mail provider client in the shape of Postmark's API: ``POST {base}/email`` with JSON.

It turns every answer into an outcome the notification service understands and never raises
for a failed delivery. The server token travels in a header and never appears in an outcome:
every string taken from an answer (the error text, the message id) is scrubbed of it in any
letter case and common encoding (a provider may echo what it was sent), then cut to a bounded
length, before it becomes a failure reason or a reference.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from mcp_server.models.outbox import Delivered, Email, PermanentFailure, SendOutcome, TemporaryFailure
from mcp_server.utils.secrets import Scrubber

DEFAULT_API_BASE = "https://api.postmarkapp.com"
MAX_DETAIL_LENGTH = 200
MAX_REFERENCE_LENGTH = 100
TOKEN_MARKER = "[server token]"  # noqa: S105 - the marker that replaces the token, not a token
SEND_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
"""What the entrypoint gives this client: well inside the notification service's own 30 s limit
per send, though the HTTP client it shares with the payment gateway waits longer by default."""


class PostmarkEmailSender:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: str,
        sender: str,
        timeout: httpx.Timeout | None = None,
        also_hide: Mapping[str, str] | None = None,
    ) -> None:
        """``timeout``: for each send; by default the injected client's own. ``also_hide``: the shop's
        other secrets (e.g. the gateway key) with their markers, blanked out of answers too."""
        self._http = http
        self._timeout = timeout
        self._url = base_url.rstrip("/") + "/email"
        self._token = token
        self._scrub = Scrubber({**(also_hide or {}), token: TOKEN_MARKER})
        self._from = sender

    async def send(self, email: Email, *, message_id: str) -> SendOutcome:
        body = {
            "From": self._from,
            "To": email.to,
            "Subject": email.subject,
            "TextBody": email.text,
            "MessageStream": "outbound",
            "Metadata": {"shopkeeper_id": message_id},
        }
        headers = {"X-Postmark-Server-Token": self._token, "Accept": "application/json"}
        try:
            response = await self._http.post(
                self._url, json=body, headers=headers, timeout=self._timeout or httpx.USE_CLIENT_DEFAULT
            )
        except httpx.TimeoutException:
            return TemporaryFailure("the e-mail provider did not answer in time")
        except httpx.TransportError as exc:
            return TemporaryFailure(f"could not reach the e-mail provider ({type(exc).__name__})")
        if response.status_code == 200:
            return Delivered(
                self._scrub(str(_json(response).get("MessageID", "")), limit=MAX_REFERENCE_LENGTH) or "sent"
            )
        detail = self._scrub(str(_json(response).get("Message", "")), limit=MAX_DETAIL_LENGTH)
        reason = f"the e-mail provider answered {response.status_code}" + (f": {detail}" if detail else "")
        if response.status_code == 429 or response.status_code >= 500:
            return TemporaryFailure(reason)
        return PermanentFailure(reason)  # 401/403 (token), 422 (address or content): retrying will not help


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        data: object = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}  # pyright: ignore[reportUnknownVariableType]
