"""Variants of a profile's manifests for the runbooks' experiments: one lever off, one trap in, or the
naive deployment most clusters start from. Each takes a copy; the recommended render is never edited.

Profile-level knobs (loader, utilization, warm buffer, eager) are changed with `profiles.profile_with`;
the functions here cover what a profile cannot express because the recommended render never does it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from coldstart.kube.labels import COMPONENT, COMPONENT_ENGINE, COMPONENT_PREPULL, INSTANCE, component_of
from coldstart.levers import runtime
from coldstart.levers.render import engine_containers, pod_specs, pods
from coldstart.profiles import Profile, profile_with

Docs = list[dict[str, Any]]
NAIVE_TAG = "v0.11.0"
NAIVE_IMAGE_REPO = "docker.io/vllm/vllm-openai"


def _copy(docs: Docs) -> Docs:
    copied: Docs = json.loads(json.dumps(docs))
    return copied


def _containers(docs: Docs) -> list[dict[str, Any]]:
    """Every container and init container in every pod template of the documents."""
    return [c for doc in docs for pod in pods(doc) for key in ("initContainers", "containers")
            for c in pod.get(key, [])]


# -- image lever off -----------------------------------------------------------------------------------


def by_tag(docs: Docs, tag: str = NAIVE_TAG, policy: str | None = "Always") -> Docs:
    """Every image by a mutable tag instead of its digest (and the given pull policy; None leaves it unset)."""
    docs = _copy(docs)
    for container in _containers(docs):
        container["image"] = re.sub(r"(:[\w][\w.-]*)?@sha256:[0-9a-f]{64}$", f":{tag}", container["image"])
        if policy is None:
            container.pop("imagePullPolicy", None)
        else:
            container["imagePullPolicy"] = policy
    for doc in docs:
        model = doc.get("spec", {}).get("predictor", {}).get("model") if doc.get("kind") == "InferenceService" else None
        if model and model.get("storageUri", "").startswith("oci://"):
            model["storageUri"] = re.sub(r"@sha256:[0-9a-f]{64}$", f":{tag}", model["storageUri"])
    return docs


def without_prepull(docs: Docs) -> Docs:
    """No image pre-pull DaemonSet: the first replica on a node pulls everything itself."""
    return [d for d in _copy(docs) if component_of(d) != COMPONENT_PREPULL]


# -- runtime traps ------------------------------------------------------------------------------------


def without_shm(docs: Docs) -> Docs:
    """No /dev/shm volume: the container runtime's 64Mi default, too small for NCCL with tensor parallelism."""
    docs = _copy(docs)
    for pod in pod_specs(docs, "engine"):
        if "volumes" in pod:
            pod["volumes"] = [v for v in pod["volumes"] if v["name"] != runtime.SHM_VOLUME]
    for container in engine_containers(docs):
        if "volumeMounts" in container:
            container["volumeMounts"] = [m for m in container["volumeMounts"] if m["mountPath"] != "/dev/shm"]
    return docs


def with_memory_limit(docs: Docs, limit: str) -> Docs:
    """A memory limit (and request) that may be below shm + engine RSS + streamer buffer."""
    docs = _copy(docs)
    for container in engine_containers(docs):
        resources = container.setdefault("resources", {})
        resources.setdefault("limits", {})["memory"] = limit
        resources.setdefault("requests", {})["memory"] = limit
    return docs


def with_startup_window(docs: Docs, seconds: int) -> Docs:
    """A startup probe that gives up after `seconds`: too short kills a slow but healthy start."""
    docs = _copy(docs)
    for container in engine_containers(docs):
        probe = container.get("startupProbe")
        if probe:
            probe["failureThreshold"] = max(1, math.ceil(seconds / probe.get("periodSeconds", 10)))
    return docs


def with_cache_on_emptydir(docs: Docs) -> Docs:
    """/root/.cache on an emptyDir: every start compiles from scratch and nothing survives a restart."""
    docs = _copy(docs)
    for pod in pod_specs(docs, "engine"):
        pod["volumes"] = [{"name": runtime.CACHE_VOLUME, "emptyDir": {}} if v["name"] == runtime.CACHE_VOLUME else v
                          for v in pod.get("volumes", [])]
    return docs


def tensor_parallel(profile: Profile, size: int) -> Profile:
    """The same profile serving with `size` GPUs per replica (nodes grow to match)."""
    return profile_with(profile, {"model.tensor_parallel_size": size, "gpu.count": size,
                                  "nodes.gpus_per_node": max(size, profile.nodes.gpus_per_node)})


# -- every lever off -----------------------------------------------------------------------------------


def naive_profile(profile: Profile) -> Profile:
    """What the naive deployment costs the simulated cluster: Docker Hub image with gzip layers, default
    loader, no warm buffer. Same model and GPUs, so the comparison is fair."""
    digest = profile.image.vllm.rsplit("@", 1)[1]
    return profile_with(profile, {"image.vllm": f"{NAIVE_IMAGE_REPO}@{digest}", "image.compression": "gzip",
                                  "runtime.loader": "auto", "nodes.warm_buffer": 0})


def naive(profile: Profile) -> Docs:
    """The Deployment most clusters start from (vLLM's own Kubernetes example, trimmed): image by tag from
    Docker Hub, weights downloaded from the Hub at start, no /dev/shm, caches in the container, no
    priority, no buffer, no startup probe. Utilization stays at 0.8, the highest value that still starts,
    so the naive run reaches /health and the comparison has a number."""
    labels = profile.labels(COMPONENT_ENGINE)
    container = {
        "name": "vllm",
        "image": f"{NAIVE_IMAGE_REPO}:{NAIVE_TAG}",
        "command": ["vllm", "serve"],
        "args": [profile.model.name, f"--served-model-name={profile.model.served_name}", f"--port={runtime.PORT}",
                 f"--tensor-parallel-size={profile.model.tensor_parallel_size}",
                 f"--max-model-len={profile.model.max_model_len}", "--gpu-memory-utilization=0.8"],
        "ports": [{"name": "http", "containerPort": runtime.PORT, "protocol": "TCP"}],
        "resources": {"limits": {profile.gpu.resource: str(profile.gpu.count)},
                      "requests": {profile.gpu.resource: str(profile.gpu.count)}},
        "readinessProbe": {"httpGet": {"path": "/health", "port": runtime.PORT}, "periodSeconds": 5},
    }
    selector = {COMPONENT: COMPONENT_ENGINE, INSTANCE: profile.model.served_name}
    return [{
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{profile.model.served_name}-naive", "namespace": profile.namespace, "labels": labels},
        "spec": {"replicas": profile.runtime.replicas, "selector": {"matchLabels": selector},
                 "template": {"metadata": {"labels": labels}, "spec": {
                     "nodeSelector": dict(profile.gpu.node_selector),
                     "tolerations": [t.model_dump(exclude_none=True) for t in profile.gpu.tolerations],
                     "containers": [container]}}},
    }]


def with_replicas(docs: Docs, replicas: int) -> Docs:
    """The engine workload scaled to `replicas` (0 = applied but scaled to zero); everything else unchanged."""
    docs = _copy(docs)
    for doc in docs:
        if component_of(doc) != COMPONENT_ENGINE:
            continue
        if doc["kind"] == "InferenceService":
            predictor = doc["spec"]["predictor"]
            predictor["minReplicas"] = replicas
            predictor["maxReplicas"] = max(replicas, predictor.get("maxReplicas") or 1, 1)
        elif doc["kind"] in ("Deployment", "StatefulSet"):
            doc["spec"]["replicas"] = replicas
    return docs
