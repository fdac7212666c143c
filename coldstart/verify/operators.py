"""Engine pods declared through operators: KServe, KubeRay, KubeAI and NVIDIA Dynamo resources.

These resources do not hold a plain pod template: KServe splits the container between an InferenceService
and a ServingRuntime (joined here by runtime name or model format), Ray Serve puts vLLM settings in a YAML
string, KubeAI and Dynamo generate the pod from a few fields. Each is mapped onto the same `Workload` shape;
what the resource cannot express is recorded in `na` with the reason, so the checks answer n/a, not fail.
"""

from __future__ import annotations

import copy
from typing import Any

from coldstart.inputs.documents import Document
from coldstart.kube.patch import strategic_merge
from coldstart.kube.podspec import accelerators
from coldstart.verify.workloads import (
    EngineContainer,
    EnginePod,
    ImageUse,
    Inventory,
    Workload,
    display_name,
    engine_pod,
    finish,
    namespace_of,
    resolve_env,
)
from coldstart.vllm.kserve import CONTAINER, MODEL_FIELDS, merge_pod, predictor_pod, worker_pod
from coldstart.vllm.launch import Launch, container_launches, entrypoint_launch, parse_flags, ray_engines

OPERATOR_KINDS = {"InferenceService", "ServingRuntime", "ClusterServingRuntime", "LLMInferenceService",
                  "RayService", "RayCluster", "RayJob", "Model", "DynamoGraphDeployment"}
# PodSpec fields an InferenceService predictor or a ServingRuntime may carry next to its containers.
POD_FIELDS = ("volumes", "nodeSelector", "tolerations", "affinity", "priorityClassName", "imagePullSecrets",
              "hostIPC", "hostNetwork", "runtimeClassName", "schedulerName", "serviceAccountName", "securityContext",
              "initContainers", "topologySpreadConstraints", "dnsPolicy", "shareProcessNamespace")
_RUNTIME_ELSEWHERE = "set in the ServingRuntime {rt}, which is not in this input"


def operator_workloads(inv: Inventory) -> list[Workload]:
    """Workloads from every operator resource in the input."""
    found: list[Workload] = []
    used: set[int] = set()
    for doc in inv.of_kind("InferenceService"):
        workload = _inference_service(doc, inv, used)
        if workload:
            found.append(workload)
    for doc in inv.of_kind("ServingRuntime", "ClusterServingRuntime"):
        spec = doc.obj.get("spec") or {}
        if id(doc) not in used and not inv.owned_by_input(doc.obj):
            worker = spec.get("workerSpec") or {}
            roles = [(None, spec)] + ([("worker", {k: worker[k] for k in (*POD_FIELDS, "containers") if k in worker})]
                                      if worker else [])
            pods = [p for role, pod in roles if (p := engine_pod(role, pod, inv, namespace_of(doc.obj)))]
            if pods:
                found.append(finish(doc, pods))
    for doc in inv.of_kind("LLMInferenceService"):
        found.extend(_llm_inference_service(doc, inv))
    for doc in inv.of_kind("RayService", "RayCluster", "RayJob"):
        found.extend(_ray(doc, inv))
    for doc in inv.of_kind("Model"):
        if str(doc.obj.get("apiVersion", "")).startswith("kubeai.org/"):
            found.extend(_kubeai(doc, inv))
    for doc in inv.of_kind("DynamoGraphDeployment"):
        found.extend(_dynamo(doc, inv))
    return found


# ---------------------------------------------------------------------------------------------------
# KServe


