"""Node objects and their life: the CPU-only system node, and GPU nodes that boot NotReady, turn Ready after
the VM boots and only then, once the driver is installed and the device plugin registers, offer GPUs.

The stages matter for cold start: a replica that triggered a scale-up waits for all three, and the
scheduler's messages change along the way (`untolerated taint {node.kubernetes.io/not-ready: }`, then
`Insufficient nvidia.com/gpu`). Shapes, labels and taints come from the profile (GKE's real labels on GKE).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.fit import NOT_READY_TAINT
from coldstart.embedded.controllers.objects import GPU_TAINT_VALUE, names, rand_suffix
from coldstart.embedded.store.store import rfc3339
from coldstart.kube import labels as L
from coldstart.kube.quantity import to_bytes
from coldstart.profiles import Profile

SYSTEM_NODE = "system-0"
CLUSTER = "coldstart"
GiB = 2**30


@dataclass(frozen=True)
class NodeGroup:
    """A node pool the autoscaler may grow (one per ComputeClass priority on GKE)."""

    name: str
    machine_type: str
    gpus: int
    spot: bool = False
    compute_class: str | None = None
    rank: int = 0  # order of preference within its ComputeClass
    max_nodes: int = 1
    accelerator: str = ""  # GPU type; the profile's when empty
    image_streaming: bool | None = None  # the pool's setting; the cluster's (profile gke.image_streaming) when None
    labels: tuple[tuple[str, str], ...] = ()  # what the provisioner adds (Karpenter: its NodePool, capacity type...)


def zone(profile: Profile) -> str:
    """The first zone of the region, spelt the cloud's way (us-central1-a, us-east-1a, eastus-1)."""
    return {"eks": f"{profile.region}a", "aks": f"{profile.region}-1"}.get(profile.cloud, f"{profile.region}-a")


def provider_id(profile: Profile, name: str) -> str:
    """The node's spec.providerID as each cloud's cloud-controller writes it."""
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {"gke": f"gce://{CLUSTER}/{zone(profile)}/{name}", "eks": f"aws:///{zone(profile)}/i-{digest[:17]}",
            "aks": f"azure:///subscriptions/{digest[:8]}-0000-0000-0000-{digest[8:20]}/resourceGroups/mc_{CLUSTER}"
                   f"/providers/Microsoft.Compute/virtualMachines/{name}"}.get(profile.cloud, f"coldstart://{name}")


def group_id(profile: Profile, group: NodeGroup) -> str:
    """How the autoscaler names a group in its events: the managed instance group URL on GKE."""
    if profile.cloud != "gke":
        return group.name
    digest = hashlib.sha256(group.name.encode()).hexdigest()[:8]
    return (f"https://www.googleapis.com/compute/v1/projects/{CLUSTER}/zones/{zone(profile)}/instanceGroups/"
            f"gke-{CLUSTER}-{group.name}-{digest}-grp")


def reserved(cpu_cores: int, memory_bytes: int) -> tuple[int, int]:
    """(millicores, bytes) kept back for the system, by GKE's published allocatable formula."""
    cpu, left = 0.0, float(cpu_cores)
    for width, share in ((1, 0.06), (1, 0.01), (2, 0.005), (float("inf"), 0.0025)):
        take = min(left, width)
        cpu, left = cpu + take * share * 1000, left - take
    mem, left = 0.0, float(memory_bytes)
    for width, share in ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (float("inf"), 0.02)):
        take = min(left, width * GiB)
        mem, left = mem + take * share, left - take
    return int(round(cpu)), int(mem) + 100 * 2**20  # plus the 100 MiB eviction threshold


def _conditions(now: float, ready: bool) -> list[dict[str, Any]]:
    t = rfc3339(now)
    base = [("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available")]
    ready_row = (("Ready", "True", "KubeletReady", "kubelet is posting ready status") if ready else
                 ("Ready", "False", "KubeletNotReady", "container runtime network not ready: NetworkReady=false "
                  "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized"))
    return [{"type": k, "status": s, "lastHeartbeatTime": t, "lastTransitionTime": t, "reason": r, "message": m}
            for k, s, r, m in (*base, ready_row)]


def node_object(profile: Profile, name: str, group: NodeGroup | None, index: int, now: float, *,
                ready: bool, gpu_ready: bool) -> dict:
    """A Node as the kubelet registers it; `group=None` is the CPU-only system node."""
    gke = profile.cloud == "gke"
    if group is None:
        machine, cpus, memory, pool = ("e2-standard-4" if gke else "cpu-standard-4"), 4, 16 * GiB, "default-pool"
    else:
        machine, cpus, memory, pool = (group.machine_type, profile.nodes.node_cpu,
                                       to_bytes(profile.nodes.node_memory), group.name)
    labels = {L.HOSTNAME: name, L.OS: "linux", L.ARCH: "amd64", L.INSTANCE_TYPE: machine, L.REGION: profile.region,
              L.ZONE: zone(profile)}
    taints: list[dict[str, Any]] = []
    if gke:
        labels.update({L.GKE_NODEPOOL: pool, "cloud.google.com/machine-family": machine.split("-")[0],
                       L.GKE_OS: "cos", L.GKE_ZONE: zone(profile)})
        streaming = group.image_streaming if group is not None else None
        if streaming is None:
            streaming = profile.gke is not None and profile.gke.image_streaming
        if streaming:
            labels[L.GKE_IMAGE_STREAMING] = "true"
    if group is not None:
        labels.update(gpu_labels(profile, group, gpu_ready))
        if group.spot and gke:
            labels[L.GKE_SPOT] = "true"
        labels.update(dict(group.labels))
        if group.compute_class:
            labels[L.GKE_COMPUTE_CLASS] = group.compute_class
        taints.append({"key": profile.gpu.resource, "value": GPU_TAINT_VALUE, "effect": "NoSchedule"})
    if not ready:
        taints.append({"key": NOT_READY_TAINT, "effect": "NoSchedule", "timeAdded": rfc3339(now)})
    cpu_reserved, mem_reserved = reserved(cpus, memory)
    capacity = {"cpu": str(cpus), "memory": f"{memory // 1024}Ki", "pods": "110", "ephemeral-storage": "100Gi"}
    allocatable = {"cpu": f"{cpus * 1000 - cpu_reserved}m", "memory": f"{(memory - mem_reserved) // 1024}Ki",
                   "pods": "110", "ephemeral-storage": "90Gi"}
    if group is not None and gpu_ready:
        capacity[profile.gpu.resource] = allocatable[profile.gpu.resource] = str(group.gpus)
    ip = f"10.128.0.{index + 2}"
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": {"podCIDR": f"10.4.{index}.0/24", "podCIDRs": [f"10.4.{index}.0/24"], "taints": taints,
                     "providerID": provider_id(profile, name)},
            "status": {"capacity": capacity, "allocatable": allocatable, "conditions": _conditions(now, ready),
                       "addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                       "nodeInfo": {"kubeletVersion": "v1.33.5", "containerRuntimeVersion": "containerd://1.7.28",
                                    "osImage": "Container-Optimized OS from Google" if gke else "Ubuntu 24.04 LTS",
                                    "architecture": "amd64", "operatingSystem": "linux"}}}


