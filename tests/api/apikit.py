"""A real ``kubescribe run --api`` in a subprocess, a callback receiver, helpers."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

TOKEN = "test-token-0123456789"
CALLBACK_SECRET = "callback-secret-abcdef"
FAST = ("--stable-seconds", "0", "--scan-interval", "0.3", "--model-size", "tiny.en",
        "--device", "cpu", "--compute-type", "int8", "--language", "en")  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def file_id(rel: str) -> str:
    return base64.urlsafe_b64encode(rel.encode()).rstrip(b"=").decode()


@dataclass
class Server:
    root: Path
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, token: str | None = TOKEN, timeout: float = 60) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def wait_state(self, rel: str, states: set[str], timeout: float = 180) -> dict[str, Any]:
        ends = time.monotonic() + timeout
        with self.client() as http:
            while True:
                body: dict[str, Any] = http.get(f"/v1/transcriptions/{file_id(rel)}").json()
                if body.get("state") in states:
                    return body
                if time.monotonic() > ends:
                    raise AssertionError(f"{rel} never reached {states}: {body}\n{self.tail()}")
                time.sleep(0.2)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def start_server(root: Path, model_dir: Path, log: Path, *flags: str, **env: str) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "kubescribe_cli", "run", str(root), "--model-dir",
               str(model_dir), *FAST, "--api", "--api-host", "127.0.0.1", "--api-port",
               str(port), "--api-token", TOKEN, *flags]  # fmt: skip
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
    process = subprocess.Popen(
        command,
        env={**clean, "KUBESCRIBE_CALLBACK_SECRET": CALLBACK_SECRET, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server(root, f"http://127.0.0.1:{port}", process, log)
    ends = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > ends:
            process.kill()
            raise RuntimeError(f"the API did not start:\n{server.tail()}")
        time.sleep(0.2)


def stop_server(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    try:
        server.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class CallbackReceiver:
    """An HTTP server that records what is POSTed to it; the first ``fail_first``
    requests get a 500 (to see the sender retry)."""

    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    attempts: int = 0

    def __post_init__(self) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.attempts += 1
                if outer.attempts <= outer.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                outer.received.append(Received(dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait(self, count: int, timeout: float = 60) -> list[Received]:
        until(lambda: len(self.received) >= count, timeout, "callbacks")
        return self.received

    def close(self) -> None:
        self.server.shutdown()

    def summaries(self) -> list[dict[str, Any]]:
        return [json.loads(item.body) for item in self.received]


def until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    ends = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > ends:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def words(text: str) -> set[str]:
    return {word.strip(".,!?;:").lower() for word in text.split()}
