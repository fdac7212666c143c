"""Operators that write the engine pod from a few fields: KubeAI's Model and NVIDIA Dynamo's graphs.

KubeAI chooses the image, resources and volumes from a resourceProfile the input does not hold: those aspects are
n/a with that reason. The Dynamo operator builds each component's pod from `extraPodSpec.mainContainer` (v1alpha1
`services`) or `podTemplate` (v1beta1 `components`, container `main`) and adds its defaults, which are counted here
with a note: an 8Gi Memory /dev/shm unless `sharedMemory`/`sharedMemorySize` says otherwise, worker probes (startup
on /live every 10s, 720 failures: two hours) when none are written, and VLLM_CACHE_ROOT on a compilation-cache PVC
(deploy/cloud/operator internal/dynamo graph.go, component_worker.go, backend_vllm.go; docs "Operator Default
Values Injection"). A main container given one `args` string and no command (the mid-2025 examples) runs it as a
shell line; an SDK-era worker (`dynamo serve ... -f configs/agg.yaml`) keeps its engine flags in that file.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from coldstart.inputs.documents import Document
from coldstart.kube.podspec import DEFAULT_SHM_MOUNT
from coldstart.verify.workloads import (
    EngineContainer,
    EnginePod,
    Inventory,
    Workload,
    display_name,
    finish,
    namespace_of,
    oci_modelcars,
    resolve_env,
)
from coldstart.vllm.launch import Launch, container_launches, entrypoint_launch, parse_flags

__all__ = ["dynamo_workloads", "kubeai_workloads"]

DYNAMO_SHM = "8Gi"
_NOT_ENGINES = ("frontend", "planner", "router", "processor", "epp")
# The Dynamo operator's worker probes (component_worker.go): what a worker gets when it writes none.
_DYNAMO_STARTUP = {"httpGet": {"path": "/live", "port": "system"}, "periodSeconds": 10, "timeoutSeconds": 5,
                   "failureThreshold": 720}
_DYNAMO_LIVENESS = {"httpGet": {"path": "/live", "port": "system"}, "periodSeconds": 5, "timeoutSeconds": 30,
                    "failureThreshold": 1}
_PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
# `dynamo serve graphs.agg:Frontend ... -f ./configs/agg.yaml` (the SDK era, Dynamo <= 0.3): engine flags in a file.
_SDK_CONFIG = re.compile(r"\bdynamo\s+serve\b.*?\s(?:-f|--config-file)[=\s]+(\S+)")


def kubeai_workloads(doc: Document, inv: Inventory) -> list[Workload]:
    """A KubeAI Model served by vLLM: flags, env and image from the Model; the rest is the resourceProfile's."""
    spec = doc.obj.get("spec") or {}
    if str(spec.get("engine", "")).lower() != "vllm":
        return []
    raw_env: dict[Any, Any] = spec["env"] if isinstance(spec.get("env"), dict) else {}
    env = {str(k): None if v is None else str(v) for k, v in raw_env.items()}
    flags, _ = parse_flags([str(a) for a in spec.get("args") or []])
    container = {"name": "server", **({"image": spec["image"]} if spec.get("image") else {})}
    engine = EngineContainer("server", container, Launch("launcher", flags, spec.get("url"), env, "KubeAI Model"),
                             spec.get("image"))
    generated = "KubeAI generates the pod (resourceProfile {p}); this setting is not in the Model".format(
        p=spec.get("resourceProfile") or "?")
    na = {"pull_policy": generated, "shm": generated, "memory": generated, "probes": generated}
    if not spec.get("image"):
        na["image"] = "KubeAI picks the image from its resourceProfile and engine; set spec.image to pin it"
    cache = f"cacheProfile {spec['cacheProfile']} keeps the model files on a shared volume" \
        if spec.get("cacheProfile") else None
    pod_spec = {"containers": [container], **({"priorityClassName": spec["priorityClassName"]}
                                              if spec.get("priorityClassName") else {})}
    pod = EnginePod(None, pod_spec, [engine], na=na, operator_cache=cache)
    uri = spec.get("url")
    modelcars = oci_modelcars("url", uri)
    return [finish(doc, [pod], model_uri=uri, modelcars=modelcars,
                   na={"selectors": "KubeAI sets nodeSelector and tolerations from the resourceProfile"})]


