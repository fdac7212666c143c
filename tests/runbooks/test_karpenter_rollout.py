"""A rollout on the eks and aks profiles, read back over HTTP by the live recorder: the replica that needs a new node
shows Karpenter's `Nominated`, the timeline marks the scale-up from it, and its phases match the simulation's ground
truth. (The NodeClaim's own events live in the `default` namespace, which the recorder does not watch: the marks
they give are tested on the embedded cluster's events in tests/embedded/test_karpenter.py.)"""

from __future__ import annotations

import pytest

from coldstart.profiles import load_profile, profile_with
from coldstart.runbooks import runbook
from tests.runbooks.test_timeline_truth import _compare

MARKS = ("scale_up", "scheduled", "ready")


@pytest.mark.parametrize("cloud", ["eks", "aks"])
@pytest.mark.parametrize("spot", [True, False], ids=["spot", "spot-unavailable"])
def test_a_cold_scale_up_reads_as_karpenter_provisioning(cloud, spot):
    cold = profile_with(load_profile(cloud), {"nodes.warm_buffer": 0, "kinetics.spot_available": spot})
    outcome = runbook.run(runbook.Scenario("cold", cold, warm_up=False))
    assert outcome.ready, outcome.failure
    (pod,) = [p for p in outcome.timeline.pods if not p.victim]
    marks = [pod.marks[m] for m in MARKS]
    assert marks == sorted(marks), pod.marks
    k = cold.kinetics
    assert pod.marks["scale_up"] <= k.provisioner_batch_seconds + 1
    assert pod.phases["scheduling"].seconds > k.node_boot_seconds + k.driver_install_seconds - 2
    assert _compare(outcome) >= 6
