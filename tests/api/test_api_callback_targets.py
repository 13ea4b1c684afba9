"""Where callbacks may go (issue 14, items 6 and 14): the real sender posting over real
HTTP to real receivers; the resolver is the one thing replaced, to play a DNS server that
answers differently each time (rebinding)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest

from api.apikit import CallbackReceiver, free_port, until
from kubescribe_operator.api.callback_targets import TargetPolicy, redact
from kubescribe_operator.api.callbacks import CallbackSender, Delivery

SUMMARY = {"event": "transcription.completed", "text": "the transcript"}


@pytest.fixture
def hook() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()
    yield receiver
    receiver.close()


def send(policy: TargetPolicy, url: str, *, attempts: int = 1) -> list[str]:
    outcomes: list[str] = []
    sender = CallbackSender("secret", attempts=attempts, first_backoff=0.05,
                            sent=outcomes.append, policy=policy)  # fmt: skip
    try:
        sender.enqueue(Delivery(url, "transcription.completed", SUMMARY))
        until(lambda: bool(outcomes), 60, "the delivery's outcome")
    finally:
        sender.close()
    return outcomes


def test_loopback_is_refused_unless_allowed(hook: CallbackReceiver) -> None:
    assert send(TargetPolicy([]), hook.url) == ["refused"]
    assert hook.received == []
    assert send(TargetPolicy(["127.0.0.1/32"]), hook.url) == ["delivered"]
    assert len(hook.received) == 1


def test_a_name_that_rebinds_to_loopback_is_refused_at_send_time(hook: CallbackReceiver) -> None:
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    port = hook.server.server_address[1]
    policy = TargetPolicy([], resolve=rebinding)
    url = f"http://rebind.example:{port}/hook"
    policy.check_written(url)  # what a request is checked with: the name is fine
    policy.target(url)  # the first resolution is public
    assert send(policy, url) == ["refused"]  # the second, at send time, is loopback
    assert hook.received == []


def test_a_checked_name_is_sent_to_the_address_checked(hook: CallbackReceiver) -> None:
    port = hook.server.server_address[1]
    policy = TargetPolicy(["127.0.0.1/32"], resolve=lambda host, port: ["127.0.0.1"])
    assert send(policy, f"http://hooks.example:{port}/hook") == ["delivered"]
    assert hook.received[0].headers["Host"] == f"hooks.example:{port}"


class Redirecting(BaseHTTPRequestHandler):
    target = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(307)
        self.send_header("Location", self.target)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_redirects_are_never_followed(hook: CallbackReceiver) -> None:
    Redirecting.target = hook.url
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/moved"
        assert send(TargetPolicy(["127.0.0.1/32"]), url, attempts=2) == ["failed"]
    finally:
        server.shutdown()
    assert hook.received == []


def test_a_failed_callback_is_logged_without_its_secrets(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://user:pw-SECRET@127.0.0.1:{free_port()}/x?token=QUERYSECRET"
    with caplog.at_level(logging.WARNING, logger="kubescribe.api.callbacks"):
        assert send(TargetPolicy(["127.0.0.1/32"]), url) == ["failed"]
    assert "callback to http://REDACTED@127.0.0.1:" in caplog.text
    assert "SECRET" not in caplog.text.replace("REDACTED", "")
    assert redact(url).endswith("/x?REDACTED")
