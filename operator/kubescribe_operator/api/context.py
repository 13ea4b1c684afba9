"""What every route needs: the facade, the tokens, the metrics; and the shared helpers
that turn a file on the volume into an answer."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kubescribe_protocol.models import Result
from kubescribe_protocol.state import TERMINAL_STATES

from ..volume.file_actions import ActionError, Located, locate, transcription_id
from . import schemas
from .auth import TokenSet
from .facade import Facade
from .metrics import Metrics

#: How often a waiting request looks at the volume again.
POLL_SECONDS = 0.25
#: The header that names the client (a UUID); a new one is made when it is missing.
CLIENT_HEADER = "X-Client-Id"


@dataclass
class ApiContext:
    facade: Facade
    tokens: TokenSet
    metrics: Metrics


def context(request: Request) -> ApiContext:
    found: ApiContext = request.app.state.kubescribe
    return found


_bearer = HTTPBearer(auto_error=False, description="a token from api_tokens/api_tokens_file")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    tokens = context(request).tokens
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ActionError(401, "unauthorized", "send Authorization: Bearer <token>")
    if not tokens.accepts(credentials.credentials):
        raise ActionError(401, "unauthorized", "the token is not valid")


def client_id(
    x_client_id: Annotated[
        str | None, Header(alias=CLIENT_HEADER, description="the client's UUID")
    ] = None,
) -> str:
    if x_client_id is None or not x_client_id.strip():
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(x_client_id.strip()))
    except ValueError as exc:
        raise ActionError(400, "invalid_client_id", f"{CLIENT_HEADER} must be a UUID") from exc


Authorized = Depends(require_token)
Ctx = Annotated[ApiContext, Depends(context)]
ClientId = Annotated[str, Depends(client_id)]


def links(file_id: str) -> schemas.Links:
    base = f"/v1/transcriptions/{file_id}"
    return schemas.Links(status=base, result=f"{base}/result", events=f"{base}/events")


def view_of(ctx: ApiContext, found: Located) -> schemas.TranscriptionView:
    """The answer of ``GET /v1/transcriptions/{id}`` (blocking: call it in a thread)."""
    facade = ctx.facade
    status = found.status
    file_id = transcription_id(found.rel)
    queue = facade.queue()
    model = facade.eta.model
    view = schemas.TranscriptionView(
        id=file_id,
        path=found.rel,
        state=found.state.value,
        location=found.where,
        max_attempts=facade.settings.max_attempts,
        links=links(file_id),
        realtime_factor=facade.eta.realtime_factor,
        startup_seconds=model.startup_seconds if model else None,
        seconds_per_audio_second=model.rate if model else None,
    )
    if status is not None:
        view.priority = status.priority.value
        view.attempt = status.attempt
        view.progress = status.progress if found.state.value == "processing" else None
        view.error = status.error
    elif found.result is not None and found.result.processing_stats is not None:
        view.attempt = found.result.processing_stats.total_attempts
    waiting = found.state.value in ("pending", "error")
    view.queue_position = facade.position(found.rel, queue) if waiting else None
    view.eta_seconds = facade.eta_seconds(found, queue)
    view.holding_still_seconds = facade.holding_still_seconds(found.rel) if waiting else None
    return view


async def wait_for_end(ctx: ApiContext, rel: str, seconds: float) -> Located:
    """The file once it is completed or in ``manual/``, or as it is after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        found = await asyncio.to_thread(locate, ctx.facade.root, rel)
        if found.state in TERMINAL_STATES or time.monotonic() >= deadline:
            return found
        await asyncio.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def finished_result(found: Located) -> Result:
    """The result of a completed file, or the 409 that says why there is none."""
    if found.result is not None:
        return found.result
    if found.state.value == "manual" and found.status is not None and found.status.error:
        error = found.status.error
        raise ActionError(409, "manual", f"the file went to manual/: {error.code}: {error.message}")
    raise ActionError(409, "not_ready", f"{found.rel} is {found.state.value}; no result yet")


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": schemas.ErrorBody, "description": text}
    for code, text in {
        400: "a bad request (a precise code says what)",
        401: "no or a wrong bearer token",
        404: "no such file or id",
        409: "the file is not in a state that allows this",
        413: "the upload is larger than max_upload_mb",
        415: "the upload is not audio, or its extension is not a media one",
        422: "a parameter does not validate",
        429: "too many write requests from this client: retry after Retry-After seconds",
        503: "the controller is starting, or this operator is a standby",
    }.items()
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: ERRORS[code] for code in sorted({400, 401, 422, *codes})}


def write_errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """Errors of a request that writes (refused by a standby, rate limited)."""
    return errors(429, 503, *codes)
