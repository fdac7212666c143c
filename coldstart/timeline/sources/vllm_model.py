"""What a vLLM startup log says, as data: each timing with the stamp of its line, the engine's settings, and
the failure that stopped it. `coldstart.timeline.sources.vllm_log` fills it from text.

Units: vLLM's V0 `Loading model weights took 13.5083 GB` divides bytes by 2**30, so the figure is GiB
although it says GB; `model_load_gib` keeps the number as printed and `model_load_unit` keeps the word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

__all__ = ["Stamp", "Timing", "VllmLog"]


@dataclass(frozen=True, slots=True)
class Stamp:
    """When a line was written: absolute from a runtime prefix, else vLLM's own month-day wall clock.

    vLLM prints `INFO 06-02 11:03:56` with no year and in the container's local time; the caller
    supplies the year (and zone) when it knows them, e.g. from the pod's creationTimestamp.
    """

    at: datetime | None = None
    wall: tuple[int | None, int, int, int, int, int, int] | None = None  # year?, month, day, h, m, s, us

    def resolve(self, year: int | None = None, tz: tzinfo = UTC) -> datetime | None:
        """The absolute time: the runtime stamp, else the wall clock in the given year and zone."""
        if self.at is not None:
            return self.at
        if self.wall is None:
            return None
        wyear, month, day, hour, minute, second, micro = self.wall
        wyear = wyear or year
        if wyear is None:
            return None
        try:
            return datetime(wyear, month, day, hour, minute, second, micro, tzinfo=tz).astimezone(UTC)
        except ValueError:
            return None

    def text(self) -> str | None:
        """How the stamp reads, for tables and JSON when it cannot be resolved."""
        if self.at is not None:
            return self.at.isoformat().replace("+00:00", "Z")
        if self.wall is None:
            return None
        year, month, day, hour, minute, second, _ = self.wall
        prefix = f"{year:04d}-" if year else ""
        return f"{prefix}{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"


@dataclass(slots=True)
class Timing:
    """A duration vLLM reported on one line: the phase ended at `stamp` and began `seconds` earlier."""

    name: str
    seconds: float
    stamp: Stamp
    line_no: int
    line: str


@dataclass(slots=True)
class VllmLog:
    """Everything one vLLM log says about a cold start; None wherever the log does not say."""

    source: str = "<log>"
    version: str | None = None
    engine: str | None = None
    weights_seconds: float | None = None
    model_load_gib: float | None = None
    model_load_unit: str | None = None
    model_load_seconds: float | None = None
    streamer_bytes: int | None = None
    streamer_seconds: float | None = None
    streamer_gib_per_s: float | None = None
    compile_seconds: float | None = None
    compile_cache_hit: bool | None = None
    graph_capture_seconds: float | None = None
    graph_capture_gib: float | None = None
    kv_cache_gib: float | None = None
    engine_init_seconds: float | None = None
    api_server_started: bool = False
    api_server_line: str | None = None
    ready: bool | None = None
    ready_line: str | None = None
    enforce_eager: bool | None = None
    tensor_parallel_size: int | None = None
    load_format: str | None = None
    device: str | None = None
    failure: str | None = None
    failure_line: str | None = None
    container: str | None = None  # the container (or compose service) that wrote vLLM's lines, when prefixes say
    containers: list[str] = field(default_factory=list)  # every container the lines came from, in order
    extras: dict[str, float | int] = field(default_factory=dict)
    timings: list[Timing] = field(default_factory=list)
    marks: dict[str, Stamp] = field(default_factory=dict)  # first_line, api_server, ready, failure
    recognised: int = 0
    lines: int = 0

    def timing(self, name: str) -> Timing | None:
        """The latest-ending occurrence of a timing (ranks report in parallel; the slowest gates the engine)."""
        found = [t for t in self.timings if t.name == name]
        return max(found, key=lambda t: (t.seconds, t.line_no)) if found else None

    def to_json(self, file: str | None = None) -> dict[str, Any]:
        """The `vllm` entry of the timeline JSON (keys fixed by timings.schema.json)."""
        return {
            "file": file if file is not None else self.source,
            "version": self.version, "engine": self.engine,
            "weights_seconds": self.weights_seconds, "model_load_gib": self.model_load_gib,
            "model_load_unit": self.model_load_unit, "model_load_seconds": self.model_load_seconds,
            "streamer_bytes": self.streamer_bytes, "streamer_seconds": self.streamer_seconds,
            "streamer_gib_per_s": self.streamer_gib_per_s,
            "compile_seconds": self.compile_seconds, "compile_cache_hit": self.compile_cache_hit,
            "graph_capture_seconds": self.graph_capture_seconds, "graph_capture_gib": self.graph_capture_gib,
            "kv_cache_gib": self.kv_cache_gib, "engine_init_seconds": self.engine_init_seconds,
            "api_server_started": self.api_server_started, "ready": self.ready,
            "enforce_eager": self.enforce_eager, "tensor_parallel_size": self.tensor_parallel_size,
            "load_format": self.load_format, "device": self.device,
            "failure": self.failure, "failure_line": self.failure_line,
            "extras": dict(self.extras),
        }
