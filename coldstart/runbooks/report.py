"""What the runbooks show, and how a runbook becomes a report.

In a notebook these functions display tables and figures with a sentence on what they mean; `verdict`
sums up and fails the notebook loudly when an invariant fails, a trap fires that was not run on purpose,
or a budget is overrun (the verdict is also written into the slot `verdict_slot` reserved at the top, so
the report opens with it; see coldstart.runbooks.verdict).
"""

from __future__ import annotations

import html
import io
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version as _version
from pathlib import Path
from typing import Any

from IPython.display import HTML, Image, Markdown, display

from coldstart import __version__
from coldstart.live.cluster import Applied
from coldstart.profiles import Profile
from coldstart.profiles.phases import PHASE_NAMES
from coldstart.profiles.physics import weight_seconds
from coldstart.runbooks import figures
from coldstart.runbooks import verdict as _verdict
from coldstart.runbooks.runbook import Outcome
from coldstart.runbooks.verdict import verdict_slot
from coldstart.timeline.build import PodTimeline
from coldstart.timeline.sources.vllm_model import VllmLog
from coldstart.timeline.stats import compare_runs
from coldstart.timeline.timings import read_timings, write_timings
from coldstart.verify import INVARIANTS, Finding, summarize
from coldstart.verify.findings import LEVERS

__all__ = ["budgets", "compare", "compile_cache", "failures", "floor", "header", "invariants", "plan", "previous",
           "pulls", "save", "scheduling", "show", "timeline", "verdict", "verdict_slot", "weights"]

_STYLE = {"pass": "color:#1b5e20", "fail": "color:#b71c1c;font-weight:bold", "n/a": "color:#757575"}


def show(fig: Any) -> None:
    """Display a matplotlib figure as a PNG (works under any backend, in notebooks and in HTML reports)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    display(Image(data=buffer.getvalue(), format="png"))


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], styles: Sequence[str] | None = None) -> str:
    cell = "text-align:left;vertical-align:top;white-space:normal;overflow-wrap:break-word;"
    head = "".join(f"<th style='{cell}'>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        style = cell + (styles[i] if styles and styles[i] else "")
        body.append("<tr>" + "".join(f"<td style='{style}'>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    return (f"<table class='coldstart' style='table-layout:auto;max-width:100%'><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def header(profile: Profile, cluster: str, run_id: str | None = None) -> None:
    """Which profile, cluster and versions produced this report."""
    rows = [("profile", profile.name), ("cluster", cluster), ("run id", run_id or "-"),
            ("model", profile.model.name), ("vLLM image", profile.image.vllm),
            ("coldstart", __version__), ("kubernetes client", _version("kubernetes")),
            ("python", platform.python_version()), ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    display(HTML(_table(["", ""], rows)))


def plan(applied: Sequence[Applied]) -> None:
    """The server's dry run: what applying would create, change (which fields) or leave alone."""
    display(HTML(_table(["object", "would be", "fields"], [
        (a.object, a.action, ", ".join(a.changes[:6]) + (" ..." if len(a.changes) > 6 else "")) for a in applied])))


def lever_of(finding: Finding) -> str:
    """The lever an invariant belongs to ("cluster" for the live cluster-level checks)."""
    inv = INVARIANTS.get(finding.invariant)
    return inv.lever if inv is not None else "cluster"


def invariants(findings: Sequence[Finding], title: str = "Invariants", *, lever: str | None = None) -> None:
    """The invariant table, grouped by lever (or only one lever's), failures first within each lever."""
    order = {name: i for i, name in enumerate(LEVERS)}
    findings = [f for f in findings if lever is None or lever_of(f) == lever]
    rank = {"fail": 0, "pass": 1, "n/a": 2}
    rows = sorted(findings, key=lambda f: (order.get(lever_of(f), 9), rank[f.status], f.invariant))
    counts = summarize(findings)
    display(HTML(f"<h4>{html.escape(title)}: {counts['fail']} fail, {counts['pass']} pass, {counts['n/a']} n/a</h4>"
                 + _table(["lever", "invariant", "status", "object", "container", "message"],
                          [(LEVERS.get(lever_of(f), lever_of(f)), f.invariant, f.status.upper(), f.object,
                            f.container or "-", f.message) for f in rows],
                          [_STYLE[f.status] for f in rows])))


def _dry(outcome: Outcome | None) -> bool:
    if outcome is None or outcome.dry_run:
        display(Markdown("*Dry run (`apply = False`): nothing was applied, so nothing was measured.*"))
        return True
    return False


