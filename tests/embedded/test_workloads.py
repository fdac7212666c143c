"""Deployment -> ReplicaSet -> Pods and garbage collection, driven through the store in virtual time."""

from __future__ import annotations

import re

from coldstart.embedded.controllers.gc import GarbageCollector
from coldstart.embedded.controllers.objects import SAFE_ALPHABET, condition
from coldstart.embedded.controllers.workloads import DeploymentController, ReplicaSetController
from coldstart.embedded.store.store import Change
from tests.support.sim_harness import FakeKubelet, deployment, events, make_sim, priority_class


class Binder:
    """Binds every new pod to one node at once (stands in for the scheduler in these tests)."""

    def __init__(self, ctx):
        self.ctx = ctx

    def on_change(self, change: Change) -> None:
        if change.key == "/Pod" and change.type == "ADDED" and not change.obj["spec"].get("nodeName"):
            meta = change.obj["metadata"]
            self.ctx.store.mutate("/Pod", meta["namespace"], meta["name"],
                                  lambda p: p["spec"].__setitem__("nodeName", "node-a"))


def _sim(kubelet_delay: float = 5.0):
    return make_sim("baseline", GarbageCollector, DeploymentController, ReplicaSetController, Binder,
                    lambda ctx: FakeKubelet(ctx, kubelet_delay))


def _pods(store, namespace="default"):
    return sorted(store.list("/Pod", namespace)[0], key=lambda p: p["metadata"]["name"])


