"""What the runbooks show, and how a runbook becomes a report.

In a notebook these functions display tables and figures with a sentence on what they mean; `verdict`
sums up and fails the notebook loudly when an invariant fails, a trap fires that was not run on purpose,
or a budget is overrun (the verdict is also written into the slot `verdict_slot` reserved at the top, so
the report opens with it; see coldstart.runbooks.verdict).
"""

from __future__ import annotations

import html
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version as _version
from pathlib import Path
from typing import Any

from IPython.display import HTML, Markdown, display

from coldstart import __version__
from coldstart.errors import ColdstartError
from coldstart.live.cluster import Applied
from coldstart.profiles import Profile
from coldstart.profiles.phases import PHASE_NAMES
from coldstart.runbooks import figures
from coldstart.runbooks import verdict as _verdict
from coldstart.runbooks.abtest import compare, headline
from coldstart.runbooks.diagnose import Diagnosis
from coldstart.runbooks.evidence import compile_cache, failures, pulls, scheduling, weights
from coldstart.runbooks.runbook import Outcome
from coldstart.runbooks.tables import STYLE, Outcomes, dry, measured, show, table
from coldstart.runbooks.verdict import verdict_html, verdict_slot
from coldstart.timeline.history import Cell, compare_replicas, differs, noise_band
from coldstart.timeline.timings import read_timings, replica_json, write_timings
from coldstart.verify import INVARIANTS, Finding, summarize
from coldstart.verify.findings import LEVERS

__all__ = ["budgets", "compare", "compile_cache", "failures", "fixes", "floor", "header", "headline", "invariants",
           "plan", "previous", "pulls", "save", "scheduling", "show", "starts", "timeline", "verdict", "verdict_slot",
           "weights"]

def header(profile: Profile, cluster: str, run_id: str | None = None) -> None:
    """Which profile, cluster and versions produced this report, and where its seconds come from."""
    rows = [("profile", profile.name), ("cluster", cluster), ("run id", run_id or "-"),
            ("model", profile.model.name), ("vLLM image", profile.image.vllm),
            ("coldstart", __version__), ("kubernetes client", _version("kubernetes")),
            ("python", platform.python_version()), ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
            ("seconds", "simulated by the embedded cluster from the profile's kinetics (the public source of each "
                        "figure is written beside it in the shipped profiles, params/*.yaml)" if cluster == "embedded"
                        else f"the API server's timestamps and vLLM's log on {cluster}")]
    display(HTML(table(["", ""], rows)))


