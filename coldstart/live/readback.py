"""Live invariants: the same registry run on what the cluster holds after apply, plus checks that only a
running cluster can answer.

What was applied is not always what runs: an admission webhook may rewrite the pull policy or the memory
limit, a LimitRange may add limits, a policy engine may strip a volume. So the static checks run again on
the objects read back. Then the cluster-level questions: are the warm-buffer pods Running on nodes of the
right GPU type (a buffer Pending forever holds nothing), is the buffer's priority really below the
workload's, and on GKE does the node carry Image Streaming.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from coldstart.errors import Forbidden, NotFound
from coldstart.kube import labels
from coldstart.kube.kinds import api_version
from coldstart.levers import node_warmup
from coldstart.levers.render import KIND_ORDER
from coldstart.live.cluster import Cluster
from coldstart.verify import Finding, check_documents
from coldstart.verify.findings import Status

# Kinds worth reading back: everything we apply (pods are judged through their owners).
_READ_BACK = [k for k in KIND_ORDER if k not in ("Namespace",)]


def read_back(cluster: Cluster, kinds: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """Every object of this run as the API server now holds it (one list per kind)."""
    selector = cluster.run_selector()
    objects: list[dict[str, Any]] = []
    wanted = set(_READ_BACK) if kinds is None else set(kinds)
    for kind in [k for k in _READ_BACK if k in wanted]:
        try:  # namespaced kinds only in the run's namespace: a namespace-scoped role may list nothing else
            namespace = cluster.namespace_for(api_version(kind), kind)
            items, _, _ = cluster.list(api_version(kind), kind, namespace, label_selector=selector)
        except NotFound:  # kind not served here (no KServe, not GKE): nothing of ours to read
            continue
        objects += items
    return objects


def _finding(invariant: str, status: Status, obj: str, message: str) -> Finding:
    return Finding(invariant, status, "(cluster)", obj, None, message)


def buffer_checks(cluster: Cluster, objects: list[dict[str, Any]]) -> list[Finding]:
    """Warm-buffer pods Running on nodes of the profile's GPU type; buffer priority below the workload's."""
    profile, namespace = cluster.profile, cluster.profile.namespace
    classes = {o["metadata"]["name"]: o.get("value") for o in objects if o.get("kind") == "PriorityClass"}
    out = []
    buffer, workload = classes.get(node_warmup.BUFFER_CLASS), classes.get(node_warmup.WORKLOAD_CLASS)
    if buffer is None or workload is None:
        out.append(_finding("buffer-below-workload", "n/a", "PriorityClass", "the run's PriorityClasses are not "
                            "in the cluster (no warm buffer applied)"))
    else:
        ok = node_warmup.EXPENDABLE_CUTOFF <= buffer < 0 and buffer < workload
        where = f"PriorityClass/{node_warmup.BUFFER_CLASS}"
        out.append(_finding("buffer-below-workload", "pass" if ok else "fail", where,
                            f"buffer {buffer} < workload {workload}" if ok else
                            f"buffer priority {buffer} must be in [-10, -1] and below the workload's {workload}"))
    deployed = next((o for o in objects if o.get("kind") == "Deployment"
                     and o["metadata"]["name"] == node_warmup.BUFFER_NAME), None)
    wanted = int((deployed or {}).get("spec", {}).get("replicas", 0))  # what the cluster holds, not the profile
    if wanted == 0:
        out.append(_finding("warm-buffer-running", "n/a", f"Deployment/{namespace}/{node_warmup.BUFFER_NAME}",
                            "no warm buffer in the cluster (none applied, or at zero replicas)"))
        return out
    buffer_pods = f"{cluster.run_selector()},{labels.selector({labels.COMPONENT: labels.COMPONENT_BUFFER})}"
    pods, _, _ = cluster.list("v1", "Pod", namespace, label_selector=buffer_pods)
    nodes = {n["metadata"]["name"]: n for n in cluster.list("v1", "Node", None)[0]}
    good = []
    for pod in pods:
        node = nodes.get(pod["spec"].get("nodeName") or "")
        node_labels = labels.labels_of(node)
        if (pod.get("status") or {}).get("phase") == "Running" and node is not None and all(
                node_labels.get(k) == v for k, v in profile.gpu.node_selector.items()):
            good.append(pod["metadata"]["name"])
    status: Status = "pass" if len(good) >= wanted else "fail"
    message = (f"{len(good)}/{wanted} buffer pods Running on {profile.gpu.type} nodes" if status == "pass" else
               f"only {len(good)}/{wanted} buffer pods Running on {profile.gpu.type} nodes: the buffer holds no "
               "warm node (look for FailedScheduling or NotTriggerScaleUp on its pods)")
    out.append(_finding("warm-buffer-running", status, f"Deployment/{namespace}/{node_warmup.BUFFER_NAME}", message))
    return out


def image_streaming_check(cluster: Cluster) -> list[Finding]:
    """On GKE with Image Streaming on, every GPU node must carry it (node label or an ImageStreaming event)."""
    profile = cluster.profile
    if not profile.gke_feature("image_streaming"):
        return []
    gpu_nodes = labels.selector(profile.gpu.node_selector)
    nodes, _, _ = cluster.list("v1", "Node", None, label_selector=gpu_nodes or None)
    if not nodes:
        return [_finding("image-streaming-node", "n/a", "Node", f"no {profile.gpu.type} node in the cluster yet")]
    try:  # node events are recorded in the default namespace; without access the node label decides alone
        events, _, _ = cluster.list("v1", "Event", "default", field_selector="reason=ImageStreaming")
    except Forbidden:
        events = []
    streamed = {e.get("involvedObject", {}).get("name") for e in events}
    out = []
    for node in nodes:
        name = node["metadata"]["name"]
        on = labels.labels_of(node).get(labels.GKE_IMAGE_STREAMING) == "true" or name in streamed
        out.append(_finding("image-streaming-node", "pass" if on else "fail", f"Node/{name}",
                            "Image Streaming on" if on else "Image Streaming is off on this node pool; enable it "
                            "(ComputeClass nodePoolConfig.imageStreaming or gcloud --enable-image-streaming)"))
    return out


def live_findings(cluster: Cluster, kinds: Iterable[str] | None = None) -> tuple[list[Finding], list[dict[str, Any]]]:
    """Static invariants on the read-back objects plus the cluster-level checks; also returns the objects."""
    objects = read_back(cluster, kinds)
    findings = check_documents(objects, cluster.profile, source="(cluster)")
    findings += buffer_checks(cluster, objects) + image_streaming_check(cluster)
    return findings, objects

