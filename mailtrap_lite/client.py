"""A small HTTP client for a running mailtrap-lite server (stdlib only: no runtime dependency).

Every method answers the JSON of the HTTP API (``/api/openapi.json``) as plain dicts, so the pytest plugin
builds the same objects from it whether the server runs in-process or in a container. Basic-auth credentials
may be given in the URL (``http://user:pass@host:8025``) for a server started with ``--ui-auth``.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

__all__ = ["APIError", "MailtrapClient"]

# A long-poll may take its whole timeout: the socket waits that long plus this margin.
WAIT_MARGIN = 10.0


class APIError(Exception):
    """The server answered an error (``status`` is the HTTP status, 0 when it could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message


class MailtrapClient:
    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected an http:// or https:// URL, got {url!r}")
        self._auth: str | None = None
        netloc = parts.netloc
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
            self._auth = "Basic " + base64.b64encode(credentials).decode()
            netloc = netloc.rpartition("@")[2]
        self.url = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"MailtrapClient({self.url!r})"

    # --- transport ---------------------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        params: dict[str, object] | None = None,
        body: object = None,
        timeout: float | None = None,
        answers: tuple[int, ...] = (),
        message: bytes | None = None,
    ) -> tuple[int, bytes]:
        """The status and body; an error status raises APIError unless it is one of ``answers``. ``body``
        is sent as JSON, ``message`` as message/rfc822."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        url = self.url + path + ("?" + urlencode(query, doseq=True) if query else "")
        data = message if message is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        if data is not None:
            request.add_header(
                "Content-Type", "message/rfc822" if message is not None else "application/json"
            )
        if self._auth is not None:
            request.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            with error:
                payload = error.read()
            if error.code in answers:
                return error.code, payload
            raise APIError(error.code, _error_text(payload, error.reason)) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise APIError(0, f"cannot reach mailtrap-lite at {self.url}: {reason}") from None

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return json.loads(self._request(method, path, **kwargs)[1])

    # --- the API -----------------------------------------------------------------------------------------

    def search(self, q: str | None = None, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """``GET /api/messages``: ``{total, unread, count, messages}``, newest first."""
        return dict(self._json("GET", "/api/messages", params={"q": q, "limit": limit, "offset": offset}))

    def wait(self, q: str | None, count: int, timeout: float) -> tuple[dict[str, Any], bool]:
        """``GET /api/messages/wait``: the newest matches, and whether ``count`` matched in time."""
        status, payload = self._request(
            "GET",
            "/api/messages/wait",
            params={"q": q, "count": count, "timeout": f"{timeout:.3f}"},
            timeout=timeout + WAIT_MARGIN,
            answers=(408,),
        )
        return json.loads(payload), status == 200

    def message(self, message_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/api/messages/{quote(message_id, safe='')}"))

    def raw(self, message_id: str) -> bytes:
        return self._request("GET", f"/api/messages/{quote(message_id, safe='')}/raw")[1]

    def part(self, message_id: str, part_id: str) -> bytes:
        path = f"/api/messages/{quote(message_id, safe='')}/parts/{quote(part_id, safe='')}"
        return self._request("GET", path)[1]

    def message_session(self, message_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/api/messages/{quote(message_id, safe='')}/session"))

    def sessions(self, limit: int = 50, offset: int = 0, mailbox: str | None = None) -> dict[str, Any]:
        """``GET /api/sessions``: ``{total, count, sessions}``, newest first, transcripts included (with
        ``mailbox``, those that delivered mail still stored there)."""
        params = {"limit": limit, "offset": offset, "mailbox": mailbox}
        return dict(self._json("GET", "/api/sessions", params=params))

    def clear(self, q: str | None = None) -> None:
        """Delete every message (matching ``q``)."""
        self._request("DELETE", "/api/messages", params={"q": q})

    def mailboxes(self) -> list[dict[str, Any]]:
        """``GET /api/mailboxes``: name, total, unread, size and newest of each mailbox. A server too old
        to have mailboxes answers APIError 404."""
        return list(self._json("GET", "/api/mailboxes")["mailboxes"])

    def delete_matching(self, q: str | None) -> dict[str, Any]:
        """``DELETE /api/messages?q=``: delete the matches (all when None); ``{deleted, ids}``."""
        return dict(self._json("DELETE", "/api/messages", params={"q": q}))

    def submit(
        self, raw: bytes, mail_from: str | None = None, recipients: list[str] | None = None
    ) -> dict[str, Any]:
        """``POST /api/messages``: store ``raw`` as if it came over SMTP; the stored summary. Without an
        envelope the server takes it from the message's From, To, Cc and Bcc headers."""
        params: dict[str, object] = {"mail_from": mail_from, "rcpt": recipients or None}
        return dict(self._json("POST", "/api/messages", params=params, message=raw))

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """``GET /readyz``: whether the server can store messages now, and what it said."""
        status, payload = self._request("GET", "/readyz", answers=(503,))
        return status == 200, json.loads(payload)

    def add_fault(self, rule: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/faults``: the rule as stored, with its ``id``."""
        return dict(self._json("POST", "/api/faults", body=rule))

    def remove_fault(self, rule_id: str) -> None:
        """``DELETE /api/faults/{id}``; a rule gone already (it fired its ``times``) is no error."""
        self._request("DELETE", f"/api/faults/{quote(rule_id, safe='')}", answers=(404,))

    def clear_faults(self) -> None:
        """``DELETE /api/faults``; a server too old to have fault rules has none to clear."""
        self._request("DELETE", "/api/faults", answers=(404, 405))

    def release(self, message_id: str, to: list[str] | None) -> dict[str, Any]:
        """``POST /api/messages/{id}/release``: the record, for a 200 (sent) and a 502 (not) alike."""
        path = f"/api/messages/{quote(message_id, safe='')}/release"
        body = {} if to is None else {"to": to}
        return dict(json.loads(self._request("POST", path, body=body, answers=(502,))[1]))

    def stats(self) -> dict[str, Any]:
        return dict(self._json("GET", "/api/stats"))


def _error_text(payload: bytes, reason: object) -> str:
    try:
        message = json.loads(payload).get("error")
    except (ValueError, AttributeError):
        message = None
    return str(message or reason)
