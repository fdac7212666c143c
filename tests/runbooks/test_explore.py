"""The what-if widget: any profile (a user's own too), knobs that really change the simulated run."""

from __future__ import annotations

from dataclasses import replace

from coldstart.profiles import load_profile, profile_with
from coldstart.runbooks import explore
from coldstart.runbooks.terminal import STATIC_ENV


def _user_profile(tmp_path):
    path = tmp_path / "team-a.yaml"
    path.write_text("extends: baseline\nnamespace: team-a\nnodes: {warm_buffer: 2}\n")
    return load_profile(path)


def test_knobs_start_from_the_profile_and_keep_it(tmp_path):
    profile = _user_profile(tmp_path)
    knobs = explore.knobs_for(profile)
    assert knobs.profile is profile and knobs.warm_buffer == 2
    scenario = explore.scenario(knobs)
    assert scenario.profile.namespace == "team-a" and scenario.profile.name == "team-a"


def test_knobs_change_the_run():
    base = explore.knobs_for(profile_with(load_profile("baseline"), {"kinetics.jitter": 0}))
    fast = explore.simulate(base)
    cold = explore.simulate(replace(base, warm_buffer=0))
    broken = explore.simulate(replace(base, utilization=0.9))
    assert fast.ready and cold.ready and not broken.ready
    assert cold.time_to_ready > fast.time_to_ready + base.profile.kinetics.node_boot_seconds
    assert "Not ready" in explore.describe(broken)


def test_widget_renders_once_for_a_user_profile(tmp_path, monkeypatch):
    shown = []
    monkeypatch.delenv(STATIC_ENV, raising=False)  # live Jupyter: controls, not the static table
    monkeypatch.setattr(explore, "display", lambda *objs: shown.extend(objs))
    monkeypatch.setattr(explore, "show", shown.append)
    explore.widget(_user_profile(tmp_path))  # renders the controls and the first run once; nothing blocks
    controls, verdict, figure = shown
    assert controls.children[0].children[0].value.name == "team-a"  # the dropdown holds the user's profile
    assert "from scale-up to /health" in verdict.data and "what-if" in figure.title and "<rect" in figure.markup
