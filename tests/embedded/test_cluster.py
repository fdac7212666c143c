"""The embedded cluster as a whole: what it has before anyone applies anything, and cloud admission."""

from __future__ import annotations

import gc

from coldstart.embedded.cluster import GC_THRESHOLD, EmbeddedCluster, bootstrap_objects, extended_resource_toleration
from coldstart.embedded.controllers import objects
from coldstart.profiles import load_profile, profile_with
from coldstart.runbooks import runbook


def test_bootstrap_has_the_storage_classes_of_the_cluster_kind():
    base = {o["metadata"]["name"] for o in bootstrap_objects(load_profile("baseline")) if o["kind"] == "StorageClass"}
    gke = {o["metadata"]["name"] for o in bootstrap_objects(load_profile("gke")) if o["kind"] == "StorageClass"}
    assert load_profile("baseline").runtime.cache_storage_class in base
    assert {"standard-rwo", "premium-rwo", "standard-rwx"} <= gke
    snapshot = next(o for o in bootstrap_objects(load_profile("gke")) if o["kind"] == "VolumeSnapshot")
    assert snapshot["metadata"]["name"] == load_profile("gke").gke.hyperdisk_ml.snapshot
    assert snapshot["status"]["readyToUse"] is True


def test_gke_adds_the_gpu_toleration_to_gpu_pods_only():
    gpu = {"kind": "Pod", "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}
    cpu = {"kind": "Pod", "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": "1"}}}]}}
    assert extended_resource_toleration(gpu, "CREATE")["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert extended_resource_toleration(cpu, "CREATE")["spec"]["tolerations"] == []
    assert extended_resource_toleration({"kind": "Deployment", "spec": {}}, "CREATE") is None
    tpu = {"kind": "Pod", "spec": {"containers": [{"name": "c", "resources": {"requests": {"google.com/tpu": "4"}}}]}}
    assert [t["key"] for t in extended_resource_toleration(tpu, "CREATE")["spec"]["tolerations"]] == ["google.com/tpu"]


def test_a_gpu_pod_without_toleration_still_runs_on_gke():
    profile = profile_with(load_profile("gke"), {"gpu.tolerations": []})
    outcome = runbook.run(runbook.Scenario("no toleration", profile, warm_up=False))
    assert outcome.ready, outcome.failure


def test_mutators_reach_pods_that_controllers_create():
    seen = []

    def webhook(obj, operation):
        if obj.get("kind") == "Pod":
            seen.append(obj["metadata"].get("generateName") or obj["metadata"].get("name"))
            obj["metadata"].setdefault("labels", {})["webhook"] = "was-here"
        return obj

    profile = load_profile("baseline")
    with EmbeddedCluster(profile, mutators=[webhook]) as cluster:
        cluster.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "t"}})
        cluster.store.create({"apiVersion": "apps/v1", "kind": "Deployment",
                              "metadata": {"name": "d", "namespace": "t"},
                              "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                                       "template": {"metadata": {"labels": {"a": "b"}},
                                                    "spec": {"containers": [{"name": "c", "image": "x@sha256:"
                                                                             + "a" * 64}]}}}})
        cluster.simulation.stop()
        cluster.simulation.run_for(30)
        pods, _ = cluster.store.list("/Pod", "t")
    assert pods and all(p["metadata"]["labels"].get("webhook") == "was-here" for p in pods)
    assert seen


def test_same_seed_same_writes_same_run():
    """Reproducible: two runs of one scenario give the measured replica the same events (names, uids and
    messages included) and the same phase durations. What happens after the wait ends (the buffer's
    replacement node coming up while the recorder stops) depends on wall time and is not compared. Idle
    stretches of virtual time drift with wall time, so where a run falls between two whole seconds varies and
    phases measured against whole-second timestamps may differ by one second."""
    def events(outcome):
        replicas = {p.pod.rpartition("/")[2] for p in outcome.timeline.pods}
        return sorted((e["involvedObject"]["name"], e["reason"], e["message"]) for e in outcome.recording.events
                      if e["involvedObject"]["name"] in replicas)

    def phases(outcome):
        return {(p.pod, k): s.seconds for p in outcome.timeline.pods for k, s in p.phases.items()}

    profile = load_profile("baseline")
    first = runbook.run(runbook.Scenario("a", profile), run_id="5a3e5a3e")
    second = runbook.run(runbook.Scenario("a", profile), run_id="5a3e5a3e")
    assert events(first) == events(second)
    assert phases(first).keys() == phases(second).keys()
    for key, seconds in phases(first).items():
        assert abs(phases(second)[key] - seconds) <= 1.0, key


def test_the_collector_runs_less_often_while_a_cluster_runs_and_as_before_after_the_last_stops():
    """A scale-out keeps ~1,000 objects per replica alive; full collections over them would make the cost per replica
    grow with the replicas. The thresholds are the process's: they come back when the last cluster stops."""
    before = gc.get_threshold()
    profile = load_profile("baseline")
    with EmbeddedCluster(profile) as first:
        assert gc.get_threshold()[0] >= GC_THRESHOLD
        with EmbeddedCluster(profile):
            assert gc.get_threshold()[0] >= GC_THRESHOLD
        assert gc.get_threshold()[0] >= GC_THRESHOLD  # the first one still runs
        first.stop()
        assert gc.get_threshold() == before
    assert gc.get_threshold() == before


def test_a_stopped_cluster_leaves_none_of_its_objects_in_the_controllers_memos():
    """The controllers remember answers by the identity of stored objects (pod readiness, requests); the entries
    hold those objects, so they must go with the last cluster, not live on in the process."""
    profile = load_profile("baseline")
    with EmbeddedCluster(profile) as cluster:
        runbook.run(runbook.Scenario("one", profile), "embedded", embedded=cluster)
        assert any(objects._MEMOS), "the run used the memos"
    assert not any(objects._MEMOS)