def _predictor_model(predictor: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """(model spec, format name): `predictor.model`, or an old-style framework key such as `huggingface`."""
    model = predictor.get("model")
    if isinstance(model, dict):
        return model, str((model.get("modelFormat") or {}).get("name") or "") or None
    for key, value in predictor.items():
        if isinstance(value, dict) and ("storageUri" in value or key == "huggingface") and key not in POD_FIELDS:
            return value, key
    return None, None


def _find_runtime(inv: Inventory, model: dict[str, Any], fmt: str | None, namespace: str) -> Document | None:
    name = model.get("runtime")
    if name:
        return inv.find("ServingRuntime", name, namespace) or inv.find("ClusterServingRuntime", name)
    if not fmt:
        return None
    for doc in inv.of_kind("ServingRuntime", "ClusterServingRuntime"):
        formats = (doc.obj.get("spec") or {}).get("supportedModelFormats") or []
        if any(isinstance(f, dict) and str(f.get("name", "")).lower() == fmt.lower() and f.get("autoSelect", True)
               for f in formats):
            return doc
    return None


def _inference_service(doc: Document, inv: Inventory, used: set[int]) -> Workload | None:
    obj = doc.obj
    namespace = namespace_of(obj)
    predictor = (obj.get("spec") or {}).get("predictor") or {}
    if not isinstance(predictor, dict):
        return None
    if predictor.get("containers"):
        direct = engine_pod(None, predictor, inv, namespace)
        return finish(doc, [direct], model_uri=_storage_uri(predictor.get("containers"))) if direct else None
    model, fmt = _predictor_model(predictor)
    if model is None:
        return None
    uri = model.get("storageUri")
    modelcars = [ImageUse("storageUri", str(uri))] if str(uri or "").startswith("oci://") else []
    runtime = _find_runtime(inv, model, fmt, namespace)
    if runtime is not None:
        used.add(id(runtime))
        rt_spec = runtime.obj.get("spec") or {}
        containers = [c for c in rt_spec.get("containers") or [] if isinstance(c, dict)]
        if not containers:
            return None
        pod = predictor_pod(rt_spec, {**predictor, "model": model}, obj.get("metadata") or {})
        main = engine_pod(None, pod, inv, namespace)
        if main is None:
            return None
        pods = [main]
        worker = worker_pod(rt_spec.get("workerSpec") or {}, predictor.get("workerSpec") or {})
        if worker and (found := engine_pod("worker", worker, inv, namespace)):
            pods.append(found)
        return finish(doc, pods, model_uri=uri, modelcars=modelcars)
    rt = model.get("runtime") or f"for model format {fmt!r}"
    looks_vllm = any(word in str(model.get("runtime") or fmt or "").lower() for word in ("vllm", "huggingface"))
    if not looks_vllm:
        return None
    container = {k: v for k, v in model.items() if k not in MODEL_FIELDS}
    container.setdefault("name", CONTAINER)
    missing: list[str] = []
    env = resolve_env(container, inv, namespace, missing)
    flags, _ = parse_flags([str(a) for a in container.get("args") or []])
    engine = EngineContainer(CONTAINER, container, Launch("launcher", flags, None, env, "KServe runtime"),
                             container.get("image"))
    pod = merge_pod({}, predictor)
    pod["containers"] = [container]
    elsewhere = _RUNTIME_ELSEWHERE.format(rt=rt)
    na = {"image": f"image and pull policy are {elsewhere}", "shm": f"/dev/shm is {elsewhere}"}
    if not any(k in container for k in ("startupProbe", "livenessProbe", "readinessProbe")):
        na["probes"] = f"probes are {elsewhere}"
    return finish(doc, [EnginePod(None, pod, [engine], na=na, env_sources_missing=missing)],
                  model_uri=uri, modelcars=modelcars)


def _storage_uri(containers: Any) -> str | None:
    for c in containers or []:
        for e in (c.get("env") or []) if isinstance(c, dict) else []:
            if isinstance(e, dict) and e.get("name") == "STORAGE_URI":
                return e.get("value")
    return None


def _llm_inference_service(doc: Document, inv: Inventory) -> list[Workload]:
    namespace = namespace_of(doc.obj)
    spec: dict[str, Any] = {}
    for ref in (doc.obj.get("spec") or {}).get("baseRefs") or []:
        base = inv.find("LLMInferenceServiceConfig", ref.get("name") if isinstance(ref, dict) else None, namespace)
        if base is not None:
            spec = strategic_merge(spec, copy.deepcopy(base.obj.get("spec") or {}))
    spec = strategic_merge(spec, copy.deepcopy(doc.obj.get("spec") or {}))
    prefill = spec.get("prefill") or {}
    roles = [("decode" if prefill else None, spec.get("template")), ("worker", spec.get("worker")),
             ("prefill", prefill.get("template")), ("prefill-worker", prefill.get("worker"))]
    pods: list[EnginePod] = []
    for role, pod in roles:
        if not isinstance(pod, dict):
            continue
        engines: list[EngineContainer] = []
        missing: list[str] = []
        for c in pod.get("containers") or []:
            if not isinstance(c, dict):
                continue
            env = resolve_env(c, inv, namespace, missing)
            launches = container_launches(c, env)
            only = len(pod.get("containers") or []) == 1
            if not launches and (c.get("name") == "main" or only) and not c.get("command"):
                launch = entrypoint_launch([str(a) for a in c.get("args") or []], env)
                launch.role = "host" if role and role.endswith("worker") else "launcher"
                launches = [launch]
            engines += [EngineContainer(display_name(role, c.get("name")), c, ln, c.get("image")) for ln in launches]
        if not engines:
            continue
        elsewhere = "set by KServe's LLMInferenceServiceConfig presets, which are not in this input"
        na = {}
        if any(e.image is None for e in engines):
            na["image"] = f"the image is {elsewhere}"
        if not any(m.get("mountPath") == "/dev/shm" for e in engines for m in e.spec.get("volumeMounts") or []):
            na["shm"] = f"/dev/shm is {elsewhere}"
        if not any(k in e.spec for e in engines for k in ("startupProbe", "livenessProbe")):
            na["probes"] = f"probes are {elsewhere}"
        pods.append(EnginePod(role, pod, engines, na=na, env_sources_missing=missing))
    if not pods:
        return []
    uri = (spec.get("model") or {}).get("uri")
    modelcars = [ImageUse("model.uri", str(uri))] if str(uri or "").startswith("oci://") else []
    return [finish(doc, pods, model_uri=uri, modelcars=modelcars)]


# ---------------------------------------------------------------------------------------------------
# KubeRay


def _ray(doc: Document, inv: Inventory) -> list[Workload]:
    spec = doc.obj.get("spec") or {}
    namespace = namespace_of(doc.obj)
    cluster = spec.get("rayClusterConfig") or spec.get("rayClusterSpec") or spec
    engines = ray_engines(spec.get("serveConfigV2")) if doc.obj["kind"] == "RayService" else []
    groups = [("head", cluster.get("headGroupSpec") or {})]
    groups += [(str(g.get("groupName") or "workers"), g) for g in cluster.get("workerGroupSpecs") or []
               if isinstance(g, dict)]
    declared = [(role, g, (g.get("template") or {}).get("spec")) for role, g in groups]
    templates = [(r, g, p) for r, g, p in declared if isinstance(p, dict)]
    with_gpu = {r for r, _, p in templates if accelerators(p.get("containers") or [])}
    pods: list[EnginePod] = []
    for role, group, pod in templates:
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
    return [finish(doc, pods, model_uri=next((e.model_source for e in engines if e.model_source), None))]


# ---------------------------------------------------------------------------------------------------
# KubeAI and NVIDIA Dynamo: the operator writes the pod


def _kubeai(doc: Document, inv: Inventory) -> list[Workload]:
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
    modelcars = [ImageUse("url", str(uri))] if str(uri or "").startswith("oci://") else []
    return [finish(doc, [pod], model_uri=uri, modelcars=modelcars,
                   na={"selectors": "KubeAI sets nodeSelector and tolerations from the resourceProfile"})]


def _dynamo(doc: Document, inv: Inventory) -> list[Workload]:
    services = (doc.obj.get("spec") or {}).get("services") or {}
    namespace = namespace_of(doc.obj)
    pods: list[EnginePod] = []
    for name, svc in services.items() if isinstance(services, dict) else []:
        if not isinstance(svc, dict) or str(svc.get("componentType", "")).lower() in ("frontend", "planner"):
            continue
        if any(word in str(name).lower() for word in ("frontend", "planner", "router", "processor")):
            continue
        extra = copy.deepcopy(svc.get("extraPodSpec") or {})
        container = extra.pop("mainContainer", None) or {}
        container.setdefault("name", "main")
        container["env"] = list(svc.get("envs") or []) + list(container.get("env") or [])
        _dynamo_resources(container, svc.get("resources") or {})
        volumes, mounts = list(extra.get("volumes") or []), list(container.get("volumeMounts") or [])
        for claim, path in _dynamo_claims(svc):
            volumes.append({"name": f"pvc-{claim}", "persistentVolumeClaim": {"claimName": claim}})
            mounts.append({"name": f"pvc-{claim}", "mountPath": path})
        shm = svc.get("sharedMemory") or {}
        if not shm.get("disabled") and not any(m.get("mountPath") == "/dev/shm" for m in mounts):
            volumes.append({"name": "shared-memory", "emptyDir": {"medium": "Memory",
                                                                  "sizeLimit": str(shm.get("size") or "8Gi")}})
            mounts.append({"name": "shared-memory", "mountPath": "/dev/shm"})
        container["volumeMounts"], extra["volumes"] = mounts, volumes
        extra["containers"] = [container]
        missing: list[str] = []
        env = resolve_env(container, inv, namespace, missing)
        launches = container_launches(container, env)
        if not launches and str(svc.get("componentType", "")).lower() == "worker":
            launches = [entrypoint_launch([], env)]
        engines = [EngineContainer(display_name(str(name), container["name"]), container, ln, container.get("image"))
                   for ln in launches]
        if not engines:
            continue
        na = {}
        if not container.get("image"):
            na["image"] = "the Dynamo operator picks the image; set extraPodSpec.mainContainer.image to pin it"
        if not any(k in container for k in ("startupProbe", "livenessProbe")):
            na["probes"] = "the Dynamo operator injects its default probes (not in this input)"
        pods.append(EnginePod(str(name), extra, engines, na=na, env_sources_missing=missing))
    return [finish(doc, pods)] if pods else []


def _dynamo_resources(container: dict[str, Any], resources: dict[str, Any]) -> None:
    mine = container.setdefault("resources", {})
    for part in ("requests", "limits"):
        for key, value in (resources.get(part) or {}).items():
            name = "nvidia.com/gpu" if key == "gpu" else key
            mine.setdefault(part, {}).setdefault(name, value)


def _dynamo_claims(svc: dict[str, Any]) -> list[tuple[str, str]]:
    """(claim, mount path) of the PVCs a Dynamo service mounts (compilationCache, pvc, volumeMounts)."""
    claims = []
    for key in ("compilationCache", "pvc"):
        ref = svc.get(key)
        if isinstance(ref, dict) and ref.get("name") and ref.get("mountPoint"):
            claims.append((str(ref["name"]), str(ref["mountPoint"])))
    for ref in svc.get("volumeMounts") or []:
        if isinstance(ref, dict) and ref.get("name") and ref.get("mountPoint"):
            claims.append((str(ref["name"]), str(ref["mountPoint"])))
    return claims

