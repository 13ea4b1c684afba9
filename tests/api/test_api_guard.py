"""What the API refuses before it reads or writes anything (issue 14, items 3-6 and 12-14,
and the rate limit), against a real ``kubescribe run --api`` with tight limits, over real
HTTP (raw sockets for bodies that are slow, chunked or never sent)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.apikit import (
    CALLBACK_SECRET,
    CallbackReceiver,
    Server,
    file_id,
    start_server,
    stop_server,
    until,
)
from api.rawhttp import RawRequest, chunked, multipart_start, post_head
from kubescribe_operator.local.executor import worker_pids

#: One token per test that writes: the rate limit counts each client (token and address).
NAMES = ("rate", "other", "upload", "names", "manual", "worker", "result")
TOKENS = {name: f"guard-{name}-0123456789" for name in NAMES}
MAX_CONNECTIONS = 12
INTERNAL_TARGETS = [
    "http://127.0.0.1:18091/x", "http://localhost/x", "http://[::1]/x",
    "http://169.254.169.254/latest/meta-data", "http://metadata.google.internal/x",
    "http://10.1.2.3/x", "http://192.168.0.1/x", "http://kubernetes.default.svc/x",
    "http://2130706433/x", "http://[::ffff:127.0.0.1]/x",
]  # fmt: skip
TOKENS |= {f"callback-{n}": f"guard-callback-{n}-0123456789" for n in range(len(INTERNAL_TARGETS))}


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("guarded-root")
    log = tmp_path_factory.mktemp("guarded-log") / "run.log"
    server = start_server(
        root, model_dir, log,
        KUBESCRIBE_API_TOKENS=json.dumps(list(TOKENS.values())),
        KUBESCRIBE_MAX_UPLOAD_MB="1",
        KUBESCRIBE_API_BODY_TIMEOUT_SECONDS="2",
        KUBESCRIBE_API_BODY_MIN_BYTES_PER_SECOND="1000",
        KUBESCRIBE_API_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
        KUBESCRIBE_API_WRITES_PER_MINUTE="1",
        KUBESCRIBE_API_WRITE_BURST="3",
    )  # fmt: skip
    yield server
    stop_server(server)
    assert "Traceback" not in server.tail(), server.tail()


def client(server: Server, name: str) -> httpx.Client:
    return server.client(TOKENS[name])


def stored_uploads(server: Server) -> list[Path]:
    folder = server.root / "uploads"
    return [path for path in folder.rglob("*") if path.is_file()] if folder.exists() else []


# ------------------------------------------------------------ item 3: token, then body


def test_an_upload_without_a_token_is_refused_before_its_body(guarded: Server) -> None:
    # Headers only: the answer must come although not one byte of the body was sent.
    head = post_head(guarded.url, "/v1/transcriptions", token=None,
                     extra={"Transfer-Encoding": "chunked"})  # fmt: skip
    request = RawRequest(guarded.url, head)
    try:
        assert request.wait_answer(30) == 401, request.answer
        assert b'"unauthorized"' in request.answer
        assert request.sent == 0
    finally:
        request.close()
    wrong = RawRequest(guarded.url, post_head(guarded.url, "/v1/audio/transcriptions",
                       token="not-a-token", extra={"Content-Length": "40000000"}))  # fmt: skip
    try:
        assert wrong.wait_answer(30) == 401, wrong.answer
    finally:
        wrong.close()
    assert stored_uploads(guarded) == []


def test_a_chunked_upload_past_the_limit_gets_413_while_it_is_sent(guarded: Server) -> None:
    head = post_head(guarded.url, "/v1/transcriptions", token=TOKENS["upload"],
                     extra={"Transfer-Encoding": "chunked"})  # fmt: skip
    request = RawRequest(guarded.url, head)
    total = 40 * 1024 * 1024
    piece = b"\0" * 65536

    def body() -> Iterator[bytes]:
        yield multipart_start("big.wav") + b"RIFF"
        for _ in range(total // len(piece)):
            yield piece

    try:
        for data in chunked(body()):
            if request.status() is not None or not request.send(data):
                break
        # The limit is 1 MiB: the server answered and stopped reading long before 40 MiB
        # (what it had not read stays in the socket buffers, a few MiB at most).
        assert request.wait_answer(30) == 413, request.answer[:300]
        assert b'"too_large"' in request.answer
        assert request.sent < total // 2, request.sent
    finally:
        request.close()
    assert stored_uploads(guarded) == []


# -------------------------------------------------- item 4: slow bodies, connections


def test_a_trickling_body_is_cut_off_with_408(guarded: Server) -> None:
    head = post_head(guarded.url, "/v1/transcriptions", token=TOKENS["upload"],
                     extra={"Content-Length": "500000"})  # fmt: skip
    request = RawRequest(guarded.url, head)
    try:
        request.send(multipart_start("slow.wav"))
        ends = time.monotonic() + 60
        # 10 bytes every 0.2 s: far below 1000 bytes/s, after the 2 s allowed.
        while request.status() is None and time.monotonic() < ends and request.send(b"x" * 10):
            time.sleep(0.2)
        assert request.wait_answer(30) == 408, request.answer
        assert b'"body_timeout"' in request.answer
        assert request.closed.is_set(), "the connection stays open"
    finally:
        request.close()


def test_connections_past_the_limit_get_503_and_the_api_recovers(guarded: Server) -> None:
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", int(guarded.url.rsplit(":", 1)[1])))
            held.append(sock)

        # uvicorn counts a connection once it is accepted; ask until it has them all.
        def refused() -> bool:
            return httpx.get(f"{guarded.url}/healthz", timeout=10).status_code == 503

        until(refused, 30, "a 503 past api_max_connections")
    finally:
        for sock in held:
            sock.close()
    until(lambda: httpx.get(f"{guarded.url}/healthz", timeout=10).status_code == 200, 30,
          "the API answering again")  # fmt: skip


# ------------------------------------------------------------------- the rate limit


def test_write_requests_past_the_burst_get_429_with_retry_after(guarded: Server) -> None:
    with client(guarded, "rate") as http:
        answers = [http.post("/v1/transcriptions", data={"path": "nothing-here.wav"})
                   for _ in range(4)]  # fmt: skip
        assert [a.status_code for a in answers] == [404, 404, 404, 429], [a.text for a in answers]
        limited = answers[-1]
        assert limited.json()["error"]["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        # Reads are not limited; another client has its own budget.
        assert http.get("/v1/queue").status_code == 200
    with client(guarded, "other") as http:
        assert http.post("/v1/transcriptions", data={"path": "nothing.wav"}).status_code == 404


# ------------------------------------------------------- item 5: results out of root


def test_a_result_linked_out_of_the_root_or_unreadable_shows_nothing(
    guarded: Server, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.wav.result"
    secret.write_text(json.dumps({"password": "hunter2"}))
    (guarded.root / "linked").mkdir()
    (guarded.root / "linked" / "r2.wav").write_bytes(b"RIFF....")
    (guarded.root / "linked" / "r2.wav.result").symlink_to(secret)
    with client(guarded, "result") as http:
        answer = http.get(f"/v1/transcriptions/{file_id('linked/r2.wav')}/result",
                          params={"format": "txt"})  # fmt: skip
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == "unsafe_status_file"
        assert "hunter2" not in answer.text and str(tmp_path) not in answer.text
        status = http.get(f"/v1/transcriptions/{file_id('linked/r2.wav')}")
        assert status.status_code == 409 and "hunter2" not in status.text


# ------------------------------------------------------ item 12: ids under manual/


def test_ids_of_paths_under_manual_are_refused_by_changes(guarded: Server) -> None:
    manual = guarded.root / "manual"
    manual.mkdir(exist_ok=True)
    (manual / "m.wav").write_bytes(b"RIFF....")
    before = sorted(path.name for path in manual.iterdir())
    base = f"/v1/transcriptions/{file_id('manual/m.wav')}"
    with client(guarded, "manual") as http:
        for answer in (http.delete(base), http.post(f"{base}/retry")):
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"]["code"] == "manual_id"
    assert sorted(path.name for path in manual.iterdir()) == before


# ------------------------------------------------------------ item 13: long names


def test_long_names_get_400_with_a_code(guarded: Server, speech: dict[str, Path]) -> None:
    with client(guarded, "names") as http:
        named = http.post("/v1/transcriptions", data={"path": "a" * 300 + ".mp3"})
        assert named.status_code == 400, named.text
        assert named.json()["error"]["code"] == "name_too_long"
        files = {"file": ("я" * 190 + ".wav", speech["fox"].read_bytes())}
        uploaded = http.post("/v1/transcriptions", files=files)
        assert uploaded.status_code == 400, uploaded.text
        assert uploaded.json()["error"]["code"] == "name_too_long"
    assert stored_uploads(guarded) == []


# ------------------------------------------------------------ item 6: callback targets


@pytest.mark.parametrize("number", range(len(INTERNAL_TARGETS)))
def test_callbacks_to_internal_targets_are_refused(guarded: Server, number: int) -> None:
    target = INTERNAL_TARGETS[number]
    with client(guarded, f"callback-{number}") as http:
        answer = http.post("/v1/transcriptions",
                           data={"path": "nothing.wav", "callback_url": target})  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "callback_target_refused"


# ------------------------------------------------------------ item 14: secrets


def test_a_local_worker_inherits_neither_tokens_nor_callback_secret(
    guarded: Server, speech: dict[str, Path]
) -> None:
    with client(guarded, "worker") as http:
        files = {"file": ("env.wav", speech["music"].read_bytes())}
        accepted = http.post("/v1/transcriptions", files=files)
        assert accepted.status_code == 202, accepted.text
        rel = accepted.json()["path"]
        found: dict[int, bytes] = {}

        def a_worker_runs() -> bool:
            for pid in worker_pids(guarded.root):
                try:
                    found[pid] = Path(f"/proc/{pid}/environ").read_bytes()
                except OSError:
                    continue
            return bool(found)

        until(a_worker_runs, 120, "a worker process")
        http.delete(f"/v1/transcriptions/{file_id(rel)}")
    for environ in found.values():
        names = {item.split(b"=", 1)[0] for item in environ.split(b"\0") if item}
        assert b"KUBESCRIBE_API_TOKENS" not in names
        assert b"KUBESCRIBE_CALLBACK_SECRET" not in names
        assert TOKENS["worker"].encode() not in environ and CALLBACK_SECRET.encode() not in environ
        assert b"PATH" in names  # the rest of the environment is there


def test_callback_secrets_stay_off_the_volume_and_out_of_the_log(
    api: Server, speech: dict[str, Path], receiver: CallbackReceiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"http://user:pw-SECRET@127.0.0.1:{port}/hook?token=QUERYSECRET"
    with api.client() as http:
        files = {"file": ("secrets.wav", speech["garden"].read_bytes())}
        accepted = http.post("/v1/transcriptions", files=files, data={"callback_url": url})
        assert accepted.status_code == 202, accepted.text
        rel = accepted.json()["path"]
        status_file = api.root / f"{rel}.in_progress"
        if status_file.exists():
            text = status_file.read_text()
            assert "pw-SECRET" not in text and "QUERYSECRET" not in text, text
    # The receiver fails the first try (the log has it) and takes the second.
    until(lambda: any(json.loads(r.body)["path"] == rel for r in receiver.received), 240,
          f"the callback of {rel}")  # fmt: skip
    summaries = [json.loads(r.body) for r in receiver.received]
    assert any(summary["path"] == rel for summary in summaries)
    for path in api.root.rglob("*"):
        if path.is_file() and path.suffix in (".in_progress", ".result"):
            assert "QUERYSECRET" not in path.read_text(errors="replace"), path
    log = api.log.read_text(errors="replace")
    assert "pw-SECRET" not in log and "QUERYSECRET" not in log
    assert "callback to http://REDACTED@127.0.0.1" in log  # the failed first try


def test_a_stream_outlives_the_body_timeout(guarded: Server) -> None:
    # The body timeout (2 s here) ends with the body: an event stream runs its course.
    (guarded.root / "manual").mkdir(exist_ok=True)
    (guarded.root / "manual" / "s.wav").write_bytes(b"RIFF....")
    events = f"/v1/transcriptions/{file_id('manual/s.wav')}/events"
    with (
        client(guarded, "result") as http,
        http.stream("GET", events, params={"timeout": 5}) as stream,
    ):
        lines = [line for line in stream.iter_lines() if line.startswith("event:")]
    assert lines[-1] == "event: timeout", lines
