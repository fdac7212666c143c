"""The kinds coldstart applies, reads or watches: API group and version, REST name and scope, in one table.

The live path looks up apiVersions here to list and delete what a run made, and `coldstart rbac` derives the
Role and ClusterRole a runbook needs from the same rows, so a kind added to a lever is both used and allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KINDS", "Kind", "api_version", "kind"]


@dataclass(frozen=True)
class Kind:
    name: str
    group: str  # "" for the core group
    version: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("Namespace", "", "v1", "namespaces", False),
    Kind("Node", "", "v1", "nodes", False),
    Kind("Pod", "", "v1", "pods", True),
    Kind("Event", "", "v1", "events", True),
    Kind("ServiceAccount", "", "v1", "serviceaccounts", True),
    Kind("ConfigMap", "", "v1", "configmaps", True),
    Kind("Secret", "", "v1", "secrets", True),
    Kind("Service", "", "v1", "services", True),
    Kind("PersistentVolume", "", "v1", "persistentvolumes", False),
    Kind("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims", True),
    Kind("PriorityClass", "scheduling.k8s.io", "v1", "priorityclasses", False),
    Kind("StorageClass", "storage.k8s.io", "v1", "storageclasses", False),
    Kind("VolumeSnapshot", "snapshot.storage.k8s.io", "v1", "volumesnapshots", True),
    Kind("ComputeClass", "cloud.google.com", "v1", "computeclasses", False),
    Kind("EC2NodeClass", "karpenter.k8s.aws", "v1", "ec2nodeclasses", False),
    Kind("AKSNodeClass", "karpenter.azure.com", "v1beta1", "aksnodeclasses", False),
    Kind("NodePool", "karpenter.sh", "v1", "nodepools", False),
    Kind("NodeClaim", "karpenter.sh", "v1", "nodeclaims", False),
    Kind("Deployment", "apps", "v1", "deployments", True),
    Kind("ReplicaSet", "apps", "v1", "replicasets", True),
    Kind("StatefulSet", "apps", "v1", "statefulsets", True),
    Kind("DaemonSet", "apps", "v1", "daemonsets", True),
    Kind("Job", "batch", "v1", "jobs", True),
    Kind("LeaderWorkerSet", "leaderworkerset.x-k8s.io", "v1", "leaderworkersets", True),
    Kind("ServingRuntime", "serving.kserve.io", "v1alpha1", "servingruntimes", True),
    Kind("ClusterServingRuntime", "serving.kserve.io", "v1alpha1", "clusterservingruntimes", False),
    Kind("InferenceService", "serving.kserve.io", "v1beta1", "inferenceservices", True),
)}


def kind(name: str) -> Kind:
    """The row of a kind coldstart knows (KeyError names it otherwise: a programming error, not input)."""
    return KINDS[name]


def api_version(name: str) -> str:
    return KINDS[name].api_version
