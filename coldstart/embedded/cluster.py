"""The embedded cluster: a Kubernetes API server on loopback plus a simulated control plane in virtual time.

`EmbeddedCluster(profile).start()` gives a URL that the official `kubernetes` client talks to exactly as to
GKE. Behind it, a scheduler, cluster autoscaler, KServe-like controller, kubelets and vLLM engines react
to what the client applied, in virtual time (a ten-minute cold start takes seconds), writing the events,
conditions and logs a real cluster writes. The profile sets only how fast things are; how the workload
behaves, traps included, comes from the manifests.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Iterable
from typing import Any

from coldstart.embedded.apiserver.admission import crd_status
from coldstart.embedded.apiserver.server import ApiServer
from coldstart.embedded.clock import Simulation, VirtualClock
from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.objects import forget_memos
from coldstart.embedded.controllers.plane import control_plane
from coldstart.embedded.node.side import node_side
from coldstart.embedded.store.resources import Kinds, Resource
from coldstart.embedded.store.store import PodLogs, Store
from coldstart.errors import ServerError
from coldstart.profiles import Profile
from coldstart.profiles.clouds import BUILT_IN_CLASSES

__all__ = ["EmbeddedCluster", "bootstrap_objects"]

_DEFAULT_CLASS = {"storageclass.kubernetes.io/is-default-class": "true"}


def _storage_class(name: str, provisioner: str, default: bool = False, **parameters: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if default:
        meta["annotations"] = dict(_DEFAULT_CLASS)
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta, "provisioner": provisioner,
            "parameters": parameters, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"}


def extended_resource_toleration(obj: dict[str, Any], operation: str) -> dict[str, Any] | None:
    """GKE's ExtendedResourceToleration admission: a pod that requests an extended resource (nvidia.com/gpu,
    google.com/tpu, ...) tolerates the taint of that name, which the nodes offering it carry."""
    if obj.get("kind") != "Pod" or operation != "CREATE":
        return None
    spec = obj.get("spec") or {}
    wanted = {name for c in spec.get("containers", []) + spec.get("initContainers", [])
              for part in ("limits", "requests") for name in ((c.get("resources") or {}).get(part) or {})
              if "/" in name and not name.split("/")[0].endswith("kubernetes.io")}
    tolerations = spec.setdefault("tolerations", [])
    for name in sorted(wanted - {t.get("key") for t in tolerations}):
        tolerations.append({"key": name, "operator": "Exists", "effect": "NoSchedule"})
    return obj


def custom_resource_definition(r: Resource) -> dict[str, Any]:
    """The CRD an operator installs for a custom kind the simulation serves (KServe, LeaderWorkerSet, VolumeSnapshot,
    GKE's ComputeClass): `kubectl get crd` lists them, and their objects are stored as sent."""
    names: dict[str, Any] = {"plural": r.plural, "singular": r.singular, "kind": r.kind, "listKind": f"{r.kind}List"}
    if r.short_names:
        names["shortNames"] = list(r.short_names)
    subresources: dict[str, Any] = {"status": {}} if "status" in r.subresources else {}
    version = {"name": r.version, "served": True, "storage": True, "subresources": subresources,
               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": f"{r.plural}.{r.group}"},
           "spec": {"group": r.group, "names": names, "scope": "Namespaced" if r.namespaced else "Cluster",
                    "versions": [version]}}
    crd["status"] = crd_status(crd, "1970-01-01T00:00:00Z")
    return crd


def bootstrap_objects(profile: Profile) -> list[dict[str, Any]]:
    """What a cluster of this kind already has before anyone applies anything: its StorageClasses (the cloud's
    built-in ones, or a default class on a generic cluster, plus the class the profile's cache names unless the
    render brings it), and on
    GKE with Hyperdisk ML the snapshot of the weights disk that was hydrated once from the modelcar."""
    if profile.cloud == "gke":
        classes = [_storage_class("standard-rwo", "pd.csi.storage.gke.io", True, type="pd-balanced"),
                   _storage_class("premium-rwo", "pd.csi.storage.gke.io", type="pd-ssd"),
                   _storage_class("standard", "kubernetes.io/gce-pd", type="pd-standard"),
                   _storage_class("standard-rwx", "filestore.csi.storage.gke.io", tier="standard")]
    elif profile.cloud in BUILT_IN_CLASSES:  # EKS, AKS: the classes every such cluster has (gp2, default are default)
        classes = [_storage_class(name, provisioner, name in ("gp2", "default"))
                   for name, provisioner in BUILT_IN_CLASSES[profile.cloud].items()]
    else:
        classes = [_storage_class("standard", "rancher.io/local-path", True)]
    if profile.runtime.cache_storage_class not in {c["metadata"]["name"] for c in classes} \
            and not (profile.eks is not None and profile.eks.renders_cache_class):  # the run applies EFS's
        classes.append(_storage_class(profile.runtime.cache_storage_class, "nfs.csi.k8s.io"))
    objects = list(classes) + [custom_resource_definition(r) for r in Kinds(profile.cloud).static if r.crd]
    if profile.gke_feature("hyperdisk_ml"):
        snapshot = profile.gke.hyperdisk_ml.snapshot  # type: ignore[union-attr]
        objects += [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": profile.namespace}},
                    {"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                     "metadata": {"name": snapshot, "namespace": profile.namespace},
                     "spec": {"source": {"volumeSnapshotContentName": f"{snapshot}-content"}},
                     "status": {"readyToUse": True, "restoreSize": profile.gke.hyperdisk_ml.size}}]  # type: ignore
    return objects


# CPython's cyclic garbage collector: a full collection visits every live container object, a scale-out keeps ~1,000
# of them per replica alive (stored objects, the watch history), and with the default thresholds one runs each time
# the heap has grown by a quarter. At 1,000 replicas that is a third of the CPU, two to three times per replica what
# 100 replicas pay (their heap hardly grows past the interpreter's own). Stored objects are JSON trees that reference
# counting frees, so while a cluster runs the young generation is collected every GC_THRESHOLD allocations instead
# of 700, and full collections become rare.
GC_THRESHOLD = 50_000


class _Collector:
    """The process's collector thresholds: raised while any embedded cluster runs, restored when the last stops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved = gc.get_threshold()

    def hold(self) -> None:
        with self._lock:
            if not self._running:
                self._saved = gc.get_threshold()
                gc.set_threshold(max(self._saved[0], GC_THRESHOLD), *self._saved[1:])
            self._running += 1

    def release(self) -> None:
        with self._lock:
            self._running -= 1
            if not self._running:
                gc.set_threshold(*self._saved)
                forget_memos()  # the controllers' answers by object identity hold the stopped clusters' objects


_COLLECTOR = _Collector()


class EmbeddedCluster:
    """One in-process cluster: store, API server, simulation. Use as a context manager or start()/stop()."""

    def __init__(self, profile: Profile, *, seed: int | None = None, start_time: float | None = None,
                 history: int = 100_000, mutators: Iterable[Any] = (), quiet_seconds: float = 0.02,
                 port: int = 0, max_rate: float | None = None, interactive: bool = False):
        self.profile = profile
        self.clock = VirtualClock(start_time)
        self.store = Store(now=self.clock.now, history=history, seed=profile.seed if seed is None else seed)
        self.logs = PodLogs()
        self.context = SimContext(profile, self.store, self.clock, self.logs, seed)
        if profile.cloud == "gke":
            mutators = (*mutators, extended_resource_toleration)
        self.api = ApiServer(self.store, self.logs, port=port, mutators=mutators, on_client_write=self.clock.touch,
                             profile=profile)
        self.context.admission = self.api.admission  # controller-made pods meet the same webhooks
        self.interactive = interactive
        self.simulation = Simulation(self.store, self.clock, quiet_seconds=quiet_seconds,
                                     may_advance=self._client_waits, max_rate=max_rate or self.MAX_RATE,
                                     settle=self.SETTLE_SECONDS if interactive else None)
        self.simulation.add(*control_plane(self.context), *node_side(self.context))
        for obj in bootstrap_objects(profile):
            self.store.create(obj)
        self._started = False

    @property
    def url(self) -> str:
        return self.api.url

    # A client that is busy (applying, listing, reading logs) is not waiting for the cluster: time stands still,
    # so no node scales down and no probe fires between two of its requests however slow the machine is.
    # Time runs while the client waits on a watch it opened after its last other request, or after a few
    # seconds of silence (a client that polls, or nobody at all).
    IDLE_SECONDS = 3.0
    MAX_RATE = 4000.0  # virtual seconds per wall second: a ten-minute cold start takes ~0.15 s
    SETTLE_SECONDS = 600.0  # interactive: cluster seconds of fast time after the last change (see clock.py)

    def _client_waits(self) -> bool:
        if self.interactive:  # people and their tools poll, several at once: time runs (paced, see clock.py)
            return True
        if time.monotonic() - self.api.last_request >= self.IDLE_SECONDS:
            return True
        return self.api.watching_since(self.api.last_call)

    def start(self) -> EmbeddedCluster:
        if not self._started:
            self.api.start()
            self.simulation.start()
            self._started = True
            _COLLECTOR.hold()
        return self

    def stop(self) -> None:
        if self._started:
            self.simulation.stop()
            self.api.stop()
            self._started = False
            _COLLECTOR.release()

    def __enter__(self) -> EmbeddedCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check(self) -> None:
        """Raise the simulation's error, if a controller crashed (so a broken simulation is never silent)."""
        if self.simulation.error is not None:
            raise ServerError(f"the embedded cluster's simulation failed ({self.simulation.error!r}); this is a bug "
                              "in coldstart.embedded, please report it with the profile used") \
                from self.simulation.error

    @property
    def truth(self) -> dict[tuple[str, str], Any]:
        """Ground truth per (namespace, pod): the phases the simulation timed."""
        return self.context.truth
