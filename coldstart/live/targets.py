"""Cluster targets: which cluster a run talks to, and the refusal of any live one the profile does not allow.

`embedded` (the default), `kubeconfig:<context>` or `in-cluster`. A live target must be named and allowed by the
profile (`clusters.allowed_contexts` / `allow_in_cluster`); anything else is refused before a single request is
sent, and nothing ever falls back from one target to another. No client is imported here, so the refusal costs
nothing and cannot reach the network.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from coldstart.errors import InputError, TargetRefused
from coldstart.profiles import Profile

__all__ = ["Target", "check_allowed", "new_run_id", "parse_target"]




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
    if target.kind == "kubeconfig" and target.context not in profile.clusters.allowed_contexts:
        raise TargetRefused(f"profile {profile.name!r} does not allow kubeconfig context {target.context!r}; add it "
                            f"to clusters.allowed_contexts in your profile (extends: {profile.name}) to allow it")


def new_run_id() -> str:
    """A short id for one run: the label that lets cleanup find exactly this run's objects."""
    return uuid.uuid4().hex[:8]
