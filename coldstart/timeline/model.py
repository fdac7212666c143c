"""What a timeline is made of: per pod the marks and phases on one time axis, image pulls, the reasons a start was
slow or broke, and the run's Timeline. `build` fills them from parsed inputs; `sanity` keeps their times honest.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from coldstart.timeline.sources.vllm_model import VllmLog

__all__ = ["ImagePull", "PodTimeline", "Reason", "Span", "Timeline"]


@dataclass(slots=True)
class Span:
    """A phase: start and end in seconds since the pod's t0."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(slots=True)
class ImagePull:
    image: str
    container: str | None = None
    seconds: float | None = None
    seconds_including_waiting: float | None = None
    bytes: int | None = None
    cached: bool = False
    streaming: bool = False
    start: float | None = None
    end: float | None = None

    @property
    def mb_per_s(self) -> float | None:
        """Pull rate in MB/s (10^6 bytes), as registries and kubelet report sizes."""
        if self.bytes and self.seconds:
            return self.bytes / 1e6 / self.seconds
        return None


@dataclass(slots=True)
class Reason:
    """Something that delayed or broke the start (restart, OOM, back-off, probe failure), in time order."""

    reason: str
    message: str
    at: float | None = None
    count: int = 1
    source: str = "event"


@dataclass(slots=True)
class PodTimeline:
    pod: str
    node: str | None = None
    clock: str = "absolute"  # absolute or relative (kubectl ages)
    t0: datetime | None = None
    t0_source: str | None = None
    marks: dict[str, float] = field(default_factory=dict)
    phases: dict[str, Span] = field(default_factory=dict)
    image_pulls: list[ImagePull] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    time_to_ready_seconds: float | None = None
    log: str | None = None
    victim: bool = False  # preempted itself (a buffer pod): left out of run statistics
    notes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Timeline:
    pods: list[PodTimeline] = field(default_factory=list)
    logs: list[tuple[str, VllmLog]] = field(default_factory=list)
    # what the inputs or their times made the analysis leave out, one line each (the CLI prints them on stderr)
    warnings: list[str] = field(default_factory=list)
