"""The report's figures say what the timeline says: bars where the phases are, as long as they lasted, failures
drawn as failures, a title for screen readers, and a tooltip with each bar's exact seconds."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest

from coldstart.profiles import load_profile
from coldstart.runbooks import abtest, experiments, figures, runbook
from coldstart.runbooks.svg import nice_ticks
from coldstart.runbooks.verdict import root_cause
from coldstart.timeline.model import PodTimeline, Reason, Span, Timeline

NS = {"svg": "http://www.w3.org/2000/svg"}


def _parse(markup: str) -> ElementTree.Element:
    root = ElementTree.fromstring(markup)  # well-formed, or this raises
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("role") == "img"
    return root


def _bars(root: ElementTree.Element) -> dict[str, list[float]]:
    """Tooltip head (e.g. 'compile') -> the widths of the bars that carry it."""
    found: dict[str, list[float]] = {}
    for rect in root.iter("{http://www.w3.org/2000/svg}rect"):
        tip = rect.find("svg:title", NS)
        if tip is not None and tip.text:
            found.setdefault(tip.text.split(":")[0], []).append(float(rect.get("width", 0)))
    return found


def _texts(root: ElementTree.Element) -> list[str]:
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.fixture(scope="module")
def rollout() -> runbook.Outcome:
    return runbook.rollout(load_profile("baseline"))


def test_a_real_rollouts_waterfall_draws_each_phase_as_long_as_it_lasted(rollout: runbook.Outcome):
    first, warm = rollout.replicas
    root = _parse(figures.waterfall(rollout.timeline, "recommended: cold start per replica").markup)
    assert root.find("svg:title", NS).text == "recommended: cold start per replica"
    bars = _bars(root)
    assert {"compile", "weights load", "graph capture", "api ready"} <= set(bars)
    # the warm start is drawn first (fastest first); its compile bar is as much shorter as its compile was
    warm_compile, cold_compile = bars["compile"]
    expected = warm.pod.phases["compile"].seconds / first.pod.phases["compile"].seconds
    assert warm_compile / cold_compile == pytest.approx(expected, rel=0.05)
    texts = _texts(root)
    assert f"{first.time_to_ready:.0f}s" in texts and f"{warm.time_to_ready:.0f}s" in texts
    assert first.pod.pod.rpartition("/")[2] in texts  # each row is labelled with its pod


def _pod(name: str, ready: float | None, reasons: list[Reason]) -> PodTimeline:
    phases = {"scheduling": Span(0, 1), "container_start": Span(2, 4), "weights_load": Span(5, 30)}
    return PodTimeline(pod=f"ns/{name}", phases=phases, reasons=reasons, time_to_ready_seconds=ready)


def test_a_replica_that_never_became_ready_is_hatched_and_says_so():
    killed = Reason("OOMKilled", "container was OOMKilled", at=31.0)
    scaled_down = Reason("Killing", "Stopping container", at=400.0)  # after Ready: the scale to zero, no trouble
    timeline = Timeline(pods=[_pod("fine", 40.0, [scaled_down]), _pod("broken", None, [killed])])
    root = _parse(figures.waterfall(timeline).markup)
    hatched = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("fill") == "url(#hatch)"]
    assert len(hatched) == 2  # the band of the broken replica, and its legend entry
    markers = [p.find("svg:title", NS).text for p in root.iter("{http://www.w3.org/2000/svg}polygon")
               if p.find("svg:title", NS) is not None]
    assert markers == ["OOMKilled at 31 s"]
    assert "never ready" in _texts(root) and "restart / kill / OOM" in _texts(root)
    width = float(root.get("width"))
    assert all(float(r.get("x", 0)) + float(r.get("width", 0)) <= width for r in root.iter(
        "{http://www.w3.org/2000/svg}rect"))  # nothing drawn outside the figure (the kill at 400 s is not drawn)


def test_a_failed_scenario_in_a_comparison_names_its_cause_shortened_with_all_of_it_in_the_tooltip():
    cause = ("vLLM nccl: Error while creating shared memory segment /dev/shm/nccl-abc (size 9637888) -> fix: mount "
             "a 16Gi Memory emptyDir at /dev/shm")
    rows = [("recommended", _pod("a", 40.0, []), 40.0, None), ("TP=2", _pod("b", None, []), None, cause)]
    root = _parse(figures.comparison(rows).markup)
    texts = _texts(root)
    assert f"failed: {cause[:figures.NOTE - 1]}\u2026" in texts
    tips = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    assert cause in tips  # the hatched band's tooltip
    assert "40s" in texts and "recommended" in texts and "TP=2" in texts


def test_the_ab_figure_names_the_root_cause_of_a_real_failed_scenario(monkeypatch):
    """Through abtest.compare: the row of a scenario that failed says why (the vLLM log's failure), not which wait
    gave up."""
    profile = load_profile("baseline")
    shm = next(s for s in experiments.runtime_traps(profile) if "64Mi" in s.name)
    failed = runbook.run(shm)
    shown: list = []
    monkeypatch.setattr(abtest, "show", shown.append)
    monkeypatch.setattr(abtest, "display", lambda *objs: None)
    abtest.compare([failed], title="TP=2")
    texts = _texts(_parse(shown[0].markup))
    note = next(t for t in texts if t.startswith("failed: "))
    assert note.startswith("failed: " + root_cause(failed)[:20]) and "replica(s) ready" not in note, note


def test_bars_show_missing_values_as_missing():
    root = _parse(figures.bars([("streamer", 1.6), ("default", 0.8), ("unknown", None)], title="Weight loading",
                               xlabel="GiB/s").markup)
    widths = _bars(root)
    assert widths["streamer"][0] == pytest.approx(2 * widths["default"][0], rel=0.01)
    assert "n/a" in _texts(root) and "unknown" not in widths


@pytest.mark.parametrize(("right", "ticks"), [(100, [0, 20, 40, 60, 80, 100]), (1.7, [0, 0.5, 1.0, 1.5]),
                                              (650, [0, 100, 200, 300, 400, 500, 600])])
def test_ticks_are_round_numbers(right, ticks):
    assert nice_ticks(right) == ticks
