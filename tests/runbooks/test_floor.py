"""The floor is a floor: no replica of any experiment of any shipped profile starts faster than it.

Every scenario of every lever's experiment (and the naive deployment) runs on the embedded cluster; each replica
that became ready is held against the floor of the work it did (coldstart.timeline.floor): efficiency never
above 100%. The floor changes with what the replica did: no image term when the image was already on the node,
the warm compile cost when the compile cache was hit, no compile or graphs with --enforce-eager.
"""

from __future__ import annotations

import pytest

from coldstart.profiles import load_profile, shipped_profiles
from coldstart.runbooks import experiments, runbook
from coldstart.runbooks.measure import replicas


def _experiments(profile_name: str) -> list[tuple[str, runbook.Scenario]]:
    p = load_profile(profile_name)
    found = [("weight_load", s) for s in experiments.weight_load(p)]
    found += [("image_pull", s) for s in experiments.image_pull(p)]
    found += [("node_warmup", s) for s in experiments.node_warmup(p)]
    found += [("runtime_traps", s) for s in experiments.runtime_traps(p)]
    found += [("runtime_compile", s) for s in experiments.runtime_compile(p)]
    return [*found, ("naive", experiments.naive(p))]


CASES = [(name, experiment, scenario.name) for name in shipped_profiles()
         for experiment, scenario in _experiments(name)]


@pytest.mark.parametrize(("profile_name", "experiment", "scenario_name"), CASES)
def test_measured_time_to_ready_is_never_below_the_floor(profile_name, experiment, scenario_name):
    scenario = dict((s.name, s) for e, s in _experiments(profile_name) if e == experiment)[scenario_name]
    outcome = runbook.run(scenario, "embedded")
    measured = [r for r in replicas(scenario.profile, scenario.manifests(), outcome.timeline) if r.time_to_ready]
    if scenario.expect_ready:
        assert measured, f"{scenario_name}: no replica became ready ({outcome.failure})"
    for replica in measured:
        assert replica.time_to_ready >= replica.floor.total_seconds, (
            f"{scenario_name} {replica.label}: measured {replica.time_to_ready:.1f}s below its floor "
            f"{replica.floor.total_seconds:.1f}s: {replica.floor.terms}")
        assert replica.efficiency is not None and 0 < replica.efficiency <= 1.0


def test_the_floor_follows_what_the_replica_did():
    """A second replica on a warm node with a warm compile cache has a lower floor than the first start."""
    p = load_profile("baseline")
    scenario = runbook.Scenario("1st and 2nd", p, replicas=[1, 0, 1], recommended=True)
    first, second = replicas(p, scenario.manifests(), runbook.run(scenario, "embedded").timeline)
    names = lambda r: {t.name: t.seconds for t in r.floor.terms}  # noqa: E731
    assert names(first)["torch.compile"] > names(second)["torch.compile"]  # cold vs warm cache
    assert second.floor.total_seconds < first.floor.total_seconds
    eager = load_profile("baseline")
    from coldstart.profiles import profile_with

    eager = profile_with(eager, {"runtime.enforce_eager": True})
    (only,) = replicas(eager, runbook.Scenario("eager", eager).manifests(),
                       runbook.run(runbook.Scenario("eager", eager), "embedded").timeline)
    assert "torch.compile" not in names(only) and "CUDA graphs" not in names(only)
