"""The floor of one replica's start: a lower bound on its time to ready, by construction.

Only the work this replica had to do is in it, each term at the fastest rate the profile's figures allow:
- the vLLM image, when this replica pulled it (not when it was already on the node): the larger of the transfer
  and the unpacking, since a runtime may overlap them; with lazy loading (Image Streaming) the streaming start;
- the modelcar image, when it was pulled: its bytes over the registry link (stored layers, nothing to unpack);
- the container start; the weights at the slower of the storage and the loader the manifest asks for;
- the engine's own init and API server; torch.compile only when the engine compiles (not eager), at the warm
  cost when this replica hit the compile cache and the cold cost when it missed; CUDA graphs only without eager.
Scheduling, a node's boot and anything a lever could remove are not in it. Every term is scaled by
(1 - kinetics.jitter), the most the profile lets a figure run fast, so no run, simulated or live, beats it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coldstart.kube.images import ImageRef
from coldstart.profiles import Profile
from coldstart.profiles.physics import (
    loader_gib_per_s,
    pull_floor_seconds,
    storage_gib_per_s,
    streaming_start_seconds,
    unpack_seconds,
    weight_gib_per_s,
    weights_storage,
)
from coldstart.timeline.model import ImagePull, PodTimeline
from coldstart.timeline.sources.vllm_model import VllmLog

__all__ = ["EngineAsk", "Floor", "Term", "efficiency", "replica_floor"]


@dataclass(frozen=True)
class EngineAsk:
    """What the manifests ask the engine to do (read from its launch with coldstart.vllm)."""

    load_format: str = "auto"
    streamer_concurrency: int = 16
    eager: bool = False
    compile_level: int | None = None  # -O / compilation_config; 0 compiles nothing

    @property
    def compiles(self) -> bool:
        return not self.eager and self.compile_level != 0

    @property
    def captures_graphs(self) -> bool:
        return not self.eager and self.compile_level != 0


@dataclass(frozen=True)
class Term:
    name: str
    seconds: float
    formula: str  # how it was computed, with the numbers
    source: str  # which figure of the profile it rests on


@dataclass(frozen=True)
class Floor:
    terms: tuple[Term, ...] = ()
    margin: float = 0.0  # the jitter every term was discounted by
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def total_seconds(self) -> float:
        return sum(t.seconds for t in self.terms)

    def seconds(self, *names: str) -> float:
        return sum(t.seconds for t in self.terms if t.name in names)

    def to_json(self) -> dict[str, Any]:
        return {"total_seconds": round(self.total_seconds, 3), "margin": self.margin,
                "terms": [{"name": t.name, "seconds": round(t.seconds, 3), "formula": t.formula, "source": t.source}
                          for t in self.terms], "notes": list(self.notes)}


def _pulled(pod: PodTimeline, image: str) -> ImagePull | None:
    """This replica's pull of `image` (same repository), if it pulled it rather than found it on the node."""
    want = ImageRef.parse(image).canonical
    return next((p for p in pod.image_pulls if not p.cached and ImageRef.parse(p.image).canonical == want), None)


def replica_floor(profile: Profile, pod: PodTimeline, log: VllmLog | None, ask: EngineAsk) -> Floor:
    """The floor of one replica (see the module docstring)."""
    k, scale = profile.kinetics, 1.0 - profile.kinetics.jitter
    terms: list[Term] = []

    def term(name: str, seconds: float, formula: str, source: str, pull: ImagePull | None = None) -> None:
        if pull is not None and pull.seconds is not None and pull.seconds < seconds * scale:
            # `Always` re-pulled a tag that had not moved: the registry only confirmed the digest
            seconds, formula, source = pull.seconds / scale, f"{pull.seconds:.1f}s as pulled (digest unchanged)", \
                "the kubelet's Pulled event"
        terms.append(Term(name, seconds * scale, formula, source))

    # one formula for a cold pull (physics.pull_floor_seconds); the text names the figures it rests on
    accelerated = profile.lazy_image_loading or profile.feature("eks:soci_parallel")  # SOCI, Artifact Streaming
    by_accelerator = ("by the profile's image accelerator",
                      "kinetics.soci_parallel_mb_per_s, kinetics.image_streaming_start_seconds")
    vllm = _pulled(pod, profile.image.vllm)
    if vllm is not None:
        size, compression = profile.image.compressed_bytes, profile.image.compression
        if vllm.streaming:
            term("image pull", streaming_start_seconds(k, size), f"streaming start for {size / 1e9:.1f} GB",
                 "kinetics.image_streaming_start_seconds (per 5 GB)")
        else:
            how, source = by_accelerator if accelerated else (
                f"/ {k.registry_mb_per_s:g} MB/s, {compression} unpack {unpack_seconds(k, size, compression):.1f}s "
                "overlapped", f"kinetics.registry_mb_per_s, kinetics.{compression}_decompress_mb_per_s")
            term("image pull", pull_floor_seconds(profile, size, compression), f"{size / 1e9:.1f} GB {how}", source,
                 vllm)
    if _pulled(pod, profile.model.modelcar) is not None:
        size = profile.model.weight_bytes
        how, source = by_accelerator if accelerated else (f"/ {k.registry_mb_per_s:g} MB/s",
                                                          "kinetics.registry_mb_per_s")
        term("modelcar pull", pull_floor_seconds(profile, size, "none"), f"{size / 1e9:.1f} GB {how}", source)
    term("container start", k.container_start_seconds, f"{k.container_start_seconds:g}s",
         "kinetics.container_start_seconds")
    storage = storage_gib_per_s(k, weights_storage(profile))
    loader = loader_gib_per_s(k, ask.load_format, ask.streamer_concurrency)
    rate = weight_gib_per_s(storage, loader)
    gib = profile.model.weight_bytes / 2**30
    term("weights", gib / rate, f"{gib:.1f} GiB / min(storage {storage:g}, {ask.load_format} {loader:g}) GiB/s",
         "kinetics.disk_gib_per_s or hyperdisk_ml_gib_per_s; loader_gib_per_s or streamer_gib_per_s_per_stream")
    term("engine init", k.engine_base_seconds, f"{k.engine_base_seconds:g}s", "kinetics.engine_base_seconds")
    notes = []
    if ask.compiles:
        hit = bool(log is not None and log.compile_cache_hit)
        seconds = k.compile_warm_seconds if hit else k.compile_cold_seconds
        term("torch.compile", seconds, f"{seconds:g}s ({'cache hit' if hit else 'cache miss'})",
             f"kinetics.compile_{'warm' if hit else 'cold'}_seconds")
    else:
        notes.append("eager or -O0: no torch.compile")
    if ask.captures_graphs:
        term("CUDA graphs", k.graph_capture_seconds, f"{k.graph_capture_seconds:g}s", "kinetics.graph_capture_seconds")
    term("API server", k.api_server_seconds, f"{k.api_server_seconds:g}s", "kinetics.api_server_seconds")
    return Floor(tuple(terms), k.jitter, tuple(notes))


def efficiency(floor: Floor, time_to_ready: float | None) -> float | None:
    """floor / measured: 1.0 means the replica started as fast as its hardware allows (never above 1.0)."""
    return floor.total_seconds / time_to_ready if time_to_ready else None
