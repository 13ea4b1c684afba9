"""HTTP over a raw socket, for what an HTTP client library will not do: send a body slowly,
chunked, or not at all, and read the answer while still sending."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class RawRequest:
    """One request on its own connection; :attr:`answer` fills in as the server answers,
    read on a thread of its own so that sending never hides it."""

    url: str
    head: str
    sock: socket.socket = field(init=False)
    answer: bytes = b""
    closed: threading.Event = field(default_factory=threading.Event)
    sent: int = 0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=120)
        self.sock.sendall(self.head.encode("latin-1"))
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while chunk := self.sock.recv(65536):
                self.answer += chunk
        except OSError:
            pass
        self.closed.set()

    def send(self, data: bytes) -> bool:
        """False once the server stopped taking the body (it closed or reset)."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        self.sent += len(data)
        return True

    def status(self) -> int | None:
        """The answer's status code, once its first line is in."""
        line = self.answer.split(b"\r\n", 1)[0].split()
        return int(line[1]) if len(line) >= 2 and line[1].isdigit() else None

    def wait_status(self, timeout: float) -> int | None:
        ends = time.monotonic() + timeout
        while self.status() is None and not self.closed.is_set() and time.monotonic() < ends:
            time.sleep(0.05)
        return self.status()

    def wait_answer(self, timeout: float) -> int | None:
        """The status of a whole answer: the server closed the connection after it."""
        self.closed.wait(timeout)
        return self.status()

    def close(self) -> None:
        self.sock.close()


def post_head(url: str, path: str, *, token: str | None, extra: dict[str, str]) -> str:
    host = urlsplit(url).netloc
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}",
             "Content-Type: multipart/form-data; boundary=XyZ"]  # fmt: skip
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    lines += [f"{name}: {value}" for name, value in extra.items()]
    return "\r\n".join(lines) + "\r\n\r\n"


def chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


def multipart_start(name: str) -> bytes:
    return (f'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode()  # fmt: skip
