"""A/B tables that answer each lever's question: by replica position, on the phase the lever changes.

The first start of a scenario and its later starts (warm node, warm caches) are different questions, so each
scenario has a row per position. The headline ratio is on the phase the experiment's lever changes (the pull
for the image lever, the weights for the weight lever, ...) as well as on time to ready. When the recommended
variant loses to an alternative on either, the table says why, with the phases that grew and shrank and the
mechanism behind them, instead of "as expected".
"""

from __future__ import annotations

from collections.abc import Sequence

from IPython.display import HTML, Markdown, display

from coldstart.profiles.physics import storage_gib_per_s
from coldstart.runbooks import figures
from coldstart.runbooks.measure import Replica
from coldstart.runbooks.runbook import Outcome
from coldstart.runbooks.tables import STYLE, Outcomes, measured, show, table
from coldstart.runbooks.verdict import root_cause
from coldstart.timeline.model import PodTimeline

__all__ = ["MECHANISMS", "compare", "explain_loss", "headline", "hyperdisk_crossover_gib"]

# What makes a phase longer, in the words an SRE would check: used to explain a recommended variant that loses.
MECHANISMS = {
    "scheduling": "waiting for a node: a preemption, or a new node's boot and GPU driver install",
    "image_pull": "pulling and unpacking image layers the node did not have",
    "container_start": "what the kubelet does before the container runs: attaching a disk (Hyperdisk ML and other "
                       "PD volumes attach to each new node, kinetics.volume_attach_seconds), mounting, the sandbox",
    "weights_load": "reading the weights: storage read rate against the loader's rate",
    "compile": "torch.compile: cold on a first start or a cache miss, loaded when the cache holds the graphs",
    "graph_capture": "CUDA graph capture",
    "engine_init": "profiling, KV cache, compile and graph capture; with lazily loaded images the imports also "
                   "read from the registry",
    "api_ready": "the API server's start and the readiness probe's period",
}


def hyperdisk_crossover_gib(outcome: Outcome) -> float | None:
    """The model size above which weights on Hyperdisk ML start faster than a modelcar already on the node's
    disk: the attach is paid once per node, the read is faster by the rate difference (same physics as the
    simulation); None when Hyperdisk ML is not faster to read."""
    k = outcome.scenario.profile.kinetics
    fast, local = storage_gib_per_s(k, "hyperdisk_ml"), storage_gib_per_s(k, "disk")
    if fast <= local:
        return None
    return k.volume_attach_seconds / (1 / local - 1 / fast)


def _value(replica: Replica | None, phase: str) -> float | None:
    return replica.phase(phase) if replica is not None else None


def _fmt(value: float | None) -> str:
    return f"{value:.1f}" if value is not None else "-"


def _ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.2f}x" if value and base else "-"


def explain_loss(winner: Replica, loser: Replica, loser_name: str, winner_name: str, phase: str) -> str:
    """Why the recommended `loser` is slower than `winner`: the phases that grew and shrank, and the mechanism of
    the one that grew most."""
    deltas = {name: (_value(loser, name) or 0.0) - (_value(winner, name) or 0.0)
              for name in set(loser.pod.phases) | set(winner.pod.phases)}
    grew = sorted(((n, d) for n, d in deltas.items() if d > 0.5), key=lambda nd: -nd[1])
    shrank = sorted(((n, d) for n, d in deltas.items() if d < -0.5), key=lambda nd: nd[1])
    parts = [f"'{loser_name}' is slower than '{winner_name}' on {phase.replace('_', ' ')}"]
    if grew:
        parts.append("it spends more on " + ", ".join(f"{n} (+{d:.1f}s)" for n, d in grew))
    if shrank:
        parts.append("and less on " + ", ".join(f"{n} ({d:.1f}s)" for n, d in shrank))
    if grew:
        parts.append(f"mechanism: {MECHANISMS.get(grew[0][0], grew[0][0])}")
    return "; ".join(parts)


