"""Cluster targets: which cluster a run talks to, and the refusal of any live one the profile does not allow.

`embedded` (the default), `kubeconfig:<context>` or `in-cluster`. A live target must be named and allowed by the
profile (`clusters.allowed_contexts` / `allow_in_cluster`); anything else is refused before a single request is
sent, and nothing ever falls back from one target to another. No client is imported here, so the refusal costs
nothing and cannot reach the network. One context is allowed without being listed: `coldstart-<profile>`, the one
`coldstart cluster up --profile <profile>` writes, and only while the kubeconfig points it at a loopback address
(the embedded cluster on this machine; a context renamed to that onto a real cluster is still refused).
"""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from coldstart.embedded import context_name
from coldstart.errors import InputError, TargetRefused
from coldstart.inputs.files import KUBECONFIG, read_text
from coldstart.inputs.kubeconfig import check_kubeconfig
from coldstart.inputs.yamlsafe import load_yaml
from coldstart.profiles import Profile

__all__ = ["Target", "check_allowed", "new_run_id", "parse_target"]


def _loopback_server(context: str) -> bool:
    """Whether the kubeconfig (KUBECONFIG, bounded reads) sends `context` to a loopback address."""
    try:
        configs = [load_yaml(read_text(path, KUBECONFIG), path) for path in check_kubeconfig()]
    except InputError:
        return False
    for config in configs:
        if not isinstance(config, dict):
            continue
        ctx = next((c.get("context") or {} for c in config.get("contexts") or []
                    if isinstance(c, dict) and c.get("name") == context), None)
        if not isinstance(ctx, dict):
            continue
        cluster = next((c.get("cluster") or {} for c in config.get("clusters") or []
                        if isinstance(c, dict) and c.get("name") == ctx.get("cluster")), {})
        host = urlsplit(str((cluster or {}).get("server") or "")).hostname or ""
        try:
            return host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    return False


@dataclass(frozen=True)
class Target:
    kind: str  # embedded | kubeconfig | in-cluster
    context: str | None = None

    def __str__(self) -> str:
        return f"kubeconfig:{self.context}" if self.kind == "kubeconfig" else self.kind


def parse_target(text: str) -> Target:
    """`embedded`, `kubeconfig:<context>` or `in-cluster`; anything else is bad input."""
    value = (text or "embedded").strip()
    if value == "embedded":
        return Target("embedded")
    if value == "in-cluster":
        return Target("in-cluster")
    if value.startswith("kubeconfig:") and value.removeprefix("kubeconfig:"):
        return Target("kubeconfig", value.removeprefix("kubeconfig:"))
    raise InputError(f"cluster target {text!r} is not one of: embedded, kubeconfig:<context>, in-cluster")


def check_allowed(target: Target, profile: Profile) -> None:
    """Refuse a live target the profile does not allow, before any request is sent."""
    if target.kind == "embedded":
        return
    if target.kind == "in-cluster" and not profile.clusters.allow_in_cluster:
        raise TargetRefused(f"profile {profile.name!r} does not allow the in-cluster target; set "
                            "clusters.allow_in_cluster: true in your profile to allow it")
    if target.kind == "kubeconfig" and target.context == context_name(profile.name) and _loopback_server(
            target.context):
        return
    if target.kind == "kubeconfig" and target.context not in profile.clusters.allowed_contexts:
        raise TargetRefused(f"profile {profile.name!r} does not allow kubeconfig context {target.context!r}; add it "
                            f"to clusters.allowed_contexts in your profile (extends: {profile.name}) to allow it")


def new_run_id() -> str:
    """A short id for one run: the label that lets cleanup find exactly this run's objects."""
    return uuid.uuid4().hex[:8]
