"""Scheduler and cluster autoscaler in virtual time: scale from zero, preemption of a warm buffer, the
expendable-priority trap, ComputeClass Spot fallback, and the real message formats."""

from __future__ import annotations

import re

import pytest

from coldstart.embedded.controllers.nodes import NodeGroup, node_object
from coldstart.embedded.controllers.objects import condition, parse_time
from coldstart.embedded.controllers.plane import control_plane
from coldstart.profiles import load_profile, profile_with
from tests.support.sim_harness import (
    GPU_TOLERATION,
    START,
    FakeKubelet,
    deployment,
    event_time,
    events,
    make_sim,
    priority_class,
)

SELECTOR = {"nvidia.com/gpu.product": "NVIDIA-L4"}


def _sim(profile="baseline", kubelet_delay=5.0):
    return make_sim(profile, control_plane, lambda ctx: FakeKubelet(ctx, kubelet_delay))


def _pods(ctx, prefix):
    return sorted((p for p in ctx.store.list("/Pod")[0] if p["metadata"]["name"].startswith(prefix)),
                  key=lambda p: p["metadata"]["creationTimestamp"])


def _t(ev) -> float:
    stamp = event_time(ev)
    whole = parse_time(stamp)
    frac = re.search(r"\.(\d+)Z$", stamp)
    return whole + (float("0." + frac.group(1)) if frac else 0.0)


def _gpu_nodes(ctx):
    return [n for n in ctx.store.list("/Node")[0] if n["metadata"]["name"] != "system-0"]


def _vllm(name="vllm", **kw):
    return deployment(name, gpus=1, tolerations=[GPU_TOLERATION], node_selector=SELECTOR, **kw)


