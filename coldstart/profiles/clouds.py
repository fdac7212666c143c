"""The EKS and AKS sections of a profile: each cloud's accelerators on top of the portable baseline.

EKS: a Karpenter NodePool (karpenter.sh/v1) with an EC2NodeClass, SOCI (parallel pull/unpack or lazy loading) as
the image accelerator, weights from the modelcar or from FSx for Lustre, Mountpoint for S3 or S3 itself (the Run:ai
streamer reads the bucket), the compile cache on EFS. AKS: node auto-provisioning (Karpenter with an AKSNodeClass) or
a cluster-autoscaler GPU pool, Artifact Streaming from ACR, weights from the modelcar or Azure Blob (the streamer
again), the cache on Azure Files. Each section says which features it turns on (`feature`), by the names the
invariants and the experiments ask for (`eks:soci`, `aks:artifact_streaming`, ...).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from coldstart.profiles.fields import BinaryQuantity, DnsLabel, Duration, Strict

__all__ = ["Aks", "AksWeights", "ArtifactStreaming", "BUILT_IN_CLASSES", "CLOUD_FEATURES", "Eks", "EksWeights",
           "KarpenterPool", "SOCI_LAZY_MODE", "SOCI_MARKERS", "SOCI_PARALLEL_GATE", "Soci", "node_class_image_loading"]

_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/\S*)?$")
_AZ_URI = re.compile(r"^az://[a-z0-9][a-z0-9-]{1,61}[a-z0-9](/\S*)?$")
_BUDGET = re.compile(r"^(\d+|\d+%)$")
CapacityType = Literal["spot", "on-demand"]
CAPACITY_TYPES: tuple[CapacityType, ...] = ("spot", "on-demand")


class KarpenterPool(Strict):
    """A Karpenter NodePool for the GPU nodes and the cloud's node class it launches them with.

    The warm buffer survives consolidation because its pods (and the engine's) carry
    `karpenter.sh/do-not-disrupt: "true"`: Karpenter never voluntarily disrupts (consolidates, drifts) a node
    running such a pod, and a node holding a pause pod is never empty. The budget bounds how many nodes Karpenter
    replaces at once for everything else."""

    enabled: bool = True
    node_pool: DnsLabel = "vllm-gpu"
    node_class: DnsLabel = "vllm-gpu"
    instance_families: list[str] = Field(min_length=1, description="eks: instance-family (g6); aks: sku-family (NC)")
    gpu_name: str = Field(min_length=1, description="the GPU the engine selects: eks instance-gpu-name (l4), "
                          "aks sku-gpu-name (A100)")
    capacity_types: list[CapacityType] = Field(default_factory=lambda: list(CAPACITY_TYPES), min_length=1)
    consolidation_policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = "WhenEmptyOrUnderutilized"
    consolidate_after: Duration = "10m"
    disruption_budget: str = Field(default="10%", description="nodes Karpenter may disrupt at once: 1 or 10%")
    do_not_disrupt: bool = True
    expire_after: Duration = "720h"

    @model_validator(mode="after")
    def _budget(self) -> KarpenterPool:
        if not _BUDGET.match(self.disruption_budget):
            raise ValueError(f"disruption_budget {self.disruption_budget!r} is not a node count or a percentage; "
                             "write it like 1 or 10%")
        return self


class Soci(Strict):
    """SOCI on the GPU nodes: parallel pull/unpack (any image) or lazy loading (images with a SOCI v2 index)."""

    enabled: bool = False
    mode: Literal["parallel_pull_unpack", "lazy"] = "parallel_pull_unpack"


class EksWeights(Strict):
    """Where an EKS replica reads its weights: the modelcar, FSx for Lustre, Mountpoint for S3, or S3 itself."""

    source: Literal["modelcar", "fsx_lustre", "mountpoint_s3", "s3"] = "modelcar"
    s3_uri: str = Field(default="", description="s3://bucket/prefix/ holding the safetensors")
    fsx_file_system_id: str = Field(default="", pattern=r"^(fs-[0-9a-f]{8,17})?$")
    fsx_dns_name: str = ""
    fsx_mount_name: str = ""
    size: BinaryQuantity = "1200Gi"
    role_arn: str = Field(default="", description="IAM role (IRSA) allowed to read the bucket")

    @model_validator(mode="after")
    def _source_settings(self) -> EksWeights:
        if self.source in ("s3", "mountpoint_s3") and not _S3_URI.match(self.s3_uri):
            raise ValueError(f"weights from {self.source} need s3_uri: s3://<bucket>/<prefix>/, got {self.s3_uri!r}")
        if self.source == "fsx_lustre" and not (self.fsx_file_system_id and self.fsx_dns_name and self.fsx_mount_name):
            raise ValueError("weights from fsx_lustre need fsx_file_system_id, fsx_dns_name and fsx_mount_name "
                             "(aws fsx describe-file-systems prints them)")
        return self


class Eks(Strict):
    """EKS: ECR in the region, Karpenter GPU nodes, SOCI, weights storage and an EFS compile cache."""

    account: str = Field(pattern=r"^\d{12}$", description="the AWS account of the ECR registry")
    cluster_name: str = Field(min_length=1)
    node_role: str = Field(min_length=1, description="IAM role of the nodes Karpenter launches")
    root_volume_throughput_mib_per_s: int = Field(default=1000, ge=125, le=1000,
                                                  description="gp3 root volume throughput (125 baseline, 1000 max)")
    efs_file_system_id: str = Field(default="", pattern=r"^(fs-[0-9a-f]{8,17})?$",
                                    description="EFS for the ReadWriteMany compile cache")
    karpenter: KarpenterPool
    soci: Soci = Field(default_factory=Soci)
    weights: EksWeights = Field(default_factory=EksWeights)

    @property
    def renders_cache_class(self) -> bool:
        """The compile cache's StorageClass (EFS access points) is rendered, not built into the cluster."""
        return bool(self.efs_file_system_id)

    def feature(self, name: str) -> bool:
        """karpenter, soci, soci_lazy, soci_parallel, fsx_lustre, mountpoint_s3, s3_streamer."""
        return {"karpenter": self.karpenter.enabled, "soci": self.soci.enabled,
                "soci_lazy": self.soci.enabled and self.soci.mode == "lazy",
                "soci_parallel": self.soci.enabled and self.soci.mode == "parallel_pull_unpack",
                "fsx_lustre": self.weights.source == "fsx_lustre",
                "mountpoint_s3": self.weights.source == "mountpoint_s3",
                "s3_streamer": self.weights.source == "s3"}[name]


class ArtifactStreaming(Strict):
    """AKS Artifact Streaming: the node streams an image from ACR on demand. It serves pulls by tag only, so the
    vLLM image is referenced by a tag locked in ACR (`az acr repository update --write-enabled false`)."""

    enabled: bool = False
    tag: str = Field(default="", pattern=r"^([\w][\w.-]{0,127})?$", description="the locked tag of the vLLM image")

    @model_validator(mode="after")
    def _tag(self) -> ArtifactStreaming:
        if self.enabled and not self.tag:
            raise ValueError("Artifact Streaming streams pulls by tag only: set tag to the vLLM image's locked ACR tag "
                             "(az acr repository update --image <repo>:<tag> --write-enabled false)")
        return self


class AksWeights(Strict):
    """Where an AKS replica reads its weights: the modelcar, or Azure Blob through the Run:ai streamer."""

    source: Literal["modelcar", "blob"] = "modelcar"
    blob_uri: str = Field(default="", description="az://<container>/<path>/ holding the safetensors")
    storage_account: str = Field(default="", pattern=r"^([a-z0-9]{3,24})?$")
    client_id: str = Field(default="", description="workload identity client id allowed to read the container")

    @model_validator(mode="after")
    def _blob(self) -> AksWeights:
        if self.source == "blob" and not (_AZ_URI.match(self.blob_uri) and self.storage_account):
            raise ValueError("weights from blob need blob_uri: az://<container>/<path>/ and storage_account")
        return self


class Aks(Strict):
    """AKS: ACR (geo-replicated into the region), node auto-provisioning or a GPU pool, Artifact Streaming,
    weights from the modelcar or Blob, the cache on Azure Files."""

    acr_regions: list[str] = Field(min_length=1, description="regions the ACR is in (home and geo-replicas)")
    image_family: Literal["Ubuntu2204", "Ubuntu2404", "AzureLinux"] = "Ubuntu2204"
    os_disk_size_gb: int = Field(default=256, ge=30, le=2048)
    karpenter: KarpenterPool
    artifact_streaming: ArtifactStreaming = Field(default_factory=ArtifactStreaming)
    weights: AksWeights = Field(default_factory=AksWeights)

    def feature(self, name: str) -> bool:
        """karpenter (node auto-provisioning), artifact_streaming, blob_streamer."""
        return {"karpenter": self.karpenter.enabled, "artifact_streaming": self.artifact_streaming.enabled,
                "blob_streamer": self.weights.source == "blob"}[name]


# What `Profile.feature("<cloud>:<name>")` answers for each cloud (GKE's live in the model).
CLOUD_FEATURES: dict[str, tuple[str, ...]] = {
    "gke": ("hyperdisk_ml", "image_streaming", "compute_class"),
    "eks": ("karpenter", "soci", "soci_lazy", "soci_parallel", "fsx_lustre", "mountpoint_s3", "s3_streamer"),
    "aks": ("karpenter", "artifact_streaming", "blob_streamer"),
}


# How a node class turns SOCI on: AL2023's nodeadm feature gate (parallel pull/unpack), Bottlerocket's snapshotter
# setting, and the soci-snapshotter section that also lazily loads images with a SOCI v2 index
# (https://github.com/awslabs/soci-snapshotter/blob/main/docs/parallel-mode.md, .../docs/soci-index-manifest-v2.md).
SOCI_PARALLEL_GATE = "FastImagePull: true"
SOCI_MARKERS = (SOCI_PARALLEL_GATE, 'snapshotter = "soci"')
SOCI_LAZY_MODE = "[pull_modes.soci_v2]"

# StorageClasses each cloud creates in every cluster (in nobody's manifests) and their provisioners: EKS
# (https://docs.aws.amazon.com/eks/latest/userguide/ebs-csi.html), AKS
# (https://learn.microsoft.com/azure/aks/concepts-storage#storage-classes), GKE
# (https://cloud.google.com/kubernetes-engine/docs/concepts/persistent-volumes#storageclasses).
BUILT_IN_CLASSES: dict[str, dict[str, str]] = {
    "eks": {"gp2": "kubernetes.io/aws-ebs", "gp3": "ebs.csi.aws.com", "auto-ebs-sc": "ebs.csi.eks.amazonaws.com"},
    "aks": {"default": "disk.csi.azure.com", "managed-csi": "disk.csi.azure.com",
            "managed-csi-premium": "disk.csi.azure.com", "managed": "disk.csi.azure.com",
            "managed-premium": "disk.csi.azure.com", "azurefile": "file.csi.azure.com",
            "azurefile-csi": "file.csi.azure.com", "azurefile-csi-premium": "file.csi.azure.com",
            "azurefile-premium": "file.csi.azure.com"},
    "gke": {"standard-rwo": "pd.csi.storage.gke.io", "premium-rwo": "pd.csi.storage.gke.io",
            "standard": "kubernetes.io/gce-pd", "standard-rwx": "filestore.csi.storage.gke.io",
            "premium-rwx": "filestore.csi.storage.gke.io", "enterprise-rwx": "filestore.csi.storage.gke.io"},
}


def node_class_image_loading(kind: str, spec: dict[str, Any]) -> Literal["lazy", "parallel"] | None:
    """How the nodes a Karpenter node class launches load images: lazily (SOCI v2 indexes, Artifact Streaming), in
    parallel chunks unpacked as they arrive (SOCI parallel pull/unpack), or whole (None)."""
    if kind == "AKSNodeClass":
        return "lazy" if (spec.get("artifactStreaming") or {}).get("enabled") is True else None
    data = str(spec.get("userData") or "")
    if not any(marker in data for marker in SOCI_MARKERS):
        return None
    return "lazy" if SOCI_LAZY_MODE in data else "parallel"
