"""Engine pods declared through operators: KServe here; KubeRay, KubeAI, NVIDIA Dynamo, KAITO, llmaz and AIBrix in
the `operators_*` modules this one dispatches to.

These resources do not hold a plain pod template: KServe splits the container between an InferenceService
and a ServingRuntime (joined here by runtime name or model format), Ray Serve puts vLLM settings in a YAML
string, KubeAI, Dynamo, KAITO and llmaz generate the pod from a few fields. Each is mapped onto the same `Workload`
shape; what an operator adds is built into the pod with a note (`Workload.notes`), and what the resource cannot
express is recorded in `na` with the reason, so the checks answer n/a, not fail.
"""

from __future__ import annotations

import copy
from typing import Any

from coldstart.inputs.documents import Document
from coldstart.kube.patch import strategic_merge
from coldstart.verify.generic import POD_FIELDS
from coldstart.verify.operators_aibrix import fleet_workloads
from coldstart.verify.operators_generated import dynamo_workloads, kubeai_workloads
from coldstart.verify.operators_presets import kaito_roles_workloads, kaito_workloads, llmaz_workloads
from coldstart.verify.operators_ray import ray_workloads
from coldstart.verify.workloads import (
    EngineContainer,
    EnginePod,
    Inventory,
    Workload,
    display_name,
    engine_pod,
    finish,
    namespace_of,
    oci_modelcars,
    resolve_env,
)
from coldstart.vllm.kserve import CONTAINER, MODEL_FIELDS, merge_pod, predictor_pod, worker_pod
from coldstart.vllm.launch import Launch, container_launches, entrypoint_launch, parse_flags

OPERATOR_KINDS = {"InferenceService", "ServingRuntime", "ClusterServingRuntime", "LLMInferenceService",
                  "LLMInferenceServiceConfig", "RayService", "RayCluster", "RayJob", "Model", "DynamoGraphDeployment",
                  "DynamoComponentDeployment"}
# (API group suffix, kind) of the other operators' resources mapped here; kinds alone collide across groups (a
# Terraform `Workspace`, a Knative `Service`).
OPERATOR_GROUP_KINDS = {("kaito.sh", "Workspace"), ("kaito.sh", "InferenceSet"), ("kaito.sh", "MultiRoleInference"),
                        ("llmaz.io", "Playground"), ("llmaz.io", "BackendRuntime"), ("llmaz.io", "OpenModel"),
                        ("aibrix.ai", "RayClusterFleet"), ("aibrix.ai", "ModelAdapter")}
_RUNTIME_ELSEWHERE = "set in the ServingRuntime {rt}, which is not in this input"


def is_operator_resource(obj: dict[str, Any]) -> bool:
    """Is this object mapped by an operator module here (so the generic readers leave it alone)?"""
    kind = obj.get("kind")
    group = str(obj.get("apiVersion", "")).rpartition("/")[0]
    return kind in OPERATOR_KINDS or any(kind == k and (group == g or group.endswith("." + g))
                                         for g, k in OPERATOR_GROUP_KINDS)


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
        found.extend(ray_workloads(doc, inv))
    for doc in inv.of_kind("Model"):
        if str(doc.obj.get("apiVersion", "")).startswith("kubeai.org/"):
            found.extend(kubeai_workloads(doc, inv))
    for doc in inv.of_kind("DynamoGraphDeployment", "DynamoComponentDeployment"):
        if not inv.owned_by_input(doc.obj):
            found.extend(dynamo_workloads(doc, inv))
    for kind, build in (("Workspace", kaito_workloads), ("InferenceSet", kaito_workloads),
                        ("MultiRoleInference", kaito_roles_workloads), ("Playground", llmaz_workloads),
                        ("RayClusterFleet", fleet_workloads)):
        for doc in inv.of_kind(kind):
            if is_operator_resource(doc.obj) and not inv.owned_by_input(doc.obj):
                found.extend(build(doc, inv))
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
    modelcars = oci_modelcars("storageUri", uri)
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
    modelcars = oci_modelcars("model.uri", uri)
    return [finish(doc, pods, model_uri=uri, modelcars=modelcars)]
