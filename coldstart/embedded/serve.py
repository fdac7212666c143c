"""The embedded cluster as a standalone cluster for people and their tools (`coldstart cluster up`).

It serves on loopback, writes a kubeconfig whose one context is `coldstart-<profile>` (plain HTTP, no
credentials: the server takes any caller as cluster-admin, and `kubectl auth can-i` always answers yes),
and paces its clock for an interactive session (see clock.py: fast while the cluster changes, the wall
clock's pace once it has settled, never ahead of the wall clock).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from coldstart import embedded
from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.profiles import Profile


def context_name(profile: Profile) -> str:
    """The kubeconfig context of a profile's embedded cluster (`coldstart-baseline`)."""
    return embedded.context_name(profile.name)


def kubeconfig(url: str, context: str, namespace: str = "default") -> dict:
    """A kubeconfig with one cluster, user and context, the current one."""
    return {"apiVersion": "v1", "kind": "Config", "preferences": {},
            "clusters": [{"name": context, "cluster": {"server": url}}],
            "users": [{"name": context, "user": {"token": "coldstart-embedded"}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
            "current-context": context}


def write_kubeconfig(path: str | os.PathLike[str], url: str, context: str, namespace: str = "default") -> Path:
    """Write the kubeconfig atomically (a temporary file renamed), readable by its owner only."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            yaml.safe_dump(kubeconfig(url, context, namespace), handle, sort_keys=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def start(profile: Profile, *, port: int = 0, speed: float | None = None) -> EmbeddedCluster:
    """An interactive embedded cluster, started, on 127.0.0.1:port (0: any free port)."""
    return EmbeddedCluster(profile, port=port, max_rate=speed, interactive=True).start()
