"""The API resources the embedded cluster serves: the subset coldstart uses, with their REST names.

Discovery, URL routing, the store and the simulation all key on this one table, so a kind added here
is served everywhere at once.
"""

from __future__ import annotations

from collections.abc import Callable
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
    crd: bool = False  # a custom resource on a real cluster (the embedded one bootstraps its CRD)
    cloud: str = ""  # served only on clusters of these clouds ("gke", "eks aks"), every cluster when empty
    verbs: tuple[str, ...] = ()  # when not every object verb (SelfSubjectAccessReview: create only)
    categories: tuple[str, ...] = ()

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


_ALL = ("all",)
RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "Namespace", "namespaces", False, ("status", "finalize"), ("ns",)),
    Resource("", "v1", "Node", "nodes", False, ("status",), ("no",)),
    Resource("", "v1", "Pod", "pods", True, ("status", "log", "binding", "eviction"), ("po",), categories=_ALL),
    Resource("", "v1", "Event", "events", True, (), ("ev",)),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, ("status",), ("pvc",)),
    Resource("", "v1", "PersistentVolume", "persistentvolumes", False, ("status",), ("pv",)),
    Resource("", "v1", "ConfigMap", "configmaps", True, (), ("cm",)),
    Resource("", "v1", "Secret", "secrets", True),
    Resource("", "v1", "Service", "services", True, ("status",), ("svc",), categories=_ALL),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True, (), ("sa",)),
    Resource("", "v1", "Endpoints", "endpoints", True, (), ("ep",)),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    Resource("batch", "v1", "CronJob", "cronjobs", True, ("status",), ("cj",), categories=_ALL),
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
             ("status",), ("crd", "crds")),
    Resource("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
             verbs=("create",)),
    Resource("apps", "v1", "Deployment", "deployments", True, ("status", "scale"), ("deploy",), categories=_ALL),
    Resource("apps", "v1", "ReplicaSet", "replicasets", True, ("status", "scale"), ("rs",), categories=_ALL),
    Resource("apps", "v1", "StatefulSet", "statefulsets", True, ("status", "scale"), ("sts",), categories=_ALL),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True, ("status",), ("ds",), categories=_ALL),
    Resource("batch", "v1", "Job", "jobs", True, ("status",), categories=_ALL),
    Resource("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, (), ("pc",)),
    Resource("storage.k8s.io", "v1", "StorageClass", "storageclasses", False, (), ("sc",)),
    Resource("snapshot.storage.k8s.io", "v1", "VolumeSnapshot", "volumesnapshots", True, ("status",), ("vs",),
             crd=True),
    Resource("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices", True, ("status",),
             ("isvc",), crd=True),
    Resource("serving.kserve.io", "v1alpha1", "ServingRuntime", "servingruntimes", True, ("status",), crd=True),
    Resource("serving.kserve.io", "v1alpha1", "ClusterServingRuntime", "clusterservingruntimes", False,
             ("status",), crd=True),
    Resource("cloud.google.com", "v1", "ComputeClass", "computeclasses", False, ("status",), crd=True, cloud="gke"),
    # Karpenter (EKS; AKS node auto-provisioning), with the short names and categories of its CRDs
    Resource("karpenter.sh", "v1", "NodePool", "nodepools", False, ("status",), crd=True, cloud="eks aks",
             categories=("karpenter",)),
    Resource("karpenter.sh", "v1", "NodeClaim", "nodeclaims", False, ("status",), crd=True, cloud="eks aks",
             categories=("karpenter",)),
    Resource("karpenter.k8s.aws", "v1", "EC2NodeClass", "ec2nodeclasses", False, ("status",), ("ec2nc", "ec2ncs"),
             crd=True, cloud="eks", categories=("karpenter",)),
    Resource("karpenter.azure.com", "v1beta1", "AKSNodeClass", "aksnodeclasses", False, ("status",),
             ("aksnc", "aksncs"), crd=True, cloud="aks", categories=("karpenter", "nap")),
    Resource("leaderworkerset.x-k8s.io", "v1", "LeaderWorkerSet", "leaderworkersets", True,
             ("status", "scale"), ("lws",), crd=True),
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


def from_crd(crd: dict) -> list[Resource]:
    """The resources an Established CustomResourceDefinition serves, one per served version."""
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    if not (spec.get("group") and names.get("plural") and names.get("kind")):
        return []
    out = []
    for version in spec.get("versions") or []:
        if not version.get("served", True) or not version.get("name"):
            continue
        subresources = tuple(sorted((version.get("subresources") or {}).keys()))
        out.append(Resource(spec["group"], version["name"], names["kind"], names["plural"],
                            spec.get("scope", "Namespaced") == "Namespaced", subresources,
                            tuple(names.get("shortNames") or ()), crd=True,
                            categories=tuple(names.get("categories") or ())))
    return out


class Kinds:
    """The resources one cluster serves: the built-in ones for its cloud, plus the kinds of the CRDs in its store
    (`crds()` gives their objects). Looked up per request, so a CRD serves its kind as soon as it exists."""

    def __init__(self, cloud: str, crds: Callable[[], list[dict]] | None = None):
        self.static = [r for r in RESOURCES if not r.cloud or cloud in r.cloud.split()]
        self._crds = crds
        self._static_keys = {(r.group, r.kind) for r in self.static}

    def served(self) -> list[Resource]:
        out = list(self.static)
        for crd in self._crds() if self._crds else []:
            out += [r for r in from_crd(crd) if (r.group, r.kind) not in self._static_keys]
        return out

    def find(self, group: str, version: str, plural: str) -> Resource | None:
        for r in self.served():
            if r.group == group and r.plural == plural and r.version == version:
                return r
        return None

    def by_key(self, key: str) -> Resource | None:
        return next((r for r in self.served() if r.key == key), None)
