"""The cold-start invariants' vocabulary: findings, the context a check sees, and the registry of checks.

Each invariant names one trap that makes vLLM start slowly or die while starting (a re-pulled image, weights
downloaded again, a 64Mi /dev/shm, a probe that kills a healthy slow start, no warm node). Users and CI key
on the ids and the JSON shape, so both are stable. Every invariant answers for every input: pass, fail with
what to change, or n/a with why it cannot be judged here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from coldstart.profiles import Profile
from coldstart.verify.workloads import Buffer, EngineContainer, EnginePod, Inventory, Workload

__all__ = ["ASPECTS", "INVARIANTS", "LEVERS", "NO_ENGINE", "STATUS_RANK", "Check", "Context", "Finding", "Invariant",
           "Lever", "Status", "found", "invariant"]

Status = Literal["pass", "fail", "n/a"]
Lever = Literal["weight_load", "image_pull", "node_warmup", "runtime"]
LEVERS: dict[str, str] = {"weight_load": "weight load", "image_pull": "image pull", "node_warmup": "node warm-up",
                          "runtime": "runtime"}
STATUS_RANK = {"fail": 2, "pass": 1, "n/a": 0}
NO_ENGINE = "no vLLM container found in this input"


@dataclass(frozen=True)
class Finding:
    """One verdict of one invariant on one object (and container); `message` says what to change."""

    invariant: str
    status: Status
    file: str
    object: str
    container: str | None
    message: str


@dataclass
class Context:
    """Everything a check may look at: the input's objects, engine workloads, warm buffers and the profile."""

    inv: Inventory
    workloads: list[Workload]
    buffers: list[Buffer]
    profile: Profile | None
    source: str

    def engines(self, launchers_only: bool = False) -> Iterator[tuple[Workload, EnginePod, EngineContainer]]:
        for w in self.workloads:
            for pod in w.pods:
                for c in pod.containers:
                    if c.launcher or not launchers_only:
                        yield w, pod, c

    def containers(self) -> Iterator[tuple[Workload, EnginePod, EngineContainer]]:
        """Engine containers once each (a Ray container serving two models is one container)."""
        seen: set[tuple[int, int]] = set()
        for w, pod, c in self.engines():
            key = (id(w), id(c.spec))
            if key not in seen:
                seen.add(key)
                yield w, pod, c


Check = Callable[[Context], Iterable[Finding]]


@dataclass(frozen=True)
class Invariant:
    """A registered invariant: id, lever, the trap it prevents, which profiles it needs, and its check."""

    id: str
    lever: Lever
    trap: str
    check: Check
    requires: str = ""  # "" | "profile" | "karpenter" | "<cloud>:<feature>" (gke:compute_class, eks:soci, ...)

    def applies(self, profile: Profile | None) -> bool:
        return self.skip_reason(profile) is None

    def skip_reason(self, profile: Profile | None) -> str | None:
        """Why this invariant is n/a for the profile, or None when it applies."""
        if not self.requires:
            return None
        cloud = self.requires.split(":", 1)[0] if ":" in self.requires else None
        a_cloud = f"{'an' if cloud in ('eks', 'aks') else 'a'} {(cloud or '').upper()} profile"
        if profile is None:
            wanted = f" ({a_cloud})" if cloud else " (a Karpenter profile)" if self.requires == "karpenter" else ""
            return "needs --profile" + wanted
        if self.requires == "karpenter" and profile.karpenter is None:
            return f"profile {profile.name} gets its GPU nodes without Karpenter (cloud: {profile.cloud})"
        if cloud is not None:
            feature = self.requires.split(":", 1)[1]
            if getattr(profile, cloud) is None:
                return f"not {a_cloud} (profile {profile.name} is cloud: {profile.cloud})"
            if not profile.feature(self.requires):
                return f"profile {profile.name} disables {cloud}.{feature}"
        return None


INVARIANTS: dict[str, Invariant] = {}


def invariant(id: str, lever: Lever, trap: str, requires: str = "") -> Callable[[Check], Check]:
    """Register a check under its public id."""
    def register(check: Check) -> Check:
        INVARIANTS[id] = Invariant(id, lever, trap, check, requires)
        ordered = sorted(INVARIANTS.items(), key=lambda kv: list(LEVERS).index(kv[1].lever))  # stable per lever
        INVARIANTS.clear()
        INVARIANTS.update(ordered)
        return check
    return register


# Which aspect of an engine pod each invariant reads: a workload's note on that aspect (an operator's default, see
# `Workload.notes`) is added to the invariant's message; a note on "*" to every message of the workload.
ASPECTS = {"modelcar-digest": "weights", "hf-offline": "env", "runai-streamer": "flags",
           "streamer-memory-bounded": "flags", "image-digest-pinned": "image", "pull-policy-ifnotpresent": "image",
           "registry-in-region": "image", "shm-memory-16gi": "shm", "memory-covers-shm": "shm",
           "nccl-cumem-disabled": "env", "gpu-mem-util-range": "gpu_util", "enforce-eager-per-profile": "flags",
           "cache-persistent": "volumes", "startup-probe-budget": "probes"}


def found(inv_id: str, status: Status, where: Workload | Buffer, container: str | None, message: str) -> Finding:
    """A finding about a workload or a warm buffer (its file and object come from where it was read); a verdict
    carries the workload's notes on what the invariant reads (an operator's default, an unknown controller)."""
    if isinstance(where, Workload) and where.notes and status != "n/a":
        notes = [where.notes[key] for key in (ASPECTS.get(inv_id), "*") if key in where.notes]
        message += "".join(f" [{note}]" for note in notes)
    return Finding(inv_id, status, where.doc.file, where.ref, container, message)
