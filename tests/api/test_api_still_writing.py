"""A request for a file still being written waits until it holds still, and its status
says so (issue 14, item 10): over real HTTP, with the real worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.apikit import Server, file_id, start_server, stop_server, until, words

pytestmark = pytest.mark.slow


@pytest.fixture
def patient_api(tmp_path: Path, model_dir: Path) -> Iterator[Server]:
    # stable_seconds 600: the scan would not take a new file for ten minutes; a request
    # waits until the file held still for 5 s (REQUEST_STABLE_SECONDS).
    root = tmp_path / "root"
    root.mkdir()
    server = start_server(root, model_dir, tmp_path / "run.log", "--stable-seconds", "600")
    yield server
    stop_server(server)


def test_a_request_for_a_file_still_written_waits_until_it_holds_still(
    patient_api: Server, speech: dict[str, Path]
) -> None:
    whole = speech["fox"].read_bytes()
    target = patient_api.root / "g2.wav"
    target.write_bytes(whole[: len(whole) // 3])
    finish = threading.Event()

    def writer() -> None:  # appends a little at a time until told to finish
        written = len(whole) // 3
        with target.open("ab") as out:
            while not finish.wait(0.3) and written < len(whole) - 400:
                out.write(whole[written : written + 100])
                out.flush()
                written += 100
            out.write(whole[written:])

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        with patient_api.client() as http:
            answer = http.post("/v1/transcriptions", data={"path": "g2.wav"})
            assert answer.status_code == 202, answer.text

            def view() -> dict[str, object]:
                body: dict[str, object] = http.get(f"/v1/transcriptions/{file_id('g2.wav')}").json()
                return body

            until(lambda: view()["holding_still_seconds"] is not None, 30, "holding still")
            for _ in range(5):  # while the writer appends, it waits, and says so
                body = view()
                assert body["state"] == "pending", body
                assert body["holding_still_seconds"] is not None, body
                time.sleep(0.3)
    finally:
        finish.set()
        thread.join()
    assert target.read_bytes() == whole
    done = patient_api.wait_state("g2.wav", {"completed", "manual"}, timeout=240)
    assert done["state"] == "completed", patient_api.tail()
    with patient_api.client() as http:
        text = http.get(f"/v1/transcriptions/{file_id('g2.wav')}/result", params={"format": "txt"})
    assert {"quick", "brown", "fox", "lazy", "dog"} <= words(text.text)
