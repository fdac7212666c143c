"""What-if exploration: controls for each lever and the cluster's speed that re-run a scale-from-zero on the
embedded cluster and redraw the waterfall.

Live in Jupyter the controls are interactive: a change re-runs the scale-up when someone presses "Run". In a
static report (`coldstart run` sets COLDSTART_STATIC_REPORT for the kernel) controls would be dead and need a
CDN, so the cell shows what they would show: the profile's own start, then each lever toggled once against
it, measured on the embedded cluster.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from IPython.display import HTML, Markdown, display

from coldstart.levers import variants
from coldstart.levers.render import flatten, render
from coldstart.profiles import Profile, load_profile, profile_with, shipped_profiles
from coldstart.runbooks import figures
from coldstart.runbooks.runbook import Outcome, Scenario, run
from coldstart.runbooks.tables import show, table
from coldstart.runbooks.terminal import STATIC_ENV


@dataclass(frozen=True)
class Knobs:
    """One point of the exploration space (what the controls set)."""

    profile: Profile
    streamer: bool = True
    digest_and_prepull: bool = True
    warm_buffer: int = 1
    cache_on_pvc: bool = True
    eager: bool = False
    utilization: float = 0.75
    image_gb: float = 8.4
    registry_mb_per_s: float = 160.0


def knobs_for(profile: Profile) -> Knobs:
    """The controls' starting values: what the profile itself says."""
    return Knobs(profile=profile, streamer=profile.runtime.loader == "runai_streamer",
                 warm_buffer=profile.nodes.warm_buffer, eager=profile.runtime.enforce_eager,
                 utilization=profile.runtime.gpu_memory_utilization,
                 image_gb=round(profile.image.compressed_bytes / 1e9, 1),
                 registry_mb_per_s=profile.kinetics.registry_mb_per_s)


def scenario(knobs: Knobs) -> Scenario:
    """The scale-from-zero these knobs describe."""
    profile = profile_with(knobs.profile, {
        "runtime.loader": "runai_streamer" if knobs.streamer else "auto",
        "nodes.warm_buffer": knobs.warm_buffer, "runtime.enforce_eager": knobs.eager,
        "runtime.gpu_memory_utilization": knobs.utilization,
        "image.compressed_bytes": int(knobs.image_gb * 1e9),
        "kinetics.registry_mb_per_s": knobs.registry_mb_per_s})
    docs = flatten(render(profile))
    if not knobs.digest_and_prepull:
        docs = variants.by_tag(variants.without_prepull(docs))
    if not knobs.cache_on_pvc:
        docs = variants.with_cache_on_emptydir(docs)
    return Scenario("what-if", profile, docs=docs, expect_ready=True, timeout=3600)


def describe(outcome: Outcome) -> str:
    if outcome.ready and outcome.time_to_ready is not None:
        floor = outcome.floor.total_seconds if outcome.floor is not None else 0.0
        return f"**{outcome.time_to_ready:.0f} s** from scale-up to /health (floor {floor:.0f} s)."
    return f"**Not ready**: {outcome.failure}"


def simulate(knobs: Knobs) -> Outcome:
    return run(scenario(knobs), "embedded")


# Each lever toggled once: (what the row says, the knobs it changes).
TOGGLES: dict[str, tuple[str, dict[str, Any]]] = {
    "streamer": ("vLLM's default loader instead of the Run:ai streamer", {"streamer": False}),
    "digest_and_prepull": ("images by tag with Always, no pre-pull", {"digest_and_prepull": False}),
    "warm_buffer": ("no warm buffer: a new node for the replica", {"warm_buffer": 0}),
    "cache_on_pvc": ("compile cache on an emptyDir", {"cache_on_pvc": False}),
    "eager": ("--enforce-eager (no compile, no graphs)", {"eager": True}),
    "utilization": ("GPU memory utilization 0.9 (vLLM's default)", {"utilization": 0.9}),
}