def gpu_labels(profile: Profile, group: NodeGroup, gpu_ready: bool) -> dict[str, str]:
    """The profile's GPU node labels; NVIDIA feature-discovery ones (`nvidia.com/...`) appear only once the
    driver runs, as on a real node."""
    labels = {}
    for key, value in profile.gpu.node_selector.items():
        if gpu_ready or not key.startswith("nvidia.com/"):
            labels[key] = value
    if profile.cloud == "gke":
        labels[L.GKE_ACCELERATOR] = group.accelerator or profile.gpu.type
    if gpu_ready:
        labels.setdefault("nvidia.com/gpu.count", str(group.gpus))
        labels.setdefault("nvidia.com/gpu.memory", str(int(profile.gpu.memory_gib * 1024)))
    return labels


def node_name(ctx: SimContext, group: NodeGroup) -> str:
    rng = names(ctx)
    if ctx.profile.cloud == "gke":
        digest = hashlib.sha256(group.name.encode()).hexdigest()[:8]
        suffix = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(4))
        return f"gke-{CLUSTER}-{group.name}-{digest}-{suffix}"
    return f"{group.name}-{rand_suffix(rng)}"


class NodeLifecycle:
    """Creates nodes and walks them through boot -> Ready -> GPUs allocatable on the virtual clock."""

    def __init__(self, ctx: SimContext):
        self.ctx, self.store = ctx, ctx.store
        self.kubelet = ctx.recorder("kubelet")
        self.node_controller = ctx.recorder("node-controller")
        self.count = len(self.store.list("/Node")[0])
        if self.store.get("/Node", "", SYSTEM_NODE) is None:
            self.store.create(node_object(ctx.profile, SYSTEM_NODE, None, self.count, ctx.now(), ready=True,
                                          gpu_ready=False))
            self.count += 1

    def on_change(self, change: Any) -> None:
        """Nodes change only on our own timers."""

    def provision(self, group: NodeGroup, name: str | None = None, *, booted: bool = False) -> str:
        """Create a booting node of the group; returns its name. `booted`: the VM has booted already and its
        kubelet registers now (Karpenter reports the launch and the join apart), so only the driver is left."""
        name = name or node_name(self.ctx, group)
        node = self.store.create(node_object(self.ctx.profile, name, group, self.count, self.ctx.now(),
                                             ready=booted, gpu_ready=False))
        self.count += 1
        self.node_controller.event(node, "Normal", "RegisteredNode", f"Node {name} event: Registered Node {name} "
                                   "in Controller")
        kinetics = self.ctx.kinetics
        boot = 0.0 if booted else self.ctx.jitter(kinetics.node_boot_seconds, f"boot {group.name}")
        self.ctx.clock.call_later(boot, self._ready, name, group)
        self.ctx.clock.call_later(boot + self.ctx.jitter(kinetics.driver_install_seconds, f"driver {group.name}"),
                                  self._gpus, name, group)
        return name

    def _ready(self, name: str, group: NodeGroup) -> None:
        now = self.ctx.now()

        def edit(node: dict) -> None:
            node["spec"]["taints"] = [t for t in node["spec"].get("taints") or [] if t["key"] != NOT_READY_TAINT]
            old = {c["type"]: c for c in node["status"].get("conditions") or []}
            node["status"]["conditions"] = [
                {**c, "lastTransitionTime": old.get(c["type"], c)["lastTransitionTime"]} if c["type"] != "Ready" else c
                for c in _conditions(now, True)]

        node = self.store.mutate("/Node", "", name, edit)
        if node is not None:
            self.kubelet.event(node, "Normal", "Starting", "Starting kubelet.", host=name)
            self.kubelet.event(node, "Normal", "NodeReady", f"Node {name} status is now: NodeReady", host=name)

    def _gpus(self, name: str, group: NodeGroup) -> None:
        resource = self.ctx.profile.gpu.resource

        def edit(node: dict) -> None:
            node["status"]["capacity"][resource] = node["status"]["allocatable"][resource] = str(group.gpus)
            node["metadata"]["labels"].update(gpu_labels(self.ctx.profile, group, True))

        self.store.mutate("/Node", "", name, edit)
