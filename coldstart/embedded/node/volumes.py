"""Pod volumes as the kubelet and the engine see them: is every claim Bound, which disks must be attached
first, what backs each path a container reads (/root/.cache, /mnt/models, /dev/shm) and how fast it reads.

Also the state that outlives a pod: which disks are attached to which node, and what earlier engines left
in a cache location (compiled graphs, downloaded weights). A PersistentVolumeClaim keeps it for every later
pod; an emptyDir keeps it for the containers of one pod (a container restart finds it, a new pod does not);
a container's own filesystem keeps nothing across a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from coldstart.embedded.store.store import Store
from coldstart.kube.quantity import to_bytes
from coldstart.profiles import Kinetics
from coldstart.profiles.physics import storage_gib_per_s

CONTAINER_SHM_BYTES = 64 * 2**20  # the container runtime's default /dev/shm
ATTACHABLE_PROVISIONERS = {"pd.csi.storage.gke.io", "kubernetes.io/gce-pd", "ebs.csi.aws.com",
                           "kubernetes.io/aws-ebs", "disk.csi.azure.com", "kubernetes.io/azure-disk"}
THROUGHPUT_PARAMS = ("provisioned-throughput-on-create", "provisionedThroughputOnCreate")


@dataclass(frozen=True)
class Mount:
    """What backs one mount path of a container."""

    path: str
    volume: str
    kind: str  # pvc | emptyDir | memory | configMap | secret | hostPath | other
    claim: str | None = None  # "namespace/name" for a pvc
    storage: str | None = None  # hyperdisk-ml | pd | file | other
    read_gib_per_s: float | None = None
    size_bytes: int | None = None


@dataclass(frozen=True)
class VolumeCheck:
    """The kubelet's volume manager verdict for a pod: a FailedMount message, or disks to attach first."""

    failure: str | None
    attach: tuple[tuple[str, str], ...] = ()  # (volume name, persistent volume name)


def _storage_class(store: Store, name: str | None) -> dict:
    return (store.get("storage.k8s.io/StorageClass", "", name) if name else None) or {}


def storage_kind(sc: dict) -> str:
    """hyperdisk-ml, pd (an attachable block disk), file (NFS/Filestore) or other, from a StorageClass."""
    params = {k: str(v) for k, v in (sc.get("parameters") or {}).items()}
    disk_type = params.get("type", "").lower()
    provisioner = sc.get("provisioner", "")
    if "hyperdisk-ml" in disk_type:
        return "hyperdisk-ml"
    if provisioner in ATTACHABLE_PROVISIONERS or disk_type.startswith(("pd-", "hyperdisk", "gp", "io")):
        return "pd"
    if "filestore" in provisioner or "nfs" in provisioner or "efs" in provisioner:
        return "file"
    return "other"


def read_rate(kind: str, sc: dict, kinetics: Kinetics) -> float:
    """GiB/s a reader gets from a claim of this class (Hyperdisk ML capped by its provisioned throughput)."""
    if kind != "hyperdisk-ml":
        return storage_gib_per_s(kinetics, "disk")
    params = sc.get("parameters") or {}
    for key in THROUGHPUT_PARAMS:
        if params.get(key):
            try:
                provisioned = to_bytes(str(params[key]).removesuffix("/s")) / 2**30
            except ValueError:
                continue
            return min(storage_gib_per_s(kinetics, kind), provisioned)
    return storage_gib_per_s(kinetics, kind)


def check_volumes(store: Store, pod: dict) -> VolumeCheck:
    """Every claim must exist and be Bound; attachable disks (PD, Hyperdisk) need the attach/detach controller."""
    ns = pod["metadata"].get("namespace", "default")
    failed: list[str] = []
    errors: list[str] = []
    attach: list[tuple[str, str]] = []
    for volume in pod.get("spec", {}).get("volumes") or []:
        claim_ref = volume.get("persistentVolumeClaim")
        if not claim_ref:
            continue
        name = claim_ref.get("claimName", "")
        claim = store.get("/PersistentVolumeClaim", ns, name)
        if claim is None:
            failed.append(volume["name"])
            errors.append(f"error processing PVC {ns}/{name}: failed to fetch PVC from API server: "
                          f'persistentvolumeclaims "{name}" not found')
            continue
        if (claim.get("status") or {}).get("phase") != "Bound" or not claim.get("spec", {}).get("volumeName"):
            failed.append(volume["name"])
            errors.append(f"error processing PVC {ns}/{name}: PVC is not bound")
            continue
        sc = _storage_class(store, claim["spec"].get("storageClassName"))
        if storage_kind(sc) in ("pd", "hyperdisk-ml"):
            attach.append((volume["name"], claim["spec"]["volumeName"]))
    if failed:
        names = " ".join(sorted(failed))
        return VolumeCheck(f"Unable to attach or mount volumes: unmounted volumes=[{names}], unattached volumes=[], "
                           f"failed to process volumes=[{names}]: {'; '.join(errors)}")
    return VolumeCheck(None, tuple(attach))


