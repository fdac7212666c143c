"""Every cold-start trap reproduced on the embedded cluster through `runbook.run`, with the experiments' own
scenarios: the broken manifest fails the way a real cluster shows it (the kubelet's events and the pod's
state, the vLLM log) and the fixed one becomes ready. Durations asserted here are cluster seconds taken from
server timestamps (the timeline), never wall time.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from coldstart.kube.labels import RUN_ID
from coldstart.live.cluster import Cluster
from coldstart.live.wait import pod_ready, wait_for
from coldstart.profiles import load_profile
from coldstart.runbooks import experiments, runbook
from coldstart.runbooks.runbook import Outcome, Scenario

PROFILE = load_profile("baseline")
COMPONENT = "app.kubernetes.io/component"
ENGINE = f"{COMPONENT}=engine"
SCENARIOS: dict[str, Scenario] = {s.name: s for s in [*experiments.runtime_traps(PROFILE),
                                                      *experiments.image_pull(PROFILE),
                                                      *experiments.node_warmup(PROFILE)]}


def _on_the_warm_node(outcome: Outcome) -> bool:
    """The second replica landed on the node the first one warmed (what the image experiments are about)."""
    nodes = [p["spec"].get("nodeName") for p in pods(outcome)]
    return len(nodes) == 2 and nodes[0] == nodes[1]


# The second replica must land on the node the first one warmed, or the image experiments prove nothing;
# the embedded clock stands still while the client is busy between scaling to zero and back, so it does.
PRECONDITIONS: dict[str, Callable[[Outcome], bool]] = {"tag + Always": _on_the_warm_node,
                                                       "digest + IfNotPresent": _on_the_warm_node}


@pytest.fixture(scope="module")
def outcome() -> Callable[[str], Outcome]:
    """Each scenario runs once per module (on its own fresh embedded cluster), whichever tests ask for it."""
    done: dict[str, Outcome] = {}

    def get(name: str) -> Outcome:
        if name not in done:
            done[name] = runbook.run(SCENARIOS[name])
            assert done[name].as_expected, (name, done[name].failure)
            assert PRECONDITIONS.get(name, lambda _: True)(done[name]), f"{name}: experiment not set up"
        return done[name]

    return get


def pods(outcome: Outcome, component: str = "engine") -> list[dict]:
    """The run's pods of one component, oldest first."""
    found = [p for p in outcome.recording.pods if p["metadata"]["labels"].get(COMPONENT) == component]
    return sorted(found, key=lambda p: (p["metadata"]["creationTimestamp"], p["metadata"]["name"]))


def events(outcome: Outcome, pod: dict | None = None, reason: str | None = None) -> list[dict]:
    name = pod["metadata"]["name"] if pod else None
    return [e for e in outcome.recording.events if (name is None or e["involvedObject"]["name"] == name)
            and (reason is None or e["reason"] == reason)]


def engine_status(pod: dict) -> dict:
    return next(c for c in pod["status"]["containerStatuses"] if c["name"] in ("kserve-container", "vllm"))


def phases(outcome: Outcome, pod: dict) -> dict[str, float]:
    timeline = next(t for t in outcome.timeline.pods if t.pod.endswith("/" + pod["metadata"]["name"]))
    return {name: span.seconds for name, span in timeline.phases.items()}


def never_ready(pod: dict) -> bool:
    return not pod_ready(pod)


def restarted_in_events(outcome: Outcome, pod: dict) -> bool:
    """The kubelet's events tell of a restart: the engine container Started again, or backing off."""
    container = engine_status(pod)["name"]
    started = sum(e.get("count") or 1 for e in events(outcome, pod, "Started")
                  if e["message"] == f"Started container {container}")
    return started >= 2 or bool(events(outcome, pod, "BackOff"))


def failed_start_log(outcome: Outcome, pod: dict, marker: str) -> str:
    """The engine log of a start that failed with `marker`: the current log, or the previous run's when the
    kubelet has already begun a new start (as `kubectl logs --previous` shows it)."""
    name = pod["metadata"]["name"]
    found = [log for log in (outcome.recording.logs.get(name, ""), outcome.recording.previous_logs.get(name, ""))
             if marker in log]
    assert found, f"no engine log of {name} shows {marker!r}"
    return found[0]


