"""KubeRay clusters (RayService, RayCluster, RayJob, and AIBrix's RayClusterFleet, whose template is a RayCluster
spec): the engine's settings may sit in a Ray Serve config string, and KubeRay changes the pods it creates.

KubeRay mounts a Memory emptyDir at /dev/shm in the Ray container of every head and worker pod that has none, with a
sizeLimit equal to the container's memory limit (its request when it has no limit, nothing when it has neither):
ray-operator controllers/ray/common/pod.go, addEmptyDir(SharedMemoryVolumeName, "/dev/shm", StorageMediumMemory) and
findMemoryReqOrLimit (older releases read the request first). It also gives
that container KUBERAY_GEN_RAY_START_CMD, the `ray start` command it generated, which scripts run with `eval` when
the `ray.io/overwrite-container-cmd` annotation keeps their own command. Both are added here so the checks judge the
pod that runs, and the workload notes where the volume came from.
"""

from __future__ import annotations

import copy
from typing import Any

from coldstart.inputs.documents import Document
from coldstart.kube.podspec import DEFAULT_SHM_MOUNT, accelerators
from coldstart.verify.workloads import (
    EngineContainer,
    EnginePod,
    Inventory,
    Workload,
    display_name,
    engine_pod,
    finish,
    namespace_of,
    resolve_env,
)
from coldstart.vllm.launch import Launch, ray_engines

__all__ = ["KUBERAY_SHM_NOTE", "kuberay_pod", "ray_workloads"]

_START_CMD = "KUBERAY_GEN_RAY_START_CMD"
KUBERAY_SHM_NOTE = ("KubeRay mounts a Memory emptyDir at /dev/shm sized to the Ray container's memory limit; mount "
                    "your own /dev/shm volume to choose its size")


def ray_workloads(doc: Document, inv: Inventory, cluster: dict[str, Any] | None = None) -> list[Workload]:
    """The engine pods of a Ray cluster: `cluster` is the RayCluster spec (read from the object when None)."""
    spec = doc.obj.get("spec") or {}
    namespace = namespace_of(doc.obj)
    if cluster is None:
        cluster = spec.get("rayClusterConfig") or spec.get("rayClusterSpec") or spec
    engines = ray_engines(spec.get("serveConfigV2")) if doc.obj["kind"] == "RayService" else []
    groups = [("head", cluster.get("headGroupSpec") or {})]
    groups += [(str(g.get("groupName") or "workers"), g) for g in cluster.get("workerGroupSpecs") or []
               if isinstance(g, dict)]
    declared = [(role, g, p) for role, g in groups if isinstance(p := (g.get("template") or {}).get("spec"), dict)]
    templates = [(r, g, *kuberay_pod(p, head=r == "head")) for r, g, p in declared]
    with_gpu = {r for r, _, p, _ in templates if accelerators(p.get("containers") or [])}
    pods: list[EnginePod] = []
    for role, group, pod, _ in templates:
        found = engine_pod(role, pod, inv, namespace)
        head_idle = role == "head" and str((group.get("rayStartParams") or {}).get("num-cpus", "")) == "0"
        serves = bool(engines) and (role in with_gpu if with_gpu else not head_idle)
        if serves and pod.get("containers"):
            ray_container = pod["containers"][0]
            missing: list[str] = []
            env = resolve_env(ray_container, inv, namespace, missing)
            extra = [EngineContainer(display_name(role, ray_container.get("name"), None) +
                                     (f" ({e.name})" if len(engines) > 1 else ""), ray_container,
                                     Launch("launcher", dict(e.flags), e.model_source, {**env, **e.env},
                                            "Ray Serve LLM engine_kwargs"), ray_container.get("image"))
                     for e in engines]
            if found:
                found.containers.extend(extra)
            else:
                found = EnginePod(role, pod, extra, env_sources_missing=missing)
            files = [e.settings_file for e in engines if e.settings_file]
            if files:
                found.na["flags"] = f"the engine settings are in {files[0]} inside the image, not in this input"
        if found:
            pods.append(found)
    if not pods:
        return []
    workload = finish(doc, pods, model_uri=next((e.model_source for e in engines if e.model_source), None))
    if any(shm for *_, shm in templates):
        workload.notes["shm"] = KUBERAY_SHM_NOTE
    return [workload]


def kuberay_pod(pod: dict[str, Any], head: bool) -> tuple[dict[str, Any], bool]:
    """(the pod as KubeRay creates it, whether KubeRay added its /dev/shm volume). The Ray container (the one with env
    RAY=true, else the first) gets KUBERAY_GEN_RAY_START_CMD and, when nothing is mounted at /dev/shm, KubeRay's
    volume. The input's dicts are not changed."""
    containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
    if not containers:
        return pod, False
    index = next((i for i, c in enumerate(containers) if any(
        isinstance(e, dict) and e.get("name") == "ray" and str(e.get("value")).lower() == "true"
        for e in c.get("env") or [])), 0)
    ray = dict(containers[index])
    changed = copy.copy(pod)
    env = list(ray.get("env") or [])
    if not any(isinstance(e, dict) and e.get("name") == _START_CMD for e in env):
        ray["env"] = [*env, {"name": _START_CMD, "value": "ray start --head" if head else "ray start --address="
                                                                                          "$(RAY_IP):6379"}]
    has_shm = any(isinstance(m, dict) and str(m.get("mountPath", "")).rstrip("/") == DEFAULT_SHM_MOUNT
                  for m in ray.get("volumeMounts") or [])
    if not has_shm:
        resources = ray.get("resources") or {}
        limit = (resources.get("limits") or {}).get("memory") or (resources.get("requests") or {}).get("memory")
        ray["volumeMounts"] = [*(ray.get("volumeMounts") or []), {"name": "shared-mem", "mountPath": DEFAULT_SHM_MOUNT}]
        empty_dir = {"medium": "Memory", **({"sizeLimit": str(limit)} if limit is not None else {})}
        changed["volumes"] = [*(pod.get("volumes") or []), {"name": "shared-mem", "emptyDir": empty_dir}]
    changed["containers"] = [ray if i == index else c for i, c in enumerate(containers)]
    return changed, not has_shm
