"""The API over real HTTP, against a real root and the real worker (tiny.en, CPU)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from api.apikit import CALLBACK_SECRET, CallbackReceiver, Server, file_id, until, words
from kubescribe_operator.api.callbacks import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from kubescribe_protocol.models import InProgress
from kubescribe_protocol.names import in_progress_path

pytestmark = pytest.mark.slow


def test_health_is_open_and_everything_else_needs_a_token(api: Server) -> None:
    with api.client(token=None) as anonymous, api.client(token="wrong") as wrong:
        assert anonymous.get("/healthz").json() == {"status": "ok"}
        assert anonymous.get("/readyz").json() == {"status": "ready"}
        for path in (
            "/v1/queue",
            "/metrics",
            "/openapi.json",
            f"/v1/transcriptions/{file_id('a.wav')}",
        ):
            for client in (anonymous, wrong):
                answer = client.get(path)
                assert answer.status_code == 401, path
                assert answer.json()["error"]["code"] == "unauthorized"
                assert answer.headers["www-authenticate"] == "Bearer"
    with api.client() as http:
        assert http.get("/openapi.json").json()["info"]["title"] == "kubescribe"


def test_upload_is_transcribed_followed_by_events_and_signed_callback(
    api: Server, speech: dict[str, Path], receiver: CallbackReceiver
) -> None:
    client_id = str(uuid.uuid4())
    with api.client() as http:
        answer = http.post(
            "/v1/transcriptions",
            files={"file": ("fox talk.wav", speech["fox"].read_bytes(), "audio/wav")},
            data={"callback_url": receiver.url, "output_formats": ["srt"]},
            headers={"X-Client-Id": client_id},
        )
        assert answer.status_code == 202, answer.text
        accepted = answer.json()
        rel = accepted["path"]
        assert rel.startswith("uploads/") and rel.endswith("/fox talk.wav")
        assert accepted["client_id"] == client_id and accepted["id"] == file_id(rel)
        assert answer.headers["location"] == f"/v1/transcriptions/{accepted['id']}"
        status = InProgress.model_validate_json(in_progress_path(api.root / rel).read_text())
        assert status.priority.value == "api_request" and client_id in status.api_clients
        assert status.settings.output_formats == ["srt"]

        # Server-sent events until the end: progress grows, then the end event.
        events: list[tuple[str, dict[str, Any]]] = []
        with http.stream("GET", f"{accepted['links']['events']}?timeout=240") as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            kind = ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line.removeprefix("data: "))))
        assert events[-1] == ("end", {"state": "completed"})
        states = [body["state"] for kind, body in events if kind == "progress"]
        assert states[-1] == "completed"
        percentages = [
            b["progress"]["percentage"] for k, b in events if k == "progress" and b["progress"]
        ]
        assert percentages == sorted(percentages)

        text = http.get(f"/v1/transcriptions/{accepted['id']}/result", params={"format": "txt"})
        assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
        assert {"quick", "brown", "fox", "lazy", "dog"} <= words(text.text)
        srt = http.get(f"/v1/transcriptions/{accepted['id']}/result?format=srt")
        assert srt.text.startswith("1\n00:00:00") and "-->" in srt.text
        vtt = http.get(f"/v1/transcriptions/{accepted['id']}/result?format=vtt")
        assert vtt.text.startswith("WEBVTT") and vtt.headers["content-type"].startswith("text/vtt")
        result = http.get(f"/v1/transcriptions/{accepted['id']}/result").json()
        assert result["filename"] == "fox talk.wav" and result["duration_seconds"] > 2
        view = http.get(f"/v1/transcriptions/{accepted['id']}").json()
        assert view["state"] == "completed" and view["attempt"] == 1
        assert view["queue_position"] is None and view["eta_seconds"] is None

    # The callback: the first delivery got a 500, the retry arrived, correctly signed.
    received = receiver.wait(1)[0]
    assert receiver.attempts >= 2
    timestamp = received.headers[TIMESTAMP_HEADER]
    assert verify(CALLBACK_SECRET, timestamp, received.body, received.headers[SIGNATURE_HEADER])
    assert not verify(
        "another-secret", timestamp, received.body, received.headers[SIGNATURE_HEADER]
    )
    summary = json.loads(received.body)
    assert summary["event"] == "transcription.completed" and summary["path"] == rel
    assert {"quick", "fox"} <= words(summary["text"])


def test_named_file_is_promoted_cancelled_and_retried(
    api: Server,
    speech: dict[str, Path],
    long_speech: Path,
    measured: float,
    receiver: CallbackReceiver,
) -> None:
    """While a long file runs, two dropped files wait; asking for the later one puts it
    first, with a position and an ETA; cancelling it while it waits sends it to manual/
    (callback); retry brings it back; cancelling the running file stops its worker, and
    the retried file then completes."""
    with api.client() as http:
        upload = {"file": ("busy.wav", long_speech.read_bytes())}
        busy = http.post("/v1/transcriptions", files=upload).json()["path"]
        api.wait_state(busy, {"processing"}, timeout=60)
        folder = api.root / "dropped"
        folder.mkdir()
        shutil.copy(speech["weather"], folder / "early.wav")
        time.sleep(0.05)
        shutil.copy(speech["garden"], folder / "late.wav")
        dropped = {"dropped/early.wav", "dropped/late.wav"}

        def waiting() -> list[str]:
            return [item["path"] for item in http.get("/v1/queue").json()["waiting"]]

        until(lambda: dropped <= set(waiting()), 20, "the scan")
        late = file_id("dropped/late.wav")
        form = {"path": "dropped/late.wav", "callback_url": receiver.url}
        promoted = http.post("/v1/transcriptions", data=form)
        assert promoted.status_code == 202, promoted.text
        queue = http.get("/v1/queue").json()
        assert waiting()[:2] == ["dropped/late.wav", "dropped/early.wav"]
        assert queue["waiting"][0]["priority"] == "api_request"
        assert queue["running"][0]["path"] == busy
        view = http.get(f"/v1/transcriptions/{late}").json()
        assert view["state"] == "pending" and view["queue_position"] == 1
        assert view["realtime_factor"] == pytest.approx(measured, rel=0.5)
        assert view["eta_seconds"] > 0
        busy_view = http.get(f"/v1/transcriptions/{file_id(busy)}").json()
        assert busy_view["state"] == "processing" and busy_view["queue_position"] is None
        assert 0 < busy_view["eta_seconds"] < view["eta_seconds"]

        cancelled = http.delete(f"/v1/transcriptions/{late}")
        assert cancelled.status_code == 200, cancelled.text
        manual = api.wait_state("dropped/late.wav", {"manual"}, timeout=30)
        assert manual["error"]["code"] == "cancelled"
        assert manual["location"] == "manual/dropped/late.wav"
        assert (api.root / "manual/dropped/late.wav").is_file()
        summary = json.loads(receiver.wait(1)[0].body)
        assert summary["event"] == "transcription.manual"
        assert summary["error"]["code"] == "cancelled"
        not_ready = http.get(f"/v1/transcriptions/{late}/result")
        assert not_ready.status_code == 409 and not_ready.json()["error"]["code"] == "manual"

        again = http.post(f"/v1/transcriptions/{late}/retry")
        assert again.status_code == 202, again.text
        assert (api.root / "dropped/late.wav").is_file()
        assert not (api.root / "manual/dropped/late.wav").exists()
        twice = http.post(f"/v1/transcriptions/{late}/retry")
        assert twice.status_code == 409 and twice.json()["error"]["code"] == "not_in_manual"
        assert waiting()[0] == "dropped/late.wav"

        # Cancel the running file: its worker stops and it goes to manual/.
        assert http.delete(f"/v1/transcriptions/{file_id(busy)}").status_code == 200
        stopped = api.wait_state(busy, {"manual"}, timeout=60)
        assert stopped["error"]["code"] == "cancelled"
        record = in_progress_path(api.root / stopped["location"]).read_text()
        status = InProgress.model_validate_json(record)
        assert status.should_continue is False and status.attempts[-1].status.value == "failed"
        again_cancel = http.delete(f"/v1/transcriptions/{file_id(busy)}")
        assert again_cancel.status_code == 409
        assert again_cancel.json()["error"]["code"] == "not_cancellable"

        params: dict[str, str | int] = {"format": "txt", "wait": 240}
        done = http.get(f"/v1/transcriptions/{late}/result", params=params, timeout=260)
        assert done.status_code == 200, done.text
        assert {"garden", "roses", "trees"} <= words(done.text)


def _upload(http: Any, name: str, content: bytes) -> str:
    answer = http.post("/v1/transcriptions", files={"file": (name, content)})
    assert answer.status_code == 202, answer.text
    rel: str = answer.json()["path"]
    return rel


def test_metrics_cover_files_attempts_audio_and_timings(
    api: Server, speech: dict[str, Path]
) -> None:
    with api.client() as http:
        rel = http.post(
            "/v1/transcriptions", files={"file": ("metrics.wav", speech["fox"].read_bytes())}
        ).json()["path"]
        http.get(f"/v1/transcriptions/{file_id(rel)}/result", params={"wait": 240}, timeout=260)
        text = http.get("/metrics").text
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    assert values['kubescribe_files{state="completed"}'] >= 1
    assert values['kubescribe_attempts_total{outcome="completed",reason="none"}'] >= 1
    assert values["kubescribe_audio_seconds_transcribed_total"] > 2
    assert values["kubescribe_realtime_factor_count"] >= 1
    assert values["kubescribe_realtime_factor_estimate"] > 0
    assert values["kubescribe_queue_wait_seconds_count"] >= 1
    assert values["kubescribe_scan_duration_seconds_count"] >= 1


def test_cli_reads_the_api_result(api: Server) -> None:
    """``kubescribe result`` renders what the API produced, from the volume alone."""
    rel = next(p for p in (api.root / "uploads").rglob("fox talk.wav")).relative_to(api.root)
    done = subprocess.run(
        [sys.executable, "-m", "kubescribe_cli", "result", str(rel), "--root", str(api.root),
         "--format", "srt"], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1\n00:00:00") and "fox" in done.stdout.lower()


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"path": "../outside.wav"}, "path_traversal"),
        ({"path": "a/../../outside.wav"}, "path_traversal"),
        ({"path": "/etc/passwd.wav"}, "invalid_path"),
        ({"path": ".hidden.wav"}, "hidden_name"),
        ({"path": "notes.txt"}, "unsupported_extension"),
        ({"path": "manual/x.wav"}, "manual_path"),
        ({"path": "linked.wav"}, "symlink"),
        ({"path": "linkdir/inside.wav"}, "symlink"),
        ({}, "file_or_path"),
        ({"path": "x.wav", "callback_url": "ftp://example/hook"}, "invalid_callback_url"),
        ({"path": "x.wav", "temperature": "3"}, "invalid_parameters"),
    ],
)
def test_bad_named_files_are_rejected(api: Server, tmp_path: Path, speech: dict[str, Path],
                                      data: dict[str, str], code: str) -> None:  # fmt: skip
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(speech["fox"], outside / "inside.wav")
    for name, target in (("linked.wav", outside / "inside.wav"), ("linkdir", outside)):
        if not (api.root / name).is_symlink():
            (api.root / name).symlink_to(target)
    with api.client() as http:
        answer = http.post("/v1/transcriptions", data=data)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.json()["error"]["code"] == code


def test_bad_uploads_are_rejected_and_leave_nothing(
    api: Server, tmp_path: Path, speech: dict[str, Path]
) -> None:
    from speechkit import video_without_audio

    silent_video = video_without_audio(tmp_path / "silent.mp4").read_bytes()
    cases = [
        (("big.wav", b"RIFF" + b"\0" * (3 * 1024 * 1024 + 10)), 413, "too_large"),
        (("huge.wav", b"RIFF" + b"\0" * (6 * 1024 * 1024)), 413, "too_large"),
        (("notes.wav", b"these are not the sounds you are looking for\n" * 20), 415, "not_audio"),
        (("silent.mp4", silent_video), 415, "not_audio"),
        (("notes.txt", speech["fox"].read_bytes()), 415, "unsupported_extension"),
        (("../../escape.wav", speech["fox"].read_bytes()), 400, "path_traversal"),
        ((".hidden.wav", speech["fox"].read_bytes()), 400, "hidden_name"),
        (("empty.wav", b""), 400, "empty_file"),
    ]
    before = sorted(p.name for p in (api.root / "uploads").rglob("*"))
    with api.client() as http:
        for (name, content), status, code in cases:
            answer = http.post("/v1/transcriptions", files={"file": (name, content)})
            assert answer.status_code == status, (name, answer.text)
            assert answer.json()["error"]["code"] == code, name
        unknown = http.get("/v1/transcriptions/bm90LWhlcmUud2F2")  # not-here.wav
        assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
        garbage = http.get("/v1/transcriptions/%2E%2E")
        assert garbage.status_code == 404
        client = http.post(
            "/v1/transcriptions", data={"path": "x.wav"}, headers={"X-Client-Id": "me"}
        )
        assert client.status_code == 400 and client.json()["error"]["code"] == "invalid_client_id"
    assert sorted(p.name for p in (api.root / "uploads").rglob("*")) == before
    assert not (api.root.parent / "escape.wav").exists()


def test_same_upload_name_never_overwrites(api: Server, speech: dict[str, Path]) -> None:
    with api.client() as http:
        paths = [
            http.post(
                "/v1/transcriptions", files={"file": ("twice.wav", speech[name].read_bytes())}
            ).json()["path"]
            for name in ("fox", "garden")
        ]
        assert paths[0] != paths[1] and paths[1].endswith("twice (2).wav")
        assert (api.root / paths[0]).read_bytes() == speech["fox"].read_bytes()
        for rel in paths:
            http.delete(f"/v1/transcriptions/{file_id(rel)}")


def test_result_long_poll_times_out_with_409(api: Server, speech: dict[str, Path]) -> None:
    with api.client() as http:
        rel = http.post(
            "/v1/transcriptions", files={"file": ("slow.wav", speech["music"].read_bytes())}
        ).json()["path"]
        began = time.monotonic()
        answer = http.get(f"/v1/transcriptions/{file_id(rel)}/result", params={"wait": 0.6})
        waited = time.monotonic() - began
        if answer.status_code == 409:  # the usual case: it cannot be done in 0.6 s
            assert answer.json()["error"]["code"] == "not_ready" and waited >= 0.5
        else:  # pragma: no cover - an idle, fast machine
            assert answer.status_code == 200
        http.delete(f"/v1/transcriptions/{file_id(rel)}")