def compare(*groups: Outcomes, title: str = "Time to /health") -> None:
    """Side by side, a row per scenario and replica position: time to ready and the lever's phase, each with
    its ratio to the first (recommended) scenario at the same position; then every loss of the recommended
    variant explained."""
    outcomes = measured(*groups)
    if not outcomes:
        display(Markdown("*Nothing to compare: no scenario was measured.*"))
        return
    rows: list[tuple[str, PodTimeline | None, float | None, str | None]] = [
        (f"{o.scenario.name} ({r.label})" if len(o.replicas) > 1 else o.scenario.name, r.pod, r.time_to_ready,
             None if r.time_to_ready is not None else root_cause(o) if o.failure else "never ready")
        for o in outcomes for r in (o.replicas or [])]
    rows += [(o.scenario.name, None, None, root_cause(o) if o.failure else "no replica started")
             for o in outcomes if not o.replicas]
    show(figures.comparison(rows, title))
    base = outcomes[0]
    phase = base.scenario.phase
    by_position = {r.position: r for r in base.replicas}
    cells, styles = [], []
    for o in outcomes:
        for r in o.replicas or []:
            ref = by_position.get(r.position)
            ttr, lever = r.time_to_ready, _value(r, phase)
            expected = "as expected" if o.as_expected else "UNEXPECTED"
            on_phase = (_fmt(lever), _ratio(lever, _value(ref, phase))) if phase != "time_to_ready" else ()
            cells.append((o.scenario.name, r.label, o.scenario.note, *on_phase, _fmt(ttr),
                          _ratio(ttr, _value(ref, "time_to_ready")),
                          "ready" if ttr is not None else f"failed: {o.failure or 'never ready'}", expected))
            styles.append(STYLE["pass"] if o.as_expected else STYLE["fail"])
    phase_columns = [f"{phase.replace('_', ' ')} s", "vs first"] if phase != "time_to_ready" else []
    display(HTML(table(["scenario", "replica", "what", *phase_columns, "time to ready s", "vs first", "result",
                        "check"], cells, styles)))
    _explain(outcomes, phase)


def _explain(outcomes: Sequence[Outcome], phase: str) -> None:
    """Every place the recommended (first) scenario loses, on the lever's phase or on time to ready, explained."""
    base = outcomes[0]
    notes = []
    for other in outcomes[1:]:
        if not other.ready or not base.ready:
            continue
        for mine in base.replicas:
            theirs = next((r for r in other.replicas if r.position == mine.position), None)
            if theirs is None or mine.time_to_ready is None or theirs.time_to_ready is None:
                continue
            for what in dict.fromkeys((phase, "time_to_ready")):
                a, b = _value(mine, what), _value(theirs, what)
                if a is not None and b is not None and a > b + 0.5:
                    notes.append(f"{mine.label}: " + explain_loss(theirs, mine, base.scenario.name,
                                                                  other.scenario.name, what))
    crossover = hyperdisk_crossover_gib(base) if base.scenario.profile.gke_feature("hyperdisk_ml") else None
    if crossover is not None and any("balanced disk" in o.scenario.name for o in outcomes):
        gib = base.scenario.profile.model.weight_bytes / 2**30
        notes.append(f"Hyperdisk ML pays its attach on every new node and reads faster: it beats a modelcar already "
                     f"on the node's disk for models above {crossover:.0f} GiB (this model: {gib:.0f} GiB)")
    if notes:
        display(Markdown("**Why the recommended variant is not faster everywhere:**\n\n"
                         + "\n".join(f"- {n}" for n in dict.fromkeys(notes))))


def headline(recommended: Outcome | None, naive: Sequence[Outcome] | Outcome | None) -> None:
    """The speed-up that matters: a scale from zero with caches warm (the event an SRE lives with), recommended
    against every lever off; the first start ever beside it, each labelled."""
    others = measured(naive)
    if recommended is None or recommended.dry_run or not others:
        return
    base = others[0]
    lines: list[str] = []
    for mine in reversed(recommended.replicas):  # the warm start first: it is the headline
        theirs = next((r for r in base.replicas if r.position == mine.position), None)
        if theirs is None:
            continue
        a, b = mine.time_to_ready, theirs.time_to_ready
        what = "Scale from zero with caches warm" if mine.position > mine.first_batch else "First start ever"
        if a and b:
            lines.append(f"**{what}: {a:.0f} s with every lever, {b:.0f} s with none ({b / a:.1f}x faster).**"
                         if not lines else f"{what}: {a:.0f} s vs {b:.0f} s ({b / a:.1f}x).")
    if lines:
        display(Markdown(" ".join(lines) + " The warm start is the headline: it is what every later scale-up "
                         "costs once the node, the images and the compile cache are in place."))
