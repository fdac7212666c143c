"""Figures for the reports: a waterfall of each replica's cold start, and bars for A/B experiments.

Readable without the code: every figure has a title, labelled axes in seconds, a legend naming the phases
in the order a replica goes through them, and failures drawn as failures (hatched, with the reason), not
as short bars that look fast.
"""

from __future__ import annotations

from collections.abc import Sequence

# Figures are built without pyplot: no global figure registry to leak into or close, no GUI backend to pick;
# `report.show` renders each one to PNG.
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from coldstart.profiles.phases import PHASES
from coldstart.timeline.model import PodTimeline, Timeline

COLORS = {"scheduling": "#9e9e9e", "image_pull": "#42a5f5", "container_start": "#80deea",
          "weights_load": "#66bb6a", "compile": "#ffa726", "graph_capture": "#ef5350",
          "engine_init": "#ce93d8", "api_ready": "#5c6bc0"}
# engine_init spans compile and graph capture: drawn as a thin band under them, not over them
_BANDS = {"engine_init"}
MAX_ROWS = 40


def _axes(width: float, height: float) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots()


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


def _spans(ax: Axes, row: float, pod: PodTimeline) -> None:
    """One replica's phases at their real positions; engine_init as a thin band under what it contains."""
    for name, span in pod.phases.items():
        if name in _BANDS:
            ax.broken_barh([(span.start, span.seconds)], (row + 0.28, 0.12), color=COLORS.get(name, "#777"))
        else:
            ax.broken_barh([(span.start, max(span.seconds, 0.3))], (row - 0.25, 0.5),
                           color=COLORS.get(name, "#777"), edgecolor="white", linewidth=0.5)
    for reason in pod.reasons:
        if reason.at is not None and reason.reason in _TROUBLE:
            ax.plot(reason.at, row - 0.38, marker="v", color="#b71c1c", markersize=7)


def _legend(ax: Axes, pods: Sequence[PodTimeline], failed: bool = False) -> None:
    """The phases present, in the order a replica goes through them, beside the plot (not over the bars)."""
    present = [n for n in PHASES if any(n in p.phases for p in pods)]
    handles: list[Artist] = [Patch(color=COLORS[n], label=n.replace("_", " ")) for n in present]
    if any(r.reason in _TROUBLE for p in pods for r in p.reasons):
        handles.append(Line2D([], [], marker="v", color="#b71c1c", linestyle="", label="restart / kill / OOM"))
    if failed:
        handles.append(Patch(facecolor="white", edgecolor="#b71c1c", hatch="////", label="never ready"))
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)


def _failed(ax: Axes, row: float, start: float, end: float) -> None:
    """A replica that never became ready: a hatched red band where Ready never came, not a short bar."""
    ax.broken_barh([(start, max(end - start, 1.0))], (row - 0.25, 0.5), facecolor="white", edgecolor="#b71c1c",
                   hatch="////", linewidth=0.8)


def _finish(fig: Figure, ax: Axes, xlabel: str, title: str, right: float) -> Figure:
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlim(0, max(right, 1.0) * 1.3)  # room inside the frame for the labels after each bar
    fig.tight_layout()
    return fig


def waterfall(timeline: Timeline, title: str = "Cold start per replica") -> Figure:
    """Gantt chart: one row per replica, its phases from pod creation (0 s) to Ready."""
    pods = _rows([p for p in timeline.pods if not p.victim])
    fig, ax = _axes(11, 2.0 + 0.45 * max(1, len(pods)))
    right = max([p.time_to_ready_seconds or max((s.end for s in p.phases.values()), default=0.0) for p in pods]
                or [1.0])
    for row, pod in enumerate(pods):
        _spans(ax, row, pod)
        end = pod.time_to_ready_seconds
        x = end if end is not None else max((s.end for s in pod.phases.values()), default=0)
        if end is None:
            _failed(ax, row, x, right * 1.05)
            x = right * 1.05
        ax.text(x + right * 0.01, row, f"{end:.0f}s" if end is not None else "never ready", va="center",
                fontsize=8, color="#212121" if end is not None else "#b71c1c")
    ax.set_yticks(range(len(pods)), [_label(p) for p in pods], fontsize=8)
    ax.set_ylim(-0.7, len(pods) - 0.3)
    _legend(ax, pods, failed=any(p.time_to_ready_seconds is None for p in pods))
    return _finish(fig, ax, "seconds since the pod was created", title, right)


def comparison(rows: Sequence[tuple[str, PodTimeline | None, float | None, str | None]],
               title: str = "Time to /health") -> Figure:
    """One row per scenario and replica position: (label, that replica's timeline, time to ready, failure or
    None), its phases at their real positions so rows compare like the waterfall does."""
    fig, ax = _axes(11, 2.0 + 0.6 * max(1, len(rows)))
    pods = [pod for _, pod, _, _ in rows if pod is not None]
    ends = [total if total is not None else max((s.end for s in pod.phases.values()), default=1.0) if pod else 1.0
            for _, pod, total, _ in rows]
    right = max(ends or [1.0])
    for i, ((_name, pod, total, failure), end) in enumerate(zip(rows, ends, strict=True)):
        if pod is not None:
            _spans(ax, i, pod)
        if failure or total is None:
            _failed(ax, i, end, right * 1.05)
            ax.text(right * 1.06, i, f"failed: {(failure or 'never ready')[:40]}", va="center", fontsize=8,
                    color="#b71c1c")
        else:
            ax.text(end + right * 0.01, i, f"{total:.0f}s", va="center", fontsize=9, fontweight="bold")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=9)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    _legend(ax, pods, failed=any(f or t is None for _, _, t, f in rows))
    return _finish(fig, ax, "seconds since the replica was created", title, right * 1.3)


def bars(values: Sequence[tuple[str, float | None]], *, title: str, xlabel: str) -> Figure:
    """Plain horizontal bars (e.g. GiB/s per loader, MB/s per compression), None drawn as a missing bar."""
    fig, ax = _axes(9, 1.2 + 0.55 * max(1, len(values)))
    for i, (_name, value) in enumerate(values):
        if value is None:
            ax.text(0, i, "  n/a", va="center", fontsize=9, color="#757575")
            continue
        ax.barh(i, value, color="#42a5f5", height=0.5)
        ax.text(value, i, f" {value:.2f}", va="center", fontsize=9)
    ax.set_yticks(range(len(values)), [v[0] for v in values], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
