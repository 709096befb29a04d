"""An e-mail provider client in the shape of Postmark's API: ``POST {base}/email`` with JSON.

It turns every answer into an outcome the notification service understands and never raises
for a failed delivery. The server token travels in a header and never appears in an outcome:
the provider's own error text is scrubbed of it (a provider may echo what it was sent) and cut
to a bounded length before it becomes a failure reason.
"""

from __future__ import annotations

import httpx

from mcp_server.models.outbox import Delivered, Email, PermanentFailure, SendOutcome, TemporaryFailure

DEFAULT_API_BASE = "https://api.postmarkapp.com"
MAX_DETAIL_LENGTH = 200
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
    ) -> None:
        """``timeout``: for each send; by default the injected client's own."""
        self._http = http
        self._timeout = timeout
        self._url = base_url.rstrip("/") + "/email"
        self._token = token
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
            return Delivered(str(_json(response).get("MessageID", "")) or "sent")
        detail = self._scrub(str(_json(response).get("Message", "")))[:MAX_DETAIL_LENGTH]
        reason = f"the e-mail provider answered {response.status_code}" + (f": {detail}" if detail else "")
        if response.status_code == 429 or response.status_code >= 500:
            return TemporaryFailure(reason)
        return PermanentFailure(reason)  # 401/403 (token), 422 (address or content): retrying will not help

    def _scrub(self, text: str) -> str:
        """The provider's text without the token; scrubbed before it is cut, so no prefix of it survives."""
        return text.replace(self._token, "[server token]") if self._token else text


def _json(response: httpx.Response) -> dict[str, object]:
    try:
        data: object = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}  # pyright: ignore[reportUnknownVariableType]
