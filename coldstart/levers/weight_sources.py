"""Lever 1 on EKS and AKS: where the weights come from when not from the modelcar, and the compile cache's storage.

- FSx for Lustre (EKS): a static PersistentVolume of a file system hydrated once from S3 (a data repository
  association), bound ReadOnlyMany by the weights claim; every replica reads it at the file system's throughput.
- Mountpoint for S3 (EKS): the bucket mounted read-only by the Mountpoint for S3 CSI driver (static provisioning).
- The object store itself (S3 on EKS, Azure Blob on AKS): vLLM serves `s3://` or `az://` and the Run:ai streamer
  reads the safetensors concurrently; the pod's service account carries the identity allowed to read them (IRSA,
  or Azure workload identity).
- The compile cache on EKS: an EFS StorageClass (efs.csi.aws.com, access points), because EFS is ReadWriteMany and
  every replica shares one cache; a gp3 EBS volume is ReadWriteOnce and fits a single replica only. AKS's built-in
  `azurefile-csi-premium` class (Azure Files) is ReadWriteMany and needs nothing rendered.
"""

from __future__ import annotations

from typing import Any

from coldstart.profiles import Profile
from coldstart.profiles.physics import weights_storage

__all__ = ["AZURE_WORKLOAD_IDENTITY", "CLAIM_SOURCES", "EFS_PROVISIONER", "cache_storage_class", "claim_docs",
           "env", "object_store_uri", "pod_labels", "service_account", "service_account_name"]

CLAIM_SOURCES = ("hyperdisk_ml", "fsx_lustre", "mountpoint_s3")  # weights on a read-only claim, not the modelcar
EFS_PROVISIONER = "efs.csi.aws.com"
AZURE_WORKLOAD_IDENTITY = "azure.workload.identity/use"


def object_store_uri(profile: Profile) -> str | None:
    """The s3:// or az:// URI vLLM serves from when the profile streams the weights from the object store."""
    if weights_storage(profile) != "object_store":
        return None
    if profile.eks is not None:
        return profile.eks.weights.s3_uri
    return profile.aks.weights.blob_uri if profile.aks is not None else None


def service_account_name(profile: Profile) -> str:
    return f"{profile.model.served_name}-weights-reader"


def service_account(profile: Profile) -> dict[str, Any] | None:
    """The identity that may read the bucket or container: IRSA's role annotation, or workload identity's client id."""
    if object_store_uri(profile) is None:
        return None
    if profile.eks is not None:
        annotations = {"eks.amazonaws.com/role-arn": profile.eks.weights.role_arn} if profile.eks.weights.role_arn \
            else {}
    else:
        assert profile.aks is not None
        annotations = {"azure.workload.identity/client-id": profile.aks.weights.client_id}
    meta: dict[str, Any] = {"name": service_account_name(profile), "namespace": profile.namespace,
                            "labels": profile.labels("weights")}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}


def env(profile: Profile) -> list[dict[str, str]]:
    """What the streamer needs to find the object store: the region (S3) or the storage account (Blob)."""
    if object_store_uri(profile) is None:
        return []
    if profile.eks is not None:
        return [{"name": "AWS_REGION", "value": profile.region}]
    assert profile.aks is not None
    return [{"name": "AZURE_STORAGE_ACCOUNT_NAME", "value": profile.aks.weights.storage_account}]


def pod_labels(profile: Profile) -> dict[str, str]:
    """Azure workload identity injects its token only into pods labelled for it."""
    return {AZURE_WORKLOAD_IDENTITY: "true"} if profile.aks is not None and object_store_uri(profile) else {}


def _volume(profile: Profile) -> dict[str, Any] | None:
    """The PersistentVolume of FSx for Lustre or Mountpoint for S3 (static provisioning), read-only."""
    storage, eks = weights_storage(profile), profile.eks
    if eks is None or storage not in ("fsx_lustre", "mountpoint_s3"):
        return None
    w = eks.weights
    if storage == "fsx_lustre":
        csi: dict[str, Any] = {"driver": "fsx.csi.aws.com", "volumeHandle": w.fsx_file_system_id,
                               "volumeAttributes": {"dnsname": w.fsx_dns_name, "mountname": w.fsx_mount_name}}
        options = ["flock"]
    else:
        bucket, _, prefix = w.s3_uri.removeprefix("s3://").partition("/")
        csi = {"driver": "s3.csi.aws.com", "volumeHandle": f"{profile.model.served_name}-weights-s3",
               "volumeAttributes": {"bucketName": bucket}}
        options = ["read-only", f"region {profile.region}"] + ([f"prefix {prefix}"] if prefix else [])
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"{profile.model.served_name}-weights-{storage.replace('_', '-')}",
                         "labels": profile.labels("weights")},
            "spec": {"capacity": {"storage": w.size}, "accessModes": ["ReadOnlyMany"],
                     "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "", "mountOptions": options,
                     "csi": csi}}


def claim_docs(profile: Profile, claim_name: str) -> list[dict[str, Any]]:
    """The PersistentVolume and its ReadOnlyMany claim (bound by name) for FSx for Lustre or Mountpoint for S3."""
    volume = _volume(profile)
    if volume is None:
        return []
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": claim_name, "namespace": profile.namespace, "labels": profile.labels("weights")},
             "spec": {"accessModes": ["ReadOnlyMany"], "storageClassName": "", "volumeName": volume["metadata"]["name"],
                      "resources": {"requests": {"storage": volume["spec"]["capacity"]["storage"]}}}}
    return [volume, claim]


def cache_storage_class(profile: Profile) -> dict[str, Any] | None:
    """EKS: the EFS StorageClass the compile cache's claim names (dynamic access points on the profile's file
    system); None elsewhere (GKE's standard-rwx and AKS's azurefile classes are built in)."""
    eks = profile.eks
    if eks is None or not eks.renders_cache_class:
        return None
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": profile.runtime.cache_storage_class, "labels": profile.labels("cache")},
            "provisioner": EFS_PROVISIONER,
            "parameters": {"provisioningMode": "efs-ap", "fileSystemId": eks.efs_file_system_id,
                           "directoryPerms": "700"},
            "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}
