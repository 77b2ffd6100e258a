"""A small JSON-over-HTTP client for the OpenAI-compatible engine: kept-alive connections, one per thread and
host, and failures sorted into "retry" (connection errors, timeouts, 408/429/5xx) and "refused" (other 4xx).

Standard library only, so ``import tts`` stays light and nothing is needed beyond Python.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

from ..errors import EngineError
from ._retry import RetryableError

#: Errors of a kept-alive connection the server closed while idle; worth one immediate reconnect.
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest)


class Refused(Exception):
    """The server answered 4xx to a request: retrying will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


class JSONClient:
    """POST (or GET) JSON to a URL and return the parsed object; one kept-alive connection per thread and host.

    Args:
        api_key: Sent as a bearer token when set.
        timeout: Most seconds to wait for one response.
    """

    def __init__(self, api_key: str | None, timeout: float) -> None:
        self.api_key = api_key
        self.timeout = timeout
        self._local = threading.local()

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def request(self, url: str, body: dict[str, Any] | None, time_left: float) -> dict[str, Any]:
        """One attempt: POST (GET when ``body`` is None) and parse JSON; classify failures for the retry loop."""
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        timeout = min(self.timeout, time_left)
        data = json.dumps(body).encode() if body is not None else None
        for fresh in (False, True):
            conn = self._connection(parts.scheme, parts.netloc, timeout)
            reused = conn.sock is not None
            try:
                conn.request("POST" if data is not None else "GET", path, body=data, headers=self._headers())
                response = conn.getresponse()
                payload = response.read()
                break
            except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out, dropped mid-response
                self._drop_connection(parts.netloc)
                if reused and not fresh and isinstance(exc, _STALE):
                    continue  # the server closed an idle kept-alive connection: reconnect once, no backoff
                kind = "timed out" if isinstance(exc, (TimeoutError, socket.timeout)) else type(exc).__name__
                raise RetryableError(f"{kind} ({exc})") from exc
        status = response.status
        if status == 429 or status >= 500 or status == 408:
            raise RetryableError(f"HTTP {status}: {_message(payload)}", _retry_after(response.getheader("Retry-After")))
        if status >= 400:
            raise Refused(status, _message(payload))
        try:
            parsed = json.loads(payload)
        except ValueError as exc:
            raise RetryableError(f"HTTP {status} with a body that is not JSON: {payload[:200]!r}") from exc
        if not isinstance(parsed, dict):
            raise EngineError(f"the server at {url} answered {str(parsed)[:200]}, not a JSON object.")
        return parsed

    def _connection(self, scheme: str, netloc: str, timeout: float) -> http.client.HTTPConnection:
        conns: dict[str, http.client.HTTPConnection] = self._local.__dict__.setdefault("conns", {})
        conn = conns.get(netloc)
        if conn is None:
            cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
            conn = conns[netloc] = cls(netloc, timeout=timeout)
        conn.timeout = timeout
        if conn.sock is not None:
            conn.sock.settimeout(timeout)
        return conn

    def _drop_connection(self, netloc: str) -> None:
        conn = self._local.__dict__.get("conns", {}).pop(netloc, None)
        if conn is not None:
            conn.close()


def _message(payload: bytes) -> str:
    try:
        parsed = json.loads(payload)
    except ValueError:
        return payload[:300].decode(errors="replace")
    if isinstance(parsed, dict):
        error = parsed.get("error", parsed)
        if isinstance(error, dict):
            return str(error.get("message", error))[:300]
        return str(error)[:300]
    return str(parsed)[:300]


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