def timeline(outcome: Outcome | None, title: str | None = None) -> None:
    """The waterfall of every replica, then the per-phase quantiles across replicas."""
    if _dry(outcome) or outcome is None:  # _dry said so when None
        return
    show(figures.waterfall(outcome.timeline, title or f"{outcome.scenario.name}: cold start per replica"))
    quantiles(outcome)


def quantiles(outcome: Outcome) -> None:
    names = [n for n in (*PHASE_NAMES, "time_to_ready") if n in outcome.statistics]
    rows = [(n, outcome.statistics[n].get("count", 0), *(f"{outcome.statistics[n].get(m, 0):.1f}"
                                                          for m in ("P50", "P95", "P99", "max"))) for n in names]
    display(HTML(_table(["phase", "replicas", "P50 s", "P95 s", "P99 s", "max s"], rows)))


def budgets(outcome: Outcome) -> None:
    """Every budget overrun named; nothing to say when all phases are inside the profile's budgets."""
    if _dry(outcome):
        return
    if not outcome.overruns:
        display(Markdown(f"All phases within the budgets of profile `{outcome.scenario.profile.name}`."))
        return
    display(HTML(_table(["phase", "metric", "measured s", "budget s", "over"],
                        [(o.phase, o.metric, f"{o.value:.1f}", f"{o.budget:.0f}",
                          f"+{o.over_seconds:.1f}s ({o.over_percent:.0f}%)") for o in outcome.overruns],
                        [_STYLE["fail"]] * len(outcome.overruns))))


def floor(outcome: Outcome) -> None:
    """The profile's physical floor and how close the measured run came to it."""
    f = outcome.floor
    eff = f"{outcome.efficiency:.0%}" if outcome.efficiency else "n/a"
    display(HTML(_table(["physical floor", "seconds"], [
        ("image bytes / pull bandwidth", f"{f.image_seconds:.1f}"),
        ("weight bytes / storage and loader rate", f"{f.weights_seconds:.1f}"),
        ("irreducible engine init", f"{f.engine_seconds:.1f}"),
        ("floor", f"{f.total_seconds:.1f}"),
        ("measured P50 time to ready", f"{outcome.time_to_ready:.1f}" if outcome.time_to_ready else "n/a"),
        ("efficiency (floor / measured)", eff)])))