def test_scale_from_zero_waits_for_a_node_to_boot_and_install_its_driver():
    ctx, sim = _sim()
    ctx.store.create(_vllm())
    sim.run_until_idle(limit=3600)
    (pod,) = _pods(ctx, "vllm")
    name = pod["metadata"]["name"]
    first = min(events(ctx.store, "FailedScheduling", name), key=_t)
    assert first["message"] == ("0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
                                "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
    assert first["type"] == "Warning" and first["reportingComponent"] == "default-scheduler"
    assert first["action"] == "Scheduling" and first["eventTime"].endswith("Z") and first["source"] == {}
    (up,) = events(ctx.store, "TriggeredScaleUp", name)
    assert up["message"] == "pod triggered scale-up: [{gpu-pool 0->1 (max: 256)}]"
    assert up["source"] == {"component": "cluster-autoscaler"}
    assert 0 < _t(up) - START <= 10  # the autoscaler's 10 s scan
    (node,) = _gpu_nodes(ctx)
    assert node["spec"]["taints"] == [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "1"
    assert node["metadata"]["labels"]["nvidia.com/gpu.product"] == "NVIDIA-L4"
    ready = _t(events(ctx.store, "NodeReady", node["metadata"]["name"])[0])
    assert 95 <= ready - _t(up) <= 105  # kinetics.node_boot_seconds 100 +- 5 % jitter
    (scheduled,) = events(ctx.store, "Scheduled", name)
    assert scheduled["message"] == f"Successfully assigned default/{name} to {node['metadata']['name']}"
    assert scheduled["action"] == "Binding"
    assert 28.5 <= _t(scheduled) - ready <= 31.5  # driver install 30 s, then the GPU is allocatable
    pod = ctx.store.get("/Pod", "default", name)
    assert pod["spec"]["nodeName"] == node["metadata"]["name"]
    assert condition(pod, "PodScheduled")["status"] == "True"
    start, end = ctx.truth[("default", name)].phases["scheduling"]
    assert start == START and end == pytest.approx(_t(scheduled), abs=1e-3)
    # while the node booted the scheduler said so, in the real words
    messages = {e["message"] for e in events(ctx.store, "FailedScheduling", name)}
    assert any("1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }" in m for m in messages)


def test_failed_scheduling_message_counts_reasons_and_preemption_like_the_real_scheduler():
    ctx, sim = _sim()
    group = NodeGroup("gpu-pool", "gpu-l4-16", 1, max_nodes=4)
    for i in range(2):
        ctx.store.create(node_object(ctx.profile, f"gpu-{i}", group, i + 1, ctx.now(), ready=True, gpu_ready=True))
    ctx.store.create(deployment("notol", gpus=1))  # asks for a GPU but does not tolerate the GPU taint
    sim.run_until_idle(limit=60)
    (pod,) = _pods(ctx, "notol")
    message = ("0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint "
               "{nvidia.com/gpu: present}. preemption: 0/3 nodes are available: 1 No preemption victims found "
               "for incoming pod, 2 Preemption is not helpful for scheduling.")
    assert {e["message"] for e in events(ctx.store, "FailedScheduling", pod["metadata"]["name"])} == {message}
    cond = condition(pod, "PodScheduled")
    assert (cond["status"], cond["reason"], cond["message"]) == ("False", "Unschedulable", message)
    (no_up,) = events(ctx.store, "NotTriggerScaleUp", pod["metadata"]["name"])
    assert no_up["message"] == "pod didn't trigger scale-up: 1 node(s) had untolerated taint {nvidia.com/gpu: present}"


def test_a_serving_pod_preempts_the_warm_buffer_and_the_buffer_gets_a_new_node():
    ctx, sim = _sim()
    ctx.store.create(priority_class("buffer", -5))
    ctx.store.create(priority_class("serving", 1000))
    ctx.store.create(_vllm("pause", priority_class="buffer", image="registry.k8s.io/pause:3.10"))
    sim.run_until_idle(limit=900)
    (warm,) = _gpu_nodes(ctx)
    (buffer,) = _pods(ctx, "pause")
    assert buffer["spec"]["nodeName"] == warm["metadata"]["name"] and buffer["spec"]["priority"] == -5
    t0 = ctx.now()
    ctx.store.create(_vllm("vllm", priority_class="serving"))
    sim.run_for(30)
    (pod,) = _pods(ctx, "vllm")
    name, uid = pod["metadata"]["name"], pod["metadata"]["uid"]
    assert pod["spec"]["nodeName"] == warm["metadata"]["name"]
    assert pod["status"]["nominatedNodeName"] == warm["metadata"]["name"]
    (preempted,) = events(ctx.store, "Preempted", buffer["metadata"]["name"])
    assert preempted["message"] == f"Preempted by pod {uid} on node {warm['metadata']['name']}"
    assert preempted["action"] == "Preempting" and preempted["reportingComponent"] == "default-scheduler"
    start, end = ctx.truth[("default", name)].phases["scheduling"]
    assert start == t0 and 1.9 <= end - start <= 2.1  # kinetics.preemption_seconds 2 +- jitter
    assert ctx.store.get("/Pod", "default", buffer["metadata"]["name"]) is None
    sim.run_until_idle(limit=900)
    (replacement,) = _pods(ctx, "pause")
    assert replacement["metadata"]["name"] != buffer["metadata"]["name"]
    (up,) = events(ctx.store, "TriggeredScaleUp", replacement["metadata"]["name"])
    assert up["message"] == "pod triggered scale-up: [{gpu-pool 1->2 (max: 256)}]"
    assert len(_gpu_nodes(ctx)) == 2 and replacement["spec"]["nodeName"] not in (None, warm["metadata"]["name"])


def test_victims_carry_the_disruption_condition_while_they_terminate():
    ctx, sim = _sim()
    ctx.store.create(priority_class("buffer", -5))
    ctx.store.create(priority_class("serving", 1000))
    ctx.store.create(_vllm("pause", priority_class="buffer"))
    sim.run_until_idle(limit=900)
    (buffer,) = _pods(ctx, "pause")
    ctx.store.create(_vllm("vllm", priority_class="serving"))
    sim.run_for(1)
    victim = ctx.store.get("/Pod", "default", buffer["metadata"]["name"])
    assert victim["metadata"]["deletionTimestamp"] and victim["metadata"]["deletionGracePeriodSeconds"] == 30
    cond = condition(victim, "DisruptionTarget")
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "True", "PreemptionByScheduler", "default-scheduler: preempting to accommodate a higher priority pod")
    (pod,) = _pods(ctx, "vllm")
    assert not pod["spec"].get("nodeName")  # still waiting for the victim to go
    fail = events(ctx.store, "FailedScheduling", pod["metadata"]["name"])[0]["message"]
    assert "preemption:" not in fail  # the preemption worked: nothing to explain after the filter reasons


def test_a_buffer_below_the_expendable_cutoff_never_gets_a_node():
    ctx, sim = _sim()
    ctx.store.create(priority_class("buffer", -20))
    ctx.store.create(_vllm("pause", priority_class="buffer"))
    sim.run_until_idle(limit=1800)
    (buffer,) = _pods(ctx, "pause")
    assert not buffer["spec"].get("nodeName") and _gpu_nodes(ctx) == []
    assert events(ctx.store, "FailedScheduling", buffer["metadata"]["name"])
    assert events(ctx.store, "TriggeredScaleUp") == [] and events(ctx.store, "NotTriggerScaleUp") == []
    # so the real workload still pays the whole node boot
    t0 = ctx.now()
    ctx.store.create(_vllm("vllm"))
    sim.run_until_idle(limit=900)
    (pod,) = _pods(ctx, "vllm")
    start, end = ctx.truth[("default", pod["metadata"]["name"])].phases["scheduling"]
    assert start == t0 and end - start > 120


@pytest.mark.parametrize("available", [True, False])
def test_compute_class_prefers_spot_and_falls_back_to_on_demand(available):
    profile = profile_with(load_profile("gke"), {"kinetics.spot_available": available})
    ctx, sim = _sim(profile)
    gpu = {"type": "nvidia-l4", "count": 1}
    ctx.store.create({"apiVersion": "cloud.google.com/v1", "kind": "ComputeClass", "metadata": {"name": "vllm-l4"},
                      "spec": {"priorities": [{"machineType": "g2-standard-16", "gpu": gpu, "spot": True},
                                              {"machineType": "g2-standard-16", "gpu": gpu}],
                               "whenUnsatisfiable": "DoNotScaleUp", "nodePoolAutoCreation": {"enabled": True}}})
    ctx.store.create(deployment("vllm", gpus=1, tolerations=[GPU_TOLERATION],
                                node_selector={"cloud.google.com/compute-class": "vllm-l4"}))
    sim.run_until_idle(limit=900)
    (pod,) = _pods(ctx, "vllm")
    (node,) = _gpu_nodes(ctx)
    labels = node["metadata"]["labels"]
    assert pod["spec"]["nodeName"] == node["metadata"]["name"]
    assert labels["cloud.google.com/compute-class"] == "vllm-l4"
    assert labels["cloud.google.com/gke-accelerator"] == "nvidia-l4"
    assert labels["cloud.google.com/gke-image-streaming"] == "true"
    ups = sorted(events(ctx.store, "TriggeredScaleUp", pod["metadata"]["name"]), key=_t)
    url = r"https://www\.googleapis\.com/compute/v1/projects/\S+/zones/us-central1-a/instanceGroups/\S+-grp"
    assert re.fullmatch(rf"pod triggered scale-up: \[\{{{url} 0->1 \(max: 256\)\}}\]", ups[0]["message"])
    assert "-spot-" in ups[0]["message"]
    if available:
        assert labels["cloud.google.com/gke-spot"] == "true" and len(ups) == 1
        assert events(ctx.store, "FailedScaleUp") == []
    else:
        assert "cloud.google.com/gke-spot" not in labels
        (failed,) = events(ctx.store, "FailedScaleUp", pod["metadata"]["name"])
        assert failed["type"] == "Warning" and failed["message"] == (
            "Node scale up in zones us-central1-a associated with this pod failed: GCE out of resources. "
            "Pod is at risk of not being scheduled.")
        assert len(ups) == 2 and "-spot-" not in ups[1]["message"]
        assert _t(ups[0]) < _t(failed) < _t(ups[1])


def test_do_not_scale_up_when_no_priority_can_be_satisfied():
    profile = profile_with(load_profile("gke"), {"kinetics.spot_available": False})
    ctx, sim = _sim(profile)
    ctx.store.create({"apiVersion": "cloud.google.com/v1", "kind": "ComputeClass", "metadata": {"name": "spot-only"},
                      "spec": {"priorities": [{"gpu": {"type": "nvidia-l4", "count": 1}, "spot": True}],
                               "whenUnsatisfiable": "DoNotScaleUp"}})
    ctx.store.create(deployment("vllm", gpus=1, tolerations=[GPU_TOLERATION],
                                node_selector={"cloud.google.com/compute-class": "spot-only"}))
    sim.run_for(240)
    assert _gpu_nodes(ctx) == []
    (pod,) = _pods(ctx, "vllm")
    (no_up,) = events(ctx.store, "NotTriggerScaleUp", pod["metadata"]["name"])
    assert no_up["message"] == ("pod didn't trigger scale-up: 1 in backoff after failed scale-up, "
                                "1 node(s) didn't match Pod's node affinity/selector")


def test_max_nodes_caps_the_scale_up():
    profile = profile_with(load_profile("baseline"), {"nodes.max_nodes": 1})
    ctx, sim = _sim(profile)
    ctx.store.create(_vllm(replicas=2))
    sim.run_until_idle(limit=900)
    assert len(_gpu_nodes(ctx)) == 1
    waiting = [p for p in _pods(ctx, "vllm") if not p["spec"].get("nodeName")]
    assert len(waiting) == 1
    messages = {e["message"] for e in events(ctx.store, "NotTriggerScaleUp", waiting[0]["metadata"]["name"])}
    assert "pod didn't trigger scale-up: 1 max node group size reached" in messages


def test_one_scale_up_for_several_pods_and_no_second_one_while_nodes_boot():
    ctx, sim = _sim()
    ctx.store.create(_vllm(replicas=3))
    sim.run_until_idle(limit=900)
    ups = events(ctx.store, "TriggeredScaleUp")
    assert {e["message"] for e in ups} == {"pod triggered scale-up: [{gpu-pool 0->3 (max: 256)}]"}
    assert len(ups) == 3 and len(_gpu_nodes(ctx)) == 3
    assert all(p["spec"].get("nodeName") for p in _pods(ctx, "vllm"))


def test_preemption_policy_never_is_explained():
    ctx, sim = _sim()
    ctx.store.create({**priority_class("polite", 1000), "preemptionPolicy": "Never"})
    ctx.store.create(deployment("cpu-hog", cpu="100"))  # more cpu than any node has
    sim.run_for(5)
    ctx.store.create(deployment("polite", priority_class="polite", cpu="100"))
    sim.run_for(5)
    (pod,) = _pods(ctx, "polite")
    (failed,) = events(ctx.store, "FailedScheduling", pod["metadata"]["name"])
    assert failed["message"] == ("0/1 nodes are available: 1 Insufficient cpu. "
                                 "preemption: not eligible due to preemptionPolicy=Never.")


def test_same_seed_same_timeline():
    def run():
        ctx, sim = _sim()
        ctx.store.create(priority_class("buffer", -5))
        ctx.store.create(_vllm("pause", priority_class="buffer"))
        sim.run_until_idle(limit=900)
        ctx.store.create(_vllm("vllm", replicas=2))
        sim.run_until_idle(limit=900)
        uid = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # the store's random uids
        return sorted((_t(e), e["reason"], e["involvedObject"]["name"], uid.sub("<uid>", e["message"]))
                      for e in ctx.store.list("/Event")[0])

    assert run() == run()


def test_empty_gpu_nodes_are_removed_after_ten_minutes_unless_a_buffer_holds_them():
    ctx, sim = _sim()
    ctx.store.create(priority_class("buffer", -5))
    ctx.store.create(_vllm("vllm"))
    ctx.store.create(_vllm("pause", priority_class="buffer"))
    sim.run_until_idle(limit=900)
    assert len(_gpu_nodes(ctx)) == 2
    ctx.store.mutate("apps/Deployment", "default", "vllm", lambda d: d["spec"].update(replicas=0))
    sim.run_for(590)
    assert len(_gpu_nodes(ctx)) == 2  # --scale-down-unneeded-time is 10 minutes
    sim.run_for(30)
    (kept,) = _gpu_nodes(ctx)
    (pause,) = _pods(ctx, "pause")
    assert pause["spec"]["nodeName"] == kept["metadata"]["name"]
    (removed,) = events(ctx.store, "ScaleDown")
    assert removed["message"] == "node removed by cluster autoscaler" and removed["involvedObject"]["kind"] == "Node"
    assert removed["involvedObject"]["name"] != kept["metadata"]["name"]


def test_gated_pods_wait_for_their_gates_to_be_removed():
    ctx, sim = _sim()
    body = deployment("gated")
    body["spec"]["template"]["spec"]["schedulingGates"] = [{"name": "example.com/queue"}]
    ctx.store.create(body)
    sim.run_for(5)
    (pod,) = _pods(ctx, "gated")
    cond = condition(pod, "PodScheduled")
    assert (cond["status"], cond["reason"]) == ("False", "SchedulingGated") and not pod["spec"].get("nodeName")
    ctx.store.mutate("/Pod", "default", pod["metadata"]["name"], lambda p: p["spec"].pop("schedulingGates"))
    sim.run_for(1)
    assert ctx.store.get("/Pod", "default", pod["metadata"]["name"])["spec"]["nodeName"] == "system-0"


def test_image_locality_sends_a_pod_to_the_node_that_holds_its_image():
    """kube-scheduler's ImageLocality: among equally free nodes the one with the pod's (large) image wins, so a
    scale from zero lands where the first start left the image; without images the tie goes by name."""
    from coldstart.embedded.controllers.fit import NodeView
    from coldstart.embedded.controllers.scoring import scorer

    digest = "sha256:" + "ab" * 32
    image = f"registry.example/vllm/vllm-openai@{digest}"
    pod = {"spec": {"containers": [{"name": "vllm", "image": image}]}}

    def view(name: str, images: list[dict]) -> NodeView:
        node = {"metadata": {"name": name}, "status": {"images": images}}
        return NodeView(node, {"cpu": 8000, "memory": 32 << 30})

    cold, warm = view("gpu-a", []), view("gpu-z", [{"names": [image], "sizeBytes": 8_400_000_000}])
    assert min([cold, warm], key=scorer(pod, [cold, warm])).name == "gpu-z"
    small = view("gpu-z", [{"names": [image], "sizeBytes": 10_000_000}])  # under 23 MB: no preference
    assert min([cold, small], key=scorer(pod, [cold, small])).name == "gpu-a"
    half = NodeView(warm.node, dict(warm.allocatable), requested={"cpu": 4000, "memory": 16 << 30})
    assert min([cold, half], key=scorer(pod, [cold, half])).name == "gpu-z"  # 50 free + 100 image beats 100 free

