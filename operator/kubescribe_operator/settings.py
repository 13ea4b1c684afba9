"""Every setting of the controller, from the environment (``KUBESCRIBE_*``) and flags.

Each layer declares what it knows (``core.settings``, ``api.settings``,
``local.settings``, ``k8s.settings``) and takes only that; this class is all of them at
once: the list of variables the chart sets and the docs describe. No variable is
defined here.
"""

from __future__ import annotations

from .core.settings import ENV_PREFIX, CoreSettings
from .k8s.settings import KubernetesSettings
from .local.settings import LocalSettings

__all__ = ["ENV_PREFIX", "ControllerSettings", "CoreSettings"]


class ControllerSettings(LocalSettings, KubernetesSettings):
    """The settings of every layer."""