def dynamo_workloads(doc: Document, inv: Inventory) -> list[Workload]:
    """The engine components of a DynamoGraphDeployment (v1alpha1 `services` map or v1beta1 `components` list) or
    of one DynamoComponentDeployment."""
    spec = doc.obj.get("spec") or {}
    if doc.obj.get("kind") == "DynamoComponentDeployment":
        name = str(spec.get("name") or (doc.obj.get("metadata") or {}).get("name") or "component")
        components = [(name, spec)]
    elif isinstance(spec.get("components"), list):
        components = [(str(c.get("name") or i), c) for i, c in enumerate(spec["components"]) if isinstance(c, dict)]
    else:
        services = spec.get("services")
        components = [(str(k), v) for k, v in services.items() if isinstance(v, dict)] \
            if isinstance(services, dict) else []
    namespace = namespace_of(doc.obj)
    pods: list[EnginePod] = []
    notes: dict[str, str] = {}
    for name, component in components:
        kind = str(component.get("componentType") or component.get("type") or "").lower()
        if kind in (*_NOT_ENGINES, "main") or any(word in name.lower() for word in _NOT_ENGINES):
            continue
        built = _dynamo_pod(component)
        if built is None:
            continue
        pod, container, defaults = built
        missing: list[str] = []
        env = resolve_env(container, inv, namespace, missing)
        script = _args_script(container)
        launches = container_launches({**container, "command": ["/bin/sh", "-c"]} if script else container, env)
        text = f"{name} {container.get('image')} {script}".lower()
        if not launches and (kind in ("worker", "prefill", "decode") or "worker" in name.lower() and "vllm" in text):
            launches = [entrypoint_launch([], env)]
        engines = [EngineContainer(display_name(name, container["name"]), container, ln, container.get("image"))
                   for ln in launches]
        if not engines:
            continue
        notes.update(defaults)
        na = {} if container.get("image") else {
            "image": "the Dynamo operator picks the image; set the main container's image to pin it"}
        if (config := _SDK_CONFIG.search(script or "")) and not any(e.flags for e in engines):
            na["flags"] = f"the engine settings are in {config.group(1)} inside the image (dynamo serve -f), not in " \
                          "this input"
        pods.append(EnginePod(name, pod, engines, na=na, env_sources_missing=missing))
    if not pods:
        return []
    workload = finish(doc, pods)
    workload.notes.update(notes)
    return [workload]


def _args_script(container: dict[str, Any]) -> str | None:
    """Args without a command given as one shell line (`python3 -m dynamo.vllm --model m 2>&1 | tee log`): the
    operator's examples pass a script to a shell this way, so it is read as `sh -c` would run it."""
    args = container.get("args")
    if container.get("command") or not isinstance(args, list) or len(args) != 1 or not isinstance(args[0], str):
        return None
    return args[0] if " " in args[0].strip() else None


