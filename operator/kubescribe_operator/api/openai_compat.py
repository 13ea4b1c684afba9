"""``POST /v1/audio/transcriptions``, as the OpenAI audio API has it: any OpenAI client
(``client.audio.transcriptions.create(...)``) gets the cluster's GPUs.

The upload is stored and queued first (priority ``api_request``) and the request waits
for the result. ``model`` ``whisper-1`` (or any ``gpt-*`` name) means the configured
default model; a WhisperX size (``tiny.en``, ``base``, ``large-v3`` ...) picks that one.
``prompt`` is the model's initial prompt. ``verbose_json`` carries ``segments`` and, with
``timestamp_granularities[]=word``, ``words``, as OpenAI's API answers them.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from kubescribe_protocol.models import Result
from kubescribe_protocol.render import MEDIA_TYPES

from ..volume.file_actions import ActionError, render_result, transcription_id
from . import schemas
from .context import Authorized, ClientId, Ctx, finished_result, wait_for_end, write_errors
from .routes import Language, settings_overrides
from .uploads import store_upload

router = APIRouter(prefix="/v1/audio", dependencies=[Authorized], tags=["openai"])

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json"]
Granularity = Literal["word", "segment"]


def model_size_for(model: str) -> str | None:
    """The WhisperX size an OpenAI ``model`` names; None: the configured default."""
    if model == "whisper-1" or model.startswith("gpt-"):
        return None
    return model  # checked with the other settings: unknown_model_size names the sizes


def verbose(result: Result, granularities: set[str] | None = None) -> schemas.OpenAIVerbose:
    """OpenAI's ``verbose_json``: ``segments`` unless only words were asked for, ``words``
    when they were."""
    granularities = granularities or {"segment"}
    segments = result.transcription.segments
    return schemas.OpenAIVerbose(
        language=result.metadata.language_detected,
        duration=result.duration_seconds,
        text=result.transcription.text,
        segments=[
            schemas.OpenAISegment(
                id=seg.id, start=seg.start, end=seg.end, text=seg.text, confidence=seg.confidence
            )
            for seg in segments
        ]
        if "segment" in granularities
        else None,
        words=[
            schemas.OpenAIWord(word=w.word, start=w.start, end=w.end)
            for seg in segments
            for w in seg.words
        ]
        if "word" in granularities
        else None,
    )


@router.post(
    "/transcriptions",
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"anyOf": [
                    schemas.OpenAITranscription.model_json_schema(),
                    schemas.OpenAIVerbose.model_json_schema(ref_template="#/components/schemas/{model}"),
                ]}},
                "text/plain": {"schema": {"type": "string"}},
                "application/x-subrip": {"schema": {"type": "string"}},
                "text/vtt": {"schema": {"type": "string"}},
            },
            "description": "the transcript in response_format",
        },
        **write_errors(400, 409, 413, 415),
        504: {"model": schemas.ErrorBody, "description": "no result within openai_wait_seconds"},
    },
    response_class=Response,
    summary="OpenAI-compatible transcription: uploads, waits, answers the transcript",
)  # fmt: skip
async def openai_transcription(
    ctx: Ctx,
    client: ClientId,
    file: Annotated[UploadFile, File(description="the audio")],
    model: Annotated[str, Form(max_length=64)] = "whisper-1",
    language: Language = None,
    prompt: Annotated[str | None, Form(max_length=4096)] = None,
    temperature: Annotated[float | None, Form(ge=0.0, le=1.0)] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    timestamp_granularities: Annotated[
        list[Granularity] | None, Form(alias="timestamp_granularities[]")
    ] = None,
) -> Response:
    facade = ctx.facade
    granularities: set[str] = set(timestamp_granularities or ())
    if granularities and response_format != "verbose_json":
        raise ActionError(
            400, "invalid_settings", "timestamp_granularities[] needs response_format verbose_json"
        )
    overrides = settings_overrides(
        facade.settings.defaults, facade.settings.model_dir, model_size=model_size_for(model),
        language=language,
        temperature=temperature,
    )  # fmt: skip
    if prompt and prompt.strip():
        overrides["initial_prompt"] = prompt.strip()
    if "word" in granularities:
        overrides["word_timestamps"] = True
    rel = await store_upload(
        file,
        file.filename,
        root=facade.root,
        upload_dir=facade.settings.upload_dir,
        max_bytes=int(facade.settings.max_upload_mb * 1024 * 1024),
    )
    await asyncio.to_thread(facade.submit, rel, client, overrides=overrides, callback_url=None)
    found = await wait_for_end(ctx, rel, facade.settings.openai_wait_seconds)
    if found.state.value not in ("completed", "manual"):
        follow = f"/v1/transcriptions/{transcription_id(rel)}"
        raise ActionError(504, "timeout", f"{rel} is still {found.state.value}; see {follow}")
    result = finished_result(found)
    if response_format == "json":
        return JSONResponse({"text": result.transcription.text})
    if response_format == "verbose_json":
        body = verbose(result, granularities).model_dump(mode="json")
        return JSONResponse(
            {k: v for k, v in body.items() if k not in ("segments", "words") or v is not None}
        )
    fmt = "txt" if response_format == "text" else response_format
    return PlainTextResponse(render_result(result, fmt), media_type=MEDIA_TYPES[fmt])
