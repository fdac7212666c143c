"""Which objects of an input run vLLM engine pods (workloads) and which hold warm nodes (buffers).

Plain pod templates (Deployments, StatefulSets, LeaderWorkerSets, Ray clusters, Jobs, Pods) are read here;
operator resources whose pods are generated elsewhere (KServe, KubeAI, Dynamo) are mapped by
`coldstart.verify.operators`. Objects a cluster derived from another object in the input (a Pod of a
ReplicaSet of a Deployment) are judged through that owner, once.
"""

from __future__ import annotations

from coldstart.kube.images import is_pause_image
from coldstart.kube.podspec import pod_templates
from coldstart.verify.operators import OPERATOR_KINDS, operator_workloads
from coldstart.verify.workloads import (
    POD_TEMPLATE_KINDS,
    Buffer,
    ImageUse,
    Inventory,
    Workload,
    engine_pod,
    finish,
    namespace_of,
)

__all__ = ["find_buffers", "find_workloads"]


def find_workloads(inv: Inventory) -> list[Workload]:
    """Every object in the input that runs vLLM engine pods, in input order."""
    workloads: list[Workload] = []
    for doc in inv.docs:
        obj = doc.obj
        if obj["kind"] in OPERATOR_KINDS or inv.owned_by_input(obj):
            continue
        claims = [str((t.get("metadata") or {}).get("name")) for t in (obj.get("spec") or {}).get(
            "volumeClaimTemplates") or [] if isinstance(t, dict)] if obj["kind"] == "StatefulSet" else []
        pods = [p for role, spec in pod_templates(obj)
                if (p := engine_pod(role, spec, inv, namespace_of(obj), claims)) is not None]
        if pods:
            workloads.append(finish(doc, pods))
    workloads.extend(operator_workloads(inv))
    order = {id(d): i for i, d in enumerate(inv.docs)}
    return sorted(workloads, key=lambda w: order.get(id(w.doc), 0))


def find_buffers(inv: Inventory) -> list[Buffer]:
    """Workloads whose pods run only pause containers (init containers may pre-pull images).

    Includes pre-pull DaemonSets (their images are judged); `holds_capacity` tells the warm buffers apart.
    """
    buffers: list[Buffer] = []
    for doc in inv.docs:
        obj = doc.obj
        if obj["kind"] not in POD_TEMPLATE_KINDS | {"Pod"} or inv.owned_by_input(obj):
            continue
        for _, pod in pod_templates(obj):
            containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
            if not containers or not all(is_pause_image(c.get("image")) for c in containers):
                continue
            replicas = (obj.get("spec") or {}).get("replicas", 1) if obj["kind"] != "Pod" else 1
            images = [ImageUse(str(c.get("name") or "?"), str(c.get("image")), c.get("imagePullPolicy"))
                      for c in (pod.get("initContainers") or []) + containers if isinstance(c, dict) and c.get("image")]
            buffers.append(Buffer(doc, pod, int(replicas) if isinstance(replicas, int) else 1, images))
    return buffers
