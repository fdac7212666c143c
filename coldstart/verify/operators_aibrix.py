"""AIBrix resources (vllm-project/aibrix): a RayClusterFleet is a set of KubeRay clusters whose template is a
RayCluster spec; a StormService or RoleSet holds plain pod templates per role (found by meaning, see
`coldstart.verify.generic`); a ModelAdapter loads a LoRA adapter into the running pods its podSelector matches.

The adapter is fetched from its artifactURL every time a new pod comes up (the controller loads it once the pod is
ready), so the workload whose pods it selects carries a note on its weights; an adapter whose pods are not in the
input is judged with the manifest that defines them.
"""

from __future__ import annotations

from typing import Any

from coldstart.inputs.documents import Document
from coldstart.verify.operators_ray import ray_workloads
from coldstart.verify.workloads import Inventory, Workload

__all__ = ["annotate_adapters", "fleet_workloads", "is_aibrix"]


def is_aibrix(obj: dict[str, Any]) -> bool:
    return str(obj.get("apiVersion", "")).split("/", 1)[0].endswith("aibrix.ai")


def fleet_workloads(doc: Document, inv: Inventory) -> list[Workload]:
    """A RayClusterFleet: each replica is a RayCluster built from `spec.template.spec` by KubeRay."""
    cluster = ((doc.obj.get("spec") or {}).get("template") or {}).get("spec")
    return ray_workloads(doc, inv, cluster) if isinstance(cluster, dict) else []


def annotate_adapters(inv: Inventory, workloads: list[Workload]) -> None:
    """Note each ModelAdapter on the workloads whose pod labels its podSelector matches."""
    for doc in inv.of_kind("ModelAdapter"):
        if not is_aibrix(doc.obj):
            continue
        spec = doc.obj.get("spec") or {}
        wanted = (spec.get("podSelector") or {}).get("matchLabels") or {}
        name = (doc.obj.get("metadata") or {}).get("name")
        for workload in workloads:
            if wanted and any(wanted.items() <= labels.items() for labels in _pod_labels(workload.doc.obj)):
                text = f"ModelAdapter {name} loads {spec.get('artifactURL')} into these pods after each one starts"
                previous = workload.notes.get("weights")
                workload.notes["weights"] = f"{previous}; {text}" if previous else text


def _pod_labels(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """The labels of every pod template an object holds (any `metadata.labels` below its own metadata)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any, depth: int) -> None:
        if depth > 16:
            return
        if isinstance(node, dict):
            labels = (node.get("metadata") or {}).get("labels") if isinstance(node.get("metadata"), dict) else None
            if isinstance(labels, dict):
                found.append({str(k): str(v) for k, v in labels.items()})
            for key, value in node.items():
                if key not in ("metadata", "status"):
                    walk(value, depth + 1)
        elif isinstance(node, list):
            for item in node:
                walk(item, depth + 1)

    walk(obj.get("spec"), 0)
    return found