def median_replica(outcome: Outcome) -> PodTimeline | None:
    """The replica whose time to ready is the median (the failed one, when none became ready)."""
    pods = sorted((p for p in outcome.timeline.pods if not p.victim),
                  key=lambda p: (p.time_to_ready_seconds is None, p.time_to_ready_seconds or 0))
    ready = [p for p in pods if p.time_to_ready_seconds is not None]
    if ready:
        return ready[(len(ready) - 1) // 2]
    return pods[0] if pods else None


Outcomes = Outcome | Sequence[Outcome] | None


def measured(*groups: Outcomes) -> list[Outcome]:
    """Outcomes given one by one or in lists, without the skipped ones (None) and dry runs, in order."""
    flat: list[Outcome] = []
    for group in groups:
        flat += [group] if isinstance(group, Outcome) else list(group or [])
    return [o for o in flat if o is not None and not o.dry_run]


def compare(*groups: Outcomes, title: str = "Time to /health") -> None:
    """Side by side: a row per scenario (its median replica's phases) and a table with time to ready and the
    ratio to the first scenario."""
    outcomes = measured(*groups)
    rows = [(o.scenario.name, median_replica(o), o.time_to_ready, o.failure) for o in outcomes]
    if not rows:
        display(Markdown("*Nothing to compare: no scenario was measured.*"))
        return
    show(figures.comparison(rows, title))
    base = outcomes[0].time_to_ready if outcomes else None
    table = []
    for o in outcomes:
        ttr = o.time_to_ready
        ratio = f"{ttr / base:.2f}x" if ttr and base else "-"
        expected = "as expected" if o.as_expected else "UNEXPECTED"
        result = "ready" if o.ready else f"failed: {o.failure}"
        table.append((o.scenario.name, o.scenario.note, f"{ttr:.1f}" if ttr else "-", ratio, result, expected))
    display(HTML(_table(["scenario", "what", "P50 time to ready s", "vs first", "result", "check"], table,
                        [_STYLE["pass"] if o.as_expected else _STYLE["fail"] for o in outcomes])))


def save(outcome: Outcome | None, out_dir: str | Path | None, run_id: str | None = None) -> None:
    """Write timings.json for this outcome (validated against the schema); no output_dir, nothing written.
    `run_id` is the notebook run's (the folder's name), so a record names the run it is filed under; a scenario
    of `runbook.compare` has its own cluster run id, used when none is given."""
    if not out_dir or outcome is None or outcome.dry_run:
        return
    path = write_timings(Path(out_dir) / "timings.json", outcome.timeline, profile=outcome.scenario.profile,
                         run_id=run_id or outcome.run_id, cluster=outcome.cluster, ready=outcome.ready)
    display(Markdown(f"Timings written to `{path}`."))


# ---------------------------------------------------------------------------------------------------
# Evidence per lever: the numbers that show a lever working, read from what the cluster and vLLM wrote


def _replicas(outcome: Outcome) -> list[tuple[str, PodTimeline]]:
    """(label, pod timeline) in creation order: '1st replica', '2nd replica' for stepped scenarios."""
    pods = sorted((p for p in outcome.timeline.pods if not p.victim), key=lambda p: (p.t0 is None, p.t0, p.pod))
    names = ["1st", "2nd", "3rd"]
    return [(f"{names[i] if i < 3 else f'{i + 1}th'} replica", p) for i, p in enumerate(pods)]


def _log_of(outcome: Outcome, pod: str) -> VllmLog | None:
    """The vLLM log recorded for a replica (timeline pods are `namespace/name`, log files `name.log`)."""
    name = pod.rpartition("/")[2]
    return next((log for file, log in outcome.timeline.logs if Path(file).stem == name), None)


def weights(outcomes: Sequence[Outcome]) -> None:
    """Weight loading: seconds and GiB/s per scenario, against the storage and loader's expected time."""
    rows, values = [], []
    for o in outcomes:
        for label, pod in _replicas(o):
            log = _log_of(o, pod.pod)
            secs = log.model_load_seconds if log else None
            gib = log.model_load_gib if log else None
            rate = log.streamer_gib_per_s or (gib / secs if gib and secs else None) if log else None
            expected = weight_seconds(o.scenario.profile)
            rows.append((o.scenario.name, label, f"{secs:.1f}" if secs else "-", f"{gib:.1f}" if gib else "-",
                         f"{rate:.2f}" if rate else "-", f"{expected:.1f}"))
            values.append((f"{o.scenario.name} ({label})", rate))
    display(HTML(_table(["scenario", "replica", "load s", "GiB", "GiB/s", "floor s (bytes / rate)"], rows)))
    show(figures.bars(values, title="Weight loading rate", xlabel="GiB/s read into the GPU"))


def pulls(outcomes: Sequence[Outcome]) -> None:
    """Every image pull per replica: seconds (and including waiting), bytes, MB/s, or found on the node."""
    rows, values = [], []
    for o in outcomes:
        for label, pod in _replicas(o):
            for pull in pod.image_pulls:
                image = pull.image.rsplit("/", 1)[-1][:48]
                mbs = pull.mb_per_s
                rows.append((o.scenario.name, label, image, "already present" if pull.cached else
                             f"{pull.seconds:.1f}" if pull.seconds is not None else "-",
                             f"{pull.seconds_including_waiting:.1f}" if pull.seconds_including_waiting else "-",
                             f"{pull.bytes / 1e9:.2f} GB" if pull.bytes else "-", f"{mbs:.0f}" if mbs else "-"))
                if not pull.cached and pull.bytes and pull.bytes > 1e8:
                    values.append((f"{o.scenario.name}, {label}: {image[:24]}", mbs))
    display(HTML(_table(["scenario", "replica", "image", "pull s", "incl. waiting s", "size", "MB/s"], rows)))
    if values:
        show(figures.bars(values, title="Image pull rate (transfer and unpack)", xlabel="MB/s"))


_SCHEDULING_MARKS = {"preempted_buffer": "preempted a buffer pod", "scale_up": "triggered a scale-up",
                     "nominated": "nominated to a new node"}


def scheduling(outcomes: Sequence[Outcome]) -> None:
    """How each replica got its node: preempting a buffer pod, a new node, a Spot fallback."""
    rows = []
    for o in outcomes:
        for label, pod in _replicas(o):
            span = pod.phases.get("scheduling")
            marks = ", ".join(f"{text} at {pod.marks[k]:.0f}s" for k, text in _SCHEDULING_MARKS.items()
                              if k in pod.marks) or "-"
            rows.append((o.scenario.name, label, f"{span.seconds:.1f}" if span else "-", pod.node or "-", marks,
                         "; ".join(f"{r.reason} x{r.count}" for r in pod.reasons) or "-"))
    display(HTML(_table(["scenario", "replica", "scheduling s", "node", "what happened", "delays"], rows)))


def compile_cache(outcomes: Sequence[Outcome]) -> None:
    """torch.compile and CUDA graphs per replica: seconds, and whether the compile cache was hit."""
    rows = []
    for o in outcomes:
        for label, pod in _replicas(o):
            log = _log_of(o, pod.pod)
            if log is None:
                continue
            hit = {True: "hit", False: "miss", None: "-"}[log.compile_cache_hit]
            rows.append((o.scenario.name, label, f"{log.compile_seconds:.1f}" if log.compile_seconds else "-", hit,
                         f"{log.graph_capture_seconds:.0f}" if log.graph_capture_seconds else "-",
                         "yes" if log.enforce_eager else "no",
                         f"{pod.time_to_ready_seconds:.0f}" if pod.time_to_ready_seconds else "-"))
    display(HTML(_table(["scenario", "replica", "compile s", "cache", "graphs s", "eager", "to /health s"], rows)))


def failures(outcomes: Sequence[Outcome]) -> None:
    """For each scenario that failed: why, and the evidence a real cluster shows (reasons, vLLM's failure)."""
    rows = []
    for o in outcomes:
        if o.ready:
            continue
        evidence = []
        for _, pod in _replicas(o):
            evidence += [f"{r.reason}: {r.message[:90]}" for r in pod.reasons[:3]]
            log = _log_of(o, pod.pod)
            if log is not None and log.failure:
                evidence.append(f"vLLM {log.failure}: {(log.failure_line or '')[:110]}")
        rows.append((o.scenario.name, "on purpose" if not o.scenario.expect_ready else "UNEXPECTED",
                     o.failure or "-", " | ".join(evidence) or "-"))
    if rows:
        display(HTML(_table(["scenario", "trap", "what the wait saw", "events and logs"], rows)))


def previous(outcome: Outcome, out_dir: str | Path | None = None) -> None:
    """What changed since the last run of the same profile (if there is one). Earlier runs are the siblings of
    this run's folder `out_dir` (outputs/<profile>/<run-id>, wherever `coldstart run --out` put it), so a run
    is compared with runs filed beside it; without a folder, with those in outputs/<profile>."""
    if _dry(outcome):
        return
    here = Path(out_dir) if out_dir else None
    folder = here.parent if here else Path("outputs") / outcome.scenario.profile.name
    runs = sorted(folder.glob("*/timings.json"), key=lambda p: p.stat().st_mtime)
    documents = [(p, read_timings(p)) for p in runs if p.parent != here and p.parent.name != outcome.run_id]
    # only a run that became ready on the same cluster target is a baseline (not embedded against GKE)
    comparable = [(p, d) for p, d in documents if d.get("cluster") == outcome.cluster and d.get("ready") is not False]
    if not comparable:
        display(Markdown(f"No previous ready run of this profile on `{outcome.cluster}` in `{folder}`: nothing "
                         "to compare with yet."))
        return
    runs = [p for p, _ in comparable]
    before = comparable[-1][1]["statistics"]
    changes = [c for c in compare_runs(before, outcome.statistics) if c.metric == "P50" and c.verdict != "unchanged"]
    if not changes:
        display(Markdown(f"No phase moved beyond run-to-run jitter since run `{runs[-1].parent.name}`."))
        return
    display(HTML(_table(["phase", "before s", "now s", "change", "verdict"],
                        [(c.phase, f"{c.before or 0:.1f}", f"{c.after or 0:.1f}",
                          f"{c.delta_seconds:+.1f}s" if c.delta_seconds is not None else "-", c.verdict)
                         for c in changes],
                        [_STYLE["fail"] if c.verdict == "regressed" else "" for c in changes])))


def verdict(findings: Sequence[Finding] = (), *groups: Outcomes, budgeted: Outcomes = None) -> None:
    """One verdict, first on the page: failing invariants (the static ones given, and the live ones of every
    recommended scenario), unexpected outcomes with their root cause and fix (a trap nobody asked for, an expected
    failure that did not happen, a warm buffer that never held its node) and budget overruns of the `budgeted`
    outcomes (the recommended runs, whose budgets the profile sets; never ready counts as over). Raises
    RunbookFailed so papermill stops and `coldstart run` exits 1."""
    _verdict.verdict(findings, measured(*groups), measured(budgeted))
