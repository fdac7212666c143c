"""The cold-start phases, in the order a replica goes through them.

Budgets in profiles, timelines and reports all key on these names, so they live in one place.
"""

from __future__ import annotations

PHASES: dict[str, str] = {
    "scheduling": "pod created until bound to a node (includes waiting for a new node or a preemption)",
    "image_pull": "first Pulling until the last image is pulled (or found already present)",
    "container_start": "images ready until the vLLM container started",
    "weights_load": "vLLM reading the weights into GPU memory",
    "compile": "torch.compile (cold, or loaded from the compile cache)",
    "graph_capture": "CUDA graph capture",
    "engine_init": "after the weights: profiling, KV cache, compile and graph capture until the engine is ready",
    "api_ready": "API server up until the pod's Ready condition (/health passed)",
}

PHASE_NAMES: tuple[str, ...] = tuple(PHASES)
