"""What the runbooks show, and how a runbook becomes a report.

In a notebook these functions display tables and figures with a sentence on what they mean; `verdict`
sums up and fails the notebook loudly when an invariant fails, a trap fires that was not run on purpose,
or a budget is overrun (the verdict is also written into the slot `verdict_slot` reserved at the top, so
the report opens with it). `run_notebook` wraps papermill and nbconvert for `coldstart run`.
"""

from __future__ import annotations

import html
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from IPython.display import HTML, Markdown, display

from coldstart import __version__, figures
from coldstart.errors import ColdstartError, InputError
from coldstart.invariants import LEVERS, Finding, summarize
from coldstart.phases import PHASE_NAMES
from coldstart.runbook import Outcome
from coldstart.stats import compare_runs
from coldstart.timings import read_timings, write_timings

_STYLE = {"pass": "color:#1b5e20", "fail": "color:#b71c1c;font-weight:bold", "n/a": "color:#757575"}
_verdict_handle: Any = None


class RunbookFailed(ColdstartError):
    """The runbook's verdict is a failure: papermill stops here and exits non-zero."""


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], styles: Sequence[str] | None = None) -> str:
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        style = f" style='{styles[i]}'" if styles and styles[i] else ""
        body.append("<tr>" + "".join(f"<td{style}>{html.escape(str(c))}</td>" for c in row) + "</tr>")
    return f"<table class='coldstart'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def verdict_slot() -> None:
    """Reserve the place at the top of the report where `verdict` writes its summary."""
    global _verdict_handle
    _verdict_handle = display(Markdown("*Verdict pending: the runbook has not finished.*"), display_id=True)


def header(profile: Any, cluster: str, run_id: str | None = None) -> None:
    """Which profile, cluster and versions produced this report."""
    import kubernetes

    rows = [("profile", profile.name), ("cluster", cluster), ("run id", run_id or "-"),
            ("model", profile.model.name), ("vLLM image", profile.image.vllm),
            ("coldstart", __version__), ("kubernetes client", kubernetes.__version__),
            ("python", platform.python_version()), ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))]
    display(HTML(_table(["", ""], rows)))


def plan(applied: Sequence[Any]) -> None:
    """The server's dry run: what applying would create, change (which fields) or leave alone."""
    display(HTML(_table(["object", "would be", "fields"], [
        (a.object, a.action, ", ".join(a.changes[:6]) + (" ..." if len(a.changes) > 6 else "")) for a in applied])))


def invariants(findings: Sequence[Finding], title: str = "Invariants") -> None:
    """The invariant table, grouped by lever, failures first within each lever."""
    order = {lever: i for i, lever in enumerate(LEVERS)}
    from coldstart.invariants import INVARIANTS

    def lever(f: Finding) -> str:
        inv = INVARIANTS.get(f.invariant)
        return inv.lever if inv is not None else "cluster"

    rank = {"fail": 0, "pass": 1, "n/a": 2}
    rows = sorted(findings, key=lambda f: (order.get(lever(f), 9), rank[f.status], f.invariant))
    counts = summarize(findings)
    display(HTML(f"<h4>{html.escape(title)}: {counts['fail']} fail, {counts['pass']} pass, {counts['n/a']} n/a</h4>"
                 + _table(["lever", "invariant", "status", "object", "container", "message"],
                          [(LEVERS.get(lever(f), lever(f)), f.invariant, f.status.upper(), f.object,
                            f.container or "-", f.message) for f in rows],
                          [_STYLE[f.status] for f in rows])))


def timeline(outcome: Outcome, title: str | None = None) -> None:
    """The waterfall of every replica, then the per-phase quantiles across replicas."""
    display(figures.waterfall(outcome.timeline, title or f"{outcome.scenario.name}: cold start per replica"))
    quantiles(outcome)


