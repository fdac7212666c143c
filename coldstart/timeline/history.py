"""Like-for-like history: a run is compared only with an earlier run of the same runbook, profile, cluster
target, scenario and steps, replica position by replica position (a first start with a first start, a warm start
with a warm start), one row per phase, and a change counts only beyond a noise band stated with its reason.

Pure functions over timings.json documents (schema 2); reading the files is the caller's edge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coldstart.profiles.phases import PHASE_NAMES
from coldstart.timeline.stats import TIME_TO_READY

__all__ = ["Cell", "NoiseBand", "Row", "compare_replicas", "differs", "noise_band"]

IDENTITY = ("runbook", "profile", "cluster", "scenario", "steps")  # what makes two runs the same question


@dataclass(frozen=True)
class NoiseBand:
    """A change smaller than both `seconds` and `percent` of the earlier value is noise, not news."""

    seconds: float
    percent: float
    why: str

    def quiet(self, before: float, after: float) -> bool:
        delta = abs(after - before)
        return delta <= self.seconds or (before > 0 and 100 * delta / before <= self.percent)


# The embedded cluster runs in virtual time from the profile's seed: every duration it draws is the same run after
# run. What is not fixed is where in virtual time the client's requests land (they travel over real HTTP), and its
# timestamps have whole-second resolution like a real API server's (conditions, events), so a phase that ends on a
# condition and starts on a log line moves by up to 1 s between two runs of the same profile
# (tests/runbooks/test_history.py runs the rollout twice and holds every phase within the band).
EMBEDDED_BAND = NoiseBand(1.0, 0.0, "embedded cluster: the same seed draws the same durations; only the whole-second "
                                    "timestamps of conditions and events move a phase, by up to 1 s")
# A live cluster's times come from server timestamps: events and pod conditions carry whole seconds (RFC 3339
# without fractions), so each phase boundary is known to ±1 s and a phase to ±2 s; registry, storage and GPU
# clocks add run-to-run spread we have no history for, so 10% of the phase is treated as noise as well.
LIVE_BAND = NoiseBand(2.0, 10.0, "live cluster: server timestamps have whole-second resolution (±2 s on a "
                                 "phase) and registry and storage throughput vary run to run (10%)")


def noise_band(cluster: str | None) -> NoiseBand:
    """The band for runs on this cluster target."""
    return EMBEDDED_BAND if (cluster or "embedded") == "embedded" else LIVE_BAND


def differs(doc: Mapping[str, Any], identity: Mapping[str, Any]) -> str | None:
    """Why an earlier run's document is not the same question (None: it is); the first differing key."""
    for key in IDENTITY:
        if doc.get(key) != identity.get(key):
            return f"{key} {doc.get(key)!r} is not {identity.get(key)!r}"
    if doc.get("ready") is False:
        return "it never became ready"
    return None


@dataclass(frozen=True)
class Cell:
    before: float | None
    after: float | None
    verdict: str  # regressed, improved, unchanged, added, removed

    @property
    def delta(self) -> float | None:
        return None if self.before is None or self.after is None else self.after - self.before


@dataclass(frozen=True)
class Row:
    """One phase (or time to ready), with a cell per replica position."""

    phase: str
    cells: dict[str, Cell]


def _seconds(replica: Mapping[str, Any], phase: str) -> float | None:
    value = replica.get("time_to_ready_seconds") if phase == TIME_TO_READY else replica.get("phases", {}).get(phase)
    return float(value) if isinstance(value, (int, float)) else None


def compare_replicas(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]],
                     band: NoiseBand) -> list[Row]:
    """Per phase (in phase order, time to ready last), each replica position both runs have, before vs after."""
    earlier = {r["label"]: r for r in before}
    positions = [r["label"] for r in after if r["label"] in earlier]
    now = {r["label"]: r for r in after}
    rows = []
    for phase in [*PHASE_NAMES, TIME_TO_READY]:
        cells = {}
        for label in positions:
            a, b = _seconds(earlier[label], phase), _seconds(now[label], phase)
            if a is None and b is None:
                continue
            if a is None or b is None:
                cells[label] = Cell(a, b, "added" if a is None else "removed")
            else:
                cells[label] = Cell(a, b, "unchanged" if band.quiet(a, b) else "regressed" if b > a else "improved")
        if cells:
            rows.append(Row(phase, cells))
    return rows
