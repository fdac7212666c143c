"""Per-run statistics over replicas: quantiles, budgets and run comparison (the floor: coldstart.timeline.floor).

Quantiles follow kube-burner's podLatency so figures can be set side by side with its reports: kube-burner
summarises each condition with github.com/montanaflynn/stats v0.7.1 `Percentile` (sort; index = p/100 * n;
a whole index takes that element, otherwise the mean of the two around it) plus `Max` and `Mean`, and its
thresholds are `{conditionType, metric: P50|P95|P99|Avg|Max, threshold}` checked as `value > threshold`.
We keep seconds as floats where kube-burner truncates to whole milliseconds, and name its `Max`/`Avg`
metrics `max`/`mean`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from coldstart.errors import InvalidValue
from coldstart.profiles import Profile
from coldstart.profiles.phases import PHASE_NAMES
from coldstart.timeline.build import PodTimeline

TIME_TO_READY = "time_to_ready"
METRICS = ("P50", "P95", "P99", "max", "mean")
BUDGET_METRICS = ("P50", "P95", "P99", "max")


def percentile(values: Iterable[float], percent: float) -> float:
    """kube-burner's percentile (montanaflynn/stats v0.7.1): nearest rank, or the mean of two neighbours."""
    data = sorted(values)
    if not data:
        raise InvalidValue("percentile of no values")
    if not 0 < percent <= 100:
        raise InvalidValue(f"percent must be in (0, 100], got {percent}")
    if len(data) == 1:
        return data[0]
    index = percent / 100 * len(data)
    if index == int(index):
        return data[int(index) - 1]
    if index > 1:
        i = int(index)
        return (data[i - 1] + data[i]) / 2
    return data[0]  # the Go code returns NaN here (p < 100/n); the smallest value is the honest answer


def summarize(values: Iterable[float]) -> dict[str, float | int]:
    """count, P50, P95, P99, max and mean of one metric across replicas."""
    data = list(values)
    if not data:
        return {"count": 0}
    return {"count": len(data), "P50": percentile(data, 50), "P95": percentile(data, 95),
            "P99": percentile(data, 99), "max": max(data), "mean": sum(data) / len(data)}


def samples(pods: Iterable[PodTimeline]) -> dict[str, list[float]]:
    """Seconds per phase and time_to_ready across replicas; absent phases add nothing, preempted pods nothing."""
    out: dict[str, list[float]] = {}
    for pod in pods:
        if getattr(pod, "victim", False):
            continue
        for name, span in pod.phases.items():
            out.setdefault(name, []).append(span.seconds)
        if pod.time_to_ready_seconds is not None:
            out.setdefault(TIME_TO_READY, []).append(pod.time_to_ready_seconds)
    return out


def run_statistics(pods: Iterable[PodTimeline]) -> dict[str, dict[str, float | int]]:
    """Summary per phase (canonical order) and time_to_ready."""
    found = samples(pods)
    order = [*PHASE_NAMES, TIME_TO_READY]
    return {name: summarize(found[name]) for name in order if name in found}


@dataclass(frozen=True, slots=True)
class Threshold:
    """kube-burner's latency threshold, in seconds."""

    conditionType: str  # noqa: N815 (kube-burner's field name)
    metric: str
    threshold: float


@dataclass(frozen=True, slots=True)
class Overrun:
    phase: str
    metric: str
    value: float
    budget: float
    over_seconds: float
    over_percent: float

    def describe(self) -> str:
        return (f"{self.phase} {self.metric} {self.value:.1f}s is over the {self.budget:g}s budget by "
                f"{self.over_seconds:.1f}s ({self.over_percent:.0f}%)")


def thresholds_from_profile(profile: Profile, metrics: Iterable[str] = BUDGET_METRICS) -> list[Threshold]:
    """The profile's budgets as kube-burner-style thresholds: every budget checked at every metric."""
    budgets = profile.budgets
    out = [Threshold(TIME_TO_READY, m, float(budgets.time_to_ready_seconds)) for m in metrics]
    for phase in PHASE_NAMES:
        if phase in budgets.phases:
            out += [Threshold(phase, m, float(budgets.phases[phase])) for m in metrics]
    return out


def check_budgets(stats: Mapping[str, Mapping[str, Any]], thresholds: Iterable[Threshold]) -> list[Overrun]:
    """Every threshold the run exceeds (value > threshold, as kube-burner checks), naming phase and metric."""
    out = []
    for t in thresholds:
        value = stats.get(t.conditionType, {}).get(t.metric)
        if value is not None and value > t.threshold:
            over = value - t.threshold
            out.append(Overrun(t.conditionType, t.metric, value, t.threshold, over, 100 * over / t.threshold))
    return out
