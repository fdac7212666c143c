"""The API resources the embedded cluster serves: the subset coldstart uses, with their REST names.

Discovery, URL routing, the store and the simulation all key on this one table, so a kind added here
is served everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool
    subresources: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """Store key: group and kind (one storage per kind, whatever version a client asks for)."""
        return f"{self.group}/{self.kind}"

    @property
    def singular(self) -> str:
        return self.kind.lower()


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "Namespace", "namespaces", False, ("status",), ("ns",)),
    Resource("", "v1", "Node", "nodes", False, ("status",), ("no",)),
    Resource("", "v1", "Pod", "pods", True, ("status", "log", "binding", "eviction"), ("po",)),
    Resource("", "v1", "Event", "events", True, (), ("ev",)),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("status",), ("pvc",)),
    Resource("", "v1", "PersistentVolume", "persistentvolumes", False, ("status",), ("pv",)),
    Resource("", "v1", "ConfigMap", "configmaps", True, (), ("cm",)),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "Service", "services", True, ("status",), ("svc",)),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, (), ("sa",)),
    Resource("apps", "v1", "Deployment", "deployments", True, ("status", "scale"), ("deploy",)),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("status", "scale"), ("rs",)),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, ("status", "scale"), ("sts",)),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("status",), ("ds",)),
    Resource("batch", "v1", "Job", "jobs", True, ("status",)),
    Resource("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, (), ("pc",)),
    Resource("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, (), ("sc",)),
    Resource("snapshot.storage.k8s.io", "v1", "VolumeSnapshot", "volumesnapshots", True, ("status",), ("vs",)),
    Resource("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices", True, ("status",),
             ("isvc",)),
    Resource("serving.kserve.io", "v1alpha1", "ServingRuntime", "servingruntimes", True, ("status",)),
    Resource("serving.kserve.io", "v1alpha1", "ClusterServingRuntime", "clusterservingruntimes", False,
             ("status",)),
    Resource("cloud.google.com", "v1", "ComputeClass", "computeclasses", False, ("status",)),
    Resource("leaderworkerset.x-k8s.io", "v1", "LeaderWorkerSet", "leaderworkersets", True,
             ("status", "scale"), ("lws",)),
)

BY_KEY: dict[str, Resource] = {r.key: r for r in RESOURCES}
BY_PLURAL: dict[tuple[str, str], Resource] = {(r.group, r.plural): r for r in RESOURCES}


def resource_for(api_version: str, kind: str) -> Resource | None:
    """The served resource for an object's apiVersion and kind (None when not served)."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return BY_KEY.get(f"{group}/{kind}")


def key_of(obj: dict) -> str:
    """Store key of an object (`apps/Deployment`)."""
    api_version = obj.get("apiVersion", "")
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return f"{group}/{obj.get('kind', '')}"
