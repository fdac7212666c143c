"""What every simulated component shares: store, clock, logs, the profile's kinetics, a seeded random
source, the registry's image catalog and the ground truth the simulation knows about each pod.

The profile only tells the simulation how fast things are (kinetics, image sizes, node shapes); how the
workload behaves comes from the manifests the client applied, so traps happen because a manifest
contains them, never because a flag says so.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from coldstart.embedded.clock import VirtualClock
from coldstart.embedded.events import EventRecorder
from coldstart.embedded.store.store import PodLogs, Store
from coldstart.kube.images import ImageRef
from coldstart.profiles import Profile
from coldstart.profiles.physics import registry_in_region

PAUSE_BYTES = 320_000
DEFAULT_IMAGE_BYTES = 500_000_000

@dataclass(frozen=True)
class ImageInfo:
    """What the registry holds for a repository: the digest its tags point at, size and layer compression."""

    repo: str
    digest: str
    compressed_bytes: int
    compression: str  # zstd | gzip | none


@dataclass
class PodTruth:
    """Ground truth for one pod, in virtual seconds: what actually happened, for tests to compare with."""

    phases: dict[str, tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class SimContext:
    """Shared state of one embedded cluster's simulation."""

    def __init__(self, profile: Profile, store: Store, clock: VirtualClock, logs: PodLogs, seed: int | None = None):
        self.profile, self.store, self.clock, self.logs = profile, store, clock, logs
        self.kinetics = profile.kinetics
        self.seed = profile.seed if seed is None else seed
        self.rng = random.Random(self.seed)
        self._draws: dict[str, int] = {}
        self.truth: dict[tuple[str, str], PodTruth] = {}
        self.catalog = self._catalog(profile)
        self.recorders: dict[str, EventRecorder] = {}
        self.admission: Any = None  # the API server's admission chain (with its webhooks), set by EmbeddedCluster

    # -- helpers -----------------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now()

    def jitter(self, seconds: float, key: str) -> float:
        """A duration with the profile's relative random spread, drawn for one happening (`key`: which object,
        what it does). Each key has its own seeded sequence, so a run reproduces exactly whatever order a client's
        requests make things happen in (a retried request or a slow watch must not shift another pod's figures)."""
        spread = self.kinetics.jitter
        count = self._draws[key] = self._draws.get(key, 0) + 1
        digest = hashlib.blake2b(f"{self.seed}/{key}/{count}".encode(), digest_size=8).digest()
        uniform = int.from_bytes(digest, "big") / 2**64  # in [0, 1)
        return max(0.0, seconds * (1.0 + spread * (2.0 * uniform - 1.0)))

    @staticmethod
    def identity(pod: dict[str, Any]) -> str:
        """What a pod is, independent of generated names (a Deployment's pods are named after a template hash that
        includes the run's labels, and a random suffix): its namespace and controller, for jitter keys."""
        meta = pod.get("metadata") or {}
        owner = next(iter(meta.get("ownerReferences") or []), None)
        name = str(meta.get("name", ""))
        if isinstance(owner, dict):
            kind, owner_name = str(owner.get("kind")), str(owner.get("name"))
            template_hash = (meta.get("labels") or {}).get("pod-template-hash")
            if kind == "ReplicaSet" and template_hash and owner_name.endswith(f"-{template_hash}"):
                return f"{meta.get('namespace')}/Deployment/{owner_name[:-len(template_hash) - 1]}"
            if kind != "StatefulSet":  # StatefulSet pods are named by ordinal: stable already
                return f"{meta.get('namespace')}/{kind}/{owner_name}"
        return f"{meta.get('namespace')}/Pod/{name}"

    def recorder(self, component: str, *, new_style: bool = False) -> EventRecorder:
        if component not in self.recorders:
            self.recorders[component] = EventRecorder(self.store, self.clock.now, component, new_style=new_style)
        return self.recorders[component]

    def mark(self, namespace: str, pod: str, phase: str, start: float, end: float) -> None:
        """Record a phase of a pod as the simulation timed it (ground truth)."""
        self.truth.setdefault((namespace, pod), PodTruth()).phases[phase] = (start, end)

    def image(self, ref: str) -> ImageInfo:
        """The registry's answer for a reference: by digest as given, by tag the digest the tag points at."""
        parsed = ImageRef.parse(ref)
        info = self.catalog.get(parsed.name)
        if info is None:
            digest = parsed.digest or "sha256:" + hashlib.sha256(parsed.name.encode()).hexdigest()
            size = PAUSE_BYTES if parsed.name.endswith("/pause") else DEFAULT_IMAGE_BYTES
            info = ImageInfo(parsed.name, digest, size, "gzip")
        if parsed.digest and parsed.digest != info.digest:
            return ImageInfo(info.repo, parsed.digest, info.compressed_bytes, info.compression)
        return info

    def in_region(self, ref: str) -> bool:
        """Pulls from the profile's registry (or a region-named host, or registry.k8s.io) are in-region."""
        return registry_in_region(ImageRef.parse(ref).host, self.profile)

    @staticmethod
    def _catalog(profile: Profile) -> dict[str, ImageInfo]:
        catalog: dict[str, ImageInfo] = {}
        for ref, size, compression in ((profile.image.vllm, profile.image.compressed_bytes, profile.image.compression),
                                       (profile.model.modelcar, profile.model.weight_bytes, "none"),
                                       (profile.image.pause, PAUSE_BYTES, "gzip")):
            parsed = ImageRef.parse(ref)
            catalog[parsed.name] = ImageInfo(parsed.name, parsed.digest or "", size, compression)
        return catalog