def test_deployment_makes_replicaset_and_pods_with_real_names_labels_and_owners():
    ctx, sim = _sim()
    ctx.store.create(deployment("web", replicas=2))
    sim.run_until_idle()
    deploy = ctx.store.get("apps/Deployment", "default", "web")
    (rs,) = ctx.store.list("apps/ReplicaSet", "default")[0]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{pod_hash}" and set(pod_hash) <= set(SAFE_ALPHABET)
    assert rs["metadata"]["ownerReferences"][0] | {} == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": deploy["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True}
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    pods = _pods(ctx.store)
    assert len(pods) == 2
    for pod in pods:
        assert re.fullmatch(rf"web-{pod_hash}-[{SAFE_ALPHABET}]{{5}}", pod["metadata"]["name"])
        assert pod["metadata"]["labels"] == {"app": "web", "pod-template-hash": pod_hash}
        assert pod["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        assert pod["spec"]["priority"] == 0 and pod["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    scaled = events(ctx.store, "ScalingReplicaSet", "web")
    assert [e["message"] for e in scaled] == [f"Scaled up replica set web-{pod_hash} from 0 to 2"]
    assert scaled[0]["source"] == {"component": "deployment-controller"}
    created = events(ctx.store, "SuccessfulCreate")
    assert sorted(e["message"] for e in created) == sorted(f"Created pod: {p['metadata']['name']}" for p in pods)
    assert all(e["source"]["component"] == "replicaset-controller" for e in created)


def test_status_counts_ready_pods_and_conditions_follow_the_real_reasons():
    ctx, sim = _sim(kubelet_delay=30)
    ctx.store.create(deployment("web", replicas=2))
    sim.run_for(1)
    status = ctx.store.get("apps/Deployment", "default", "web")["status"]
    assert status["replicas"] == 2 and status["updatedReplicas"] == 2 and "readyReplicas" not in status
    assert status["unavailableReplicas"] == 2
    avail = condition({"status": status}, "Available")
    assert (avail["status"], avail["reason"]) == ("False", "MinimumReplicasUnavailable")
    assert condition({"status": status}, "Progressing")["reason"] in ("NewReplicaSetCreated", "ReplicaSetUpdated")
    sim.run_until_idle()
    deploy = ctx.store.get("apps/Deployment", "default", "web")
    status = deploy["status"]
    assert status["readyReplicas"] == 2 and status["availableReplicas"] == 2
    assert status["observedGeneration"] == deploy["metadata"]["generation"]
    avail = condition(deploy, "Available")
    assert (avail["status"], avail["reason"], avail["message"]) == (
        "True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
    prog = condition(deploy, "Progressing")
    rs_name = ctx.store.list("apps/ReplicaSet", "default")[0][0]["metadata"]["name"]
    assert (prog["reason"], prog["message"]) == ("NewReplicaSetAvailable",
                                                 f'ReplicaSet "{rs_name}" has successfully progressed.')
    rs = ctx.store.get("apps/ReplicaSet", "default", rs_name)
    assert rs["status"] == {"replicas": 2, "fullyLabeledReplicas": 2, "readyReplicas": 2, "availableReplicas": 2,
                            "observedGeneration": 1}


def test_scale_down_removes_unready_pods_first_and_deleted_pods_are_recreated():
    ctx, sim = _sim()
    ctx.store.create(deployment("web", replicas=3))
    sim.run_until_idle()
    pods = _pods(ctx.store)
    # a pod that has not become ready yet (newest): it must be the one a scale-down removes
    victim = pods[1]["metadata"]["name"]
    ctx.store.mutate("/Pod", "default", victim, lambda p: p["status"].update(conditions=[], phase="Pending"))
    ctx.store.mutate("apps/Deployment", "default", "web", lambda d: d["spec"].update(replicas=2))
    sim.run_for(1)
    names = {p["metadata"]["name"] for p in _pods(ctx.store)}
    assert victim not in names and len(names) == 2
    assert events(ctx.store, "SuccessfulDelete")[0]["message"] == f"Deleted pod: {victim}"
    rs_name = ctx.store.list("apps/ReplicaSet", "default")[0][0]["metadata"]["name"]
    assert any(e["message"] == f"Scaled down replica set {rs_name} from 3 to 2"
               for e in events(ctx.store, "ScalingReplicaSet"))
    # deleting a pod (e.g. preempted) makes the ReplicaSet create a new Pending one
    gone = sorted(names)[0]
    ctx.store.delete("/Pod", "default", gone)
    sim.run_for(0.5)
    after = {p["metadata"]["name"] for p in _pods(ctx.store)}
    assert gone not in after and len(after) == 2


def test_template_change_rolls_a_new_replicaset_and_retires_the_old():
    ctx, sim = _sim()
    ctx.store.create(deployment("web", replicas=2))
    sim.run_until_idle()
    (old,) = ctx.store.list("apps/ReplicaSet", "default")[0]
    ctx.store.mutate("apps/Deployment", "default", "web", lambda d: d["spec"]["template"]["spec"]["containers"][0]
                     .update(image="registry.local:5000/app:2"))
    sim.run_until_idle()
    sets = {r["metadata"]["name"]: r for r in ctx.store.list("apps/ReplicaSet", "default")[0]}
    new_name = next(n for n in sets if n != old["metadata"]["name"])
    assert sets[old["metadata"]["name"]]["spec"]["replicas"] == 0
    assert sets[new_name]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    pods = _pods(ctx.store)
    assert len(pods) == 2 and all(p["spec"]["containers"][0]["image"].endswith(":2") for p in pods)
    deploy = ctx.store.get("apps/Deployment", "default", "web")
    assert deploy["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert deploy["status"]["updatedReplicas"] == 2 and condition(deploy, "Available")["status"] == "True"
    messages = [e["message"] for e in events(ctx.store, "ScalingReplicaSet")]
    assert f"Scaled up replica set {new_name} from 0 to 1" in messages  # maxSurge 25% of 2 rounds up to 1
    assert f"Scaled down replica set {old['metadata']['name']} from 2 to 1" in messages


def test_recreate_strategy_waits_for_old_pods_to_go():
    ctx, sim = _sim()
    ctx.store.create(deployment("web", replicas=1, strategy={"type": "Recreate"}))
    sim.run_until_idle()
    ctx.store.mutate("apps/Deployment", "default", "web", lambda d: d["spec"]["template"]["metadata"]["labels"]
                     .update(v="2"))
    sim.run_until_idle()
    pods = _pods(ctx.store)
    assert len(pods) == 1 and pods[0]["metadata"]["labels"]["v"] == "2"
    messages = [e["message"] for e in events(ctx.store, "ScalingReplicaSet")]
    assert messages[1].startswith("Scaled down replica set") and messages[1].endswith("from 1 to 0")
    assert messages[2].startswith("Scaled up replica set") and messages[2].endswith("from 0 to 1")


def test_progress_deadline_exceeded_when_pods_never_become_ready():
    ctx, sim = make_sim("baseline", DeploymentController, ReplicaSetController)
    body = deployment("slow", replicas=1)
    body["spec"]["progressDeadlineSeconds"] = 120
    ctx.store.create(body)
    sim.run_for(60)
    assert condition(ctx.store.get("apps/Deployment", "default", "slow"), "Progressing")["status"] == "True"
    sim.run_for(120)
    prog = condition(ctx.store.get("apps/Deployment", "default", "slow"), "Progressing")
    assert (prog["status"], prog["reason"]) == ("False", "ProgressDeadlineExceeded")
    assert prog["message"].endswith('" has timed out progressing.')


def test_missing_priority_class_is_refused_like_admission_then_created_when_it_appears():
    ctx, sim = _sim()
    ctx.store.create(deployment("web", priority_class="vllm-high"))
    sim.run_for(1)
    assert _pods(ctx.store) == []
    (failed,) = events(ctx.store, "FailedCreate")
    rs = ctx.store.list("apps/ReplicaSet", "default")[0][0]["metadata"]["name"]
    assert failed["type"] == "Warning" and failed["message"] == (
        f'Error creating: pods "{rs}-" is forbidden: no PriorityClass with name vllm-high was found')
    ctx.store.create(priority_class("vllm-high", 1000))
    sim.run_for(1)
    (pod,) = _pods(ctx.store)
    assert pod["spec"]["priority"] == 1000 and pod["spec"]["preemptionPolicy"] == "PreemptLowerPriority"


def test_deleting_the_deployment_collects_replicasets_and_pods():
    ctx, sim = _sim()
    ctx.store.create(deployment("web", replicas=2))
    sim.run_until_idle()
    ctx.store.delete("apps/Deployment", "default", "web")
    sim.run_until_idle()
    assert ctx.store.list("apps/ReplicaSet", "default")[0] == []
    assert _pods(ctx.store) == []


def test_same_seed_same_names():
    def run():
        ctx, sim = _sim()
        ctx.store.create(deployment("web", replicas=3))
        sim.run_until_idle()
        return [p["metadata"]["name"] for p in _pods(ctx.store)]

    assert run() == run()
