"""Timelines computed from what the embedded cluster wrote (events, pod status, vLLM logs, read back over HTTP
by the live recorder) match the simulation's ground truth, phase by phase."""

from __future__ import annotations

import pytest

from coldstart.profiles import load_profile, profile_with
from coldstart.runbooks import experiments, runbook

# Events and conditions carry whole seconds (metav1.Time); vLLM log lines carry sub-second stamps.
TOLERANCE_SECONDS = 1.6


def _compare(outcome):
    assert outcome.truth, "the embedded cluster records ground truth"
    compared = 0
    for pod in outcome.timeline.pods:
        namespace, _, name = pod.pod.rpartition("/")
        truth = outcome.truth.get((namespace, name))
        if truth is None or pod.t0 is None:
            continue
        created = pod.t0.timestamp()
        for phase, (start, end) in truth.phases.items():
            span = pod.phases.get(phase)
            assert span is not None, f"{name}: phase {phase} happened ({end - start:.1f}s) but the timeline lacks it"
            assert span.seconds == pytest.approx(end - start, abs=TOLERANCE_SECONDS), (name, phase)
            assert span.start == pytest.approx(start - created, abs=TOLERANCE_SECONDS), (name, phase)
            compared += 1
    return compared


@pytest.mark.parametrize("profile", ["baseline", "gke"])
def test_recommended_rollout_matches_ground_truth(profile):
    outcome = runbook.run(runbook.Scenario("recommended", load_profile(profile), replicas=3))
    assert outcome.ready, outcome.failure
    assert len([p for p in outcome.timeline.pods if not p.victim]) == 3
    assert _compare(outcome) >= 3 * 6  # scheduling, container start, weights, compile, graphs, engine, api


def test_cold_node_with_pulls_and_default_loader_matches_ground_truth():
    cold = profile_with(load_profile("baseline"), {"nodes.warm_buffer": 0, "runtime.loader": "auto"})
    outcome = runbook.run(runbook.Scenario("cold", cold, warm_up=False))
    assert outcome.ready, outcome.failure
    pod = outcome.timeline.pods[0]
    assert {"scheduling", "image_pull", "weights_load", "compile"} <= set(pod.phases)
    assert pod.phases["scheduling"].seconds > cold.kinetics.node_boot_seconds  # waited for a new node
    assert _compare(outcome) >= 8


def test_naive_deployment_matches_ground_truth():
    outcome = runbook.run(experiments.naive(load_profile("baseline")))
    assert outcome.ready, outcome.failure
    assert _compare(outcome) >= 6
