"""Operators that build the vLLM pod from a model preset: KAITO's Workspace (and InferenceSet, MultiRoleInference)
and llmaz's Playground. The input holds a model name and a few options; the pod is the operator's. Each pod is built
here as the operator builds it, from its source, and every aspect the operator decides carries a note naming it.

KAITO (kaito-project/kaito pkg/workspace/inference/preset_inferences.go, presets/.../vllm/inference_api.py): a
StatefulSet whose container (named after the Workspace) runs `python3 /workspace/vllm/inference_api.py` from KAITO's
base image (tag only), with a Memory emptyDir at /dev/shm without sizeLimit, a startup probe of 30 min (10s x 180),
no memory limit, and vLLM's `--gpu-memory-utilization` defaulted to the GPU's free fraction, capped at 0.95, unless
the inference config ConfigMap (`inference.config`, key inference_config.yaml, section `vllm`) sets it. With
`kaito.sh/use-local-weights` the weights are a read-only hostPath under /opt/kaito/models/ streamed by Run:ai (docs
website/docs/bring-your-own-weights.md); a MultiRoleInference gets one such pod per role (website/docs/
prefill-decode-disaggregation.md); a Workspace's own `inference.template` is deployed as written.

llmaz (InftyAI/llmaz chart/templates/backends/vllm.yaml, pkg/controller_helper/modelsource): container
`model-runner` from the BackendRuntime (the chart's `vllm` one unless the input holds it): image:version, command,
the chosen recommended config's args, resources and sharedMemorySize, the runtime's probes; the model-loader init
container downloads the OpenModel's weights into an emptyDir at /workspace/models/, unless
`llmaz.io/skip-model-loader` has the engine read the model's URI itself.
"""

from __future__ import annotations

import math
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
    engine_pod,
    finish,
    namespace_of,
    resolve_env,
)
from coldstart.vllm.launch import Launch, container_launches, flag_name, load_structured

__all__ = ["kaito_roles_workloads", "kaito_workloads", "llmaz_workloads"]

KAITO_IMAGE = "mcr.microsoft.com/aks/kaito/kaito-base"
KAITO_STARTUP_SECONDS = 1800
KAITO_MAX_GPU_UTIL = "0.95"
KAITO_CONFIG_KEY = "inference_config.yaml"
KAITO_LOCAL_WEIGHTS = "kaito.sh/use-local-weights"
KAITO_LOCAL_ROOT = "/opt/kaito/models/"
LLMAZ_MODEL_PATH = "/workspace/models/"
# `{{ .ModelPath }}` in a recommended config's args (also as Helm escapes it: {{`{{ .ModelPath }}`}}).
_GO_FIELD = re.compile(r"\{\{`\{\{\s*\.(\w+)\s*\}\}`\}\}|\{\{\s*\.(\w+)\s*\}\}")
# llmaz's chart BackendRuntime `vllm` (chart/templates/backends/vllm.yaml): what a Playground gets when the input
# does not hold the BackendRuntime.
LLMAZ_VLLM: dict[str, Any] = {
    "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
    "recommendedConfigs": [
        {"name": "default", "args": ["--model", "{{ .ModelPath }}", "--served-model-name", "{{ .ModelName }}",
                                     "--host", "0.0.0.0", "--port", "8080"],
         "sharedMemorySize": "2Gi", "resources": {"requests": {"cpu": 4, "memory": "8Gi"},
                                                  "limits": {"cpu": 4, "memory": "8Gi"}}}],
    "startupProbe": {"periodSeconds": 10, "failureThreshold": 30, "httpGet": {"path": "/health", "port": 8080}},
    "livenessProbe": {"initialDelaySeconds": 15, "periodSeconds": 10, "failureThreshold": 3,
                      "httpGet": {"path": "/health", "port": 8080}},
}


# ---------------------------------------------------------------------------------------------------
# KAITO


