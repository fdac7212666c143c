"""Well-known label and annotation keys, defined once for the builders, the checker, the live path and the
embedded cluster (a key spelt twice drifts: the checker would look for a label the simulation never sets).

Keys come from Kubernetes' well-known labels (kubernetes.io/docs/reference/labels-annotations-taints/), the
recommended `app.kubernetes.io/*` labels, GKE's node labels and Karpenter's (EKS, AKS); the `coldstart.dev/*`
ones are ours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ARCH", "COMPONENT", "COMPONENT_BUFFER", "COMPONENT_ENGINE", "COMPONENT_PREPULL", "CREATED_BY_RUN",
    "FIELD_MANAGER", "GKE_ACCELERATOR", "GKE_COMPUTE_CLASS", "GKE_IMAGE_STREAMING", "GKE_NODEPOOL", "GKE_OS",
    "GKE_SPOT", "GKE_ZONE", "HOSTNAME", "INSTANCE", "INSTANCE_TYPE", "MANAGED_BY", "MANAGER", "NAME", "OS",
    "PART_OF", "REGION", "RUN_ID", "ZONE", "component_of", "labels_of", "selector",
    "KARPENTER_NODEPOOL", "KARPENTER_CAPACITY_TYPE", "KARPENTER_NODECLAIM", "KARPENTER_REGISTERED",
    "KARPENTER_INITIALIZED", "KARPENTER_DO_NOT_DISRUPT", "KARPENTER_KNOWN_PREFIXES", "EKS_INSTANCE_FAMILY",
    "EKS_INSTANCE_GPU_NAME", "EKS_INSTANCE_GPU_COUNT", "EKS_NODECLASS", "EKS_ZONE_ID", "AKS_SKU_FAMILY",
    "AKS_SKU_NAME", "AKS_SKU_GPU_NAME", "AKS_SKU_GPU_COUNT", "AKS_AGENTPOOL", "AKS_SCALESET_PRIORITY", "IMAGE_LOADING",
]

# app.kubernetes.io/* (the recommended labels)
NAME = "app.kubernetes.io/name"
INSTANCE = "app.kubernetes.io/instance"
COMPONENT = "app.kubernetes.io/component"
PART_OF = "app.kubernetes.io/part-of"
MANAGED_BY = "app.kubernetes.io/managed-by"

# coldstart's own: the manager name (label value and server-side apply field manager), the run a live object
# belongs to, and the annotation set only when a run creates an object (cleanup deletes only those).
MANAGER = "coldstart"
FIELD_MANAGER = MANAGER
RUN_ID = "coldstart.dev/run-id"
CREATED_BY_RUN = "coldstart.dev/created-by-run"
# The embedded cluster's own node label for how a node loads images its node class set up (SOCI, Artifact Streaming):
# "lazy" or "parallel". Real clouds keep that in the node's containerd config, which a simulated kubelet cannot read.
IMAGE_LOADING = "coldstart.dev/image-loading"

# Components of a rendered profile.
COMPONENT_ENGINE = "engine"
COMPONENT_BUFFER = "warm-buffer"
COMPONENT_PREPULL = "image-prepull"

# Node labels: Kubernetes well-known ones, then GKE's.
HOSTNAME = "kubernetes.io/hostname"
OS = "kubernetes.io/os"
ARCH = "kubernetes.io/arch"
INSTANCE_TYPE = "node.kubernetes.io/instance-type"
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
GKE_ZONE = "topology.gke.io/zone"
GKE_ACCELERATOR = "cloud.google.com/gke-accelerator"
GKE_SPOT = "cloud.google.com/gke-spot"
GKE_NODEPOOL = "cloud.google.com/gke-nodepool"
GKE_OS = "cloud.google.com/gke-os-distribution"
GKE_COMPUTE_CLASS = "cloud.google.com/compute-class"
GKE_IMAGE_STREAMING = "cloud.google.com/gke-image-streaming"  # GKE sets it "true" on image-streaming nodes

# Karpenter (karpenter.sh/v1) and its providers' well-known node labels, and the pod annotation that keeps a node
# from voluntary disruption (consolidation, drift) while the pod runs.
KARPENTER_NODEPOOL = "karpenter.sh/nodepool"
KARPENTER_CAPACITY_TYPE = "karpenter.sh/capacity-type"
KARPENTER_NODECLAIM = "karpenter.sh/nodeclaim"
KARPENTER_REGISTERED = "karpenter.sh/registered"
KARPENTER_INITIALIZED = "karpenter.sh/initialized"
KARPENTER_DO_NOT_DISRUPT = "karpenter.sh/do-not-disrupt"
EKS_INSTANCE_FAMILY = "karpenter.k8s.aws/instance-family"
EKS_INSTANCE_GPU_NAME = "karpenter.k8s.aws/instance-gpu-name"
EKS_INSTANCE_GPU_COUNT = "karpenter.k8s.aws/instance-gpu-count"
EKS_NODECLASS = "karpenter.k8s.aws/ec2nodeclass"
EKS_ZONE_ID = "topology.k8s.aws/zone-id"
AKS_SKU_FAMILY = "karpenter.azure.com/sku-family"
AKS_SKU_NAME = "karpenter.azure.com/sku-name"
AKS_SKU_GPU_NAME = "karpenter.azure.com/sku-gpu-name"
AKS_SKU_GPU_COUNT = "karpenter.azure.com/sku-gpu-count"
AKS_AGENTPOOL = "kubernetes.azure.com/agentpool"
AKS_SCALESET_PRIORITY = "kubernetes.azure.com/scalesetpriority"  # "spot" label and taint on AKS Spot nodes
# Labels a Karpenter provider knows before the node exists, so a pod selecting them can make it launch a node.
KARPENTER_KNOWN_PREFIXES = ("karpenter.sh/", "karpenter.k8s.aws/", "karpenter.azure.com/", "kubernetes.io/arch",
                            "kubernetes.io/os", "node.kubernetes.io/instance-type", "topology.kubernetes.io/",
                            "topology.k8s.aws/", "kubernetes.azure.com/scalesetpriority")


def labels_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    """An object's labels ({} when absent or not a map)."""
    meta = (obj or {}).get("metadata")
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return labels if isinstance(labels, dict) else {}


def component_of(obj: Mapping[str, Any] | None) -> str | None:
    """The `app.kubernetes.io/component` of an object, if any."""
    return labels_of(obj).get(COMPONENT)


def selector(labels: Mapping[str, str]) -> str:
    """An equality label selector (`k=v,k2=v2`) for the API's labelSelector parameter."""
    return ",".join(f"{key}={value}" for key, value in labels.items())