def what_if_table(start: Knobs, toggles: list[str], base: Outcome | None = None) -> list[tuple[str, str, str]]:
    """(what changed, time to ready, against the profile) for the profile's own start and each toggle."""
    base = base or simulate(start)
    rows = [("the profile as it is", _ttr(base), "-")]
    for name in toggles:
        text, change = TOGGLES[name]
        outcome = simulate(replace(start, **change))
        delta = (f"{outcome.time_to_ready - base.time_to_ready:+.0f} s" if outcome.time_to_ready and base.time_to_ready
                 else "-")
        rows.append((text, _ttr(outcome), delta))
    return rows


def _ttr(outcome: Outcome) -> str:
    return f"{outcome.time_to_ready:.0f} s" if outcome.ready and outcome.time_to_ready else "not ready"


def widget(profile: Profile | str = "baseline", *, toggles: list[str] | None = None, **overrides: Any) -> None:
    """The controls and the waterfall for the starting values (overrides set any knob); in a static report, the
    table of `toggles` (default: every lever) instead of controls that cannot run there."""
    start = knobs_for(load_profile(profile) if isinstance(profile, str) else profile)
    start = Knobs(**{**start.__dict__, **overrides})
    if os.environ.get(STATIC_ENV):
        first = simulate(start)
        display(Markdown("With the profile's own values: " + describe(first)))
        show(figures.waterfall(first.timeline, "what-if (starting values): cold start per replica"))
        rows = what_if_table(start, list(toggles or TOGGLES), first)
        display(Markdown("**What if?** Each lever toggled once against this profile, measured on the embedded "
                         "cluster (open the notebook in Jupyter to change the knobs yourself):"))
        display(HTML(table(["what changed", "time to ready", "against the profile"], rows)))
        return
    import ipywidgets as w  # start-up cost: only the widget needs it, not every runbook that imports explore

    # the profile being explored (a user's own, with its namespace) first, then the shipped ones
    choices = {start.profile.name: start.profile}
    choices.update({name: load_profile(name) for name in shipped_profiles() if name not in choices})
    controls = {
        "profile": w.Dropdown(options=list(choices.items()), value=start.profile, description="profile"),
        "streamer": w.Checkbox(value=start.streamer, description="Run:ai streamer"),
        "digest_and_prepull": w.Checkbox(value=start.digest_and_prepull, description="digests + pre-pull"),
        "warm_buffer": w.IntSlider(value=start.warm_buffer, min=0, max=4, description="warm buffer"),
        "cache_on_pvc": w.Checkbox(value=start.cache_on_pvc, description="compile cache on PVC"),
        "eager": w.Checkbox(value=start.eager, description="--enforce-eager"),
        "utilization": w.FloatSlider(value=start.utilization, min=0.5, max=0.95, step=0.05,
                                     description="GPU mem util"),
        "image_gb": w.FloatSlider(value=start.image_gb, min=1, max=20, step=0.5, description="image GB"),
        "registry_mb_per_s": w.FloatSlider(value=start.registry_mb_per_s, min=20, max=1000, step=20,
                                           description="registry MB/s"),
    }
    button, output = w.Button(description="Run", button_style="primary"), w.Output()

    def rerun(_: Any) -> None:
        knobs = Knobs(**{name: c.value for name, c in controls.items()})
        with output:
            output.clear_output(wait=True)
            outcome = simulate(knobs)
            display(Markdown(describe(outcome)))
            show(figures.waterfall(outcome.timeline, "what-if: cold start"))

    button.on_click(rerun)
    display(w.VBox([w.HBox(list(controls.values())[:5], layout=w.Layout(flex_flow="row wrap")),
                    w.HBox(list(controls.values())[5:] + [button], layout=w.Layout(flex_flow="row wrap")), output]))
    first = simulate(start)
    display(Markdown("With the values above: " + describe(first)))
    show(figures.waterfall(first.timeline, "what-if (starting values): cold start per replica"))
