"""Node 0->1 lever: a warm buffer of pause pods the workload preempts; Spot-first ComputeClass on GKE."""

from __future__ import annotations

from coldstart.kube.labels import GKE_COMPUTE_CLASS
from coldstart.levers import node_warmup, weight_load
from coldstart.levers.render import render
from coldstart.profiles import load_profile, profile_with


def test_buffer_priority_is_negative_but_not_expendable_and_below_workload():
    p = load_profile("baseline")
    buffer, workload = node_warmup.priority_classes(p)
    assert node_warmup.EXPENDABLE_CUTOFF <= buffer["value"] <= -1
    assert buffer["value"] < workload["value"]
    assert buffer["preemptionPolicy"] == "Never" and workload["preemptionPolicy"] == "PreemptLowerPriority"


def test_buffer_pods_hold_the_same_kind_of_node_as_the_engine():
    p = load_profile("gke")
    docs = render(p)
    buffer = docs["node_warmup"][-1]
    bpod = buffer["spec"]["template"]["spec"]
    isvc = docs["weight_load"][-1]["spec"]["predictor"]
    assert buffer["spec"]["replicas"] == p.nodes.warm_buffer
    assert bpod["priorityClassName"] == node_warmup.BUFFER_CLASS
    assert bpod["nodeSelector"] == isvc["nodeSelector"] and bpod["tolerations"] == isvc["tolerations"]
    requests = bpod["containers"][0]["resources"]["requests"]
    assert requests == isvc["model"]["resources"]["requests"]
    assert "@sha256:" in bpod["containers"][0]["image"]


def test_workload_is_placed_with_the_workload_priority():
    placement = node_warmup.placement(load_profile("baseline"))
    assert placement["priorityClassName"] == node_warmup.WORKLOAD_CLASS


def test_compute_class_prefers_spot_then_on_demand_and_is_selected_by_the_workload():
    p = load_profile("gke")
    cc = node_warmup.compute_class(p)
    assert [prio["spot"] for prio in cc["spec"]["priorities"]] == [True, False]
    assert cc["spec"]["whenUnsatisfiable"] == p.gke.compute_class.when_unsatisfiable
    assert cc["spec"]["nodePoolConfig"] == {"imageStreaming": {"enabled": True}}
    pod = weight_load.deployment(p)["spec"]["template"]["spec"]
    assert pod["nodeSelector"][GKE_COMPUTE_CLASS] == cc["metadata"]["name"]


def test_no_compute_class_on_baseline_or_when_disabled():
    assert node_warmup.compute_class(load_profile("baseline")) is None
    off = profile_with(load_profile("gke"), {"gke.compute_class.enabled": False})
    assert node_warmup.compute_class(off) is None
    assert GKE_COMPUTE_CLASS not in node_warmup.node_selector(off)