# -- the fixed forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["recommended", "TP=2 with 16Gi /dev/shm", "digest + IfNotPresent", "warm buffer"])
def test_the_fixed_form_becomes_ready(outcome, name):
    result = outcome(name)
    assert result.ready and result.failure is None and result.time_to_ready is not None
    engines = pods(result)
    assert engines and pod_ready(engines[-1]) and engine_status(engines[-1])["restartCount"] == 0
    assert [f for f in result.findings if f.status == "fail"] == []
    assert {t.pod for t in result.timeline.pods} == {f"{PROFILE.namespace}/{p['metadata']['name']}" for p in engines}


# -- runtime traps -----------------------------------------------------------------------------------


def test_utilization_0_9_runs_out_of_gpu_memory_capturing_graphs_and_crash_loops(outcome):
    result = outcome("utilization 0.9")
    assert not result.ready and "restarted (Error, exit 1)" in result.failure
    (engine,) = pods(result)
    status = engine_status(engine)
    assert never_ready(engine) and status["restartCount"] >= 1
    assert status["lastState"]["terminated"]["exitCode"] == 1
    assert status["state"].get("waiting", {}).get("reason", "CrashLoopBackOff") == "CrashLoopBackOff"
    assert restarted_in_events(result, engine)  # the first restart is immediate; CrashLoopBackOff: see below
    log = failed_start_log(result, engine, "torch.OutOfMemoryError: CUDA out of memory")
    assert log.index("Capturing CUDA graphs") < log.index("torch.OutOfMemoryError")  # during graph capture
    assert "Model loading took" in log  # the weights loaded fine: only the graphs did not fit


