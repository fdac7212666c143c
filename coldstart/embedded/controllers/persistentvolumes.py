"""The persistent-volume controller and a CSI provisioner: PersistentVolumeClaims get a PersistentVolume and
become Bound as the StorageClass says, VolumeSnapshots become readyToUse, Namespaces become Active.

A claim's StorageClass decides when it binds: `Immediate` at once, `WaitForFirstConsumer` once the scheduler
picked a node for its first pod (`volume.kubernetes.io/selected-node`, zonal disks in that node's zone); a
claim restored from a VolumeSnapshot (a Hyperdisk ML disk hydrated once) waits for the snapshot. Events are
the real controller's and provisioner's (`WaitForFirstConsumer`, `ExternalProvisioning`, `Provisioning`,
`ProvisioningSucceeded`). Provisioning itself takes no simulated time.
"""

from __future__ import annotations

from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.nodes import CLUSTER, zone
from coldstart.embedded.controllers.objects import Reconciler, names
from coldstart.embedded.store.store import Change, clone, rfc3339
from coldstart.kube.quantity import format_binary, to_bytes

PVC, PV = "/PersistentVolumeClaim", "/PersistentVolume"
SNAPSHOT = "snapshot.storage.k8s.io/VolumeSnapshot"
STORAGE_CLASS = "storage.k8s.io/StorageClass"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
ZONAL = ("pd.csi.storage.gke.io", "kubernetes.io/gce-pd", "ebs.csi.aws.com", "kubernetes.io/aws-ebs",
         "disk.csi.azure.com", "kubernetes.io/azure-disk")