def container_mounts(store: Store, pod: dict, container: dict, kinetics: Kinetics) -> list[Mount]:
    """The container's mounts, each resolved to what backs it."""
    ns = pod["metadata"].get("namespace", "default")
    volumes = {v.get("name"): v for v in pod.get("spec", {}).get("volumes") or []}
    mounts: list[Mount] = []
    for vm in container.get("volumeMounts") or []:
        volume = volumes.get(vm.get("name"), {})
        path = vm.get("mountPath", "")
        if "persistentVolumeClaim" in volume:
            name = volume["persistentVolumeClaim"].get("claimName", "")
            claim = store.get("/PersistentVolumeClaim", ns, name) or {}
            sc = _storage_class(store, claim.get("spec", {}).get("storageClassName"))
            kind = storage_kind(sc)
            mounts.append(Mount(path, vm["name"], "pvc", f"{ns}/{name}", kind, read_rate(kind, sc, kinetics)))
        elif "emptyDir" in volume:
            spec = volume.get("emptyDir") or {}
            try:
                size = to_bytes(spec["sizeLimit"]) if spec.get("sizeLimit") else None
            except ValueError:
                size = None
            kind = "memory" if spec.get("medium") == "Memory" else "emptyDir"
            mounts.append(Mount(path, vm["name"], kind, size_bytes=size, read_gib_per_s=kinetics.disk_gib_per_s))
        else:
            kind = next((k for k in ("configMap", "secret", "hostPath") if k in volume), "other")
            mounts.append(Mount(path, vm.get("name", ""), kind, read_gib_per_s=kinetics.disk_gib_per_s))
    return mounts


def mount_for(mounts: list[Mount], path: str) -> Mount | None:
    """The mount that holds a path (longest matching mount path)."""
    best: Mount | None = None
    for m in mounts:
        root = m.path.rstrip("/") or "/"
        inside = path == root or path.startswith(root + "/") or root == "/"
        if inside and (best is None or len(root) > len(best.path.rstrip("/"))):
            best = m
    return best


def shm_bytes(mounts: list[Mount], memory_limits: int | None, node_memory: int) -> int:
    """Size of /dev/shm: a Memory emptyDir there (sizeLimit, else the pod's memory limit, else half the node's
    memory as tmpfs does), otherwise the runtime's 64Mi."""
    m = next((m for m in mounts if m.path.rstrip("/") == "/dev/shm"), None)
    if m is None or m.kind != "memory":
        return CONTAINER_SHM_BYTES if m is None else (m.size_bytes or node_memory // 2)
    return m.size_bytes or memory_limits or node_memory // 2


@dataclass
class NodeSideState:
    """What outlives a pod on the node side: attached disks and what engines left in cache locations."""

    attached: dict[tuple[str, str], float] = field(default_factory=dict)  # (node, pv) -> attached at
    caches: dict[str, set[str]] = field(default_factory=dict)  # location -> keys written there
    ip_counters: dict[str, int] = field(default_factory=dict)

    @staticmethod
    def location(mount: Mount | None, pod_uid: str) -> str | None:
        """Where a cache directory really lives: a claim (shared), an emptyDir (this pod), or nowhere."""
        if mount is None:
            return None
        if mount.kind == "pvc":
            return f"pvc:{mount.claim}"
        if mount.kind in ("emptyDir", "memory"):
            return f"emptyDir:{pod_uid}/{mount.volume}"
        return None

    def has(self, location: str | None, key: str) -> bool:
        return location is not None and key in self.caches.get(location, set())

    def write(self, location: str | None, key: str) -> None:
        if location is not None:
            self.caches.setdefault(location, set()).add(key)

    def forget_pod(self, pod_uid: str) -> None:
        """A deleted pod's emptyDirs go with it."""
        for loc in [loc for loc in self.caches if loc.startswith(f"emptyDir:{pod_uid}/")]:
            del self.caches[loc]
