"""The FastAPI application: routes, auth, error answers, health, metrics."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..volume.file_actions import ActionError
from . import openai_compat, routes, schemas
from .context import ApiContext, Authorized, Ctx, errors

DESCRIPTION = """\
kubescribe's HTTP API: ask for a file to be transcribed first (an upload or a file on the
volume), follow it, read its transcript, cancel or retry it; and an OpenAI-compatible
`POST /v1/audio/transcriptions`. Every endpoint but `/healthz` and `/readyz` needs
`Authorization: Bearer <token>`. See docs/api.md.
"""


def _version() -> str:
    try:
        return version("kubescribe")
    except PackageNotFoundError:
        return "0+unknown"


def _problem(status: int, code: str, message: str) -> JSONResponse:
    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"error": {"code": code, "message": message, "type": kind}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(ctx: ApiContext | None) -> FastAPI:
    """The application; ``ctx`` None builds it for its OpenAPI document only."""
    # The document is served below, behind the token like everything but health.
    app = FastAPI(
        title="kubescribe",
        version=_version(),
        description=DESCRIPTION,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.kubescribe = ctx

    @app.exception_handler(ActionError)
    async def on_action_error(request: Request, exc: ActionError) -> JSONResponse:
        return _problem(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        return _problem(422, "invalid_parameters", problems or "the request does not validate")

    app.include_router(routes.router)
    app.include_router(openai_compat.router)

    @app.get("/healthz", tags=["health"], summary="The process answers (no token needed)")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        responses={503: {"model": schemas.ErrorBody, "description": "not ready yet"}},
        summary="The controller leads and recovered its state (no token needed)",
    )
    async def readyz(ctx: Ctx) -> dict[str, str]:
        if not ctx.facade.ready():
            raise ActionError(503, "not_ready", "the controller is starting or is a standby")
        return {"status": "ready"}

    @app.get(
        "/metrics",
        tags=["health"],
        dependencies=[Authorized],
        response_class=Response,
        responses={
            200: {
                "content": {"text/plain": {"schema": {"type": "string"}}},
                "description": "Prometheus text format",
            },
            **errors(),
        },
        summary="Prometheus metrics",
    )
    async def metrics(ctx: Ctx) -> Response:
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Authorized])
    async def openapi_document() -> JSONResponse:
        return JSONResponse(openapi(app))

    return app


def openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document (FastAPI builds it from routes when openapi_url is None too)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        app.openapi_schema = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
    return app.openapi_schema