def quantiles(outcome: Outcome) -> None:
    names = [n for n in (*PHASE_NAMES, "time_to_ready") if n in outcome.statistics]
    rows = [(n, outcome.statistics[n].get("count", 0), *(f"{outcome.statistics[n].get(m, 0):.1f}"
                                                          for m in ("P50", "P95", "P99", "max"))) for n in names]
    display(HTML(_table(["phase", "replicas", "P50 s", "P95 s", "P99 s", "max s"], rows)))


def budgets(outcome: Outcome) -> None:
    """Every budget overrun named; nothing to say when all phases are inside the profile's budgets."""
    if not outcome.overruns:
        display(Markdown(f"All phases within the budgets of profile `{outcome.scenario.profile.name}`."))
        return
    display(HTML(_table(["phase", "metric", "measured s", "budget s", "over"],
                        [(o.phase, o.metric, f"{o.value:.1f}", f"{o.budget:.0f}",
                          f"+{o.over_seconds:.1f}s ({o.over_percent:.0f}%)") for o in outcome.overruns],
                        [_STYLE["fail"]] * len(outcome.overruns))))


def floor(outcome: Outcome) -> None:
    f = outcome.floor
    eff = f"{outcome.efficiency:.0%}" if outcome.efficiency else "n/a"
    display(HTML(_table(["physical floor", "seconds"], [
        ("image bytes / pull bandwidth", f"{f.image_seconds:.1f}"),
        ("weight bytes / storage and loader rate", f"{f.weights_seconds:.1f}"),
        ("irreducible engine init", f"{f.engine_seconds:.1f}"),
        ("floor", f"{f.total_seconds:.1f}"),
        ("measured P50 time to ready", f"{outcome.time_to_ready:.1f}" if outcome.time_to_ready else "n/a"),
        ("efficiency (floor / measured)", eff)])))


def _phase_p50(outcome: Outcome) -> dict[str, float]:
    return {n: outcome.statistics[n]["P50"] for n in PHASE_NAMES if outcome.statistics.get(n, {}).get("P50")}


def compare(outcomes: Sequence[Outcome], title: str = "Time to /health") -> None:
    """Side by side: a stacked bar per scenario and a table with time to ready and the ratio to the first."""
    rows = [(o.scenario.name, _phase_p50(o), o.time_to_ready, o.failure) for o in outcomes]
    display(figures.comparison(rows, title))
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


def save(outcome: Outcome, out_dir: str | Path) -> Path:
    """Write timings.json for this outcome (validated against the schema)."""
    return write_timings(Path(out_dir) / "timings.json", outcome.timeline, profile=outcome.scenario.profile,
                         run_id=outcome.run_id)


def previous(outcome: Outcome, out_root: str | Path = "outputs") -> None:
    """What changed since the last run of the same profile in outputs/ (if there is one)."""
    runs = sorted((Path(out_root) / outcome.scenario.profile.name).glob("*/timings.json"),
                  key=lambda p: p.stat().st_mtime)
    runs = [p for p in runs if p.parent.name != outcome.run_id]
    if not runs:
        display(Markdown("No previous run of this profile in `outputs/`: nothing to compare with yet."))
        return
    before = read_timings(runs[-1])["statistics"]
    changes = [c for c in compare_runs(before, outcome.statistics) if c.metric == "P50" and c.verdict != "unchanged"]
    if not changes:
        display(Markdown(f"No phase moved beyond run-to-run jitter since run `{runs[-1].parent.name}`."))
        return
    display(HTML(_table(["phase", "before s", "now s", "change", "verdict"],
                        [(c.phase, f"{c.before or 0:.1f}", f"{c.after or 0:.1f}",
                          f"{c.delta_seconds:+.1f}s" if c.delta_seconds is not None else "-", c.verdict)
                         for c in changes],
                        [_STYLE["fail"] if c.verdict == "regressed" else "" for c in changes])))


@dataclass
class Verdict:
    ok: bool
    reasons: list[str]


