"""``kubescribe worker``: transcribe one file by the status-file protocol.

The controller wrote ``.in_progress`` (status ``processing``, ``attempt`` N and the
attempt's record) before starting us. In order:

1. Read ``.in_progress``; a missing file, another attempt or ``should_continue: false``
   means this attempt is stale: exit 13 (superseded) having written nothing.
2. Test switches (:mod:`.switches`), then a heartbeat thread (every write is fenced).
3. ``loading_model``: classify and decode the audio (a bad input fails here, before any
   model loads), find the model (:mod:`.models`) and load WhisperX's pipeline.
4. ``processing_audio``: the percentage follows the end of each transcribed chunk.
5. ``generating_text``: write ``.result``, the extra outputs, remove ``.in_progress``.

On failure the error goes into ``.in_progress`` and the exit code says its kind
(``kubescribe_protocol.codes``). SIGTERM ends the attempt as ``interrupted`` (exit 14).
The audio file itself is only ever read.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from kubescribe_protocol.atomic import StatusFileError, write_model
from kubescribe_protocol.codes import ErrorCode, ExitCode, exit_code_for
from kubescribe_protocol.models import InProgress, Stage, TranscriptionSettings, utc_now
from kubescribe_protocol.names import result_path
from kubescribe_protocol.subtitles import SubtitleLayout

from . import audio as audio_io
from . import audio_check, hardware, preload, switches, wav2vec2_alignment
from .errors import Interrupted, Superseded, WorkerError, classify
from .models import check_language, resolve_model
from .outputs import write_outputs
from .result import Measurements, build_result, cpu_seconds, peak_memory_mb
from .status import FencedStatus, Heartbeat

log = logging.getLogger("kubescribe_worker")

#: The overall percentage at each step: decoding and loading take the first tenth,
#: transcription maps the share of audio done onto 10..95, writing the rest.
PCT_DECODED = 5
PCT_TRANSCRIBE_START = 10
PCT_TRANSCRIBE_END = 95


def _setup_logging(debug: bool) -> None:
    logging.basicConfig(
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        level=logging.DEBUG if debug else logging.WARNING,
    )
    log.setLevel(logging.DEBUG if debug else logging.INFO)


class _StopOnSignal:
    """SIGTERM/SIGINT raise :class:`Interrupted` in the main thread, except while the
    result or the error is being written (that takes milliseconds)."""

    def __init__(self) -> None:
        self.publishing = False
        self.requested: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _StopOnSignal:
        for sig in (signal.SIGTERM, signal.SIGINT):
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        self.requested = signum
        if not self.publishing:
            raise Interrupted(f"stopped by signal {signal.Signals(signum).name}")

    def start_publishing(self) -> None:
        """From here on a signal waits. A request that came before is honoured now, even
        if the raise it made was lost (a signal inside a log call's write)."""
        if self.requested is not None:
            raise Interrupted(f"stopped by signal {signal.Signals(self.requested).name}")
        self.publishing = True


def main(*, root: Path, rel: str, attempt: int, model_dir: Path | None) -> int:
    audio_path = (root / rel).absolute()
    status = FencedStatus(audio_path, attempt)
    try:
        initial = status.read_fenced()
    except Superseded as exc:
        print(f"kubescribe worker: attempt {attempt} of {rel} is stale ({exc})", file=sys.stderr)
        return ExitCode.SUPERSEDED
    except StatusFileError as exc:
        # Without a readable status file there is no fence to check: write nothing.
        print(f"kubescribe worker: {exc}", file=sys.stderr)
        return ExitCode.FAILED
    _setup_logging(initial.settings.debug)
    heartbeat = Heartbeat(status)
    with _StopOnSignal() as stopper:
        try:
            return _work(initial, status, heartbeat, stopper, audio_path, rel, model_dir)
        except Superseded as exc:
            log.warning("attempt %d of %s superseded: %s; wrote nothing more", attempt, rel, exc)
            return ExitCode.SUPERSEDED
        except Interrupted as exc:
            stopper.publishing = True  # a second signal must not cut the error's write
            return _fail(status, WorkerError(ErrorCode.INTERRUPTED, str(exc)))
        except Exception as exc:
            stopper.publishing = True
            error = classify(exc)
            if not isinstance(exc, WorkerError):
                error.details = "".join(traceback.format_exception(exc))[-4000:]
            return _fail(status, error)
        finally:
            heartbeat.stop()


def _fail(status: FencedStatus, error: WorkerError) -> int:
    exit_code = exit_code_for(error.code)
    log.error("%s: %s%s", error.code, error.message, f" ({error.details})" if error.details else "")
    try:
        status.fail(error.code, error.message, error.details, int(exit_code))
    except Superseded:
        return ExitCode.SUPERSEDED
    return exit_code


def _work(
    initial: InProgress,
    status: FencedStatus,
    heartbeat: Heartbeat,
    stopper: _StopOnSignal,
    audio_path: Path,
    rel: str,
    model_dir: Path | None,
) -> int:
    attempt = status.attempt
    if attempt in switches.failing_attempts():
        raise WorkerError(
            ErrorCode.INJECTED_FAILURE, f"attempt {attempt} failed by {switches.FAIL_ATTEMPTS_ENV}"
        )
    stall = switches.stall_seconds()
    if stall > 0:
        log.warning("stalling %.1f s without heartbeat (%s)", stall, switches.STALL_SECONDS_ENV)
        time.sleep(stall)

    # Before anything reads the audio (its fingerprint first): a FIFO would block, and
    # an unreadable file must fail with its own code.
    with contextlib.suppress(FileNotFoundError):  # probe() says file_missing
        audio_io.check_readable(audio_path, audio_path.stat().st_mode)
    record = initial.current()
    processing_start = record.start_time if record else initial.start_time
    # What the audio was at the start (the controller's record; an older one wrote
    # none): the result is published only if the audio is still that file.
    started_on = record.audio if record is not None and record.audio is not None else None
    if started_on is None:
        started_on = audio_check.taken_now(audio_path)
    requested = initial.settings
    status.progress(Stage.LOADING_MODEL, 0, force=True)
    heartbeat.start()

    # Probe and decode before the model is looked for: a bad input fails in well under
    # a second, with no model time spent on it. WhisperX's seconds of imports run
    # alongside, in a thread.
    preload.start()
    decoded = audio_io.load(audio_path)
    duration = decoded.duration
    status.progress(Stage.LOADING_MODEL, PCT_DECODED)

    device = hardware.resolve_device(requested.device)
    compute_type = hardware.resolve_compute_type(requested.compute_type, device)
    language = check_language(requested.language, requested.model_size)
    model = resolve_model(requested.model_size, model_dir)
    wav2vec2_alignment.check_early(requested, model_dir)
    log.info("model %s from %s (%s), %s/%s", requested.model_size, model.path, model.source,
             device, compute_type)  # fmt: skip
    try:
        # WhisperX, torch and CTranslate2: seconds of imports, timed apart from the model.
        imports_started = time.monotonic()
        from .pipeline import load_transcriber

        log.debug("imported WhisperX in %.2f s", time.monotonic() - imports_started)
        load_started = time.monotonic()
        transcriber = load_transcriber(
            model.path,
            device=device,
            compute_type=compute_type,
            language=language,
            temperature=requested.temperature,
            batch_size=switches.batch_size(),
            cpu_threads=hardware.cpu_threads(),
            word_timestamps=requested.word_timestamps and requested.alignment == "whisper",
            initial_prompt=requested.initial_prompt,
        )
    except (Interrupted, Superseded):
        raise
    except Exception as exc:
        raise classify(exc, default=ErrorCode.MODEL_BROKEN) from exc
    load_seconds = time.monotonic() - load_started
    status.progress(Stage.PROCESSING_AUDIO, PCT_TRANSCRIBE_START, force=True)

    def on_chunk_done(end_seconds: float) -> None:
        share = min(1.0, end_seconds / duration) if duration > 0 else 1.0
        span = PCT_TRANSCRIBE_END - PCT_TRANSCRIBE_START
        status.progress(Stage.PROCESSING_AUDIO, PCT_TRANSCRIBE_START + int(span * share))

    transcript = transcriber.transcribe(decoded.samples, on_chunk_done)
    transcript = wav2vec2_alignment.align_if_wanted(
        requested, model_dir, transcript, decoded.samples, device
    )
    status.progress(Stage.GENERATING_TEXT, PCT_TRANSCRIBE_END, force=True)

    used = TranscriptionSettings.model_validate(
        {**requested.model_dump(), "device": device, "compute_type": compute_type}
    )
    result = build_result(
        filename=audio_path.name,
        rel=rel,
        settings=used,
        transcript=transcript,
        measured=Measurements(
            processing_start=processing_start,
            processing_end=utc_now(),
            duration_seconds=duration,
            model_name=f"faster-whisper-{requested.model_size}",
            model_size_mb=model.size_mb,
            model_load_seconds=load_seconds,
            attempt=attempt,
            memory_peak_mb=peak_memory_mb(),
            cpu_time_seconds=cpu_seconds(),
        ),
    )

    audio_check.hold_for_test(status)
    result.audio = audio_check.unchanged(audio_path, started_on)

    def publish() -> None:
        # The outputs first: the result records which files are kubescribe's.
        segments = result.transcription.segments
        layout = SubtitleLayout.of(requested)
        result.outputs = write_outputs(audio_path, segments, requested.output_formats, layout)
        write_model(result_path(audio_path), result)

    heartbeat.stop()
    stopper.start_publishing()
    status.finish(publish)
    log.info("%s: %d words in %.1f s of audio", rel, result.metadata.word_count, duration)
    return ExitCode.OK
