"""Running the API beside whatever drives the core: uvicorn on its own thread, wired to
the controller through the facade, the core's events to its notifications (metrics, callbacks)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import uvicorn

from ..core.controller import Controller
from .app import create_app
from .auth import TokenSet
from .callback_targets import TargetPolicy
from .callbacks import CallbackSender
from .context import ApiContext
from .facade import Facade
from .guard import MULTIPART_SLACK, Guard, GuardLimits
from .metrics import Metrics
from .notifications import Notifier
from .settings import ApiSettings

log = logging.getLogger("kubescribe.api")


class ApiServer:
    """The API of one controller. :meth:`start` returns once it listens."""

    def __init__(
        self,
        controller: Controller,
        lock: threading.Lock | threading.RLock,
        settings: ApiSettings,
        *,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.facade = Facade(controller, lock, settings, ready=ready)
        self.tokens = TokenSet(settings.api_tokens, settings.api_tokens_file)
        self.metrics = Metrics(self.facade)
        self.sender = CallbackSender(
            settings.callback_secret,
            attempts=settings.callback_attempts,
            sent=lambda outcome: self.metrics.callbacks.labels(outcome).inc(),
            policy=TargetPolicy(settings.callback_allowed_networks),
        )
        self.notifier = Notifier(self.facade, self.metrics, self.sender)
        controller.observers.append(self.notifier.observe)
        self.app = create_app(ApiContext(self.facade, self.tokens, self.metrics))
        limits = GuardLimits(
            max_body_bytes=int(settings.max_upload_mb * 1024 * 1024) + MULTIPART_SLACK,
            body_timeout_seconds=settings.api_body_timeout_seconds,
            body_min_bytes_per_second=settings.api_body_min_bytes_per_second,
            writes_per_minute=settings.api_writes_per_minute,
            write_burst=settings.api_write_burst,
        )
        config = uvicorn.Config(
            Guard(self.app, self.tokens, limits),
            limit_concurrency=settings.api_max_connections,
            host=settings.api_host,
            port=settings.api_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, daemon=True, name="kubescribe-api")

    def start(self, timeout: float = 30.0) -> None:
        if not self.tokens.configured():
            log.warning("the API has no tokens (api_tokens, api_tokens_file): it answers "
                        "401 to everything but /healthz and /readyz")  # fmt: skip
        self.facade.load_callbacks()
        self._thread.start()
        started = threading.Event()

        def wait() -> None:
            while not self.server.started and self._thread.is_alive():
                threading.Event().wait(0.05)
            started.set()

        wait()
        if not self.server.started:
            raise RuntimeError(f"the API could not listen on {self.server.config.host}:"
                               f"{self.server.config.port}")  # fmt: skip
        log.info("API listening on http://%s:%d", self.server.config.host, self.port)

    @property
    def port(self) -> int:
        """The port it listens on (the real one when api_port was 0)."""
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return self.server.config.port

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=10)
        self.notifier.close()
        self.sender.close()