def plan(applied: Sequence[Applied]) -> None:
    """The server's dry run: what applying would create, change (which fields) or leave alone."""
    display(HTML(table(["object", "would be", "fields"], [
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
                 + table(["lever", "invariant", "status", "object", "container", "message"],
                          [(LEVERS.get(lever_of(f), lever_of(f)), f.invariant, f.status.upper(), f.object,
                            f.container or "-", f.message) for f in rows],
                          [STYLE[f.status] for f in rows])))


def timeline(outcome: Outcome | None, title: str | None = None) -> None:
    """The waterfall of every replica, then the per-phase quantiles across replicas."""
    if dry(outcome) or outcome is None:  # _dry said so when None
        return
    show(figures.waterfall(outcome.timeline, title or f"{outcome.scenario.name}: cold start per replica"))
    quantiles(outcome)


def quantiles(outcome: Outcome) -> None:
    names = [n for n in (*PHASE_NAMES, "time_to_ready") if n in outcome.statistics]
    rows = [(n, outcome.statistics[n].get("count", 0), *(f"{outcome.statistics[n].get(m, 0):.1f}"
                                                          for m in ("P50", "P95", "P99", "max"))) for n in names]
    display(HTML(table(["phase", "replicas", "P50 s", "P95 s", "P99 s", "max s"], rows)))


def budgets(outcome: Outcome) -> None:
    """Every budget overrun named; nothing to say when all phases are inside the profile's budgets."""
    if dry(outcome):
        return
    if not outcome.overruns:
        display(Markdown(f"All phases within the budgets of profile `{outcome.scenario.profile.name}`."))
        return
    display(HTML(table(["phase", "metric", "measured s", "budget s", "over"],
                        [(o.phase, o.metric, f"{o.value:.1f}", f"{o.budget:.0f}",
                          f"+{o.over_seconds:.1f}s ({o.over_percent:.0f}%)") for o in outcome.overruns],
                        [STYLE["fail"]] * len(outcome.overruns))))


def floor(outcome: Outcome) -> None:
    """Each replica against the floor of the work it did (a lower bound by construction; see
    coldstart.timeline.floor): the terms with their numbers and the profile figures they rest on."""
    if dry(outcome):
        return
    if not outcome.replicas:
        display(Markdown("*No replica started: nothing to hold against a floor.*"))
        return
    rows = []
    for r in outcome.replicas:
        ttr = f"{r.time_to_ready:.1f}" if r.time_to_ready else "never ready"
        eff = f"{r.efficiency:.0%}" if r.efficiency else "-"
        rows.append((r.label, ttr, f"{r.floor.total_seconds:.1f}", eff,
                     "; ".join(f"{t.name} {t.seconds:.1f}s" for t in r.floor.terms)))
    display(HTML(table(["replica", "time to ready s", "floor s", "efficiency", "floor terms"], rows)))
    first = outcome.replicas[0].floor
    display(HTML("<details><summary>How the floor is computed</summary>" + table(
        ["term", "seconds", "formula", "profile figure"],
        [(t.name, f"{t.seconds:.1f}", t.formula, t.source) for t in first.terms]) +
        f"<p>Every term is discounted by the profile's jitter ({first.margin:.0%}), so no run beats it. "
        "Scheduling and node boot are not in it: the floor is what the hardware allows once a node is there."
        "</p></details>"))


def _about(outcome: Outcome, runbook: str | None) -> dict[str, Any]:
    """What a timings.json records about the question it answers (with the profile's name: history.IDENTITY)."""
    return {"runbook": runbook, "cluster": outcome.cluster, "scenario": outcome.scenario.name,
            "steps": outcome.scenario.steps()}


def _replicas(outcome: Outcome) -> list[dict[str, Any]]:
    return [replica_json(r.position, r.label, r.pod, r.floor) for r in outcome.replicas]


def save(outcome: Outcome | None, out_dir: str | Path | None, run_id: str | None = None, *,
         runbook: str | None = None) -> None:
    """Write timings.json for this outcome (validated against the schema); no output_dir, nothing written.
    `run_id` is the notebook run's (the folder's name), so a record names the run it is filed under; a scenario
    of `runbook.compare` has its own cluster run id, used when none is given. `runbook` names the notebook, so a
    later run compares only with runs of the same runbook."""
    if not out_dir or outcome is None or outcome.dry_run:
        return
    path = write_timings(Path(out_dir) / "timings.json", outcome.timeline, profile=outcome.scenario.profile,
                         run_id=run_id or outcome.run_id, ready=outcome.ready, replicas=_replicas(outcome),
                         **_about(outcome, runbook))
    display(Markdown(f"Timings written to `{path}`."))


def previous(outcome: Outcome, out_dir: str | Path | None = None, *, runbook: str = "rollout") -> None:
    """What changed since the last comparable run: the same runbook, profile, cluster target, scenario and steps,
    replica position by position, one row per phase, beyond the cluster's noise band. Earlier runs are the
    siblings of this run's folder `out_dir` (outputs/<profile>/<run-id>); without a folder, outputs/<profile>.
    A timings.json that cannot be read is skipped with a one-line note."""
    if dry(outcome):
        return
    here = Path(out_dir) if out_dir else None
    folder = here.parent if here else Path("outputs") / outcome.scenario.profile.name
    identity = {**_about(outcome, runbook), "profile": outcome.scenario.profile.name}
    baseline = None
    # newest first: the first comparable run is the baseline, older files are not read at all
    for path in sorted(folder.glob("*/timings.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        if path.parent == here or path.parent.name == outcome.run_id:
            continue
        try:
            doc = read_timings(path)
        except ColdstartError as exc:
            display(Markdown(f"*Skipped an earlier run: {html.escape(str(exc).splitlines()[0])}*"))
            continue
        if differs(doc, identity) is None:
            baseline = (path, doc)
            break
    if baseline is None:
        display(Markdown(f"No earlier ready run of `{runbook}` with this profile, cluster (`{outcome.cluster}`) and "
                         f"scenario in `{folder}`: nothing to compare with yet."))
        return
    path, before = baseline
    band = noise_band(outcome.cluster)
    rows = compare_replicas(before["replicas"], _replicas(outcome), band)
    labels = list(dict.fromkeys(label for row in rows for label in row.cells))
    moved = [row for row in rows if any(c.verdict != "unchanged" for c in row.cells.values())]
    display(Markdown(f"Against run `{path.parent.name}` (same runbook, profile, cluster and scenario), replica by "
                     f"position. A change counts beyond ±{band.seconds:g} s"
                     + (f" or {band.percent:g}%" if band.percent else "") + f" ({band.why}). "
                     + ("Nothing moved beyond it." if not moved else f"{len(moved)} of {len(rows)} rows moved.")))
    display(HTML(table(["phase", *labels], [(row.phase, *(_cell(row.cells.get(label)) for label in labels))
                                            for row in rows],
                       [STYLE["fail"] if any(c.verdict == "regressed" for c in row.cells.values()) else ""
                        for row in rows])))


def _cell(cell: Cell | None) -> str:
    if cell is None:
        return "-"
    before = "-" if cell.before is None else f"{cell.before:.1f}"
    after = "-" if cell.after is None else f"{cell.after:.1f}"
    change = f" ({cell.delta:+.1f} s)" if cell.delta is not None and cell.verdict != "unchanged" else ""
    return f"{before} → {after}{change} {cell.verdict}"


def verdict(findings: Sequence[Finding] = (), *groups: Outcomes, budgeted: Outcomes = None) -> None:
    """One verdict, first on the page: failing invariants (the static ones given, and the live ones of every
    recommended scenario), unexpected outcomes with their root cause and fix (a trap nobody asked for, an expected
    failure that did not happen, a warm buffer that never held its node) and budget overruns of the `budgeted`
    outcomes (the recommended runs, whose budgets the profile sets; never ready counts as over). Raises
    RunbookFailed so papermill stops and `coldstart run` exits 1."""
    _verdict.verdict(findings, measured(*groups), measured(budgeted))


def fixes(result: Diagnosis) -> None:
    """A diagnosis's first screen: what to change, ranked by what it cost in this cluster's own starts."""
    if not result.fixes:
        display(HTML(verdict_html(True, [], f"Every invariant holds for {len(result.workloads)} workload(s) in "
                                              f"{result.namespace}: nothing to change.")))
        return
    rows = [(i, f.invariant, "broke starts" if f.seconds is None else f"{f.seconds:.0f} s" if f.seconds else "risk",
             f.evidence, f.change, f"coldstart run {f.runbook}") for i, f in enumerate(result.fixes, start=1)]
    display(HTML(f"<h3>What to change first in {html.escape(result.namespace)}</h3>" + table(
        ["#", "invariant", "cost here", "evidence", "change", "proof"], rows,
        [STYLE["fail"] if f.seconds is None else "" for f in result.fixes])))
    for note in result.notes:
        display(Markdown(f"*{note}*"))


def starts(result: Diagnosis) -> None:
    """The recent starts of the diagnosed workloads: the waterfall, then each start against its floor."""
    if not result.replicas:
        display(Markdown("*No start of a vLLM pod is left in the events and pod status (events expire after about "
                         "an hour): run with `watch_seconds` to record the next scale-up.*"))
        return
    show(figures.waterfall(result.timeline, f"{result.namespace}: recent starts"))
    display(HTML(table(["start", "time to ready s", "floor s", "efficiency"], [
        (r.pod.pod.rpartition("/")[2], f"{r.time_to_ready:.0f}" if r.time_to_ready else "never ready",
         f"{r.floor.total_seconds:.0f}", f"{r.efficiency:.0%}" if r.efficiency else "-") for r in result.replicas])))
