"""What the API does before any route reads a byte of a request's body (an ASGI layer
around the FastAPI app, under uvicorn):

- the bearer token is checked first: a request without a valid one gets 401 and its
  body is never read;
- write routes are rate limited per client (its token and address): 429 with
  ``Retry-After``;
- the body is counted as it arrives, chunked or not: past ``max_upload_mb`` (plus the
  multipart envelope) the request gets 413 and nothing more is read;
- a body must keep arriving: one that stalls longer than ``api_body_timeout_seconds``,
  or falls below ``api_body_min_bytes_per_second`` after that, gets 408.

Each refusal closes the connection (``Connection: close``): the rest of an unread body
must not be taken for the next request.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, NoReturn

from .auth import TokenSet

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Paths anyone may ask for, without a token.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Room for the multipart envelope and form fields around an upload of the largest size.
MULTIPART_SLACK = 64 * 1024


@dataclass(frozen=True)
class GuardLimits:
    max_body_bytes: int
    body_timeout_seconds: float
    body_min_bytes_per_second: float
    #: Write requests a client may make per minute (0: no limit), and in one burst.
    writes_per_minute: float
    write_burst: int


class BodyRefusedError(Exception):
    """Raised into the app when its body was refused (the answer is already sent)."""


class RateLimiter:
    """A token bucket per client: ``burst`` writes at once, refilled at ``per_minute``."""

    #: Buckets kept at most (the oldest are forgotten: a full bucket is the default).
    MAX_CLIENTS = 10_000

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, client: str, now: float) -> float:
        """0 when ``client`` may write now (and counts it), else seconds until it may."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._remember(client, (tokens - 1.0, now))
                return 0.0
            self._remember(client, (tokens, now))
            return (1.0 - tokens) / self.rate

    def _remember(self, client: str, bucket: tuple[float, float]) -> None:
        if len(self._buckets) >= self.MAX_CLIENTS:
            self._buckets.pop(next(iter(self._buckets)))
        self._buckets[client] = bucket


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" else None
    return None


def declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length" and value.isdigit():
            return int(value)
    return None


async def refuse(
    send: Send, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> None:
    """The API's error body (see app.py), closing the connection."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = json.dumps({"error": {"code": code, "message": message, "type": kind}}).encode()
    extra = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
           (b"connection", b"close")]  # fmt: skip
    raw += [(k.lower().encode(), v.encode()) for k, v in {**extra, **(headers or {})}.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app: Asgi, tokens: TokenSet, limits: GuardLimits) -> None:
        self.app = app
        self.tokens = tokens
        self.limits = limits
        self.writes = RateLimiter(limits.writes_per_minute, limits.write_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        token = bearer_token(scope)
        if token is None:
            await refuse(send, 401, "unauthorized", "send Authorization: Bearer <token>")
            return
        if not self.tokens.accepts(token):
            await refuse(send, 401, "unauthorized", "the token is not valid")
            return
        if scope.get("method") in WRITE_METHODS:
            address = (scope.get("client") or ("?", 0))[0]
            wait = self.writes.wait_seconds(f"{hash(token)}@{address}", time.monotonic())
            if wait > 0:
                retry = str(max(1, math.ceil(wait)))
                await refuse(send, 429, "rate_limited",
                             f"too many write requests: retry in {retry} s",
                             {"Retry-After": retry})  # fmt: skip
                return
        limit = self.limits.max_body_bytes
        length = declared_length(scope)
        if length is not None and length > limit:
            await refuse(send, 413, "too_large", f"request bodies are limited to {limit} bytes")
            return
        await self._guarded(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits = self.limits
        started = time.monotonic()
        state = {"received": 0, "answered": False, "refused": False, "complete": False}

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return  # the app's own answer to BodyRefusedError: ours is sent
            if message["type"] == "http.response.start":
                state["answered"] = True
            await send(message)

        async def refuse_body(status: int, code: str, message: str) -> NoReturn:
            if not state["answered"]:
                await refuse(send, status, code, message)
            state["refused"] = True
            raise BodyRefusedError(code)

        async def guarded_receive() -> Message:
            if state["refused"]:
                return {"type": "http.disconnect"}
            if state["complete"]:
                return await receive()  # after the body: a disconnect, whenever it comes
            # Allowed so far: the timeout, plus what the minimum rate grants for the
            # bytes received (a large upload at a fair rate is never cut off).
            received = int(state["received"])
            allowed = limits.body_timeout_seconds + received / limits.body_min_bytes_per_second
            left = started + allowed - time.monotonic()
            try:
                message = await asyncio.wait_for(receive(), timeout=max(left, 0.001))
            except TimeoutError:
                await refuse_body(408, "body_timeout", "the request body arrives too slowly "
                                  f"(at least {limits.body_min_bytes_per_second:.0f} bytes/s after "
                                  f"{limits.body_timeout_seconds:g} s)")  # fmt: skip
            if message["type"] == "http.request":
                state["complete"] = not message.get("more_body", False)
                state["received"] = received + len(message.get("body", b""))
                if int(state["received"]) > limits.max_body_bytes:
                    await refuse_body(413, "too_large",
                                      f"request bodies are limited to {limits.max_body_bytes} "
                                      "bytes")  # fmt: skip
            return message

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except BodyRefusedError:
            return
        except Exception:
            if state["refused"]:
                return  # the app failed on the body it was denied
            raise
