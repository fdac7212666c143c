"""Every lever's manifests for a profile, in the order a cluster needs them, and as YAML for GitOps.

Rendering is pure: profile in, plain dicts out. The order matters on a real cluster: the Priority
admission plugin rejects a pod whose PriorityClass does not exist yet, a PVC must exist before the pod
that mounts it, and the warm buffer should hold nodes before the workload asks for one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from coldstart.errors import InputError
from coldstart.inputs.atomic import write_text
from coldstart.kube.labels import component_of
from coldstart.kube.podspec import pod_templates
from coldstart.levers import image_pull, node_warmup, runtime, weight_load
from coldstart.profiles import Profile

# Levers in apply order (file prefixes 1..4 in `coldstart render --out`).
LEVERS: tuple[str, ...] = ("node_warmup", "image_pull", "runtime", "weight_load")

# Kinds in dependency order: cluster-scoped policy and storage first, workloads last.
KIND_ORDER: tuple[str, ...] = (
    "Namespace", "PriorityClass", "StorageClass", "ComputeClass", "EC2NodeClass", "AKSNodeClass", "NodePool",
    "ServiceAccount", "ConfigMap", "Secret",
    "PersistentVolume", "PersistentVolumeClaim", "VolumeSnapshot", "ClusterServingRuntime", "ServingRuntime",
    "Service", "DaemonSet", "StatefulSet", "Deployment", "LeaderWorkerSet", "Job", "InferenceService",
)


def render(profile: Profile, serving: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Lever name -> its manifests, levers in apply order (independent copies: safe to edit)."""
    engine_requests = {k: v for k, v in runtime.resources(profile)["requests"].items() if k in ("cpu", "memory")}
    rendered = {
        "node_warmup": node_warmup.manifests(profile, engine_requests),
        "image_pull": image_pull.manifests(profile),
        "runtime": runtime.manifests(profile),
        "weight_load": weight_load.manifests(profile, serving=serving),
    }
    copied: dict[str, list[dict[str, Any]]] = json.loads(json.dumps(rendered))  # builders share small dicts;
    return copied  # callers get no aliases


def flatten(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [doc for lever in LEVERS for doc in rendered.get(lever, [])]


def apply_order(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stable sort by kind dependency; unknown kinds go just before the workloads."""
    rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
    unknown = rank["Service"]
    return sorted(docs, key=lambda d: rank.get(d.get("kind", ""), unknown))


def object_name(doc: dict[str, Any]) -> str:
    """`Kind/namespace/name` (or `Kind/name` for cluster-scoped objects), as findings and messages show it."""
    meta = doc.get("metadata") or {}
    namespace = meta.get("namespace")
    return f"{doc.get('kind')}/{namespace}/{meta.get('name')}" if namespace else f"{doc.get('kind')}/{meta.get('name')}"


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    """Multi-line strings (a node class's user data) as literal blocks a reader can review."""
    style = "|" if "\n" in data and not data.endswith((" ", "\t")) and " \n" not in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_NoAliases.add_representer(str, _text)


def to_yaml(docs: Iterable[dict[str, Any]]) -> str:
    """Multi-document YAML without anchors (readers and kubectl diff expect plain documents)."""
    return yaml.dump_all(list(docs), Dumper=_NoAliases, sort_keys=False, default_flow_style=False, width=120)


def write_rendered(rendered: dict[str, list[dict[str, Any]]], out_dir: str | Path) -> list[Path]:
    """One file per lever (`1-node_warmup.yaml` ...), numbered in apply order; returns the paths."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: is a file, not a folder; give a folder for the manifests")
    texts = {out / f"{i}-{lever}.yaml": f"# coldstart render: lever {i} of {len(LEVERS)} ({lever}); apply the files "
             f"in order.\n" + to_yaml(rendered.get(lever, [])) for i, lever in enumerate(LEVERS, start=1)}
    for path, text in texts.items():  # every file whole or not at all (rendered before the first write)
        write_text(path, text)
    return list(texts)


ENGINE_CONTAINERS = ("vllm", "kserve-container")  # the names the weight lever gives the vLLM container


def pods(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod-level specs a rendered document holds: workload templates, a ServingRuntime's spec, an
    InferenceService's predictor."""
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    if kind == "InferenceService":
        return [spec.get("predictor") or {}]
    if kind == "ServingRuntime":
        return [spec]
    return [pod for _, pod in pod_templates(doc)]


def engine_containers(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The vLLM container dicts inside rendered manifests (for variants that edit them in place); for an
    InferenceService its predictor.model, which carries the container settings KServe merges in."""
    found = []
    for doc in docs:
        if doc.get("kind") == "InferenceService":
            model = (doc.get("spec") or {}).get("predictor", {}).get("model")
            found += [model] if model else []
            continue
        for pod in pods(doc):
            found += [c for c in pod.get("containers", []) if c.get("name") in ENGINE_CONTAINERS]
    return found


def pod_specs(docs: Iterable[dict[str, Any]], component: str) -> list[dict[str, Any]]:
    """Pod-level specs (workload templates, ServingRuntime, ISVC predictor) of one component."""
    return [pod for doc in docs
            if component_of(doc) == component
            for pod in pods(doc)]
