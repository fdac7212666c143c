"""Figures for the reports: a waterfall of each replica's cold start, and bars for A/B experiments.

Readable without the code: every figure has a title, a labelled axis in seconds, a legend naming the phases
in the order a replica goes through them, and failures drawn as failures (hatched, with the reason), not
as short bars that look fast. Drawn as SVG (coldstart.runbooks.svg): each bar's tooltip gives its exact
seconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from coldstart.profiles.phases import PHASES
from coldstart.runbooks.svg import Chart, Svg
from coldstart.timeline.model import PodTimeline, Timeline

COLORS = {"scheduling": "#9e9e9e", "image_pull": "#42a5f5", "container_start": "#80deea",
          "weights_load": "#66bb6a", "compile": "#ffa726", "graph_capture": "#ef5350",
          "engine_init": "#ce93d8", "api_ready": "#5c6bc0"}
# engine_init spans compile and graph capture: drawn as a thin band under them, not over them
_BANDS = {"engine_init"}
MAX_ROWS = 40
_RED = "#b71c1c"


def _rows(pods: Sequence[PodTimeline]) -> list[PodTimeline]:
    """At most MAX_ROWS replicas: with more, an even sample across the time-to-ready order (fastest to slowest)."""
    ordered = sorted(pods, key=lambda p: (p.time_to_ready_seconds is None, p.time_to_ready_seconds or 0, p.pod))
    if len(ordered) <= MAX_ROWS:
        return ordered
    step = (len(ordered) - 1) / (MAX_ROWS - 1)
    return [ordered[round(i * step)] for i in range(MAX_ROWS)]


_TROUBLE = {"BackOff", "Killing", "OOMKilled", "OOMKilling", "Failed", "Restarted", "Evicted", "SystemOOM"}


def _label(pod: PodTimeline) -> str:
    return pod.pod.rpartition("/")[2][-40:]


def _troubles(pod: PodTimeline) -> list[tuple[float, str]]:
    """(when, reason) of each restart, kill or OOM of the start; after Ready a kill is the scale-down."""
    ready = pod.time_to_ready_seconds
    return [(r.at, r.reason) for r in pod.reasons
            if r.at is not None and r.reason in _TROUBLE and (ready is None or r.at <= ready)]


def _last(pod: PodTimeline) -> float:
    """Where the replica's drawing ends: its last phase, or the last sign of trouble before it was ready."""
    return max([s.end for s in pod.phases.values()] + [at for at, _ in _troubles(pod)], default=0.0)


NOTE = 52  # characters of a failure's cause written beside its row (the tooltip has all of it)


def _short(text: str) -> str:
    return text if len(text) <= NOTE else text[:NOTE - 1] + "\u2026"


def _spans(chart: Chart, row: int, pod: PodTimeline) -> None:
    """One replica's phases at their real positions; engine_init as a thin band under what it contains."""
    for name, span in pod.phases.items():
        tip = f"{name.replace('_', ' ')}: {span.seconds:.1f} s (from {span.start:.1f} s to {span.end:.1f} s)"
        if name in _BANDS:
            chart.bar(row, span.start, span.seconds, COLORS.get(name, "#777"), tip, thickness=0.12, offset=0.34)
        else:
            chart.bar(row, span.start, span.seconds, COLORS.get(name, "#777"), tip, min_width=chart.right / 600)
    for at, reason in _troubles(pod):
        chart.marker(row, at, _RED, f"{reason} at {at:.0f} s")


def _legend(pods: Sequence[PodTimeline], failed: bool = False) -> list[tuple[str, str, str]]:
    """The phases present, in the order a replica goes through them, beside the plot (not over the bars)."""
    entries = [("box", COLORS[n], n.replace("_", " ")) for n in PHASES if any(n in p.phases for p in pods)]
    if any(_troubles(p) for p in pods):
        entries.append(("marker", _RED, "restart / kill / OOM"))
    if failed:
        entries.append(("hatch", _RED, "never ready"))
    return entries


def waterfall(timeline: Timeline, title: str = "Cold start per replica") -> Svg:
    """Gantt chart: one row per replica, its phases from pod creation (0 s) to Ready."""
    pods = _rows([p for p in timeline.pods if not p.victim])
    right = max([p.time_to_ready_seconds or _last(p) for p in pods] or [1.0])
    failed = any(p.time_to_ready_seconds is None for p in pods)
    chart = Chart(title, "seconds since the pod was created", [_label(p) for p in pods], max(right, 1.0) * 1.05,
                  _legend(pods, failed), notes=12 if failed else 5)
    for row, pod in enumerate(pods):
        _spans(chart, row, pod)
        end = pod.time_to_ready_seconds
        if end is None:
            chart.hatched(row, _last(pod), right * 1.05, "never ready")
            chart.note(row, right * 1.05, "never ready", color=_RED)
        else:
            chart.note(row, end, f"{end:.0f}s")
    return chart.render()


def comparison(rows: Sequence[tuple[str, PodTimeline | None, float | None, str | None]],
               title: str = "Time to /health") -> Svg:
    """One row per scenario and replica position: (label, that replica's timeline, time to ready, why it failed
    or None), its phases at their real positions so rows compare like the waterfall does."""
    pods = [pod for _, pod, _, _ in rows if pod is not None]
    ends = [total if total is not None else _last(pod) if pod else 1.0 for _, pod, total, _ in rows]
    right = max(ends or [1.0])
    failed = any(f or t is None for _, _, t, f in rows)
    chart = Chart(title, "seconds since the replica was created", [r[0] for r in rows], max(right, 1.0) * 1.05,
                  _legend(pods, failed), row_height=30, notes=NOTE + 8 if failed else 5)
    for i, ((_name, pod, total, failure), end) in enumerate(zip(rows, ends, strict=True)):
        if pod is not None:
            _spans(chart, i, pod)
        if failure or total is None:
            reason = failure or "never ready"
            chart.hatched(i, end, right * 1.05, reason)
            chart.note(i, right * 1.05, f"failed: {_short(reason)}", color=_RED)
        else:
            chart.note(i, end, f"{total:.0f}s", bold=True)
    return chart.render()


def bars(values: Sequence[tuple[str, float | None]], *, title: str, xlabel: str) -> Svg:
    """Plain horizontal bars (e.g. GiB/s per loader, MB/s per compression), None drawn as a missing bar."""
    right = max([v for _, v in values if v is not None] or [1.0])
    chart = Chart(title, xlabel, [name for name, _ in values], right, width=820, notes=8)
    for i, (name, value) in enumerate(values):
        if value is None:
            chart.note(i, 0, "n/a", color="#757575")
        else:
            chart.bar(i, 0, value, "#42a5f5", f"{name}: {value:.2f}")
            chart.note(i, value, f"{value:.2f}")
    return chart.render()
