"""Figures for the reports: a waterfall of each replica's cold start, and bars for A/B experiments.

Readable without the code: every figure has a title, labelled axes in seconds, a legend naming the phases
in the order a replica goes through them, and failures drawn as failures (hatched, with the reason), not
as short bars that look fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")  # reports render headless; notebooks display the returned Figure themselves

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from coldstart.phases import PHASES  # noqa: E402

COLORS = {"scheduling": "#9e9e9e", "image_pull": "#42a5f5", "container_start": "#80deea",
          "weights_load": "#66bb6a", "compile": "#ffa726", "graph_capture": "#ef5350",
          "engine_init": "#ce93d8", "api_ready": "#5c6bc0"}
# engine_init spans compile and graph capture: drawn as a thin band under them, not over them
_BANDS = {"engine_init"}
MAX_ROWS = 40


def close(fig: Figure) -> None:
    """Free a figure once it has been rendered (reports draw many)."""
    plt.close(fig)


def _rows(pods: Sequence[Any]) -> list[Any]:
    """At most MAX_ROWS replicas: with more, an even sample across the time-to-ready order (fastest to slowest)."""
    ordered = sorted(pods, key=lambda p: (p.time_to_ready_seconds is None, p.time_to_ready_seconds or 0, p.pod))
    if len(ordered) <= MAX_ROWS:
        return ordered
    step = (len(ordered) - 1) / (MAX_ROWS - 1)
    return [ordered[round(i * step)] for i in range(MAX_ROWS)]


def waterfall(timeline: Any, title: str = "Cold start per replica") -> Figure:
    """Gantt chart: one row per replica, its phases from pod creation (0 s) to Ready."""
    pods = _rows([p for p in timeline.pods if not p.victim])
    fig, ax = plt.subplots(figsize=(11, 1.2 + 0.45 * max(1, len(pods))))
    for row, pod in enumerate(pods):
        for name, span in pod.phases.items():
            if name in _BANDS:
                ax.broken_barh([(span.start, span.seconds)], (row - 0.42, 0.14), color=COLORS.get(name, "#777"))
            else:
                ax.broken_barh([(span.start, max(span.seconds, 0.3))], (row - 0.25, 0.5),
                               color=COLORS.get(name, "#777"), edgecolor="white", linewidth=0.5)
        for reason in pod.reasons:
            if reason.at is not None:
                ax.plot(reason.at, row + 0.33, marker="v", color="#b71c1c", markersize=7)
        end = pod.time_to_ready_seconds
        label = f"{end:.0f}s" if end is not None else "not ready"
        x = end if end is not None else max((s.end for s in pod.phases.values()), default=0)
        ax.text(x + 1, row, label, va="center", fontsize=8, color="#212121" if end is not None else "#b71c1c")
    ax.set_yticks(range(len(pods)), [p.pod[-32:] for p in pods], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the pod was created")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    present = [n for n in PHASES if any(n in p.phases for p in pods)]
    handles = [Patch(color=COLORS[n], label=n.replace("_", " ")) for n in present]
    if any(p.reasons for p in pods):
        handles.append(plt.Line2D([], [], marker="v", color="#b71c1c", linestyle="", label="restart / failure"))
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.3 / max(1, len(pods))),
                  ncol=min(5, len(handles)), fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def comparison(rows: Sequence[tuple[str, dict[str, float], float | None, str | None]],
               title: str = "Time to /health") -> Figure:
    """Stacked bars per scenario: (name, P50 seconds per phase, time to ready, failure or None)."""
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.7 * max(1, len(rows))))
    for i, (_name, phases, total, failure) in enumerate(rows):
        left = 0.0
        for phase in PHASES:
            if phase in _BANDS or phase not in phases:
                continue
            ax.barh(i, phases[phase], left=left, color=COLORS[phase], edgecolor="white", height=0.55)
            left += phases[phase]
        if failure:
            ax.barh(i, max(left, 1.0), color="none", edgecolor="#b71c1c", hatch="//", height=0.55)
            ax.text(max(left, 1.0) + 2, i, f"failed: {failure[:70]}", va="center", fontsize=8, color="#b71c1c")
        elif total is not None:
            ax.text((total or left) + 2, i, f"{total:.0f}s", va="center", fontsize=9, fontweight="bold")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=9)
    ax.invert_yaxis()
    ax.set_xlabel("seconds (median replica; phases stacked in the order they happen)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    present = [n for n in PHASES if n not in _BANDS and any(n in r[1] for r in rows)]
    ax.legend(handles=[Patch(color=COLORS[n], label=n.replace("_", " ")) for n in present], fontsize=8,
              loc="lower right", frameon=False)
    fig.tight_layout()
    return fig


def bars(values: Sequence[tuple[str, float | None]], *, title: str, xlabel: str) -> Figure:
    """Plain horizontal bars (e.g. GiB/s per loader, MB/s per compression), None drawn as a missing bar."""
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.55 * max(1, len(values))))
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
