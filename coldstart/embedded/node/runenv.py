"""What the kubelet hands a container when it starts it: resolved argv and environment, mounts, /dev/shm,
GPU devices, the memory limit, and facts about the pod the engine cares about (a KServe modelcar or a storage
initializer providing /mnt/models, lazily streamed images). Also node facts the kubelet needs: addresses,
readiness, allocatable GPUs, and pod IPs from the node's range.
"""

from __future__ import annotations

import hashlib

from coldstart.embedded.context import SimContext
from coldstart.embedded.engine.model import weight_bytes
from coldstart.embedded.node.images import ImageService
from coldstart.embedded.node.podstatus import ContainerRun, PodRun
from coldstart.embedded.node.process import ContainerEnv, argv_of, as_bytes, as_int, resolve_env
from coldstart.embedded.node.volumes import NodeSideState, container_mounts, shm_bytes
from coldstart.kube.images import ImageRef
from coldstart.kube.quantity import to_bytes


def node_ip(node: dict, name: str) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP" and address.get("address"):
            return address["address"]
    n = int(hashlib.sha256(name.encode()).hexdigest(), 16)
    return f"10.128.{n % 200}.{n // 200 % 250 + 2}"


def node_ready(node: dict | None, gpu_resource: str, gpus_needed: int) -> bool:
    """Ready condition True and, for a GPU pod, the device plugin advertising enough GPUs."""
    if not node:
        return False
    ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                for c in (node.get("status") or {}).get("conditions") or [])
    if not ready:
        return False
    if gpus_needed <= 0:
        return True
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    try:
        return as_int(allocatable.get(gpu_resource, "0"), 0) >= gpus_needed
    except ValueError:
        return False


def _limit(container: dict, name: str) -> str | None:
    res = container.get("resources") or {}
    return (res.get("limits") or {}).get(name) or (res.get("requests") or {}).get(name)


def pod_gpus(pod: dict, gpu_resource: str) -> int:
    spec = pod.get("spec", {})
    mains = sum(as_int(_limit(c, gpu_resource), 0) for c in spec.get("containers") or [])
    inits = max([as_int(_limit(c, gpu_resource), 0) for c in spec.get("initContainers") or []] or [0])
    return max(mains, inits)


def pod_ip(state: NodeSideState, node: dict, name: str) -> str:
    """The next address from the node's pod range (spec.podCIDR, else one derived from its name)."""
    n = state.ip_counters.get(name, 0) + 1
    state.ip_counters[name] = n
    cidr = (node.get("spec") or {}).get("podCIDR")
    if cidr and cidr.count(".") == 3:
        a, b, c, _ = cidr.split("/")[0].split(".")
        return f"{a}.{b}.{c}.{n % 253 + 2}"
    octet = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 200 + 8
    return f"10.{octet}.{n // 250}.{n % 250 + 2}"


def is_modelcar(ctx: SimContext, image: str) -> bool:
    """A modelcar image: the profile's, or any image whose registry layers are stored uncompressed weights."""
    try:
        repo = ImageRef.parse(image).name
    except ValueError:
        return False
    return repo == ImageRef.parse(ctx.profile.model.modelcar).name or ctx.image(image).compression == "none"


def container_env(ctx: SimContext, images: ImageService, state: NodeSideState, run: PodRun, c: ContainerRun,
                  digest: str | None) -> ContainerEnv:
    """Resolve everything a starting container gets from its pod and node."""
    store = ctx.store
    pod = store.get("/Pod", run.namespace, run.name) or run.pod
    node = store.get("/Node", "", run.node) or {}
    env = resolve_env(store, pod, c.spec, node, run.pod_ip)
    mounts = container_mounts(store, pod, c.spec, ctx.kinetics)
    memory = _limit(c.spec, "memory")
    limits = [_limit(x, "memory") for x in pod.get("spec", {}).get("containers") or []]
    sizes = [as_bytes(x) for x in limits]
    pod_limit = sum(x for x in sizes if x) if sizes and all(sizes) else None
    node_memory = as_bytes((node.get("status") or {}).get("allocatable", {}).get("memory")) \
        or to_bytes(ctx.profile.nodes.node_memory)
    modelcar = next((x for x in run.all if is_modelcar(ctx, x.spec.get("image", ""))), None)
    modelcar_digest = modelcar.image_id.rpartition("@")[2] if modelcar and modelcar.image_id else None
    extra = {}
    if "storage-initializer" in c.spec.get("image", ""):
        extra["download_seconds"] = ctx.jitter(weight_bytes(ctx.profile.model.name, ctx.profile)
                                               / (ctx.kinetics.hf_hub_mb_per_s * 1e6),
                                               f"storage-initializer {ctx.identity(run.pod)}")
    return ContainerEnv(
        pod=pod, container=c.spec, node=node, argv=argv_of(c.spec, env), env=env, mounts=mounts,
        shm_bytes=shm_bytes(mounts, pod_limit, node_memory), memory_limit=as_bytes(memory),
        gpus=as_int(_limit(c.spec, ctx.profile.gpu.resource), 0), started_at=ctx.now(),
        restart_count=c.restart_count, pod_ip=run.pod_ip, init=c.init, image_digest=digest,
        image_lazy_until=images.lazy_until(run.node, digest),
        modelcar_lazy_until=images.lazy_until(run.node, modelcar_digest), modelcar=modelcar is not None, extra=extra)