class PersistentVolumeController(Reconciler):
    """Binds claims (provisioning volumes through the class's provisioner) and readies snapshots."""

    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self.events = ctx.recorder("persistentvolume-controller")
        self._said: set[tuple[str, str, str]] = set()  # (claim uid, reason, message) already reported
        self._provisioners: dict[str, Any] = {}

    def on_change(self, change: Change) -> None:
        meta = change.obj["metadata"]
        if change.key == "/Namespace" and change.type != "DELETED":
            if (change.obj.get("status") or {}).get("phase") is None:
                self.store.mutate("/Namespace", "", meta["name"], lambda ns: ns.setdefault("status", {})
                                  .__setitem__("phase", "Active"))
        elif change.key == PVC:
            if change.type == "DELETED":
                self._release(change.obj)
            else:
                self.enqueue(f"pvc/{change.namespace}", meta["name"])
                for snap in self.store.list(SNAPSHOT, change.namespace)[0]:
                    self.enqueue(f"snap/{change.namespace}", snap["metadata"]["name"])
        elif change.key == SNAPSHOT and change.type != "DELETED":
            self.enqueue(f"snap/{change.namespace}", meta["name"])
            self._pending_claims(change.namespace)
        elif change.key in (STORAGE_CLASS, PV) and change.type != "DELETED":
            self._pending_claims(None)

    def _pending_claims(self, namespace: str | None) -> None:
        for claim in self.store.list(PVC, namespace)[0]:
            if (claim.get("status") or {}).get("phase") != "Bound":
                self.enqueue(f"pvc/{claim['metadata']['namespace']}", claim["metadata"]["name"])

    def reconcile(self, namespace: str, name: str) -> None:
        kind, _, ns = namespace.partition("/")
        if kind == "pvc":
            self._claim(ns, name)
        else:
            self._snapshot(ns, name)

    def _say(self, claim: dict, type_: str, reason: str, message: str, recorder: Any = None) -> None:
        key = (claim["metadata"]["uid"], reason, message)
        if key not in self._said:
            self._said.add(key)
            (recorder or self.events).event(claim, type_, reason, message)

    # -- claims ----------------------------------------------------------------------------------------
    def _claim(self, namespace: str, name: str) -> None:
        claim = self.store.get(PVC, namespace, name)
        if claim is None or claim["metadata"].get("deletionTimestamp") or \
                (claim.get("status") or {}).get("phase") == "Bound":
            return
        spec = claim.get("spec") or {}
        if spec.get("volumeName"):
            pv = self.store.get(PV, "", spec["volumeName"])
            if pv is not None:
                self._bind(claim, pv)
            return
        class_name = spec.get("storageClassName")
        if class_name is None:
            default = next((sc for sc in self.store.list(STORAGE_CLASS)[0]
                            if (sc["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"), None)
            if default is None:
                self._say(claim, "Normal", "FailedBinding",
                          "no persistent volumes available for this claim and no storage class is set")
                return
            class_name = default["metadata"]["name"]  # what the DefaultStorageClass admission plugin fills in
            claim = self.store.mutate(PVC, namespace, name, lambda c: c["spec"].__setitem__("storageClassName",
                                                                                           class_name)) or claim
        static = self._static_match(claim, class_name)
        if static is not None:
            self._bind(claim, static)
            return
        if class_name == "":
            self._say(claim, "Normal", "FailedBinding", "no persistent volumes available for this claim and no "
                      "storage class is set")
            return
        sc = self.store.get(STORAGE_CLASS, "", class_name)
        if sc is None:
            self._say(claim, "Warning", "ProvisioningFailed", f'storageclass.storage.k8s.io "{class_name}" not found')
            return
        node_name = (claim["metadata"].get("annotations") or {}).get(SELECTED_NODE)
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not node_name:
            self._say(claim, "Normal", "WaitForFirstConsumer",
                      "waiting for first consumer to be created before binding")
            return
        provisioner = sc.get("provisioner", "")
        size = to_bytes((spec.get("resources") or {}).get("requests", {}).get("storage", "1Gi"))
        source = spec.get("dataSourceRef") or spec.get("dataSource") or {}
        if source.get("kind") == "VolumeSnapshot":
            snap = self.store.get(SNAPSHOT, namespace, source.get("name", ""))
            if snap is None or not (snap.get("status") or {}).get("readyToUse"):
                what = "not found" if snap is None else "is not ready"
                self._say(claim, "Warning", "ProvisioningFailed",
                          f"failed to provision volume with StorageClass \"{class_name}\": error getting handle for "
                          f"DataSource Type VolumeSnapshot by Name {source.get('name')}: snapshot "
                          f"{source.get('name')} {what}", self._provisioner(provisioner))
                return
            size = max(size, to_bytes(snap["status"].get("restoreSize") or 0))
        self._say(claim, "Normal", "ExternalProvisioning",
                  f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or "
                  "manually by the system administrator. If volume creation is delayed, please verify that the "
                  "provisioner is running and correctly registered.")
        recorder = self._provisioner(provisioner)
        self._say(claim, "Normal", "Provisioning",
                  f'External provisioner is provisioning volume for claim "{namespace}/{name}"', recorder)
        pv = self.store.create(self._volume(claim, sc, class_name, size, node_name))
        self._say(claim, "Normal", "ProvisioningSucceeded", f"Successfully provisioned volume {pv['metadata']['name']}",
                  recorder)
        self._bind(claim, pv)

    def _provisioner(self, provisioner: str) -> Any:
        """The CSI external-provisioner's recorder (component `<driver>_<host>_<id>`, as it names itself)."""
        if provisioner not in self._provisioners:
            suffix = "".join(names(self.ctx).choice("0123456789abcdef") for _ in range(8))
            self._provisioners[provisioner] = self.ctx.recorder(f"{provisioner}_{CLUSTER}-control-plane_{suffix}")
        return self._provisioners[provisioner]

    def _static_match(self, claim: dict, class_name: str) -> dict | None:
        wanted = to_bytes((claim["spec"].get("resources") or {}).get("requests", {}).get("storage", "0"))
        modes = set(claim["spec"].get("accessModes") or [])
        fits = [pv for pv in self.store.list(PV)[0]
                if (pv.get("status") or {}).get("phase", "Available") == "Available" and not pv["spec"].get("claimRef")
                and pv["spec"].get("storageClassName", "") == class_name
                and modes <= set(pv["spec"].get("accessModes") or [])
                and to_bytes(pv["spec"].get("capacity", {}).get("storage", "0")) >= wanted]
        return min(fits, key=lambda pv: to_bytes(pv["spec"]["capacity"]["storage"]), default=None)

    def _volume(self, claim: dict, sc: dict, class_name: str, size: int, node_name: str | None) -> dict:
        meta, provisioner = claim["metadata"], sc.get("provisioner", "")
        name = f"pvc-{meta['uid']}"
        requested = (claim["spec"].get("resources") or {}).get("requests", {}).get("storage", "1Gi")
        node = self.store.get("/Node", "", node_name) if node_name else None
        where = ((node or {}).get("metadata", {}).get("labels") or {}).get("topology.kubernetes.io/zone") \
            or zone(self.ctx.profile)
        spec: dict[str, Any] = {
            "accessModes": list(claim["spec"].get("accessModes") or ["ReadWriteOnce"]),
            "capacity": {"storage": requested if size == to_bytes(requested) else format_binary(size)},
            "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": meta["name"],
                         "namespace": meta["namespace"], "uid": meta["uid"],
                         "resourceVersion": meta.get("resourceVersion")},
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
            "storageClassName": class_name, "volumeMode": claim["spec"].get("volumeMode", "Filesystem"),
            "csi": {"driver": provisioner, "fsType": "ext4",
                    "volumeHandle": f"projects/{CLUSTER}/zones/{where}/disks/{name}"}}
        if provisioner in ZONAL:
            key = "topology.gke.io/zone" if provisioner.startswith("pd.csi") else "topology.kubernetes.io/zone"
            spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": key, "operator": "In", "values": [where]}]}]}}
        return {"apiVersion": "v1", "kind": "PersistentVolume",
                "metadata": {"name": name, "annotations": {"pv.kubernetes.io/provisioned-by": provisioner},
                             "finalizers": ["kubernetes.io/pv-protection"]},
                "spec": spec, "status": {"phase": "Bound"}}

    def _bind(self, claim: dict, pv: dict) -> None:
        meta = claim["metadata"]
        provisioner = (pv["metadata"].get("annotations") or {}).get("pv.kubernetes.io/provisioned-by")

        def edit_pv(obj: dict) -> None:
            obj["spec"].setdefault("claimRef", {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                                "name": meta["name"], "namespace": meta["namespace"],
                                                "uid": meta["uid"]})
            obj["status"] = {"phase": "Bound"}

        if (pv.get("status") or {}).get("phase") != "Bound" or not pv["spec"].get("claimRef"):
            pv = self.store.mutate(PV, "", pv["metadata"]["name"], edit_pv) or pv

        def edit_claim(obj: dict) -> None:
            obj["spec"]["volumeName"] = pv["metadata"]["name"]
            annotations = obj["metadata"].setdefault("annotations", {})
            annotations["pv.kubernetes.io/bind-completed"] = "yes"
            annotations["pv.kubernetes.io/bound-by-controller"] = "yes"
            if provisioner:
                annotations["volume.beta.kubernetes.io/storage-provisioner"] = provisioner
                annotations["volume.kubernetes.io/storage-provisioner"] = provisioner
            obj["status"] = {"phase": "Bound", "accessModes": list(pv["spec"].get("accessModes") or []),
                             "capacity": dict(pv["spec"].get("capacity") or {})}

        self.store.mutate(PVC, meta["namespace"], meta["name"], edit_claim)

    def _release(self, claim: dict) -> None:
        """The claim is gone: its volume is deleted (reclaim policy Delete) or kept Released (Retain)."""
        pv_name = (claim.get("spec") or {}).get("volumeName")
        if not pv_name:
            return
        pv = self.store.get(PV, "", pv_name)
        if pv is None or (pv["spec"].get("claimRef") or {}).get("uid") != claim["metadata"]["uid"]:
            return
        if pv["spec"].get("persistentVolumeReclaimPolicy", "Delete") == "Delete":
            self.store.delete(PV, "", pv_name)
        else:
            self.store.mutate(PV, "", pv_name, lambda obj: obj.__setitem__("status", {"phase": "Released"}))

    # -- snapshots -------------------------------------------------------------------------------------
    def _snapshot(self, namespace: str, name: str) -> None:
        snap = self.store.get(SNAPSHOT, namespace, name)
        if snap is None or (snap.get("status") or {}).get("readyToUse"):
            return
        source = (snap.get("spec") or {}).get("source") or {}
        size = "0"
        if source.get("persistentVolumeClaimName"):
            claim = self.store.get(PVC, namespace, source["persistentVolumeClaimName"])
            if claim is None or (claim.get("status") or {}).get("phase") != "Bound":
                return  # the snapshot controller waits for its source claim to be bound
            size = claim["status"].get("capacity", {}).get("storage", "0")
        status = {"boundVolumeSnapshotContentName": source.get("volumeSnapshotContentName")
                  or f"snapcontent-{snap['metadata']['uid']}",
                  "creationTime": rfc3339(self.ctx.now()), "readyToUse": True, "restoreSize": size}
        self.store.mutate(SNAPSHOT, namespace, name, lambda obj: obj.__setitem__("status", clone(status)))
