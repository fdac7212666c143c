"""Lever 3, node 0->1: low-priority pause pods hold warm GPU nodes that a real replica preempts in
seconds instead of waiting minutes for a new node.

The buffer's priority sits between -10 and -1: negative so any real pod preempts it, but not below -10,
where the cluster autoscaler treats pods as expendable and never scales up for them (so the buffer
would never get its node). Buffer pods request the same GPU, node selectors and tolerations as the
vLLM pod, so the node they hold is one vLLM can use. On GKE a ComputeClass prefers Spot and falls back
to on-demand, with `whenUnsatisfiable` set explicitly because its default changed between releases. On EKS
and AKS a Karpenter NodePool does the same (`levers.karpenter`), and `karpenter.sh/do-not-disrupt` on the
buffer's and the engine's pods keeps consolidation from taking their nodes.
"""

from __future__ import annotations

from typing import Any

from coldstart.kube.labels import COMPONENT, COMPONENT_BUFFER, COMPONENT_ENGINE, GKE_COMPUTE_CLASS, INSTANCE
from coldstart.levers import karpenter
from coldstart.profiles import Profile

BUFFER_CLASS = "coldstart-buffer"
WORKLOAD_CLASS = "coldstart-workload"
BUFFER_NAME = "coldstart-warm-buffer"
EXPENDABLE_CUTOFF = -10  # cluster-autoscaler --expendable-pods-priority-cutoff default


def node_selector(profile: Profile) -> dict[str, str]:
    """GPU node labels, plus the ComputeClass selector on GKE or the Karpenter NodePool on EKS and AKS."""
    selector = dict(profile.gpu.node_selector)
    if profile.gke_feature("compute_class"):
        selector[GKE_COMPUTE_CLASS] = profile.gke.compute_class.name  # type: ignore[union-attr]
    selector.update(karpenter.selector(profile))
    return selector


def tolerations(profile: Profile) -> list[dict[str, str]]:
    return [t.model_dump(exclude_none=True) for t in profile.gpu.tolerations]


def placement(profile: Profile) -> dict[str, Any]:
    """Pod-level fields that put the vLLM pod on the nodes the buffer keeps warm."""
    return {"priorityClassName": WORKLOAD_CLASS, "nodeSelector": node_selector(profile),
            "tolerations": tolerations(profile)}


def pod_metadata(profile: Profile, labels: dict[str, str]) -> dict[str, Any]:
    """Pod template metadata: the labels, and Karpenter's do-not-disrupt where the profile asks for it."""
    annotations = karpenter.pod_annotations(profile)
    return {"labels": labels, "annotations": annotations} if annotations else {"labels": labels}


def priority_classes(profile: Profile) -> list[dict[str, Any]]:
    """Buffer below zero (never preempts, but still scales the cluster up); workload above it."""
    nodes = profile.nodes
    return [
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
         "metadata": {"name": BUFFER_CLASS, "labels": profile.labels(COMPONENT_BUFFER)},
         "value": nodes.buffer_priority, "globalDefault": False, "preemptionPolicy": "Never",
         "description": "coldstart warm buffer: pause pods that hold GPU nodes until a vLLM pod preempts them"},
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
         "metadata": {"name": WORKLOAD_CLASS, "labels": profile.labels(COMPONENT_ENGINE)},
         "value": nodes.workload_priority, "globalDefault": False, "preemptionPolicy": "PreemptLowerPriority",
         "description": "coldstart vLLM replicas: preempt the warm buffer instead of waiting for a new node"},
    ]


def warm_buffer(profile: Profile, engine_requests: dict[str, str]) -> dict[str, Any]:
    """Pause-pod Deployment sized like one vLLM pod, so preempting one frees exactly one replica's room."""
    labels = profile.labels(COMPONENT_BUFFER)
    selector = {COMPONENT: COMPONENT_BUFFER, INSTANCE: profile.model.served_name}
    gpus = {profile.gpu.resource: str(profile.gpu.count)}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": BUFFER_NAME, "namespace": profile.namespace, "labels": labels},
        "spec": {
            "replicas": profile.nodes.warm_buffer,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": pod_metadata(profile, labels),
                "spec": {
                    "priorityClassName": BUFFER_CLASS,
                    "terminationGracePeriodSeconds": 0,
                    "nodeSelector": node_selector(profile),
                    "tolerations": tolerations(profile),
                    "containers": [{
                        "name": "pause",
                        "image": profile.image.pause,
                        "imagePullPolicy": "IfNotPresent",
                        "resources": {"requests": {**engine_requests, **gpus}, "limits": gpus},
                    }],
                },
            },
        },
    }


def compute_class(profile: Profile) -> dict[str, Any] | None:
    """GKE ComputeClass: Spot first, on-demand second, node pools auto-created with Image Streaming."""
    if not profile.gke_feature("compute_class"):
        return None
    cc = profile.gke.compute_class  # type: ignore[union-attr]
    gpu = {"type": profile.gpu.type, "count": profile.nodes.gpus_per_node, "driverVersion": "latest"}
    order = [True, False] if cc.spot_first else [False]
    spec: dict[str, Any] = {
        "description": f"GPU nodes for {profile.model.served_name}: Spot first, on-demand when Spot is unavailable",
        "priorities": [{"machineType": profile.nodes.machine_type, "spot": spot, "gpu": gpu} for spot in order],
        "nodePoolAutoCreation": {"enabled": True},
        "activeMigration": {"optimizeRulePriority": True},
        "whenUnsatisfiable": cc.when_unsatisfiable,
    }
    if profile.gke_feature("image_streaming"):
        spec["nodePoolConfig"] = {"imageStreaming": {"enabled": True}}
    return {"apiVersion": "cloud.google.com/v1", "kind": "ComputeClass",
            "metadata": {"name": cc.name, "labels": profile.labels("compute-class")}, "spec": spec}


def manifests(profile: Profile, engine_requests: dict[str, str]) -> list[dict[str, Any]]:
    """PriorityClasses, the GKE ComputeClass or the Karpenter node class and NodePool, and the warm buffer, in apply
    order."""
    docs = priority_classes(profile)
    cc = compute_class(profile)
    if cc is not None:
        docs.append(cc)
    docs += karpenter.manifests(profile)
    docs.append(warm_buffer(profile, engine_requests))
    return docs
