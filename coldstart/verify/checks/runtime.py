"""Runtime invariants: a 16Gi Memory /dev/shm, a memory limit above shm + engine + streamer buffer, NCCL_CUMEM_ENABLE=0,
GPU memory utilization in 0.6-0.8, eager mode as the profile chose, caches on a PVC and a startup probe long enough
for a slow healthy start."""

from __future__ import annotations

from collections.abc import Iterator

from coldstart.kube.images import ImageRef
from coldstart.kube.podspec import memory_limit, mounts_under, probe_window, shm_size_limit, shm_volume, volume_at
from coldstart.kube.quantity import format_binary, gib, to_bytes
from coldstart.verify.checks.common import (
    GPU_UTIL_RANGE,
    SHM_MIN,
    VLLM_DEFAULT_GPU_UTIL,
    env_note,
    streamer_bound,
    unresolved,
    uses_streamer,
)
from coldstart.verify.findings import Context, Finding, found, invariant
from coldstart.verify.workloads import EngineContainer, EnginePod
from coldstart.vllm.launch import CACHE_DIR, truthy

DEFAULT_BUDGET_SECONDS = 600.0


@invariant("shm-memory-16gi", "runtime",
           "the container runtime's 64Mi /dev/shm makes NCCL and vLLM workers fail or hang")
def check_shm(ctx: Context) -> Iterator[Finding]:
    for w, pod, c in ctx.containers():
        if "shm" in pod.na:
            yield found("shm-memory-16gi", "n/a", w, c.name, pod.na["shm"])
            continue
        volume = shm_volume(pod.spec, c.spec)
        limit = shm_size_limit(volume)
        empty = (volume or {}).get("emptyDir")
        if volume is None:
            problem = "no volume at /dev/shm (the 64Mi runtime default applies)"
        elif not isinstance(empty, dict) or empty.get("medium") != "Memory":
            problem = f"/dev/shm volume {volume.get('name')} is not an emptyDir with medium: Memory"
        elif limit is None:
            problem = f"/dev/shm volume {volume.get('name')} has no sizeLimit"
        elif limit < SHM_MIN:
            problem = f"/dev/shm sizeLimit {empty.get('sizeLimit')} is below 16Gi"
        else:
            yield found("shm-memory-16gi", "pass", w, c.name, f"/dev/shm Memory emptyDir, sizeLimit "
                        f"{empty.get('sizeLimit')}")
            continue
        yield found("shm-memory-16gi", "fail", w, c.name,
                    f"{problem}; mount an emptyDir {{medium: Memory, sizeLimit: 16Gi}} at /dev/shm")


@invariant("memory-covers-shm", "runtime",
           "tmpfs pages in /dev/shm count against the memory limit: filling shm OOM-kills the engine")
def check_memory(ctx: Context) -> Iterator[Finding]:
    for w, pod, c in ctx.containers():
        reason = pod.na.get("memory") or pod.na.get("shm")
        volume = None if reason else shm_volume(pod.spec, c.spec)
        shm = shm_size_limit(volume)
        limit = memory_limit(c.spec)
        if reason or shm is None or limit is None:
            yield found("memory-covers-shm", "n/a", w, c.name, reason or ("no Memory /dev/shm with a sizeLimit to "
                        "compare" if shm is None else "no container memory limit to compare"))
            continue
        parts = [f"shm {format_binary(shm)}"]
        need = shm
        bound, _ = streamer_bound(c)
        if uses_streamer(c) and bound is not None and bound > 0:
            need += bound
            parts.append(f"streamer buffer {format_binary(bound)}")
        if ctx.profile is not None:
            rss = to_bytes(ctx.profile.runtime.engine_rss)
            need += rss
            parts.append(f"engine RSS {ctx.profile.runtime.engine_rss} (profile)")
        ok = limit > shm if need == shm else limit >= need
        text = f"memory limit {gib(limit):.1f}Gi vs {' + '.join(parts)} = {gib(need):.1f}Gi"
        if ok:
            yield found("memory-covers-shm", "pass", w, c.name, text)
        else:
            yield found("memory-covers-shm", "fail", w, c.name, f"{text}: raise the memory limit to at least "
                        f"{format_binary(need + (2**30 if need == shm else 0))} or shrink the shm sizeLimit")


