"""The kopf glue: thin handlers that feed the core and its Kubernetes executor.

Run it as a module, never by file path (``kopf run -m kubescribe_operator.k8s.kopf_handlers``;
``kubescribe operator`` does that). The core is synchronous and does file IO, so every
call into it runs in a thread, under one lock: the core sees one caller at a time.

- startup: win the leader Lease, list this operator's Jobs once, let the core recover
  (adopt running Jobs, reconcile the ones that ended while no operator ran, re-run the
  files whose Job vanished), then start the tick loop. kopf starts its watches only
  after startup handlers finish, so no Job event reaches a core that has not recovered.
- Job events (``on.event``, filtered by label, no finalizers, nothing stored on the Job):
  the executor turns a finished or deleted Job into an end, and the tick loop wakes.
- the tick loop: ``controller.tick()`` every scan interval, or at once when a Job ended.
- the Transcription resource's handlers (:mod:`.kopf_transcriptions`) start with it.
- a probe: the liveness endpoint (``--liveness``) fails when the loop stopped ticking
  or this operator lost the Lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from typing import Any

import kopf

from kubescribe_protocol.models import utc_now

from ..core.controller import Controller
from . import kopf_transcriptions
from .executor import KubernetesExecutor
from .jobs import SELECTOR_LABELS
from .kube_api import KubeApi, load_api_client
from .leader import LeaderElection
from .runtime import Runtime, runtime_of
from .settings import KubernetesSettings

log = logging.getLogger("kubescribe.operator")

#: The liveness probe fails when the loop has not ticked for this many scan intervals.
STALL_INTERVALS = 10
STALL_FLOOR_SECONDS = 60.0
#: Jobs created at once, in the background of the core's pass (HTTP requests in flight).
CREATE_WORKERS = 8
#: How long a shutdown tries to give the Lease back.
RELEASE_SECONDS = 5.0


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    config = KubernetesSettings()
    # One operator acts at a time through the Lease below, not kopf's peering.
    settings.peering.standalone = True
    # A namespaced operator: no listing of namespaces or CRDs, so its Role needs none.
    settings.scanning.disabled = True
    settings.posting.level = logging.WARNING
    identity = os.environ.get("POD_NAME") or f"{socket.gethostname()}-{uuid.uuid4().hex[:6]}"
    api = KubeApi(await asyncio.to_thread(load_api_client), config.namespace, instance=identity)
    executor = KubernetesExecutor(api, config, create_workers=CREATE_WORKERS)
    runtime = Runtime(
        settings=config,
        api=api,
        executor=executor,
        controller=Controller(config, executor, vanished_code=executor.vanished_code),
        leader=LeaderElection(api, identity, lease_seconds=config.leader_lease_seconds),
    )
    memo.runtime = runtime
    # The Transcription resource's handlers (imported above, so they register with kopf)
    # get the runtime from here: kopf runs this module only.
    kopf_transcriptions.start_mirror(memo, runtime)
    # An end found off the event loop (a Job that could not be created) wakes the loop.
    loop = asyncio.get_running_loop()

    def wake() -> None:
        loop.call_soon_threadsafe(runtime.wake.set)

    executor.on_end = wake
    if config.api_enabled:
        # The HTTP API shares the core's lock; a standby answers 503 on /readyz and to
        # writes, so a Service routes to the leader only.
        from ..api.server import ApiServer

        memo.http_api = ApiServer(
            runtime.controller, runtime.lock, config, ready=lambda: runtime.ready.is_set()
        )
        await asyncio.to_thread(memo.http_api.start)
    # Waiting for the Lease happens after startup, so that kopf serves the liveness
    # endpoint of a standby too; Job events wait until this operator leads and recovered.
    runtime.tasks = [asyncio.create_task(_lead(runtime), name="kubescribe leader")]


async def _lead(runtime: Runtime) -> None:
    """Wait for the Lease, recover, then tick and renew until shutdown."""
    identity = runtime.leader.identity
    try:
        while not await asyncio.to_thread(runtime.leader.try_acquire):
            if not runtime.waiting_logged:
                log.info("another operator holds the Lease; waiting as a standby")
                runtime.waiting_logged = True
            await asyncio.sleep(runtime.leader.retry_seconds)
        runtime.leading = True
        runtime.renewed_at = utc_now()
        log.info("%s leads; recovering from the volume and the Jobs", identity)
        await asyncio.to_thread(runtime.recover)
    except Exception:
        # Nothing sensible to do but let the Deployment start a fresh operator.
        log.exception("could not take the lead and recover: stopping this operator")
        os.kill(os.getpid(), signal.SIGTERM)
        return
    runtime.ready.set()
    await asyncio.gather(_tick_loop(runtime), _renew_loop(runtime))


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is None:
        return
    for task in runtime.tasks:
        task.cancel()
    http_api = getattr(memo, "http_api", None)
    if http_api is not None:
        await asyncio.to_thread(http_api.stop)
    for task in runtime.tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # Jobs being created finish being created (a Job created after the Lease is gone
    # would still be adopted by the next operator: its .in_progress was written first).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.to_thread(runtime.executor.shutdown), RELEASE_SECONDS)
    # Running Jobs keep running: the next operator adopts them. Only the Lease goes.
    if runtime.leading:
        with runtime.lock:
            runtime.leading = False
        # Best effort and short: with the API unreachable, the Lease simply expires.
        try:
            await asyncio.wait_for(asyncio.to_thread(runtime.leader.release), RELEASE_SECONDS)
        except Exception:
            log.warning("could not release the Lease; it expires by itself", exc_info=True)


@kopf.on.event("batch", "v1", "jobs", labels=SELECTOR_LABELS)
async def job_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime = runtime_of(memo)
    # A standby (or an operator still recovering) leaves Job events for later: kopf
    # delivers the Job's latest state once the wait is over.
    await runtime.ready.wait()
    ended = await asyncio.to_thread(runtime.executor.observe, event["object"], event.get("type"))
    if ended:
        runtime.wake.set()


@kopf.on.probe(id="ticking")
def ticking(memo: kopf.Memo, **_: Any) -> str:
    runtime: Runtime | None = getattr(memo, "runtime", None)
    if runtime is None:
        return "starting"
    if not runtime.ready.is_set():
        return "standby" if not runtime.leading else "recovering"
    if not runtime.leading:
        raise kopf.PermanentError("this operator lost the leader Lease")
    stalled = max(STALL_FLOOR_SECONDS, STALL_INTERVALS * runtime.settings.scan_interval_seconds)
    age = (utc_now() - runtime.last_tick).total_seconds()
    if age > stalled:
        raise kopf.PermanentError(f"the tick loop has not ticked for {age:.0f} s")
    return runtime.last_tick.isoformat()


async def _tick_loop(runtime: Runtime) -> None:
    interval = runtime.settings.scan_interval_seconds
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.wake.wait(), timeout=interval)
        runtime.wake.clear()
        try:
            await asyncio.to_thread(runtime.step)
        except Exception:
            # One bad pass (an API hiccup, a volume error) must not end the loop.
            log.exception("tick failed; trying again next interval")


async def _renew_loop(runtime: Runtime) -> None:
    leader = runtime.leader
    while True:
        await asyncio.sleep(leader.retry_seconds)
        try:
            held = await asyncio.to_thread(leader.try_acquire)
        except Exception:
            log.exception("cannot renew the Lease")
            held = False
            # A short API outage is fine as long as the Lease has not run out.
            if (utc_now() - runtime.renewed_at).total_seconds() < leader.lease_seconds:
                continue
        if held:
            runtime.renewed_at = utc_now()
            continue
        log.error("lost the leader Lease: stopping this operator")
        with runtime.lock:
            runtime.leading = False
        os.kill(os.getpid(), signal.SIGTERM)
        return
