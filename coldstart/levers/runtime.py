"""Lever 4, runtime: the engine settings that decide whether a started container becomes a healthy
replica quickly, slowly, or never.

- `/dev/shm` as a 16Gi Memory emptyDir: the 64Mi container default makes NCCL fail or hang with
  tensor parallelism.
- `NCCL_CUMEM_ENABLE=0` on every vLLM process, the same everywhere (mixed settings across ranks hang).
- `--gpu-memory-utilization` 0.6-0.8: higher leaves too little for CUDA graph capture and OOMs at start.
- `--enforce-eager` only where the profile prefers wake speed to throughput.
- `/root/.cache` (HF, vLLM's torch.compile cache, Triton) on a PVC, so a restart or a second replica
  loads compiled graphs instead of compiling for half a minute.
- a memory limit above shm + engine RSS + streamer buffer (tmpfs pages count against the container).
- a startup probe whose window covers a slow but healthy start, so the kubelet does not kill it.
"""

from __future__ import annotations

import math
from typing import Any

from coldstart.kube.quantity import format_binary
from coldstart.levers import weight_sources
from coldstart.profiles import Profile
from coldstart.vllm.launch import CACHE_DIR

PORT = 8080
SHM_VOLUME, CACHE_VOLUME = "dshm", "cache"
# The startup probe tolerates up to this multiple of the time-to-ready budget before killing a start.
STARTUP_WINDOW_FACTOR = 2.0


def cache_claim_name(profile: Profile) -> str:
    return f"{profile.model.served_name}-cache"


def engine_args(profile: Profile) -> list[str]:
    """The engine flags this lever owns: parallelism, context length, GPU memory share, eager or -O level."""
    rt = profile.runtime
    args = [f"--tensor-parallel-size={profile.model.tensor_parallel_size}",
            f"--max-model-len={profile.model.max_model_len}",
            f"--gpu-memory-utilization={rt.gpu_memory_utilization}"]
    if rt.enforce_eager:
        args.append("--enforce-eager")
    elif rt.optimization_level is not None:
        args.append(f"-O{rt.optimization_level}")
    return args


def engine_env(profile: Profile) -> list[dict[str, str]]:
    """Same NCCL setting for every process; every cache under the persistent /root/.cache."""
    return [
        {"name": "NCCL_CUMEM_ENABLE", "value": str(profile.runtime.nccl_cumem_enable)},
        {"name": "HF_HOME", "value": f"{CACHE_DIR}/huggingface"},
        {"name": "VLLM_CACHE_ROOT", "value": f"{CACHE_DIR}/vllm"},
        {"name": "TRITON_CACHE_DIR", "value": f"{CACHE_DIR}/triton"},
    ]


def volumes(profile: Profile) -> list[dict[str, Any]]:
    return [
        {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": profile.runtime.shm_size}},
        {"name": CACHE_VOLUME, "persistentVolumeClaim": {"claimName": cache_claim_name(profile)}},
    ]


def volume_mounts() -> list[dict[str, str]]:
    return [{"name": SHM_VOLUME, "mountPath": "/dev/shm"}, {"name": CACHE_VOLUME, "mountPath": CACHE_DIR}]


def resources(profile: Profile) -> dict[str, dict[str, str]]:
    """Memory request = limit (no surprise eviction); no CPU limit (throttling slows the start); the GPUs the
    profile gives one replica, as request and limit (extended resources need both equal)."""
    memory = format_binary(profile.memory_limit_bytes)
    gpus = str(profile.gpu.count)
    return {"requests": {"cpu": str(profile.runtime.cpu), "memory": memory, profile.gpu.resource: gpus},
            "limits": {"memory": memory, profile.gpu.resource: gpus}}


def startup_failure_threshold(profile: Profile) -> int:
    period = profile.runtime.startup_probe_period_seconds
    return math.ceil(STARTUP_WINDOW_FACTOR * profile.budgets.time_to_ready_seconds / period)


def probes(profile: Profile) -> dict[str, dict[str, Any]]:
    """Startup covers a slow healthy start; readiness gates traffic on /health; liveness only after start."""
    health = {"httpGet": {"path": "/health", "port": PORT}}
    return {
        "startupProbe": {**health, "periodSeconds": profile.runtime.startup_probe_period_seconds,
                         "failureThreshold": startup_failure_threshold(profile), "timeoutSeconds": 5},
        "readinessProbe": {**health, "periodSeconds": 5, "failureThreshold": 3, "timeoutSeconds": 5},
        "livenessProbe": {**health, "periodSeconds": 10, "failureThreshold": 6, "timeoutSeconds": 5},
    }


def cache_claim(profile: Profile) -> dict[str, Any]:
    rt = profile.runtime
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": cache_claim_name(profile), "namespace": profile.namespace,
                     "labels": profile.labels("cache")},
        "spec": {"accessModes": [rt.cache_access_mode], "storageClassName": rt.cache_storage_class,
                 "resources": {"requests": {"storage": rt.cache_size}}},
    }


def manifests(profile: Profile) -> list[dict[str, Any]]:
    """The runtime lever's own resources (its settings live in the vLLM container of the weight lever): the cache's
    StorageClass where the cloud has no ReadWriteMany class built in (EFS on EKS), then the cache claim."""
    storage_class = weight_sources.cache_storage_class(profile)
    return ([storage_class] if storage_class is not None else []) + [cache_claim(profile)]