@invariant("nccl-cumem-disabled", "runtime",
           "NCCL's cuMem allocator (on by default in recent NCCL) hangs or fails vLLM's multi-GPU startup")
def check_nccl(ctx: Context) -> Iterator[Finding]:
    expected = str(ctx.profile.runtime.nccl_cumem_enable) if ctx.profile else "0"
    for w, pod, c in ctx.containers():
        value = c.env.get("NCCL_CUMEM_ENABLE")
        if expected != "0":
            yield found("nccl-cumem-disabled", "n/a", w, c.name, "the profile sets runtime.nccl_cumem_enable: 1")
        elif value is not None and str(value).strip() == "0":
            yield found("nccl-cumem-disabled", "pass", w, c.name, "NCCL_CUMEM_ENABLE=0")
        else:
            yield found("nccl-cumem-disabled", "fail", w, c.name, f"NCCL_CUMEM_ENABLE is "
                        f"{'unset' if value is None else repr(value)}{env_note(pod)}; set NCCL_CUMEM_ENABLE=0 on "
                        "every engine container")


@invariant("gpu-mem-util-range", "runtime",
           "--gpu-memory-utilization above 0.8 (vLLM's default is 0.9) leaves too little for CUDA graphs: OOM at start")
def check_gpu_util(ctx: Context) -> Iterator[Finding]:
    low, high = GPU_UTIL_RANGE
    for w, pod, c in ctx.engines(launchers_only=True):
        raw = c.flags.get("gpu_memory_utilization")
        if "flags" in pod.na and raw is None:
            yield found("gpu-mem-util-range", "n/a", w, c.name, pod.na["flags"])
            continue
        if unresolved(raw):
            yield found("gpu-mem-util-range", "n/a", w, c.name, f"--gpu-memory-utilization {raw} cannot be "
                        "resolved from this input")
            continue
        value = VLLM_DEFAULT_GPU_UTIL if raw is None else _number(raw)
        if value is None:
            yield found("gpu-mem-util-range", "fail", w, c.name, f"--gpu-memory-utilization {raw!r} is not a number")
            continue
        shown = f"{value} (vLLM default)" if raw is None else str(value)
        if low <= value <= high:
            yield found("gpu-mem-util-range", "pass", w, c.name, f"gpu memory utilization {shown}")
        else:
            yield found("gpu-mem-util-range", "fail", w, c.name, f"gpu memory utilization {shown}; set "
                        f"--gpu-memory-utilization between {low} and {high}")


@invariant("enforce-eager-per-profile", "runtime",
           "eager mode trades throughput for start speed: it must match what the profile chose", "profile")
def check_eager(ctx: Context) -> Iterator[Finding]:
    assert ctx.profile is not None
    want = ctx.profile.runtime.enforce_eager
    for w, pod, c in ctx.engines(launchers_only=True):
        if "flags" in pod.na and "enforce_eager" not in c.flags:
            yield found("enforce-eager-per-profile", "n/a", w, c.name, pod.na["flags"])
            continue
        raw = c.flags.get("enforce_eager", False)
        present = raw is True or (not isinstance(raw, bool) and truthy(raw))
        if present == want:
            yield found("enforce-eager-per-profile", "pass", w, c.name,
                        f"--enforce-eager {'present' if present else 'absent'}, as the profile wants")
        else:
            yield found("enforce-eager-per-profile", "fail", w, c.name,
                        f"--enforce-eager {'present' if present else 'absent'} but profile {ctx.profile.name} sets "
                        f"runtime.enforce_eager: {str(want).lower()}; {'add' if want else 'remove'} it")


def _number(raw: object) -> float | None:
    """A flag value as vLLM's argparse would read a float; None when it is not one (a bare flag is not)."""
    if isinstance(raw, bool):
        return None
    try:
        return float(str(raw))
    except ValueError:
        return None


