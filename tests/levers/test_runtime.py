"""Runtime lever: shm, NCCL, utilization, eager, persistent caches, memory limit and probes."""

from __future__ import annotations

from coldstart.kube.quantity import to_bytes
from coldstart.levers import runtime, weight_load
from coldstart.profiles import load_profile, profile_with


def test_shm_is_a_16gi_memory_emptydir_at_dev_shm():
    p = load_profile("baseline")
    shm = next(v for v in runtime.volumes(p) if v["name"] == runtime.SHM_VOLUME)
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Gi"}
    assert {"name": runtime.SHM_VOLUME, "mountPath": "/dev/shm"} in runtime.volume_mounts()


def test_engine_flags_follow_the_profile():
    p = load_profile("baseline")
    assert "--gpu-memory-utilization=0.75" in runtime.engine_args(p)
    assert "--enforce-eager" not in runtime.engine_args(p)
    eager = profile_with(p, {"runtime.enforce_eager": True})
    assert "--enforce-eager" in runtime.engine_args(eager)
    level = profile_with(p, {"runtime.optimization_level": 2})
    assert "-O2" in runtime.engine_args(level)


def test_nccl_and_every_cache_dir_live_under_the_persistent_cache():
    env = {e["name"]: e["value"] for e in runtime.engine_env(load_profile("baseline"))}
    assert env["NCCL_CUMEM_ENABLE"] == "0"
    for key in ("HF_HOME", "VLLM_CACHE_ROOT", "TRITON_CACHE_DIR"):
        assert env[key].startswith(runtime.CACHE_DIR + "/")
    cache = next(v for v in runtime.volumes(load_profile("baseline")) if v["name"] == runtime.CACHE_VOLUME)
    assert cache["persistentVolumeClaim"]["claimName"] == runtime.cache_claim_name(load_profile("baseline"))


def test_memory_limit_covers_shm_rss_and_streamer_buffer():
    p = load_profile("baseline")
    limit = to_bytes(runtime.resources(p)["limits"]["memory"])
    rt = p.runtime
    assert limit >= to_bytes(rt.shm_size) + to_bytes(rt.engine_rss) + to_bytes(rt.streamer_memory_limit)
    assert runtime.resources(p)["limits"][p.gpu.resource] == str(p.gpu.count)
    assert "cpu" not in runtime.resources(p)["limits"]


def test_startup_probe_window_covers_the_time_to_ready_budget():
    for name in ("baseline", "gke"):
        p = load_profile(name)
        probe = runtime.probes(p)["startupProbe"]
        window = probe.get("initialDelaySeconds", 0) + probe["periodSeconds"] * probe["failureThreshold"]
        assert window >= p.budgets.time_to_ready_seconds
        assert probe["httpGet"]["path"] == "/health"
    slow = profile_with(load_profile("baseline"), {"budgets.time_to_ready_seconds": 1200})
    assert runtime.startup_failure_threshold(slow) > runtime.startup_failure_threshold(load_profile("baseline"))


def test_engine_container_carries_the_runtime_settings():
    p = load_profile("baseline")
    container = weight_load.engine_container(p)
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert {m["mountPath"] for m in container["volumeMounts"]} >= {"/dev/shm", runtime.CACHE_DIR}
    claim = runtime.cache_claim(p)
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "50Gi"