def kaito_workloads(doc: Document, inv: Inventory) -> list[Workload]:
    """A Workspace (or an InferenceSet's workspace template) whose preset KAITO serves with vLLM, or whose
    `inference.template` is a pod template of the user's own that KAITO deploys as written."""
    obj = doc.obj
    body = (obj.get("spec") or {}).get("template") if obj.get("kind") == "InferenceSet" else obj
    body = body if isinstance(body, dict) else {}
    inference = body.get("inference") or (body.get("spec") or {}).get("inference") or {}
    inference = inference if isinstance(inference, dict) else {}
    namespace = namespace_of(obj)
    template = (inference.get("template") or {}).get("spec") if isinstance(inference.get("template"), dict) else None
    if isinstance(template, dict):
        own = engine_pod(None, template, inv, namespace)
        return [finish(doc, [own])] if own else []
    preset = inference.get("preset")
    if not isinstance(preset, dict) or not _kaito_vllm(obj):
        return []
    name = str((obj.get("metadata") or {}).get("name") or "workspace")
    built = _kaito_pod(None, name, str(preset.get("name") or ""), _kaito_local(obj), inference.get("config"), inv,
                       namespace)
    return [_kaito_finish(doc, [built[0]], built[1])]


def kaito_roles_workloads(doc: Document, inv: Inventory) -> list[Workload]:
    """A MultiRoleInference: one InferenceSet per role (prefill, decode) of the same preset; KAITO sets
    VLLM_NIXL_SIDE_CHANNEL_HOST on both and puts a routing sidecar (not an engine) beside the decode engine."""
    spec = doc.obj.get("spec") or {}
    model = str((spec.get("model") or {}).get("name") or "")
    if not model or not _kaito_vllm(doc.obj):
        return []
    namespace = namespace_of(doc.obj)
    name = str((doc.obj.get("metadata") or {}).get("name") or "mri")
    pods: list[EnginePod] = []
    notes: dict[str, str] = {}
    for role in spec.get("roles") or []:
        if isinstance(role, dict) and role.get("type"):
            pod, notes = _kaito_pod(str(role["type"]), f"{name}-{role['type']}", model, _kaito_local(doc.obj),
                                    (spec.get("inference") or {}).get("config") if isinstance(
                                        spec.get("inference"), dict) else None, inv, namespace)
            pod.spec["containers"][0]["env"] = [{"name": "VLLM_NIXL_SIDE_CHANNEL_HOST",
                                                 "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}]
            pods.append(pod)
    return [_kaito_finish(doc, pods, notes)] if pods else []


def _kaito_vllm(obj: dict[str, Any]) -> bool:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get("kaito.sh/runtime", "vllm")).lower() == "vllm"


def _kaito_local(obj: dict[str, Any]) -> bool:
    """`kaito.sh/use-local-weights: "true"`: the weights are already on the node (docs: bring-your-own-weights)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get(KAITO_LOCAL_WEIGHTS, "")).lower() == "true"


def _kaito_pod(role: str | None, name: str, model: str, local: bool, config_name: Any, inv: Inventory,
               namespace: str) -> tuple[EnginePod, dict[str, str]]:
    """The engine pod KAITO writes for a preset, and the notes on what KAITO decided in it."""
    flags: dict[str, Any] = {"gpu_memory_utilization": KAITO_MAX_GPU_UTIL}
    notes = {"shm": "KAITO mounts a Memory emptyDir at /dev/shm without a sizeLimit",
             "probes": f"KAITO's startup probe allows {KAITO_STARTUP_SECONDS}s (10s x 180) unless the preset sets "
                       "a readiness timeout",
             "gpu_util": "KAITO's vLLM wrapper sets --gpu-memory-utilization to the GPU's free memory fraction, capped "
                      f"at {KAITO_MAX_GPU_UTIL}, unless the inference config ConfigMap sets gpu-memory-utilization"}
    missing: list[str] = []
    if config_name:
        data = inv.data("ConfigMap", str(config_name), namespace)
        if data is None:
            missing.append(f"ConfigMap/{config_name}")
        else:
            settings = load_structured(data.get(KAITO_CONFIG_KEY, ""), f"ConfigMap {config_name}")
            vllm = settings.get("vllm") if isinstance(settings, dict) else None
            written = {flag_name(str(k)): v for k, v in vllm.items()} if isinstance(vllm, dict) else {}
            flags.update(written)
            if "gpu_memory_utilization" in written:
                notes.pop("gpu_util")
    weights: dict[str, Any] = {"name": "model-weights-volume", "emptyDir": {}}
    mount: dict[str, Any] = {"name": "model-weights-volume", "mountPath": "/workspace/weights"}
    source = model if "/" in model else None
    if local:  # a read-only hostPath at /opt/kaito/models/<model id lowercased, "/" -> "-">, streamed by Run:ai
        path = KAITO_LOCAL_ROOT + re.sub(r"[/\\]", "-", model.lower())
        weights = {"name": "model-weights-hostpath", "hostPath": {"path": path}}
        mount = {"name": "model-weights-hostpath", "mountPath": path, "readOnly": True}
        flags.update(model=path, load_format="runai_streamer")
        source = path
        notes["weights"] = f"KAITO loads the weights from the node ({path}, kaito.sh/use-local-weights)"
    container = {"name": name, "command": ["python3", "/workspace/vllm/inference_api.py"],
                 "volumeMounts": [{"name": "dshm", "mountPath": DEFAULT_SHM_MOUNT}, mount],
                 "startupProbe": {"httpGet": {"path": "/health", "port": 5000}, "periodSeconds": 10,
                                  "failureThreshold": math.ceil(KAITO_STARTUP_SECONDS / 10)},
                 "livenessProbe": {"httpGet": {"path": "/health", "port": 5000}, "periodSeconds": 10,
                                   "failureThreshold": 3}}
    pod = {"containers": [container], "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory"}}, weights]}
    env = resolve_env(container, inv, namespace)
    launch = Launch("launcher", flags, source, env, f"KAITO preset {model}", "api_server")
    engine = EngineContainer(display_name(role, name), container, launch, None)
    na = {"image": f"KAITO runs its own image ({KAITO_IMAGE}, by tag) for the preset; it is not in the input"}
    return EnginePod(role, pod, [engine], na=na, env_sources_missing=missing), notes


def _kaito_finish(doc: Document, pods: list[EnginePod], notes: dict[str, str]) -> Workload:
    workload = finish(doc, pods, na={"selectors": "KAITO places the pods on the GPU nodes it provisions for them "
                                                  "(resource.labelSelector and its own tolerations)"})
    workload.notes.update(notes)
    return workload


# ---------------------------------------------------------------------------------------------------
# llmaz


def llmaz_workloads(doc: Document, inv: Inventory) -> list[Workload]:
    """A Playground served by vLLM: its OpenModel, BackendRuntime and recommended config joined as llmaz joins them."""
    spec: dict[str, Any] = doc.obj.get("spec") or {}
    config: dict[str, Any] = spec.get("backendRuntimeConfig") or spec.get("backendConfig") or {}
    backend = str(config.get("backendName") or config.get("name") or "vllm")
    if "vllm" not in backend.lower():
        return []
    runtime_doc = inv.find("BackendRuntime", backend)
    runtime: dict[str, Any] = (runtime_doc.obj.get("spec") or {}) if runtime_doc is not None else LLMAZ_VLLM
    extra = config.get("args")
    config_name = str(config.get("configName") or (extra.get("name") if isinstance(extra, dict) else None)
                      or "default")
    chosen: dict[str, Any] | None = next((c for c in runtime.get("recommendedConfigs") or runtime.get("args") or []
                                          if isinstance(c, dict) and c.get("name") == config_name), None)
    preset = chosen or {}
    models = _claimed_models(spec, inv, _skips_loader(doc.obj))
    values = {"ModelPath": models[0][0] if models else None, "ModelName": models[0][1] if models else None,
              "DraftModelPath": models[1][0] if len(models) > 1 else None}
    args = [str(a) for a in preset.get("args") or preset.get("flags") or []]
    args += [str(a) for a in (extra if isinstance(extra, list) else
                              extra.get("flags") or [] if isinstance(extra, dict) else [])]
    args = [_GO_FIELD.sub(lambda m: values.get(m.group(1) or m.group(2)) or m.group(0), a) for a in args]
    shm = config.get("sharedMemorySize") or preset.get("sharedMemorySize") or runtime.get("sharedMemorySize")
    version = config.get("version") or runtime.get("version")
    image: str | None = f"{runtime['image']}:{version}" if runtime.get("image") and version else runtime.get("image")
    container: dict[str, Any] = {
        "name": "model-runner", "command": list(runtime.get("command") or runtime.get("commands") or []), "args": args,
        "env": [*(runtime.get("envs") or []), *(config.get("envs") or [])],
        "resources": _merge_resources(preset.get("resources"), runtime.get("resources"), config.get("resources"),
                                      models[0][3] if models else None),
        "volumeMounts": [{"name": "model-volume", "mountPath": LLMAZ_MODEL_PATH, "readOnly": True}],
        **({"image": image} if image else {}),
        **{k: runtime[k] for k in ("startupProbe", "livenessProbe", "readinessProbe")
           if isinstance(runtime.get(k), dict)}}
    volumes: list[dict[str, Any]] = [{"name": "model-volume", "emptyDir": {}}]
    if shm:
        volumes.append({"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": str(shm)}})
        container["volumeMounts"].append({"name": "dshm", "mountPath": DEFAULT_SHM_MOUNT})
    missing: list[str] = []
    launches = container_launches(container, resolve_env(container, inv, namespace_of(doc.obj), missing))
    if not launches:
        return []
    where = f"BackendRuntime {backend}" + ("" if runtime_doc is not None else " (llmaz's chart default, not in "
                                           "this input)")
    na: dict[str, str] = {} if image else {"image": f"the image is set in the {where}"}
    if chosen is None:
        na["flags"] = f"the engine flags are in the config {config_name} of the {where}"
        na["shm"] = f"/dev/shm is sized by the config {config_name} of the {where}"
    engines = [EngineContainer(display_name(None, "model-runner", i if len(launches) > 1 else None), container,
                               ln, image) for i, ln in enumerate(launches)]
    pod = {"containers": [container], "volumes": volumes}
    workload = finish(doc, [EnginePod(None, pod, engines, na=na, env_sources_missing=missing)],
                      model_uri=models[0][2] if models else None)
    workload.notes.update({"shm": f"llmaz sizes /dev/shm from sharedMemorySize ({where}, config {config_name})",
                           "probes": f"llmaz copies the probes of the {where}"})
    if models and models[0][0].startswith(LLMAZ_MODEL_PATH):
        workload.notes["volumes"] = f"llmaz's model-loader downloads the weights into an emptyDir at {LLMAZ_MODEL_PATH}"
    return [workload]


def _skips_loader(obj: dict[str, Any]) -> bool:
    """`llmaz.io/skip-model-loader: "true"`: no loader init container; the engine reads the model URI itself (the
    Run:ai streamer from S3, for one)."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    return str(annotations.get("llmaz.io/skip-model-loader", "")).lower() == "true"


def _claimed_models(spec: dict[str, Any], inv: Inventory,
                    skip_loader: bool) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    """(path in the container, name, source URI, the first flavor's resources) of each model a Playground claims (the
    main one first, then a draft model), as llmaz's model loader places them (or the URI itself without a loader)."""
    claim: dict[str, Any] = spec["modelClaim"] if isinstance(spec.get("modelClaim"), dict) else {}
    names = [claim["modelName"]] if claim.get("modelName") else []
    claims: dict[str, Any] = spec["modelClaims"] if isinstance(spec.get("modelClaims"), dict) else {}
    names += [m.get("name") for m in claims.get("models") or [] if isinstance(m, dict)]
    found: list[tuple[str, str, str | None, dict[str, Any]]] = []
    for name in names:
        model = inv.find("OpenModel", name) or inv.find("Model", name)
        mspec: dict[str, Any] = (model.obj.get("spec") or {}) if model is not None else {}
        source: dict[str, Any] = mspec.get("source") or mspec.get("dataSource") or {}
        hub: dict[str, Any] = source["modelHub"] if isinstance(source.get("modelHub"), dict) else source
        flavors = (mspec.get("inferenceConfig") or {}).get("flavors") or mspec.get("inferenceFlavors") or []
        first = next((f for f in flavors if isinstance(f, dict)), {})
        limits = first.get("limits") or first.get("requests") or {}
        resources = {"limits": dict(limits), "requests": dict(first.get("requests") or limits)} if limits else {}
        model_id, uri = hub.get("modelID"), source.get("uri")
        if isinstance(uri, str) and (skip_loader or model is not None and _skips_loader(model.obj)) \
                and not uri.startswith("host://"):
            found.append((uri, str(name), uri, resources))
        elif isinstance(uri, str) and uri.startswith("host://"):
            found.append((uri[len("host://"):], str(name), uri, resources))
        elif isinstance(model_id, str):
            hub_name = str(hub.get("name") or "Huggingface").lower()
            found.append((LLMAZ_MODEL_PATH + "models--" + model_id.replace("/", "--"), str(name),
                          f"{hub_name}://{model_id}", resources))
        else:
            found.append((LLMAZ_MODEL_PATH + str(name), str(name), uri if isinstance(uri, str) else None, resources))
    return found


def _merge_resources(*parts: Any) -> dict[str, Any]:
    merged: dict[str, dict[str, Any]] = {"requests": {}, "limits": {}}
    for part in parts:
        for key in ("requests", "limits"):
            if isinstance(part, dict) and isinstance(part.get(key), dict):
                merged[key].update(part[key])
    return {k: v for k, v in merged.items() if v}
