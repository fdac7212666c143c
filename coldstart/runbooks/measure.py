"""Each replica of a scenario measured against its own floor, by position: the first start and the later ones.

A scenario that scales 1, 0, 1 asks two questions: how long the first start ever takes (nothing cached yet) and
how long a scale from zero takes once caches are warm (the event an SRE lives with). They are reported apart, by
the order the replicas started in (never by pod name, which changes every run), each with the floor of the work
that replica had to do (coldstart.timeline.floor) and how close it came.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coldstart.inputs.documents import as_documents
from coldstart.profiles import Profile
from coldstart.timeline.floor import EngineAsk, Floor, efficiency, replica_floor
from coldstart.timeline.model import PodTimeline, Timeline
from coldstart.timeline.sources.vllm_model import VllmLog
from coldstart.verify.discovery import find_workloads
from coldstart.verify.workloads import Inventory
from coldstart.vllm.launch import load_structured, truthy

__all__ = ["Replica", "engine_ask", "position_label", "replicas"]


@dataclass
class Replica:
    """One replica's start: its position (1 = the first start of the scenario), timeline, log, floor."""

    position: int
    pod: PodTimeline
    log: VllmLog | None
    floor: Floor
    first_batch: int = 1  # how many replicas the scenario's first step started (they are all first starts)

    @property
    def time_to_ready(self) -> float | None:
        return self.pod.time_to_ready_seconds

    @property
    def efficiency(self) -> float | None:
        return efficiency(self.floor, self.time_to_ready)

    @property
    def label(self) -> str:
        return position_label(self.position, self.first_batch)

    def phase(self, name: str) -> float | None:
        """Seconds of a phase, or time to ready for "time_to_ready"."""
        if name == "time_to_ready":
            return self.time_to_ready
        span = self.pod.phases.get(name)
        return span.seconds if span is not None else None


def position_label(position: int, first_batch: int = 1) -> str:
    """'1st start' for the first step's replicas (numbered when there are several), 'warm start' after them."""
    if position <= first_batch:
        return "1st start" if first_batch == 1 else f"1st start #{position}"
    later = position - first_batch
    return "warm start" if later == 1 else f"warm start #{later}"


def _number(value: Any, default: int) -> int:
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return default


def engine_ask(docs: list[dict[str, Any]]) -> EngineAsk:
    """What the manifests ask of the engine, read with the checker's parser (the first vLLM launcher found)."""
    for workload in find_workloads(Inventory(as_documents(docs, "<scenario>"))):
        for pod in workload.pods:
            for container in pod.containers:
                if not container.launcher:
                    continue
                flags, env = container.flags, container.env
                extra = load_structured(flags.get("model_loader_extra_config"))
                concurrency = (extra.get("concurrency") if isinstance(extra, dict) else None) \
                    or env.get("RUNAI_STREAMER_CONCURRENCY")
                eager = flags.get("enforce_eager")
                level = flags.get("compilation_config")
                if isinstance(level, str) and level.strip().startswith("{"):
                    parsed = load_structured(level)
                    level = parsed.get("level", parsed.get("mode")) if isinstance(parsed, dict) else None
                return EngineAsk(load_format=str(flags.get("load_format") or "auto"),
                                 streamer_concurrency=_number(concurrency, 16),
                                 eager=eager is True or (isinstance(eager, str) and truthy(eager)),
                                 compile_level=None if level is None else _number(level, 3))
    return EngineAsk()


def _log_of(timeline: Timeline, pod: PodTimeline) -> VllmLog | None:
    name = pod.pod.rpartition("/")[2]
    return next((log for file, log in timeline.logs if Path(file).stem == name), None)


def replicas(profile: Profile, docs: list[dict[str, Any]], timeline: Timeline, first_batch: int = 1) -> list[Replica]:
    """The scenario's replicas in the order they started (buffer pods preempted on the way are not replicas)."""
    pods = sorted((p for p in timeline.pods if not p.victim), key=lambda p: (p.t0 is None, p.t0, p.pod))
    ask = engine_ask(docs)
    out = []
    for position, pod in enumerate(pods, start=1):
        log = _log_of(timeline, pod)
        out.append(Replica(position, pod, log, replica_floor(profile, pod, log, ask), max(1, first_batch)))
    return out
