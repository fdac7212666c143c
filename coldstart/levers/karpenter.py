"""Lever 3 on EKS and AKS: GPU nodes from a Karpenter NodePool (karpenter.sh/v1) that allows Spot and on-demand,
with the cloud's node class (EC2NodeClass, AKSNodeClass), and pods Karpenter will not disrupt.

Karpenter launches a node for any pending pod a NodePool can satisfy, so the warm buffer's pause pods get their
node like the engine's. Spot first, on-demand as the fallback: Karpenter asks for the cheapest allowed offering,
and when Spot capacity is out the launch fails (InsufficientCapacityError), the offering is marked unavailable
and the next NodeClaim is on-demand, provided the NodePool allows both capacity types.

Consolidation and drift replace nodes voluntarily. A node running a pod annotated `karpenter.sh/do-not-disrupt`
is never disrupted voluntarily, so the buffer's node stays warm and a replica in the middle of its start is never
evicted; a node holding a pause pod is never empty either. The budget bounds how many nodes Karpenter replaces at
once for everything else.

The EC2NodeClass uses the accelerated AL2023 AMI (`al2023@latest` resolves to the NVIDIA variant for GPU instance
types: driver and container toolkit baked in), a gp3 root volume at the profile's throughput (the modelcar is read
from it) and, with SOCI, nodeadm's FastImagePull feature gate (SOCI parallel pull/unpack); lazy loading also turns on
SOCI v2 indexes. The AKSNodeClass turns on Artifact Streaming.
"""

from __future__ import annotations

from typing import Any

from coldstart.kube import labels as L
from coldstart.profiles import Profile
from coldstart.profiles.clouds import SOCI_LAZY_MODE, SOCI_PARALLEL_GATE

__all__ = ["GPU_FAMILY", "NODE_CLASS", "manifests", "node_class",
           "node_pool", "pod_annotations", "selector", "user_data"]

# The provider's node class and the labels its NodePool requirements use, per cloud.
NODE_CLASS = {"eks": ("karpenter.k8s.aws", "v1", "EC2NodeClass"), "aks": ("karpenter.azure.com", "v1beta1",
                                                                          "AKSNodeClass")}
GPU_FAMILY = {"eks": (L.EKS_INSTANCE_FAMILY, L.EKS_INSTANCE_GPU_NAME), "aks": (L.AKS_SKU_FAMILY, L.AKS_SKU_GPU_NAME)}
AL2023_GPU_ALIAS = "al2023@latest"  # resolves to the NVIDIA AMI for GPU instance types


def selector(profile: Profile) -> dict[str, str]:
    """The nodeSelector that keeps the engine, its buffer and the pre-pull on the profile's NodePool."""
    pool = profile.karpenter
    return {L.KARPENTER_NODEPOOL: pool.node_pool} if pool is not None else {}


def pod_annotations(profile: Profile) -> dict[str, str]:
    """`karpenter.sh/do-not-disrupt` on the buffer's and the engine's pods, when the profile asks for it."""
    pool = profile.karpenter
    return {L.KARPENTER_DO_NOT_DISRUPT: "true"} if pool is not None and pool.do_not_disrupt else {}


def _taints(profile: Profile) -> list[dict[str, str]]:
    """The GPU taint the engine tolerates (only GPU pods land on these nodes)."""
    tolerated = {t.key for t in profile.gpu.tolerations}
    return [{"key": profile.gpu.resource, "effect": "NoSchedule"}] if profile.gpu.resource in tolerated else []


