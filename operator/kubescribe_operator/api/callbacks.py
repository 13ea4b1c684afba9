"""Callbacks: when a requested file completes or goes to ``manual/``, POST a summary to
the URLs its clients gave, signed with HMAC-SHA256.

Signature: ``X-Kubescribe-Signature: sha256=HEX`` where HEX is the HMAC-SHA256, keyed
with ``callback_secret``, of ``TIMESTAMP + "." + BODY`` (``TIMESTAMP`` is the
``X-Kubescribe-Timestamp`` header, Unix seconds; ``BODY`` the raw request body). A
receiver recomputes it, compares in constant time, and rejects old timestamps.

Deliveries run on their own threads and retry with a doubling backoff: a slow or dead
receiver never holds up the queue (the core only enqueues). Where a callback may go, and
how its URL is logged: :mod:`.callback_targets`. Redirects are never followed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx

from .callback_targets import RefusedTargetError, TargetPolicy, redact

log = logging.getLogger("kubescribe.api.callbacks")

SIGNATURE_HEADER = "X-Kubescribe-Signature"
TIMESTAMP_HEADER = "X-Kubescribe-Timestamp"
EVENT_HEADER = "X-Kubescribe-Event"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                      hashlib.sha256).hexdigest()  # fmt: skip
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (the tests use it too)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True)
class Delivery:
    url: str
    event: str
    summary: dict[str, Any]


class CallbackSender:
    def __init__(
        self,
        secret: str | None,
        *,
        attempts: int = 5,
        first_backoff: float = 1.0,
        timeout: float = 10.0,
        sent: Callable[[str], None] = lambda outcome: None,
        policy: TargetPolicy | None = None,
    ) -> None:
        self.policy = policy or TargetPolicy([])
        # httpx logs every request's full URL at INFO: a callback's user, password, query.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        self.secret = secret
        self.attempts = attempts
        self.first_backoff = first_backoff
        self.timeout = timeout
        self.sent = sent
        self._queue: queue.Queue[Delivery | None] = queue.Queue()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="kubescribe-callback")
        self._stopping = threading.Event()
        self._dispatcher = threading.Thread(target=self._dispatch, daemon=True,
                                            name="kubescribe-callbacks")  # fmt: skip
        self._dispatcher.start()

    def enqueue(self, delivery: Delivery) -> None:
        self._queue.put(delivery)

    def close(self) -> None:
        self._stopping.set()
        self._queue.put(None)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _dispatch(self) -> None:
        while (delivery := self._queue.get()) is not None:
            try:
                self._pool.submit(self._deliver, delivery)
            except RuntimeError:  # the pool is shut down
                return

    def _deliver(self, delivery: Delivery) -> None:
        if self.secret is None:
            log.warning("no callback_secret: not sending the callback to %s", redact(delivery.url))
            self.sent("unsigned_dropped")
            return
        body = json.dumps(delivery.summary, separators=(",", ":")).encode("utf-8")
        backoff = self.first_backoff
        for attempt in range(1, self.attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.secret, timestamp, body),
                TIMESTAMP_HEADER: timestamp,
                EVENT_HEADER: delivery.event,
                "User-Agent": "kubescribe-callback",
            }
            try:
                # Checked at every try, after resolution, and sent to the address checked.
                target = self.policy.target(delivery.url)
            except RefusedTargetError as exc:
                log.warning("callback to %s refused: %s", redact(delivery.url), exc)
                self.sent("refused")
                return
            try:
                pinned = {**headers, "Host": target.host_header}
                tls = {"sni_hostname": target.server_name}
                with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                    answer = client.post(target.url, content=body, headers=pinned,
                                         extensions=tls)  # fmt: skip
                if answer.is_success:
                    self.sent("delivered")
                    return
                reason = f"HTTP {answer.status_code}"
            except httpx.HTTPError as exc:
                reason = type(exc).__name__  # its text may hold the URL
            log.warning("callback to %s failed (try %d of %d): %s", redact(delivery.url), attempt,
                        self.attempts, reason)  # fmt: skip
            if attempt < self.attempts and self._stopping.wait(backoff):
                break
            backoff *= 2
        self.sent("failed")
