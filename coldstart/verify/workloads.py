"""Turn manifests into the "engine pods" the invariants judge: which containers run vLLM, with what.

A vLLM engine hides in many shapes: a Deployment's pod template, an LWS leader and its workers, a Ray
worker group configured by a Serve config string, a KServe InferenceService whose container lives in a
ServingRuntime, an operator resource (KubeAI, Dynamo) whose pod is generated elsewhere. Each becomes a
`Workload` of `EnginePod`s with resolved `EngineContainer`s; whatever the input cannot express is recorded
as a reason in `na`, so the checks say n/a instead of guessing. This module holds that model and how one pod
template becomes an `EnginePod`; `coldstart.verify.discovery` finds the workloads of an input.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from coldstart.inputs.documents import Document
from coldstart.kube.images import is_engine_image
from coldstart.kube.podspec import accelerators, expand_refs, pod_templates, sanitize, volume_at
from coldstart.verify.generic import embedded_pod_specs
from coldstart.vllm.launch import Launch, container_launches, flag_name, load_structured

__all__ = [
    "CLUSTER_SCOPED", "POD_TEMPLATE_KINDS", "READ_KINDS", "Buffer", "EngineContainer", "EnginePod", "ImageUse",
    "Inventory", "Workload", "apply_config_file", "display_name", "engine_pod", "finish",
    "namespace_of", "object_ref", "oci_modelcars", "resolve_env", "slim_object", "NAME_ONLY_KINDS",
]

CLUSTER_SCOPED = {
    "Namespace", "Node", "PersistentVolume", "StorageClass", "PriorityClass", "ClusterRole", "ClusterRoleBinding",
    "CustomResourceDefinition", "ClusterServingRuntime", "ComputeClass", "IngressClass", "RuntimeClass", "CSIDriver",
    "VolumeSnapshotClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "APIService",
    "ClusterIssuer", "NodePool", "NodeClaim", "EC2NodeClass", "ClusterStorageContainer", "LocalModelCache",
    "LocalModelNode", "DeviceClass", "ResourceSlice", "ValidatingAdmissionPolicy", "CSINode",
}
POD_TEMPLATE_KINDS = {"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "ReplicationController"}


# ---------------------------------------------------------------------------------------------------
# Model


@dataclass(frozen=True)
class ImageUse:
    """An image a pod waits for (engine, modelcar or buffer container) and the pull policy written for it."""

    container: str
    image: str
    pull_policy: str | None = None


@dataclass
class EngineContainer:
    """A container that runs vLLM (`launch.role == "launcher"`) or hosts its workers (`"host"`)."""

    name: str
    spec: dict[str, Any]
    launch: Launch
    image: str | None

    @property
    def flags(self) -> dict[str, Any]:
        return self.launch.flags

    @property
    def env(self) -> dict[str, str | None]:
        return self.launch.env

    @property
    def launcher(self) -> bool:
        return self.launch.role == "launcher"


@dataclass
class EnginePod:
    """One pod template of a workload (a role: leader, worker, a Ray group) with its engine containers."""

    role: str | None
    spec: dict[str, Any]
    containers: list[EngineContainer]
    claim_templates: set[str] = field(default_factory=set)
    # aspect -> why the input cannot say: "image", "pull_policy", "shm", "memory", "probes", "flags"
    na: dict[str, str] = field(default_factory=dict)
    env_sources_missing: list[str] = field(default_factory=list)
    operator_cache: str | None = None  # an operator keeps the model cache on a volume (KubeAI cacheProfile)


@dataclass
class Workload:
    """A top-level object that runs vLLM engine pods, with what the node and weight levers need from it."""

    doc: Document
    pods: list[EnginePod]
    priority_class: str | None = None
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, Any]] = field(default_factory=list)
    gpu: dict[str, Decimal] = field(default_factory=dict)
    model_uri: str | None = None
    modelcars: list[ImageUse] = field(default_factory=list)
    na: dict[str, str] = field(default_factory=dict)
    # aspect ("shm", "probes", "flags", "gpu_util", "env", "image", "volumes", "weights"; "*" for all) -> what an
    # operator adds to the pods beyond the input (counted in `pods`) or that its defaults are unknown; shown with the
    # findings (see findings.ASPECTS).
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return object_ref(self.doc.obj)

    @property
    def file(self) -> str:
        return self.doc.file

    @property
    def namespace(self) -> str:
        return namespace_of(self.doc.obj)


@dataclass
class Buffer:
    """A warm buffer: pause-container pods at a low priority that hold GPU nodes for the engine to preempt."""

    doc: Document
    spec: dict[str, Any]
    replicas: int
    images: list[ImageUse]

    @property
    def ref(self) -> str:
        return object_ref(self.doc.obj)

    @property
    def priority_class(self) -> str | None:
        return self.spec.get("priorityClassName")

    @property
    def holds_capacity(self) -> bool:
        """A DaemonSet of pause pods pre-pulls images on every node; it holds no node for the engine."""
        return self.doc.obj.get("kind") != "DaemonSet"


def namespace_of(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def object_ref(obj: dict[str, Any]) -> str:
    """`Kind/namespace/name` (namespace "default" when unset), `Kind/name` for cluster-scoped kinds."""
    kind = str(obj.get("kind", "?"))
    name = str((obj.get("metadata") or {}).get("name") or "?")
    return f"{kind}/{name}" if kind in CLUSTER_SCOPED else f"{kind}/{namespace_of(obj)}/{name}"


# Kinds the checks read beyond their name (Inventory.find/of_kind/data joins, operator resources); besides these,
# every object that embeds a pod template is read whole.
READ_KINDS = {
    "ConfigMap", "Secret", "PriorityClass", "StorageClass", "PersistentVolumeClaim", "ComputeClass", "ServingRuntime",
    "ClusterServingRuntime", "InferenceService", "LLMInferenceService", "LLMInferenceServiceConfig", "RayService",
    "RayCluster", "RayJob", "Model", "DynamoGraphDeployment", "DynamoComponentDeployment", "Workspace", "InferenceSet",
    "MultiRoleInference", "Playground", "BackendRuntime", "OpenModel", "RayClusterFleet", "ModelAdapter", "Pod",
    "NodePool", "EC2NodeClass", "AKSNodeClass", *POD_TEMPLATE_KINDS,
}
# Kinds that by their API hold no pod template and that no check reads beyond kind and name: a reader need not even
# build them (a CRD is megabytes of schema).
NAME_ONLY_KINDS = {
    "CustomResourceDefinition", "APIService", "Service", "ServiceAccount", "Endpoints", "EndpointSlice", "Namespace",
    "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Ingress", "IngressClass", "NetworkPolicy",
    "PodDisruptionBudget", "HorizontalPodAutoscaler", "ResourceQuota", "LimitRange", "PersistentVolume", "Lease",
    "Event", "RuntimeClass", "CSIDriver", "VolumeSnapshotClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
    "ServiceMonitor", "PodMonitor", "PrometheusRule", "Certificate", "Issuer", "ClusterIssuer", "Gateway",
    "HTTPRoute", "GRPCRoute",
} - READ_KINDS
_NOISE = "kubectl.kubernetes.io/last-applied-configuration"


def slim_object(obj: dict[str, Any]) -> dict[str, Any] | None:
    """What the checker keeps of an object as it is read: sanitized whole when a check reads it or it holds a pod
    spec or container anywhere (an unknown operator's resource); only kind and name (enough to be counted and found
    as an owner) for any other object (a CRD, a Service, RBAC); nothing of a mapping that is no Kubernetes object.
    Server-side noise (managedFields, the last-applied annotation) is never kept."""
    kind = obj.get("kind")
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(kind, str):
        return None
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    if kind in READ_KINDS or pod_templates(obj) or embedded_pod_specs(obj):
        if "managedFields" in meta or _NOISE in (meta.get("annotations") or {}):
            annotations = meta.get("annotations")
            meta = {k: v for k, v in meta.items() if k != "managedFields"}
            if isinstance(annotations, dict) and _NOISE in annotations:
                meta["annotations"] = {k: v for k, v in annotations.items() if k != _NOISE}
            obj = {**obj, "metadata": meta}
        cleaned: dict[str, Any] = sanitize(obj)
        return cleaned
    return {"apiVersion": obj["apiVersion"], "kind": kind,
            "metadata": {k: meta[k] for k in ("name", "namespace") if isinstance(meta.get(k), str)}}


class Inventory:
    """All objects of one input, indexed for the joins the checks need (runtimes, ConfigMaps, classes).

    Objects are sanitized (see kube.podspec.sanitize) unless the reader already did it (slim_object)."""

    def __init__(self, docs: Sequence[Document], *, sanitized: bool = False):
        self.docs = [d if sanitized else Document(sanitize(d.obj), d.file, d.index, d.line, d.origin)
                     for d in docs if d.is_object]
        self._by_kind: dict[str, list[Document]] = {}
        for doc in self.docs:
            self._by_kind.setdefault(doc.obj["kind"], []).append(doc)

    def of_kind(self, *kinds: str) -> list[Document]:
        return [d for k in kinds for d in self._by_kind.get(k, [])]

    def find(self, kind: str, name: str | None, namespace: str | None = None) -> Document | None:
        """By name; the same namespace wins, a unique match elsewhere is accepted (files often omit namespaces)."""
        if not name:
            return None
        named = [d for d in self.of_kind(kind) if (d.obj.get("metadata") or {}).get("name") == name]
        same = [d for d in named if namespace is None or kind in CLUSTER_SCOPED or namespace_of(d.obj) == namespace]
        if same:
            return same[0]
        return named[0] if len(named) == 1 else None

    def data(self, kind: str, name: str | None, namespace: str) -> dict[str, str] | None:
        """Keys of a ConfigMap or Secret (Secret `data` decoded) or None when it is not in the input."""
        doc = self.find(kind, name, namespace)
        if doc is None:
            return None
        values = {str(k): str(v) for k, v in (doc.obj.get("data") or {}).items()}
        if kind == "Secret":
            for key, value in list(values.items()):
                with contextlib.suppress(ValueError):
                    values[key] = base64.b64decode(value).decode()
            values.update({str(k): str(v) for k, v in (doc.obj.get("stringData") or {}).items()})
        return values

    def owned_by_input(self, obj: dict[str, Any]) -> bool:
        """A Pod/ReplicaSet read back from a cluster whose owner is also in the input is judged via its owner."""
        namespace = namespace_of(obj)
        for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
            if isinstance(owner, dict) and self.find(str(owner.get("kind")), owner.get("name"), namespace):
                return True
        return False


# ---------------------------------------------------------------------------------------------------
# Container-level resolution


def resolve_env(container: dict[str, Any], inv: Inventory, namespace: str,
                missing: list[str] | None = None) -> dict[str, str | None]:
    """The container's environment as Kubernetes builds it: envFrom, then env (with `$(VAR)`), refs resolved.

    A value that cannot be known here (a Secret or ConfigMap not in the input, a fieldRef) is None; the names of
    absent envFrom sources are appended to `missing` so a message can say where a variable might come from.
    """
    env: dict[str, str | None] = {}
    for source in container.get("envFrom") or []:
        if not isinstance(source, dict):
            continue
        prefix = str(source.get("prefix") or "")
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = source.get(key)
            if isinstance(ref, dict):
                data = inv.data(kind, ref.get("name"), namespace)
                if data is None and missing is not None:
                    missing.append(f"{kind}/{ref.get('name')}")
                env.update({prefix + k: v for k, v in (data or {}).items()})
    for item in container.get("env") or []:
        if not isinstance(item, dict) or not item.get("name"):
            continue
        name = str(item["name"])
        if "valueFrom" in item and isinstance(item["valueFrom"], dict):
            env[name] = _value_from(item["valueFrom"], inv, namespace)
        else:
            value = item.get("value")
            env[name] = expand_refs("" if value is None else _text(value), env)
    return env


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _value_from(source: dict[str, Any], inv: Inventory, namespace: str) -> str | None:
    for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
        ref = source.get(key)
        if isinstance(ref, dict):
            data = inv.data(kind, ref.get("name"), namespace)
            return None if data is None else data.get(str(ref.get("key")))
    return None


def apply_config_file(launch: Launch, pod: dict[str, Any], container: dict[str, Any], inv: Inventory,
                      namespace: str) -> None:
    """`--config /etc/vllm/config.yaml` from a ConfigMap volume: its keys apply unless the command line sets them."""
    path = launch.flags.get("config")
    if not isinstance(path, str):
        return
    mount, volume = volume_at(pod, container, path)
    if not volume or not isinstance(volume.get("configMap"), dict):
        return
    rel = path[len(mount.rstrip("/")) + 1:] if mount else ""
    for item in volume["configMap"].get("items") or []:
        if isinstance(item, dict) and item.get("path") == rel:
            rel = str(item.get("key"))
    data = inv.data("ConfigMap", volume["configMap"].get("name"), namespace) or {}
    values = load_structured(data.get(rel, ""), f"ConfigMap {volume['configMap'].get('name')} key {rel}")
    if isinstance(values, dict):
        for key, value in values.items():
            launch.flags.setdefault(flag_name(str(key)), value)


# ---------------------------------------------------------------------------------------------------
# Engine pods


def engine_pod(role: str | None, pod: dict[str, Any], inv: Inventory, namespace: str,
               claim_templates: Sequence[str] = ()) -> EnginePod | None:
    """The engine containers of one pod template (init containers and sidecars are not engines)."""
    found: list[EngineContainer] = []
    missing: list[str] = []
    for container in pod.get("containers") or []:
        if not isinstance(container, dict):
            continue
        env = resolve_env(container, inv, namespace, missing)
        launches = container_launches(container, env)
        for k, launch in enumerate(launches):
            apply_config_file(launch, pod, container, inv, namespace)
            name = display_name(role, container.get("name"), k if len(launches) > 1 else None)
            found.append(EngineContainer(name, container, launch, container.get("image")))
    return EnginePod(role, pod, found, set(claim_templates), env_sources_missing=missing) if found else None


def display_name(role: str | None, name: Any, index: int | None = None) -> str:
    """`worker/vllm-worker` when a workload has several pod roles; `#2` for a second launch in one container."""
    text = str(name or "?") + (f"#{index + 1}" if index else "")
    return f"{role}/{text}" if role else text


def oci_modelcars(field_name: str, uri: Any) -> list[ImageUse]:
    """A model URI that is an `oci://` image (a modelcar the node pulls like any image), named after its field."""
    return [ImageUse(field_name, str(uri))] if str(uri or "").startswith("oci://") else []


def finish(doc: Document, pods: list[EnginePod], **extra: Any) -> Workload:
    """A Workload with the scheduling facts (priority, selectors, GPUs, modelcars) read from its engine pods."""
    first = pods[0].spec
    gpu: dict[str, Decimal] = {}
    modelcars: list[ImageUse] = list(extra.pop("modelcars", []))
    for pod in pods:
        for name, qty in accelerators(pod.spec.get("containers") or [c.spec for c in pod.containers]).items():
            gpu[name] = max(gpu.get(name, Decimal(0)), qty)
        engines = {id(c.spec) for c in pod.containers}
        for c in (pod.spec.get("initContainers") or []) + (pod.spec.get("containers") or []):
            if isinstance(c, dict) and id(c) not in engines and c.get("image") and not is_engine_image(c["image"]) \
                    and ("modelcar" in str(c.get("name", "")).lower() or "modelcar" in str(c["image"]).lower()):
                modelcars.append(ImageUse(display_name(pod.role, c.get("name")), str(c["image"]),
                                          c.get("imagePullPolicy")))
    return Workload(doc, pods, priority_class=first.get("priorityClassName"),
                    node_selector=dict(first.get("nodeSelector") or {}),
                    tolerations=list(first.get("tolerations") or []), gpu=gpu, modelcars=modelcars, **extra)