def _cache_dirs(c: EngineContainer) -> dict[str, str]:
    """The caches vLLM fills at start (HF hub, vLLM's torch.compile cache, Triton), as this container sets them."""
    env = {k: v for k, v in c.env.items() if v}
    homes = [env["HOME"]] if env.get("HOME") else ["/root"] + (
        ["/home/ray"] if "ray" in ImageRef.parse(c.image or "").path.lower() else [])
    dirs: dict[str, str] = {}
    for home in homes:
        xdg = env.get("XDG_CACHE_HOME") or f"{home}/.cache"
        hf_home = env.get("HF_HOME") or f"{xdg}/huggingface"
        dirs.setdefault("Hugging Face cache", env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
                        or f"{hf_home}/hub")
        dirs.setdefault("vLLM cache", env.get("VLLM_CACHE_ROOT") or f"{xdg}/vllm")
        if home != homes[0]:
            dirs[f"Hugging Face cache ({home})"] = f"{hf_home}/hub"
    if env.get("TRITON_CACHE_DIR"):
        dirs["Triton cache"] = env["TRITON_CACHE_DIR"]
    return dirs


def _persistent(pod: EnginePod, c: EngineContainer, path: str) -> tuple[bool, str]:
    mount, volume = volume_at(pod.spec, c.spec, path)
    if volume is None:
        return False, "the container's writable layer"
    claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
    if claim and not volume.get("_mountReadOnly") and not volume["persistentVolumeClaim"].get("readOnly"):
        return True, f"PVC {claim} at {mount}"
    if volume.get("name") in pod.claim_templates:
        return True, f"volumeClaimTemplate {volume.get('name')} at {mount}"
    kind = next((k for k in volume if k not in ("name", "_mountReadOnly")), "unknown volume")
    return False, f"{kind} {volume.get('name')} at {mount}" + (" (read-only)" if claim else "")


@invariant("cache-persistent", "runtime",
           "caches on ephemeral storage are lost on restart: downloads and torch.compile run again on every start")
def check_cache(ctx: Context) -> Iterator[Finding]:
    for w, pod, c in ctx.containers():
        if pod.operator_cache:
            yield found("cache-persistent", "pass", w, c.name, pod.operator_cache)
            continue
        dirs = _cache_dirs(c)
        where = {label: _persistent(pod, c, path) for label, path in dirs.items()}
        kept = [f"{label} {dirs[label]} on {text}" for label, (ok, text) in where.items() if ok]
        lost = [f"{label} {dirs[label]} on {text}" for label, (ok, text) in where.items() if not ok]
        if kept:
            yield found("cache-persistent", "pass", w, c.name, "; ".join(kept) + (
                f" (not kept: {'; '.join(lost)})" if lost else ""))
        else:
            below = [m for m, v in mounts_under(pod.spec, c.spec, CACHE_DIR) if "persistentVolumeClaim" in v]
            hint = f" (PVC mounts {', '.join(below)} cover none of them)" if below else ""
            yield found("cache-persistent", "fail", w, c.name, f"{'; '.join(lost)}{hint}: mount a "
                        f"PersistentVolumeClaim at {CACHE_DIR} (or point HF_HOME / VLLM_CACHE_ROOT at one)")


@invariant("startup-probe-budget", "runtime",
           "without a startup probe as long as a slow healthy start, liveness or restarts kill the engine mid-load")
def check_startup_probe(ctx: Context) -> Iterator[Finding]:
    budget = ctx.profile.budgets.time_to_ready_seconds if ctx.profile else DEFAULT_BUDGET_SECONDS
    source = f"profile budget {budget:g}s" if ctx.profile else f"default budget {budget:g}s (no --profile)"
    for w, pod, c in ctx.containers():
        if "probes" in pod.na:
            yield found("startup-probe-budget", "n/a", w, c.name, pod.na["probes"])
            continue
        startup, liveness = c.spec.get("startupProbe"), c.spec.get("livenessProbe")
        kill = (f"; the livenessProbe restarts a start slower than {probe_window(liveness)}s"
                if isinstance(liveness, dict) else "")
        if isinstance(startup, dict):
            window = probe_window(startup)
            if window >= budget:
                yield found("startup-probe-budget", "pass", w, c.name, f"startupProbe window {window}s >= {source}")
            else:
                yield found("startup-probe-budget", "fail", w, c.name, f"startupProbe window {window}s "
                            f"(initialDelay + failureThreshold x period) < {source}; raise failureThreshold")
        elif not c.launcher and not isinstance(liveness, dict):
            yield found("startup-probe-budget", "n/a", w, c.name, "no probe on this engine worker can kill its start")
        else:
            yield found("startup-probe-budget", "fail", w, c.name, f"no startupProbe{kill}; add one on /health "
                        f"with initialDelaySeconds + failureThreshold x periodSeconds >= {budget:g}s")
