"""The runbook verdict: what makes it fail, and what a trap run on purpose does not."""

from __future__ import annotations

import pytest

from coldstart.errors import RunbookFailed
from coldstart.profiles import load_profile
from coldstart.runbooks import report
from coldstart.runbooks.runbook import Outcome, Scenario
from coldstart.timeline.build import Timeline
from coldstart.verify import Finding

PROFILE = load_profile("baseline")


def _outcome(name="s", *, ready=True, expect_ready=True, recommended=False, findings=(), warm_up_failure=None,
             expect_warm_up=True, dry_run=False):
    scenario = Scenario(name, PROFILE, expect_ready=expect_ready, recommended=recommended,
                        expect_warm_up=expect_warm_up)
    return Outcome(scenario, "r", "embedded", ready, None if ready else "CrashLoopBackOff", Timeline(), {}, [],
                   [], list(findings), warm_up_failure=warm_up_failure, dry_run=dry_run)


def _fail(invariant="pull-policy-ifnotpresent"):
    return Finding(invariant, "fail", "(cluster)", "ServingRuntime/coldstart/vllm", "kserve-container",
                   "Always (a webhook changed it)")


def test_pass_with_traps_run_on_purpose():
    report.verdict([], _outcome("ok"), [_outcome("trap", ready=False, expect_ready=False)])


@pytest.mark.parametrize(("outcomes", "fragment"), [
    ([_outcome("recommended", recommended=True, findings=[_fail()])], "pull-policy-ifnotpresent"),
    ([_outcome("trap", ready=True, expect_ready=False)], "became ready although it runs a trap"),
    ([_outcome("plain", ready=False)], "scenario 'plain': CrashLoopBackOff"),
    ([_outcome("warm", warm_up_failure="warm buffer holding GPU nodes: timed out")], "warm-up failed"),
])
def test_fails_loudly(outcomes, fragment):
    with pytest.raises(RunbookFailed, match=fragment):
        report.verdict([], outcomes)


def test_live_findings_of_deliberately_broken_scenarios_and_expected_warm_up_failures_do_not_count():
    broken = _outcome("default loader", findings=[_fail("runai-streamer")])  # not the recommended render
    expendable = _outcome("buffer at -20", warm_up_failure="never got a node", expect_warm_up=False)
    report.verdict([], broken, expendable)


def test_dry_runs_and_skipped_scenarios_are_not_judged():
    names = [o.scenario.name for o in report.measured(None, [_outcome("a"), _outcome("b", dry_run=True)],
                                                      _outcome("c"))]
    assert names == ["a", "c"]
    report.verdict([], None, [])


def test_previous_compares_only_with_the_same_question(tmp_path, monkeypatch):
    """Earlier runs of another cluster, another runbook, other steps, or that never became ready are not
    baselines; an unreadable one is skipped with one line; the newest comparable one is named."""
    from coldstart.timeline import timings

    shown = []
    monkeypatch.setattr(report, "display", lambda *objs: shown.extend(objs))
    profile_dir = tmp_path / PROFILE.name
    same = {"runbook": "rollout", "scenario": "s", "steps": [1]}
    for run, about in (("r1", {**same, "cluster": "kubeconfig:gke-prod", "ready": True}),
                       ("r2", {**same, "cluster": "embedded", "ready": False}),
                       ("r3", {**same, "cluster": "embedded", "ready": True, "runbook": "runtime"}),
                       ("r4", {**same, "cluster": "embedded", "ready": True, "steps": [1, 0, 1]})):
        timings.write_timings(profile_dir / run / "timings.json", Timeline(), profile=PROFILE, run_id=run, **about)
    (profile_dir / "r5").mkdir()
    (profile_dir / "r5" / "timings.json").write_text("{")
    report.previous(_outcome(), profile_dir / "now")
    texts = [getattr(o, "data", "") for o in shown]
    assert sum("Skipped an earlier run" in t and "r5" in t for t in texts) == 1
    assert "No earlier ready run of `rollout`" in texts[-1] and "(`embedded`)" in texts[-1]
    timings.write_timings(profile_dir / "r6" / "timings.json", Timeline(), profile=PROFILE, run_id="r6",
                          cluster="embedded", ready=True, **same)
    shown.clear()
    report.previous(_outcome(), profile_dir / "now")
    assert any("Against run `r6`" in getattr(o, "data", "") for o in shown)


def test_every_failure_the_log_reader_names_has_a_fix_in_the_verdict():
    """A failure kind without its own fix would fall back to 'crash' and tell the reader the wrong thing."""
    from coldstart.runbooks.verdict import FIXES
    from coldstart.timeline.sources.vllm_failures import FAILURE_KINDS

    assert [k for k in FAILURE_KINDS if k != "shutdown" and k not in FIXES] == []
    assert "rendezvous" in FIXES["timeout"] and "startup probe" in FIXES["wait"]