def node_pool(profile: Profile) -> dict[str, Any] | None:
    """A karpenter.sh/v1 NodePool of GPU nodes: the profile's families and GPU, Spot and on-demand, a budget."""
    pool = profile.karpenter
    if pool is None:
        return None
    group, _, kind = NODE_CLASS[profile.cloud]
    family, gpu_name = GPU_FAMILY[profile.cloud]
    requirements = [
        {"key": L.KARPENTER_CAPACITY_TYPE, "operator": "In", "values": list(pool.capacity_types)},
        {"key": family, "operator": "In", "values": list(pool.instance_families)},
        {"key": gpu_name, "operator": "In", "values": [pool.gpu_name]},
        {"key": L.ARCH, "operator": "In", "values": ["amd64"]},
    ]
    template: dict[str, Any] = {"nodeClassRef": {"group": group, "kind": kind, "name": pool.node_class},
                                "requirements": requirements, "expireAfter": pool.expire_after}
    if taints := _taints(profile):
        template["taints"] = taints
    gpus = profile.nodes.max_nodes * profile.nodes.gpus_per_node
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": pool.node_pool, "labels": profile.labels("node-pool")},
        "spec": {
            "template": {"spec": template},
            "disruption": {"consolidationPolicy": pool.consolidation_policy,
                           "consolidateAfter": pool.consolidate_after,
                           "budgets": [{"nodes": pool.disruption_budget}]},
            "limits": {profile.gpu.resource: str(gpus)},
        },
    }


def user_data(profile: Profile) -> str | None:
    """AL2023 user data (MIME, nodeadm NodeConfig) that turns SOCI on: FastImagePull for parallel pull/unpack, and
    for lazy loading a soci-snapshotter config that also reads SOCI v2 indexes. None without SOCI."""
    if not profile.feature("eks:soci"):
        return None
    parts = []
    if profile.feature("eks:soci_lazy"):
        parts.append('Content-Type: text/x-shellscript; charset="us-ascii"\n\n#!/bin/bash\n'
                     "mkdir -p /etc/soci-snapshotter-grpc\n"
                     "cat <<'EOF' >> /etc/soci-snapshotter-grpc/config.toml\n"
                     f"{SOCI_LAZY_MODE}\n  enable = true\n"
                     "[pull_modes.parallel_pull_unpack]\n  enable = true\nEOF\n")
    parts.append("Content-Type: application/node.eks.aws\n\napiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\n"
                 f"spec:\n  featureGates:\n    {SOCI_PARALLEL_GATE}\n")
    body = "".join(f"--//\n{part}\n" for part in parts)
    return f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="//"\n\n{body}--//--\n'


def node_class(profile: Profile) -> dict[str, Any] | None:
    """The EC2NodeClass (EKS) or AKSNodeClass (AKS) the NodePool launches its nodes with."""
    pool = profile.karpenter
    if pool is None:
        return None
    group, version, kind = NODE_CLASS[profile.cloud]
    meta = {"name": pool.node_class, "labels": profile.labels("node-class")}
    if profile.eks is not None:
        eks = profile.eks
        discovery = [{"tags": {"karpenter.sh/discovery": eks.cluster_name}}]
        throughput = eks.root_volume_throughput_mib_per_s
        spec: dict[str, Any] = {
            "role": eks.node_role,
            "amiSelectorTerms": [{"alias": AL2023_GPU_ALIAS}],
            "subnetSelectorTerms": discovery,
            "securityGroupSelectorTerms": discovery,
            "blockDeviceMappings": [{"deviceName": "/dev/xvda", "ebs": {
                "volumeSize": "200Gi", "volumeType": "gp3", "throughput": throughput,
                "iops": max(3000, 4 * throughput), "encrypted": True, "deleteOnTermination": True}}],
        }
        data = user_data(profile)
        if data is not None:
            spec["userData"] = data
    else:
        aks = profile.aks
        assert aks is not None
        spec = {"imageFamily": aks.image_family, "osDiskSizeGB": aks.os_disk_size_gb,
                "artifactStreaming": {"enabled": aks.artifact_streaming.enabled}}
    return {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": meta, "spec": spec}


def manifests(profile: Profile) -> list[dict[str, Any]]:
    """The node class, then the NodePool that references it (none without Karpenter)."""
    return [doc for doc in (node_class(profile), node_pool(profile)) if doc is not None]
