"""KServe's pod for an InferenceService, merged once for the checker and the simulated KServe controller.

KServe builds the predictor pod from two objects: the ServingRuntime's `kserve-container` strategically merged
with the predictor's model container (env by name, volumeMounts by mountPath, resources by key; `args` are
appended, not replaced), `{{.Name}}`-style placeholders filled from the InferenceService's metadata, and the
runtime's pod fields (nodeSelector, tolerations, volumes, ...) with the predictor's pod fields merged over them
(kserve pkg/controller/v1beta1/inferenceservice/components/predictor.go, MergeRuntimeContainers and
MergePodSpec, both strategicpatch.StrategicMergePatch). The storage KServe's webhook adds when the pod is
created (modelcar sidecar, storage initializer) is not part of this merge; `coldstart.embedded` adds it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from coldstart.kube.patch import strategic_merge

__all__ = ["CONTAINER", "MODEL_FIELDS", "NOT_POD_FIELDS", "RUNTIME_POD_FIELDS", "fill_placeholders",
           "merge_container", "merge_pod", "predictor_pod", "worker_pod"]

CONTAINER = "kserve-container"
# Fields of `predictor.model` that describe the model, not the container.
MODEL_FIELDS = {"modelFormat", "runtime", "runtimeVersion", "storageUri", "storage", "protocolVersion"}
# ServingRuntimePodSpec fields KServe carries into the pod (the runtime's own containers aside).
RUNTIME_POD_FIELDS = ("nodeSelector", "affinity", "tolerations", "volumes", "imagePullSecrets", "hostIPC",
                      "hostNetwork", "dnsPolicy", "schedulerName")
# Predictor fields that are KServe's own, not PodSpec fields.
NOT_POD_FIELDS = {"annotations", "autoScaling", "batcher", "canaryTrafficPercent", "containerConcurrency", "containers",
                  "deploymentStrategy", "labels", "logger", "maxReplicas", "minReplicas", "model", "name",
                  "scaleMetric", "scaleMetricType", "scaleTarget", "storageContainerName", "storageUris", "timeout",
                  "workerSpec", "pipelineParallelSize", "tensorParallelSize", "huggingface", "lightgbm", "onnx",
                  "paddle", "pmml", "pytorch", "sklearn", "tensorflow", "triton", "xgboost"}
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}")


def fill_placeholders(obj: Any, metadata: Mapping[str, Any]) -> Any:
    """KServe renders runtime containers as a Go template over the InferenceService's ObjectMeta
    (`{{.Name}}`, `{{.Namespace}}`, `{{.Labels.team}}`, `{{index .Annotations "a/b"}}`)."""
    def value(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        if expr in (".Name", ".Namespace"):
            return str(metadata.get(expr[1:].lower()) or "")
        found = re.fullmatch(r'(?:index\s+)?\.(Labels|Annotations)(?:\.([\w.-]+)|\s+"([^"]+)")', expr)
        if found:
            table = metadata.get(found.group(1).lower()) or {}
            return str(table.get(found.group(2) or found.group(3), "")) if isinstance(table, dict) else ""
        return match.group(0)

    if isinstance(obj, str):
        return _PLACEHOLDER.sub(value, obj)
    if isinstance(obj, list):
        return [fill_placeholders(item, metadata) for item in obj]
    if isinstance(obj, dict):
        return {key: fill_placeholders(item, metadata) for key, item in obj.items()}
    return obj


def merge_container(runtime: Mapping[str, Any], model: Mapping[str, Any]) -> dict[str, Any]:
    """The runtime's container with the predictor's model container merged over it; args append."""
    mine = {k: v for k, v in model.items() if k not in MODEL_FIELDS and k != "name"}
    merged: dict[str, Any] = strategic_merge(copy.deepcopy(dict(runtime)), copy.deepcopy(mine))
    merged["args"] = [*(runtime.get("args") or []), *(mine.get("args") or [])]
    if not merged["args"]:
        del merged["args"]
    return merged


def merge_pod(runtime_spec: Mapping[str, Any], predictor: Mapping[str, Any]) -> dict[str, Any]:
    """Pod-level fields: the runtime's, with every PodSpec field of the predictor merged over them."""
    base = {k: copy.deepcopy(runtime_spec[k]) for k in RUNTIME_POD_FIELDS if k in runtime_spec}
    merged: dict[str, Any] = strategic_merge(base, {k: copy.deepcopy(v) for k, v in predictor.items()
                                                    if k not in NOT_POD_FIELDS})
    return merged


def predictor_pod(runtime_spec: Mapping[str, Any], predictor: Mapping[str, Any],
                  metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The predictor pod spec KServe creates for a model served by this runtime (storage not wired yet)."""
    model: dict[str, Any] = predictor["model"] if isinstance(predictor.get("model"), dict) else {}
    containers = [c for c in fill_placeholders(copy.deepcopy(runtime_spec.get("containers") or []), metadata)
                  if isinstance(c, dict)]
    if containers:
        index = next((i for i, c in enumerate(containers) if c.get("name") == CONTAINER), 0)
        containers[index] = {**merge_container(containers[index], model), "name": CONTAINER}
    spec = merge_pod(runtime_spec, predictor)
    names = {c.get("name") for c in containers}
    spec["containers"] = containers + [copy.deepcopy(c) for c in predictor.get("containers") or []
                                       if isinstance(c, dict) and c.get("name") not in names]
    return spec


def worker_pod(runtime_worker: Mapping[str, Any], predictor_worker: Mapping[str, Any]) -> dict[str, Any] | None:
    """Multi-node KServe: the runtime's workerSpec with the InferenceService's workerSpec merged over it."""
    if not runtime_worker and not predictor_worker:
        return None
    pod = merge_pod(runtime_worker, {k: v for k, v in predictor_worker.items() if k != "containers"})
    theirs = {c.get("name"): c for c in predictor_worker.get("containers") or [] if isinstance(c, dict)}
    pod["containers"] = [merge_container(c, theirs.pop(c.get("name"), {}))
                         for c in runtime_worker.get("containers") or [] if isinstance(c, dict)]
    pod["containers"] += list(theirs.values())
    return pod
