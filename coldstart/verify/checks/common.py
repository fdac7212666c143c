"""What the checks of several levers share: vLLM's limits, the streamer's buffer bound and the images a start
waits for."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coldstart.kube.quantity import to_bytes
from coldstart.verify.findings import Context
from coldstart.verify.workloads import Buffer, EngineContainer, EnginePod, ImageUse, Workload
from coldstart.vllm.launch import load_structured

STREAMER_FORMATS = {"runai_streamer", "runai_streamer_sharded"}
SHM_MIN = 16 * 2**30
GPU_UTIL_RANGE = (0.6, 0.8)
VLLM_DEFAULT_GPU_UTIL = 0.9


def pinned_form(image: str) -> str:
    """`registry/repo:tag` -> `registry/repo@sha256:<digest>`: what to write instead of a tag."""
    name = image.removeprefix("oci://").split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head + '/' if head else ''}{last.split(':', 1)[0]}@sha256:<digest>"


def env_note(pod: EnginePod) -> str:
    """A note for env-based findings when envFrom sources are missing from the input."""
    if not pod.env_sources_missing:
        return ""
    return f" ({', '.join(pod.env_sources_missing)} is not in this input and may set more variables)"


def unresolved(value: Any) -> bool:
    """A value still holding a shell or Kubernetes variable (or a Go/Helm template field): the input cannot say what
    it will be."""
    return isinstance(value, str) and ("${" in value or "$(" in value or value.startswith("$") or "{{" in value)


def streamer_bound(c: EngineContainer) -> tuple[int | None, str]:
    """(bytes, where) of the Run:ai streamer CPU buffer bound; bytes < 0 means unlimited, None means unset."""
    raw = c.env.get("RUNAI_STREAMER_MEMORY_LIMIT")
    if raw not in (None, ""):
        try:
            return int(str(raw).strip()), f"RUNAI_STREAMER_MEMORY_LIMIT={raw}"
        except ValueError:
            try:
                return to_bytes(str(raw)), f"RUNAI_STREAMER_MEMORY_LIMIT={raw}"
            except ValueError:
                return None, f"RUNAI_STREAMER_MEMORY_LIMIT={raw!r} is not a number of bytes"
    extra = load_structured(c.flags.get("model_loader_extra_config"), "--model-loader-extra-config")
    if isinstance(extra, dict) and extra.get("memory_limit") is not None:
        try:
            return int(extra["memory_limit"]), f"--model-loader-extra-config memory_limit={extra['memory_limit']}"
        except (TypeError, ValueError):
            return None, f"memory_limit {extra['memory_limit']!r} is not a number of bytes"
    return None, "RUNAI_STREAMER_MEMORY_LIMIT is not set"


def uses_streamer(c: EngineContainer) -> bool:
    """Does the engine load with the Run:ai streamer?"""
    return str(c.flags.get("load_format", "")).lower() in STREAMER_FORMATS


def images(ctx: Context) -> Iterator[tuple[Workload | Buffer, ImageUse, str]]:
    """(owner, image, n/a reason) for every image a cold start waits for: engines, modelcars, buffer pods."""
    for w, pod, c in ctx.containers():
        if c.image:
            yield w, ImageUse(c.name, str(c.image), c.spec.get("imagePullPolicy")), pod.na.get("pull_policy", "")
        else:
            yield w, ImageUse(c.name, ""), pod.na.get("image", "no image in this input")
    for w in ctx.workloads:
        for ref in w.modelcars:
            yield w, ref, ""
    for b in ctx.buffers:
        for ref in b.images:
            yield b, ref, ""
