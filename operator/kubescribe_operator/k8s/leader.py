"""Only one operator acts at a time: leader election on a ``coordination.k8s.io/v1`` Lease.

The same scheme as client-go's leader election: the leader renews the Lease every few
seconds; a candidate takes it over only once it has gone unrenewed for its whole
duration; every write carries the resourceVersion it read, so of two candidates racing
for an expired Lease, the API lets exactly one win (the other gets 409). kopf's own
peering would pause kopf's watches but not the controller's own tick loop, so the
operator uses this instead and runs kopf standalone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from kubescribe_protocol.models import utc_now

from .kube_api import KubeApi
from .kube_time import micro_time

log = logging.getLogger(__name__)

LEASE_NAME = "kubescribe-operator"


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class LeaderElection:
    def __init__(
        self,
        api: KubeApi,
        identity: str,
        *,
        lease_seconds: int = 15,
        name: str = LEASE_NAME,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.api = api
        self.identity = identity
        self.lease_seconds = lease_seconds
        self.name = name
        self._clock = clock

    @property
    def retry_seconds(self) -> float:
        """How often to try or renew: a third of the Lease, as client-go does."""
        return self.lease_seconds / 3

    def try_acquire(self) -> bool:
        """Take or renew the Lease; True while this operator holds it."""
        now = self._clock()
        lease = self.api.read_lease(self.name)
        spec: dict[str, Any] = dict((lease or {}).get("spec") or {})
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
        duration = int(spec.get("leaseDurationSeconds") or self.lease_seconds)
        alive = renewed is not None and now < renewed + timedelta(seconds=duration)
        if lease is not None and holder and holder != self.identity and alive:
            return False  # someone else leads and is alive
        stamp = micro_time(now)
        if holder != self.identity:
            spec["acquireTime"] = stamp
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (1 if holder else 0)
        spec.update(
            holderIdentity=self.identity, leaseDurationSeconds=self.lease_seconds, renewTime=stamp
        )
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.api.namespace}
        if lease is not None:
            metadata["resourceVersion"] = (lease.get("metadata") or {}).get("resourceVersion")
        body = {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }
        won = self.api.write_lease(body)
        if won and holder != self.identity:
            log.info("%s leads now (the Lease was held by %s)", self.identity, holder)
        return won

    def release(self) -> None:
        """Give the Lease up at shutdown, so a successor need not wait for it to expire."""
        lease = self.api.read_lease(self.name)
        if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
            return
        spec = dict(lease["spec"])
        spec["holderIdentity"] = None
        spec["renewTime"] = None
        self.api.write_lease({**lease, "spec": spec})
