"""``/v1/transcriptions`` and ``/v1/queue``: ask for a file, follow it, read its result,
cancel it, retry it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import ValidationError

from kubescribe_protocol.models import ComputeType, Device, Priority, TranscriptionSettings
from kubescribe_protocol.names import MANUAL_DIR
from kubescribe_protocol.render import MEDIA_TYPES
from kubescribe_protocol.state import TERMINAL_STATES

from ..volume.file_actions import (
    ActionError,
    check_no_symlink,
    check_rel,
    locate,
    rel_from_id,
    render_result,
    transcription_id,
)
from ..volume.settings_check import SettingsRefusedError, check_settings
from . import schemas
from .callback_targets import RefusedTargetError, TargetPolicy
from .context import (
    Authorized,
    ClientId,
    Ctx,
    errors,
    finished_result,
    links,
    view_of,
    wait_for_end,
    write_errors,
)
from .uploads import store_upload

router = APIRouter(prefix="/v1", dependencies=[Authorized], tags=["transcriptions"])

#: Seconds between SSE keep-alive comments when nothing changes.
KEEPALIVE_SECONDS = 15.0
SSE_POLL_SECONDS = 0.5

ModelSize = Annotated[
    str | None,
    Form(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", description="tiny.en, base, large-v3 ..."),
]

Language = Annotated[
    str | None,
    Form(max_length=32, description="ISO 639-1 code (en) or its English name (english)"),
]


def settings_overrides(
    defaults: TranscriptionSettings,
    model_dir: Path | None,
    *,
    model_size: str | None = None,
    language: str | None = None,
    temperature: float | None = None,
    compute_type: str | None = None,
    device: str | None = None,
    output_formats: list[str] | None = None,
) -> dict[str, Any]:
    """The settings a request overrides, checked against the settings model and against
    what the models can do (400, naming the valid choices)."""
    given = {
        "model_size": model_size,
        "language": language,
        "temperature": temperature,
        "compute_type": compute_type,
        "device": device,
        "output_formats": output_formats or None,
    }
    overrides = {name: value for name, value in given.items() if value is not None}
    try:
        merged = TranscriptionSettings.model_validate(defaults.model_dump() | overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ActionError(400, "invalid_settings", problems) from exc
    try:
        checked = check_settings(merged, model_dir)
    except SettingsRefusedError as exc:
        raise ActionError(400, exc.code.value, exc.message) from exc
    if checked.language is not None and "language" in overrides:
        overrides["language"] = checked.language
    return overrides


def check_callback(url: str | None, secret: str | None, allowed: list[str]) -> str | None:
    if url is None or not url.strip():
        return None
    url = url.strip()
    if not url.startswith(("http://", "https://")) or len(url) > 2048:
        raise ActionError(400, "invalid_callback_url", "an http:// or https:// URL")
    if secret is None:
        raise ActionError(400, "callbacks_disabled", "no callback_secret is configured")
    try:
        TargetPolicy(allowed).check_written(url)
    except RefusedTargetError as exc:
        raise ActionError(400, "callback_target_refused", str(exc)) from exc
    return url


def rel_to_change(file_id: str) -> str:
    """The path an id names, for a request that changes the file: an id that names a
    path under ``manual/`` is refused (a file there is changed through the id it had
    before it went there)."""
    rel = rel_from_id(file_id)
    if rel.split("/", 1)[0] == MANUAL_DIR:
        raise ActionError(400, "manual_id", "this id names a path under manual/; use the id "
                          "of the file's path before it went there")  # fmt: skip
    return rel


async def named_or_uploaded(ctx: Ctx, file: UploadFile | None, path: str | None) -> str:
    """The relative path of the file a request is about: the upload, stored now, or a
    file already on the volume."""
    facade = ctx.facade
    if (file is None) == (path is None or not path):
        raise ActionError(400, "file_or_path", "send exactly one of 'file' and 'path'")
    if file is not None:
        return await store_upload(
            file,
            file.filename,
            root=facade.root,
            upload_dir=facade.settings.upload_dir,
            max_bytes=int(facade.settings.max_upload_mb * 1024 * 1024),
        )
    assert path is not None
    rel = check_rel(path)
    check_no_symlink(facade.root, rel)
    if not (facade.root / rel).is_file():
        raise ActionError(404, "not_found", f"no file {rel} under the root")
    return rel


@router.post(
    "/transcriptions",
    status_code=202,
    response_model=schemas.Accepted,
    responses=write_errors(400, 404, 413, 415),
    summary="Transcribe an uploaded file or one already on the volume, first in the queue",
)
async def create_transcription(
    ctx: Ctx,
    client: ClientId,
    file: Annotated[UploadFile | None, File(description="the audio (multipart)")] = None,
    path: Annotated[str | None, Form(description="a file already on the volume")] = None,
    model_size: ModelSize = None,
    language: Language = None,
    temperature: Annotated[float | None, Form(ge=0.0, le=1.0)] = None,
    compute_type: Annotated[ComputeType | None, Form()] = None,
    device: Annotated[Device | None, Form()] = None,
    output_formats: Annotated[list[Literal["txt", "srt", "vtt"]] | None, Form()] = None,
    callback_url: Annotated[str | None, Form(description="POSTed a signed summary")] = None,
) -> JSONResponse:
    facade = ctx.facade
    overrides = settings_overrides(
        facade.settings.defaults, facade.settings.model_dir, model_size=model_size,
        language=language, temperature=temperature, compute_type=compute_type, device=device,
        output_formats=list(output_formats or []),
    )  # fmt: skip
    callback = check_callback(callback_url, facade.settings.callback_secret,
                              facade.settings.callback_allowed_networks)  # fmt: skip
    rel = await named_or_uploaded(ctx, file, path)
    found = await asyncio.to_thread(
        facade.submit, rel, client, overrides=overrides, callback_url=callback
    )
    return _accepted(found.rel, found.state.value, client)


def _accepted(rel: str, state: str, client: str) -> JSONResponse:
    file_id = transcription_id(rel)
    body = schemas.Accepted(
        id=file_id, path=rel, client_id=client, state=state,
        links=links(file_id),
    )  # fmt: skip
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=202,
        headers={"Location": body.links.status, "X-Client-Id": client},
    )


@router.get(
    "/transcriptions/{file_id}",
    response_model=schemas.TranscriptionView,
    responses=errors(404, 409),
    summary="State, attempt, progress, queue position, ETA and error of a file",
)
async def get_transcription(ctx: Ctx, file_id: str) -> schemas.TranscriptionView:
    rel = rel_from_id(file_id)
    found = await asyncio.to_thread(locate, ctx.facade.root, rel)
    return await asyncio.to_thread(view_of, ctx, found)


RESULT_MEDIA = {
    "application/json": {"schema": {"type": "object"}},
    **{media.split(";")[0]: {"schema": {"type": "string"}} for media in MEDIA_TYPES.values()},
}


@router.get(
    "/transcriptions/{file_id}/result",
    response_class=Response,
    responses={
        200: {"content": RESULT_MEDIA, "description": "the transcript"},
        **errors(404, 409),
    },
    summary="The transcript as json (the .result file), txt, srt or vtt; wait= long-polls",
)
async def get_result(
    ctx: Ctx,
    file_id: str,
    format: Annotated[Literal["json", "txt", "srt", "vtt"], Query()] = "json",
    wait: Annotated[float, Query(ge=0, le=600, description="seconds to wait for it")] = 0,
) -> Response:
    rel = rel_from_id(file_id)
    found = await wait_for_end(ctx, rel, wait)
    result = finished_result(found)
    text = render_result(result, format)
    if format == "json":
        return Response(text, media_type="application/json")
    return PlainTextResponse(text, media_type=MEDIA_TYPES[format])


@router.get(
    "/transcriptions/{file_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                     "description": "progress events until the file ends"}, **errors(404, 409)},
    summary="Progress as server-sent events (event: progress, then end or timeout)",
)  # fmt: skip
async def get_events(
    ctx: Ctx,
    request: Request,
    file_id: str,
    timeout: Annotated[float, Query(gt=0, le=3600, description="end the stream after")] = 600,
) -> StreamingResponse:
    rel = rel_from_id(file_id)
    await asyncio.to_thread(locate, ctx.facade.root, rel)  # 404 before the stream starts

    async def stream() -> AsyncIterator[str]:
        ends_at = time.monotonic() + timeout
        last, last_sent = "", time.monotonic()
        while time.monotonic() < ends_at:
            if await request.is_disconnected():
                return
            found = await asyncio.to_thread(locate, ctx.facade.root, rel)
            view = await asyncio.to_thread(view_of, ctx, found)
            data = view.model_dump_json()
            if data != last:
                yield f"event: progress\ndata: {data}\n\n"
                last, last_sent = data, time.monotonic()
            if found.state in TERMINAL_STATES:
                yield f"event: end\ndata: {json.dumps({'state': found.state.value})}\n\n"
                return
            if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
                yield ": keep-alive\n\n"
                last_sent = time.monotonic()
            await asyncio.sleep(SSE_POLL_SECONDS)
        yield "event: timeout\ndata: {}\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.delete(
    "/transcriptions/{file_id}",
    response_model=schemas.TranscriptionView,
    responses=write_errors(404, 409),
    summary="Cancel: should_continue becomes false, a running attempt stops, the file "
    "goes to manual/ (error cancelled)",
)
async def cancel_transcription(ctx: Ctx, file_id: str) -> schemas.TranscriptionView:
    rel = rel_to_change(file_id)
    found = await asyncio.to_thread(ctx.facade.cancel, rel)
    return await asyncio.to_thread(view_of, ctx, found)


@router.post(
    "/transcriptions/{file_id}/retry",
    status_code=202,
    response_model=schemas.Accepted,
    responses=write_errors(404, 409),
    summary="Take a file back out of manual/, queued first with a fresh budget of attempts",
)
async def retry_transcription(ctx: Ctx, client: ClientId, file_id: str) -> JSONResponse:
    rel = rel_to_change(file_id)
    found = await asyncio.to_thread(ctx.facade.retry, rel, client)
    return _accepted(found.rel, found.state.value, client)


@router.get("/queue", response_model=schemas.QueueView, responses=errors(),
            summary="Running files, then waiting ones in the order they will start")  # fmt: skip
async def get_queue(ctx: Ctx) -> schemas.QueueView:
    view = await asyncio.to_thread(ctx.facade.queue)

    def item(rel: str, position: int) -> schemas.QueueItem:
        priority = view.priorities.get(rel, Priority.AUTO_SCAN).value
        return schemas.QueueItem(id=transcription_id(rel), path=rel, position=position,
                                 priority=priority)  # fmt: skip

    return schemas.QueueView(
        parallel=view.parallel,
        running=[item(rel, 0) for rel in view.running],
        waiting=[item(rel, number) for number, rel in enumerate(view.waiting, start=1)],
    )
