"""What-if exploration: controls for each lever and the cluster's speed that re-run a scale-from-zero on the
embedded cluster and redraw the waterfall.

Under papermill (or in a static report) the cell renders once, with the parameters' values, and never
blocks: the controls are displayed, the first run's waterfall is displayed as a plain figure, and runs
after a change go to the widget's own output area when someone presses "Run".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from IPython.display import Markdown, display

from coldstart.levers import variants
from coldstart.levers.render import flatten, render
from coldstart.profiles import Profile, load_profile, profile_with, shipped_profiles
from coldstart.runbooks import figures
from coldstart.runbooks.report import show
from coldstart.runbooks.runbook import Outcome, Scenario, run


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


def widget(profile: Profile | str = "baseline", **overrides: Any) -> None:
    """Display the controls and the waterfall for the starting values (overrides set any knob)."""
    import ipywidgets as w  # start-up cost: only the widget needs it, not every runbook that imports explore

    start = knobs_for(load_profile(profile) if isinstance(profile, str) else profile)
    start = Knobs(**{**start.__dict__, **overrides})
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