def verdict(findings: Sequence[Finding] = (), outcomes: Sequence[Outcome] = (), *,
            budgeted: Sequence[Outcome] = ()) -> Verdict:
    """One verdict: failing invariants, unexpected outcomes (a trap nobody asked for, or an expected failure
    that did not happen) and budget overruns of the `budgeted` outcomes (the recommended runs, whose budgets
    the profile sets). Raises RunbookFailed so papermill stops and exits non-zero."""
    reasons = [f"invariant {f.invariant} fails on {f.object}: {f.message}" for f in findings if f.status == "fail"]
    for o in [*outcomes, *[b for b in budgeted if b not in outcomes]]:
        if not o.as_expected:
            reasons.append(f"scenario '{o.scenario.name}' " + (f"failed: {o.failure}" if o.failure else
                                                             "became ready although it runs a trap on purpose"))
    for o in budgeted:
        reasons += [f"budget of '{o.scenario.name}': {ov.describe()}" for ov in o.overruns]
    on_purpose = [o.scenario.name for o in outcomes if not o.scenario.expect_ready]
    purpose = f" Traps run on purpose (expected to fail): {', '.join(on_purpose)}." if on_purpose else ""
    text = ("**Verdict: PASS.** Every invariant holds and every scenario behaved as expected." + purpose if not reasons
            else "**Verdict: FAIL.**\n\n" + "\n".join(f"- {r}" for r in reasons))
    if _verdict_handle is not None:
        _verdict_handle.update(Markdown(text))
    display(Markdown(text))
    result = Verdict(not reasons, reasons)
    if not result.ok:
        raise RunbookFailed("runbook verdict FAIL: " + "; ".join(reasons))
    return result


# ---------------------------------------------------------------------------------------------------
# coldstart run: papermill + nbconvert

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_SHOWN_INPUT_TAGS = {"parameters", "injected-parameters"}


@dataclass
class RunResult:
    notebook: Path
    html: Path
    timings: Path | None
    ok: bool
    error: str | None


def notebook_path(name: str) -> Path:
    """A notebook stem (`rollout`, `weight_load`) or a path to an .ipynb."""
    path = Path(name)
    if path.suffix != ".ipynb":
        path = NOTEBOOKS / f"{name}.ipynb"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")))
        raise InputError(f"notebook {name!r} not found; known runbooks: {known}")
    return path


def _param(value: str) -> Any:
    """`-p key value` values typed the way papermill's CLI types them (YAML scalars)."""
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def to_html(executed: Path, out: Path) -> Path:
    """HTML with code hidden except the parameters cells, so the report says what produced it."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "code" and not tags & _SHOWN_INPUT_TAGS:
            cell.metadata["tags"] = sorted(tags | {"remove_input"})
    exporter = HTMLExporter(exclude_input_prompt=True, exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"remove_input"}, enabled=True), True)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": executed.stem}})
    out.write_text(body)
    return out


def run_notebook(notebook: str, *, profile: str, cluster: str = "embedded", params: dict[str, str] | None = None,
                 out_root: str | Path = "outputs") -> RunResult:
    """Validate every input, execute the runbook with papermill, render its HTML report into
    outputs/<profile>/<run-id>/ and say whether its verdict passed."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from coldstart.cluster import check_allowed, new_run_id, parse_target
    from coldstart.profiles import load_profile

    source = notebook_path(notebook)
    loaded = load_profile(profile)  # bad input stops here: nothing applied, exit 2
    check_allowed(parse_target(cluster), loaded)
    run_id = new_run_id()
    out_dir = Path(out_root) / loaded.name / run_id
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = out_dir / f"{source.stem}.ipynb"
    parameters = {"profile": profile, "cluster": cluster, "run_id": run_id, "output_dir": str(out_dir),
                  **{k: _param(v) for k, v in (params or {}).items()}}
    error = None
    try:
        papermill.execute_notebook(str(source), str(executed), parameters=parameters, kernel_name="python3",
                                   log_output=True, progress_bar=False, cwd=str(source.parent.parent))
    except PapermillExecutionError as exc:
        error = f"{exc.ename}: {exc.evalue}"
    html_path = to_html(executed, out_dir / f"{source.stem}.html")
    timings = out_dir / "timings.json"
    return RunResult(executed, html_path, timings if timings.exists() else None, error is None, error)