def test_a_start_that_keeps_failing_ends_in_crash_loop_back_off():
    """The runbook stops at the first restart (which the kubelet does at once); left alone, the second failure
    puts the container in CrashLoopBackOff, with the kubelet's BackOff event."""
    scenario = SCENARIOS["utilization 0.9"]
    with Cluster.connect("embedded", profile=scenario.profile) as conn:
        conn.ensure_namespace(PROFILE.namespace)
        conn.apply(scenario.manifests())

        def backing_off(objects: dict[str, dict]) -> tuple[int, int]:
            return sum(1 for p in objects.values() for c in (p.get("status") or {}).get("containerStatuses") or []
                       if ((c.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff"), 1

        (pod,) = wait_for(conn, "v1", "Pod", PROFILE.namespace, label_selector=f"{RUN_ID}={conn.run_id},{ENGINE}",
                          done=backing_off, timeout=3600, what="engine in CrashLoopBackOff").values()
        status = engine_status(pod)
        assert status["restartCount"] >= 1 and status["lastState"]["terminated"]["exitCode"] == 1
        assert status["state"]["waiting"]["message"].startswith("back-off 10s restarting failed container")
        backoff, _, _ = conn.list("v1", "Event", PROFILE.namespace,
                                  field_selector=f"involvedObject.name={pod['metadata']['name']},reason=BackOff")
        assert backoff and backoff[0]["message"].startswith("Back-off restarting failed container")
        name = pod["metadata"]["name"]  # the clock may have started the next run: look at the previous one too
        logs = [conn.pod_logs(name, PROFILE.namespace, status["name"], previous=previous) for previous in (False, True)]
        assert any("torch.OutOfMemoryError: CUDA out of memory" in log for log in logs)
        conn.delete_run()


def test_tp2_with_the_64mi_default_shm_fails_in_nccl_and_never_gets_ready(outcome):
    result = outcome("TP=2 with the 64Mi default /dev/shm")
    assert not result.ready
    (engine,) = pods(result)
    assert never_ready(engine) and engine_status(engine)["restartCount"] >= 1
    assert engine_status(engine)["lastState"]["terminated"]["reason"] == "Error"
    assert restarted_in_events(result, engine)
    log = failed_start_log(result, engine, "NCCL WARN Error while creating shared memory segment /dev/shm")
    assert "No space left on device" in log
    assert result.time_to_ready is None


def test_memory_limit_below_shm_rss_and_streamer_buffer_is_oom_killed(outcome):
    result = outcome("memory limit 10Gi")
    assert not result.ready and "OOMKilled (exit 137)" in result.failure
    (engine,) = pods(result)
    killed = engine_status(engine)["lastState"]["terminated"]
    assert (killed["reason"], killed["exitCode"]) == ("OOMKilled", 137)
    # the wait stops at the kill; the restart itself may still be a second or two of cluster time away
    assert never_ready(engine)
    assert [e for e in events(result, engine, "Started") if e["message"].endswith(engine_status(engine)["name"])]
    limit = engine_status(engine)  # the container really ran with the lowered limit
    spec = next(c for c in engine["spec"]["containers"] if c["name"] == limit["name"])
    assert spec["resources"]["limits"]["memory"] == "10Gi"


def test_startup_probe_window_shorter_than_the_start_kills_and_restarts(outcome):
    result = outcome("startup probe 30s")
    assert not result.ready and "failed startup probe" in result.failure
    (engine,) = pods(result)
    assert [e for e in events(result, engine, "Unhealthy") if e["message"].startswith("Startup probe failed")]
    killing = [e["message"] for e in events(result, engine, "Killing")]
    assert any(m.endswith("failed startup probe, will be restarted") for m in killing), killing
    status = engine_status(engine)
    assert status["restartCount"] >= 1 and status["lastState"]["terminated"]["exitCode"] == 137
    assert never_ready(engine)


# -- image pull --------------------------------------------------------------------------------------


def _second_replica(result: Outcome) -> tuple[dict, dict, list[str]]:
    first, second = pods(result)
    vllm = engine_status(second)["image"]
    return first, second, [e["reason"] + ": " + e["message"] for e in events(result, second)
                           if e["reason"] in ("Pulling", "Pulled") and vllm in e["message"]]


def test_image_by_tag_with_always_is_pulled_again_on_the_warm_node(outcome):
    result = outcome("tag + Always")
    first, second, pulls = _second_replica(result)
    assert second["spec"]["nodeName"] == first["spec"]["nodeName"]  # the same, warm node
    assert ":v0.11.0" in engine_status(second)["image"]
    assert [p.split(":")[0] for p in pulls] == ["Pulling", "Pulled"], pulls
    assert "Successfully pulled image" in pulls[1] and "already present on machine" not in pulls[1]
    assert phases(result, second).get("image_pull", 0) > 10


def test_image_by_digest_with_if_not_present_is_already_on_the_warm_node(outcome):
    result = outcome("digest + IfNotPresent")
    first, second, pulls = _second_replica(result)
    assert second["spec"]["nodeName"] == first["spec"]["nodeName"]
    assert "@sha256:" in engine_status(second)["image"]
    assert len(pulls) == 1 and pulls[0].startswith("Pulled: ") and pulls[0].endswith("already present on machine")
    assert not events(result, second, "Pulling")
    assert "image_pull" not in phases(result, second)


# -- node warm-up ------------------------------------------------------------------------------------


def test_without_a_warm_buffer_the_replica_waits_for_a_new_node(outcome):
    result = outcome("no warm buffer")
    (engine,) = pods(result)
    assert [e["message"] for e in events(result, engine, "TriggeredScaleUp")]
    assert not events(result, reason="Preempted")
    boot = PROFILE.kinetics.node_boot_seconds + PROFILE.kinetics.driver_install_seconds
    spread = PROFILE.kinetics.jitter * 2  # every simulated duration varies by the profile's jitter
    assert boot * (1 - spread) <= phases(result, engine)["scheduling"] <= boot * (1 + spread) + 20


def test_with_the_warm_buffer_the_replica_preempts_it_within_seconds(outcome):
    result = outcome("warm buffer")
    (engine,) = pods(result)
    preempted = events(result, reason="Preempted")
    assert preempted and all(e["involvedObject"]["name"].startswith("coldstart-warm-buffer") for e in preempted)
    assert engine["metadata"]["uid"] in preempted[0]["message"]
    assert not events(result, engine, "TriggeredScaleUp")
    assert phases(result, engine)["scheduling"] <= PROFILE.kinetics.preemption_seconds + 5


def test_a_buffer_below_priority_minus_10_never_gets_a_node(outcome):
    result = outcome("buffer at priority -20")
    buffers = pods(result, "warm-buffer")
    assert buffers and all(not p["spec"].get("nodeName") for p in buffers)
    names = {p["metadata"]["name"] for p in buffers}
    assert events(result, buffers[0], "FailedScheduling")
    assert not [e for e in events(result) if e["involvedObject"]["name"] in names
                and e["reason"] in ("TriggeredScaleUp", "Scheduled")]
    assert "warm buffer holding GPU nodes: timed out" in result.warm_up_failure
    (engine,) = pods(result)  # so the replica waits for a new node as if there were no buffer
    assert events(result, engine, "TriggeredScaleUp")
    assert phases(result, engine)["scheduling"] >= PROFILE.kinetics.node_boot_seconds
    assert {f.invariant for f in result.findings if f.status == "fail"} >= {"buffer-below-workload",
                                                                            "warm-buffer-running"}
