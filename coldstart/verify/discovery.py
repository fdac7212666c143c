"""Which objects of an input run vLLM engine pods (workloads) and which hold warm nodes (buffers).

A workload is found by what its containers run, not by its kind: plain pod templates (Deployments, StatefulSets,
LeaderWorkerSets, Jobs, Pods) are read as written; operator resources whose pods are generated elsewhere (KServe,
KubeRay, KubeAI, Dynamo, KAITO, llmaz, AIBrix) are mapped by `coldstart.verify.operators` with the defaults their
controllers add; any other object (an unknown CRD, at any nesting) is searched for pod specs and containers that
run vLLM (`coldstart.verify.generic`) and judged on what it declares, with a note that its controller's defaults
are unknown. Objects a cluster derived from another object in the input (a Pod of a ReplicaSet of a Deployment)
are judged through that owner, once.
"""

from __future__ import annotations

import re
from typing import Any

from coldstart.kube.images import is_pause_image
from coldstart.kube.podspec import pod_templates
from coldstart.verify.generic import PLAIN_KINDS, embedded_pod_specs, unknown_operator_note
from coldstart.verify.operators import is_operator_resource, operator_workloads
from coldstart.verify.operators_aibrix import annotate_adapters, is_aibrix
from coldstart.verify.workloads import (
    POD_TEMPLATE_KINDS,
    Buffer,
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
from coldstart.vllm.launch import entrypoint_launch, flag_name

__all__ = ["find_buffers", "find_workloads"]

# An image that is one unrendered placeholder (`$(vllm-image)`, `${IMAGE}`, `{{ .Values.image }}`): its tag and
# digest are not in the input.
_PLACEHOLDER_IMAGE = re.compile(r"^\s*(\$\([^)]*\)|\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\{\{[^}]*\}\})\s*$")
# Flags only vLLM takes: a container of an unknown kind passing one of them is a vLLM engine whatever its image.
_VLLM_ONLY_FLAGS = {"gpu_memory_utilization", "enforce_eager", "kv_transfer_config", "max_num_seqs",
                    "max_num_batched_tokens", "enable_prefix_caching", "load_format", "enable_chunked_prefill",
                    "distributed_executor_backend", "max_model_len", "tensor_parallel_size"}
# Kinds that are data or bookkeeping, never something that runs a pod (only searched when of an unknown kind).
_NOT_WORKLOADS = {"ConfigMap", "Secret", "Event", "Endpoints", "EndpointSlice", "ControllerRevision"}


def find_workloads(inv: Inventory) -> list[Workload]:
    """Every object in the input that runs vLLM engine pods, in input order."""
    workloads: list[Workload] = []
    for doc in inv.docs:
        obj = doc.obj
        kind = str(obj["kind"])
        if is_operator_resource(obj) or kind in _NOT_WORKLOADS or inv.owned_by_input(obj):
            continue
        namespace = namespace_of(obj)
        known = kind in PLAIN_KINDS or kind in POD_TEMPLATE_KINDS or is_aibrix(obj)
        claims = [str((t.get("metadata") or {}).get("name")) for t in (obj.get("spec") or {}).get(
            "volumeClaimTemplates") or [] if isinstance(t, dict)] if kind == "StatefulSet" else []
        plain = kind in PLAIN_KINDS | POD_TEMPLATE_KINDS
        templates = pod_templates(obj) if plain else embedded_pod_specs(obj)
        pods = [p for role, spec in templates if (p := engine_pod(role, spec, inv, namespace, claims)
                                                  or (None if plain else _implied_engine(role, spec, inv, obj)))]
        if pods:
            workload = finish(doc, pods)
            if not known:
                workload.notes["*"] = unknown_operator_note(kind, str(obj.get("apiVersion", "")))
            workloads.append(workload)
    workloads.extend(operator_workloads(inv))
    annotate_adapters(inv, workloads)
    for workload in workloads:
        for pod in workload.pods:
            _open_placeholders(pod)
    order = {id(d): i for i, d in enumerate(inv.docs)}
    return sorted(workloads, key=lambda w: order.get(id(w.doc), 0))


def _implied_engine(role: str | None, pod: dict[str, Any], inv: Inventory, obj: dict[str, Any]) -> EnginePod | None:
    """A container of an unknown kind that names neither image nor command but is vLLM by its name or its flags
    (an llm-d ModelService's `decode: {containers: [{name: vllm, args: [--enforce-eager]}]}`): its controller
    supplies the image and starts vLLM with these args."""
    found: list[EngineContainer] = []
    missing: list[str] = []
    for container in pod.get("containers") or []:
        if not isinstance(container, dict) or container.get("image") or container.get("command"):
            continue
        args = [str(a) for a in container.get("args") or []]
        flags = {flag_name(a.split("=", 1)[0]) for a in args if a.startswith("--")}
        if "vllm" in str(container.get("name", "")).lower() or flags & _VLLM_ONLY_FLAGS:
            env = resolve_env(container, inv, namespace_of(obj), missing)
            found.append(EngineContainer(display_name(role, container.get("name")), container,
                                         entrypoint_launch(args, env), None))
    if not found:
        return None
    where = f"{obj.get('kind')} controller"
    return EnginePod(role, pod, found, na={"image": f"the {where} supplies the image and its entrypoint; they are "
                                                    "not in this input"}, env_sources_missing=missing)


def _open_placeholders(pod: EnginePod) -> None:
    """An image that is only a placeholder says nothing about its tag or digest: n/a with the placeholder named."""
    for container in pod.containers:
        if container.image and _PLACEHOLDER_IMAGE.match(str(container.image)):
            pod.na.setdefault("image", f"the image is {container.image}, a placeholder filled in when the "
                                       "manifest is rendered; judge the rendered manifest")
            container.image = None


def find_buffers(inv: Inventory) -> list[Buffer]:
    """Workloads whose pods run only pause containers (init containers may pre-pull images).

    Includes pre-pull DaemonSets (their images are judged); `holds_capacity` tells the warm buffers apart.
    """
    buffers: list[Buffer] = []
    for doc in inv.docs:
        obj = doc.obj
        if obj["kind"] not in POD_TEMPLATE_KINDS | {"Pod"} or inv.owned_by_input(obj):
            continue
        for _, pod in pod_templates(obj):
            containers = [c for c in pod.get("containers") or [] if isinstance(c, dict)]
            if not containers or not all(is_pause_image(c.get("image")) for c in containers):
                continue
            replicas = (obj.get("spec") or {}).get("replicas", 1) if obj["kind"] != "Pod" else 1
            images = [ImageUse(str(c.get("name") or "?"), str(c.get("image")), c.get("imagePullPolicy"))
                      for c in (pod.get("initContainers") or []) + containers if isinstance(c, dict) and c.get("image")]
            buffers.append(Buffer(doc, pod, int(replicas) if isinstance(replicas, int) else 1, images))
    return buffers