def _dynamo_pod(component: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]] | None:
    """(pod, main container, notes on what the operator added) as the Dynamo operator builds them."""
    notes: dict[str, str] = {}
    template = (component.get("podTemplate") or {}).get("spec")
    if isinstance(template, dict):  # v1beta1: a native pod template; the operator merges into container "main"
        pod = copy.deepcopy(template)
        containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
        container = next((c for c in containers if c.get("name") == "main"), containers[0] if containers else None)
        if container is None:
            return None
        size = component.get("sharedMemorySize")
        shm = None if str(size) == "0" else str(size or DYNAMO_SHM)
        cache = component.get("compilationCache") or {}
        claims = [(str(cache["pvcName"]), str(cache.get("mountPath") or "/cache/compilation"))] \
            if isinstance(cache, dict) and cache.get("pvcName") else []
        cache_mount = claims[0][1] if claims else None
    else:  # v1alpha1: extraPodSpec with a mainContainer, plus envs, resources and volume references beside it
        pod = copy.deepcopy(component.get("extraPodSpec") or {})
        container = pod.pop("mainContainer", None) or {}
        container.setdefault("name", "main")
        container["env"] = list(component.get("envs") or []) + list(container.get("env") or [])
        _dynamo_resources(container, component.get("resources") or {})
        for key in _PROBES:
            if isinstance(component.get(key), dict):
                container.setdefault(key, component[key])
        shm_spec = component.get("sharedMemory") or {}
        shm = None if shm_spec.get("disabled") else str(shm_spec.get("size") or DYNAMO_SHM)
        claims = _dynamo_claims(component)
        cache_mount = next((path for (claim, path), ref in zip(claims, _claim_refs(component), strict=True)
                            if ref.get("useAsCompilationCache") or ref is component.get("compilationCache")), None)
        pod["containers"] = [container]
    volumes, mounts = list(pod.get("volumes") or []), list(container.get("volumeMounts") or [])
    for claim, path in claims:
        volumes.append({"name": f"pvc-{claim}", "persistentVolumeClaim": {"claimName": claim}})
        mounts.append({"name": f"pvc-{claim}", "mountPath": path})
    if cache_mount and not any(isinstance(e, dict) and e.get("name") == "VLLM_CACHE_ROOT"
                               for e in container.get("env") or []):
        container["env"] = [*(container.get("env") or []), {"name": "VLLM_CACHE_ROOT", "value": cache_mount}]
        notes["volumes"] = f"the Dynamo operator sets VLLM_CACHE_ROOT={cache_mount}, its compilation-cache PVC"
    if shm and not any(m.get("mountPath") == DEFAULT_SHM_MOUNT for m in mounts if isinstance(m, dict)):
        volumes.append({"name": "shared-memory", "emptyDir": {"medium": "Memory", "sizeLimit": shm}})
        mounts.append({"name": "shared-memory", "mountPath": DEFAULT_SHM_MOUNT})
        notes["shm"] = f"the Dynamo operator mounts a Memory emptyDir of {shm} at /dev/shm (sharedMemory sets it)"
    if not any(isinstance(container.get(k), dict) for k in _PROBES):  # the leader's, also when multinode
        container["startupProbe"], container["livenessProbe"] = dict(_DYNAMO_STARTUP), dict(_DYNAMO_LIVENESS)
        notes["probes"] = ("the Dynamo operator's default worker probes: startup on /live every 10s, 720 failures "
                           "(2h)")
    container["volumeMounts"], pod["volumes"] = mounts, volumes
    return pod, container, notes


def _dynamo_resources(container: dict[str, Any], resources: dict[str, Any]) -> None:
    mine = container.setdefault("resources", {})
    for part in ("requests", "limits"):
        for key, value in (resources.get(part) or {}).items():
            name = "nvidia.com/gpu" if key == "gpu" else key
            mine.setdefault(part, {}).setdefault(name, value)


def _claim_refs(svc: dict[str, Any]) -> list[dict[str, Any]]:
    refs = [svc[k] for k in ("compilationCache", "pvc") if isinstance(svc.get(k), dict)]
    refs += [r for r in svc.get("volumeMounts") or [] if isinstance(r, dict)]
    return [r for r in refs if r.get("name") and r.get("mountPoint")]


def _dynamo_claims(svc: dict[str, Any]) -> list[tuple[str, str]]:
    """(claim, mount path) of the PVCs a Dynamo service mounts (compilationCache, pvc, volumeMounts)."""
    return [(str(r["name"]), str(r["mountPoint"])) for r in _claim_refs(svc)]
