"""The simulated vLLM engine: its command line, its log lines in vLLM's own format, durations that follow the
manifest and the profile's kinetics, and every trap failing the way a real cluster shows it (events, pod state,
logs) while the fixed manifest becomes Ready."""

from __future__ import annotations

import re

import pytest

from coldstart.embedded.engine.args import EngineArgs
from coldstart.vllm.launch import container_launches
from tests.conftest import FIXTURES
from tests.embedded.test_kubelet import GOOD_ARGS, NS, OFFLINE, SHM, Cluster, _epoch, engine, hf_cache

LINE = re.compile(r"^(?:\((?P<proc>APIServer|EngineCore_DP0|Worker_TP\d+) pid=\d+\) )?(?P<level>INFO|WARNING|ERROR) "
                  r"(?P<stamp>\d\d-\d\d \d\d:\d\d:\d\d) \[(?P<src>[\w.]+\.py:\d+)\] (?P<msg>.*)$")


def start(args: list[str] | None = None, *, env: dict | None = None, profile: str = "baseline",
          changes: dict | None = None, gpus: int = 1, run: float = 600.0, cache: bool = True, **kw) -> Cluster:
    """One vLLM pod on a fresh GPU node; the HF cache claim already holds the profile's model."""
    c = Cluster(profile, changes)
    c.node(gpus=gpus)
    volumes, mounts = [SHM] if kw.pop("shm", True) else [], list(kw.pop("mounts", []))
    if cache:
        volume, mount = hf_cache(c)
        c.claim("hf-cache", "standard")
        volumes.append(volume)
        mounts.append(mount)
    volumes += kw.pop("volumes", [])
    c.pod("a", [engine(c.profile.image.vllm, GOOD_ARGS if args is None else args,
                       env=OFFLINE if env is None else env, gpus=gpus, shm=any(v["name"] == "shm" for v in volumes),
                       mounts=mounts, **kw)], volumes=volumes)
    c.run(run)
    return c


def took(c: Cluster, phase: str, pod: str = "a") -> float:
    begin, end = c.truth(pod)[phase]
    return end - begin


def ready(c: Cluster, pod: str = "a") -> bool:
    return c.condition(pod, "Ready")["status"] == "True"


def has(lines: list[str], text: str) -> bool:
    return any(text in line for line in lines)


# -- command line -----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("argv", "image", "env", "model", "flags"), [
    (["vllm", "serve", "Qwen/Qwen2.5-7B-Instruct", "--tensor-parallel-size", "2", "--enforce-eager"], "x", {},
     "Qwen/Qwen2.5-7B-Instruct", {"tensor-parallel-size": "2", "enforce-eager": True}),
    (["python3", "-m", "vllm.entrypoints.openai.api_server", "--model=google/gemma-3-27b-it",
      "--gpu-memory-utilization=0.95", "--max_model_len", "32768"], "x", {}, "google/gemma-3-27b-it",
     {"gpu-memory-utilization": "0.95", "max-model-len": "32768"}),
    (["/bin/sh", "-c", "vllm serve mistralai/Mistral-7B-Instruct-v0.3 --trust-remote-code "
      "--max_num_batched_tokens 1024"], "vllm/vllm-openai:latest", {}, "mistralai/Mistral-7B-Instruct-v0.3",
     {"trust-remote-code": True, "max-num-batched-tokens": "1024"}),
    (["sh", "-c", "export M=Qwen/Qwen2.5-7B-Instruct\nHF_HUB_OFFLINE=1 exec vllm serve ${M} -tp 2 -O0 "
      "--model-loader-extra-config '{\"concurrency\": 32}'"], "x", {}, "Qwen/Qwen2.5-7B-Instruct",
     {"tensor-parallel-size": "2", "compilation-config": "0", "model-loader-extra-config": '{"concurrency": 32}'}),
    (["--model=/mnt/models", "--port=8080", "--served-model-name", "granite", "g2"], "quay.io/modh/vllm:rhoai", {},
     "/mnt/models", {"port": "8080", "served-model-name": ["granite", "g2"]}),
    (["python", "-m", "huggingfaceserver", "--model_id=meta-llama/Llama-3.1-8B", "--model_name=llama"], "x", {},
     "meta-llama/Llama-3.1-8B", {"model-name": "llama"}),
])
def test_launch_lines_are_read_as_vllm_reads_them(argv, image, env, model, flags):
    key = "args" if argv[0].startswith("-") else "command"
    (launch,) = container_launches({"image": image, key: argv}, env, unset="empty")
    args = EngineArgs(launch)
    assert args.model == model
    for name, value in flags.items():
        assert args.get(name) == value


def test_args_only_go_to_the_images_entrypoint():
    container = {"image": "vllm/vllm-openai:v0.11.0", "args": ["Qwen/Qwen2.5-7B-Instruct", "--port", "8080"]}
    (launch,) = container_launches(container, {})
    assert EngineArgs(launch).model == "Qwen/Qwen2.5-7B-Instruct" and EngineArgs(launch).port == 8080
    shell = {"image": "vllm/vllm-openai:v0.11.0", "args": ["sh", "-c", "vllm serve x/y"]}
    assert [ln.model for ln in container_launches(shell, {})] == ["x/y"]


def test_not_vllm_is_not_a_launch():
    assert container_launches({"image": "vllm/vllm-openai:v0.11.0", "command": ["sh", "-c", "sleep infinity"]},
                              {}) == []
    assert container_launches({"image": "nginx", "command": ["nginx", "-g", "daemon off;"]}, {}) == []


def test_kubernetes_var_expansion_reaches_the_engine():
    c = Cluster()
    c.node()
    volume, mount = hf_cache(c)
    c.claim("hf-cache", "standard")
    container = engine(c.profile.image.vllm, ["--model=$(MODEL_ID)", "--gpu-memory-utilization=$(UTIL)",
                                              "--max-model-len=8192", "--load-format=runai_streamer"],
                       env={**OFFLINE, "MODEL_ID": c.profile.model.name, "UTIL": "0.7"}, mounts=[mount],
                       command=["python3", "-m", "vllm.entrypoints.openai.api_server"])
    c.pod("a", [container], volumes=[SHM, volume])
    c.run(600)
    assert ready(c)
    assert has(c.log("a"), f"non-default args: {{'model': '{c.profile.model.name}', 'gpu_memory_utilization': 0.7")


# -- log format and health --------------------------------------------------------------------------------
def test_log_lines_follow_vllm_v1_format_and_health_waits_for_startup_complete():
    c = start()
    lines = c.log("a")
    assert ready(c)
    logged = [m for m in map(LINE.match, lines) if m]
    assert len(logged) > 30
    procs = {m["proc"] for m in logged}
    assert {"APIServer", "EngineCore_DP0", None} <= procs
    text = "\n".join(lines)
    for pattern in (r"\[api_server\.py:\d+\] vLLM API server version 0\.11\.0$",
                    r"\[gpu_model_runner\.py:\d+\] Model loading took \d+\.\d{4} GiB and \d+\.\d{6} seconds$",
                    r"\[file_streamer\.py:69\] \[RunAI Streamer\] Overall time to stream 14\.2 GiB of all files to "
                    r"cpu: \d+\.\d\ds, [\d.]+ (GiB|MiB)/s$",
                    r"\[monitor\.py:\d+\] torch\.compile takes \d+\.\d\d s in total$",
                    r"\[gpu_worker\.py:\d+\] Available KV cache memory: \d+\.\d\d GiB$",
                    r"\[kv_cache_utils\.py:\d+\] GPU KV cache size: [\d,]+ tokens$",
                    r"\[gpu_model_runner\.py:\d+\] Graph capturing finished in \d+ secs, took \d\.\d\d GiB$",
                    r"\[core\.py:\d+\] init engine \(profile, create kv cache, warmup model\) took \d+\.\d\d seconds$",
                    r"\[api_server\.py:\d+\] Starting vLLM API server 0 on http://0\.0\.0\.0:8000$",
                    r"^\(APIServer pid=1\) INFO:     Started server process \[1\]$",
                    r"^\(APIServer pid=1\) INFO:     Application startup complete\.$"):
        assert re.search(pattern, text, re.MULTILINE), pattern
    assert lines[-1] == "(APIServer pid=1) INFO:     Application startup complete."
    # the startup probe kept failing until that line: Ready comes after it, on the probe schedule
    complete = next(t for t, line in c.logs.read(NS, "a", "vllm") if "Application startup complete" in line)
    assert c.truth("a")["api_ready"][1] >= complete
    stamps = [m["stamp"] for m in logged]
    assert stamps == sorted(stamps)


def test_log_lines_parse_like_the_real_fixture_lines():
    """The same regex reads a real vLLM V1 log line from the shared fixtures and a simulated one."""
    fixture = FIXTURES / "vllm_logs" / "gpustack_3098_v1_vl_model_loading.log"
    if not fixture.exists():
        pytest.skip("shared fixtures absent")
    real = [m for m in map(LINE.match, fixture.read_text().splitlines()) if m]
    assert any("Model loading took" in m["msg"] for m in real)
    simulated = [m for m in map(LINE.match, start().log("a")) if m]
    assert {m["src"].split(":")[0] for m in real if "Model loading took" in m["msg"]} == \
        {m["src"].split(":")[0] for m in simulated if "Model loading took" in m["msg"]}


# -- durations --------------------------------------------------------------------------------------------
def test_streamer_is_faster_than_the_default_loader():
    streamer = start()
    default = start([a for a in GOOD_ARGS if not a.startswith("--load-format")])
    k = streamer.profile.kinetics
    gib = streamer.profile.model.weight_bytes / 2**30
    assert took(default, "weights_load") == pytest.approx(gib / k.loader_gib_per_s, rel=0.1)
    streamed = gib / min(k.disk_gib_per_s, 16 * k.streamer_gib_per_s_per_stream)
    assert took(streamer, "weights_load") == pytest.approx(streamed, rel=0.1)
    assert has(default.log("a"), "[default_loader.py:267] Loading weights took")
    assert has(default.log("a"), "Loading safetensors checkpoint shards: 100% Completed | 4/4")
    slow_streams = start(GOOD_ARGS + ["--model-loader-extra-config", '{"concurrency": 2}'])
    assert took(slow_streams, "weights_load") > took(streamer, "weights_load") * 3


def test_hyperdisk_ml_weights_load_faster_than_a_balanced_disk():
    def weights_from(storage_class: str, provisioner: str, **params: str) -> float:
        c = Cluster("gke")
        c.node()
        c.storage_class(storage_class, provisioner, **params)
        c.claim("weights", storage_class)
        c.pod("a", [engine(c.profile.image.vllm, ["--model=/models/qwen", "--gpu-memory-utilization=0.75",
                                                  "--max-model-len=8192", "--load-format=runai_streamer",
                                                  "--model-loader-extra-config", '{"concurrency": 32}'],
                           env=OFFLINE, mounts=[{"name": "w", "mountPath": "/models"}])],
              volumes=[SHM, {"name": "w", "persistentVolumeClaim": {"claimName": "weights"}}])
        c.run(600)
        assert ready(c)
        return took(c, "weights_load")
    balanced = weights_from("balanced", "pd.csi.storage.gke.io", type="pd-balanced")
    hyperdisk = weights_from("hdml", "pd.csi.storage.gke.io", type="hyperdisk-ml")
    capped = weights_from("hdml-slow", "pd.csi.storage.gke.io", type="hyperdisk-ml",
                          **{"provisioned-throughput-on-create": "1200Mi"})
    assert hyperdisk < capped < balanced


def test_warm_compile_cache_on_a_claim_is_faster_and_never_warm_across_pods_with_emptydir():
    def two_pods(volume: dict) -> Cluster:
        c = Cluster()
        c.node()
        hub, _ = hf_cache(c)
        c.claim("hf-cache", "standard")
        c.claim("compile-cache", "standard")
        mount = [{"name": "cache", "mountPath": "/root/.cache/huggingface"},
                 {"name": "compiled", "mountPath": "/root/.cache/vllm"}]
        vols = [SHM, hub, volume]
        c.pod("a", [engine(c.profile.image.vllm, GOOD_ARGS, env=OFFLINE, mounts=mount)], volumes=vols)
        c.run(600)
        c.pod("b", [engine(c.profile.image.vllm, GOOD_ARGS, env=OFFLINE, mounts=mount)], volumes=vols)
        c.run(600)
        return c
    pvc = two_pods({"name": "compiled", "persistentVolumeClaim": {"claimName": "compile-cache"}})
    assert has(pvc.log("a"), "Compiling a graph for dynamic shape takes")
    assert has(pvc.log("b"), "Directly load the compiled graph(s) for dynamic shape from the cache, took")
    assert took(pvc, "compile", "b") < took(pvc, "compile", "a") / 3
    k = pvc.profile.kinetics
    assert took(pvc, "compile", "a") == pytest.approx(k.compile_cold_seconds, rel=0.15)
    empty = two_pods({"name": "compiled", "emptyDir": {}})
    assert not has(empty.log("b"), "Directly load the compiled graph")
    assert has(empty.log("b"), "Compiling a graph for dynamic shape takes")
    assert ready(pvc, "b") and ready(empty, "b")


def test_enforce_eager_skips_compile_and_graph_capture():
    c = start(GOOD_ARGS + ["--enforce-eager"])
    lines = c.log("a")
    assert ready(c)
    assert not has(lines, "torch.compile") and not has(lines, "Graph capturing") and not has(lines, "Capturing CUDA")
    assert "compile" not in c.truth("a") and "graph_capture" not in c.truth("a")
    assert took(c, "engine_init") < took(start(), "engine_init") - c.profile.kinetics.compile_cold_seconds * 0.8
    o0 = start(GOOD_ARGS + ["-O0"])
    assert not has(o0.log("a"), "torch.compile") and ready(o0)


# -- traps --------------------------------------------------------------------------------------------------
def test_high_gpu_memory_utilization_ooms_in_graph_capture_and_crash_loops():
    c = start(["--model=Qwen/Qwen2.5-7B-Instruct", "--gpu-memory-utilization=0.9", "--max-model-len=8192",
               "--load-format=runai_streamer"], run=900)
    assert not ready(c)
    previous = c.log("a", previous=True)
    assert has(previous, "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE):  40%")
    assert any(re.search(r"ERROR .* \[core\.py:\d+\] torch\.OutOfMemoryError: CUDA out of memory\. Tried to "
                         r"allocate 20\.00 MiB\. GPU 0 has a total capacity of 24\.00 GiB", line) for line in previous)
    assert has(previous, "in capture_model")
    assert previous[-1] == ("(APIServer pid=1) RuntimeError: Engine core initialization failed. See root cause "
                            "above. Failed core proc(s): {}")
    vllm = c.container("a")
    assert vllm["restartCount"] >= 2
    assert (vllm["lastState"]["terminated"]["exitCode"], vllm["lastState"]["terminated"]["reason"]) == (1, "Error")
    assert c.messages("a", "BackOff")
    assert vllm["state"].get("waiting", {}).get("reason") in ("CrashLoopBackOff", None)
    # vLLM's default (no flag) is 0.9 too; --enforce-eager captures no graphs and starts
    assert not ready(start(["--model=Qwen/Qwen2.5-7B-Instruct", "--max-model-len=8192"], run=400))
    assert ready(start(["--model=Qwen/Qwen2.5-7B-Instruct", "--gpu-memory-utilization=0.9", "--max-model-len=8192",
                        "--enforce-eager"]))
    assert ready(start())


def test_weights_beyond_the_gpu_budget_leave_no_memory_for_the_kv_cache():
    c = start(["--model=Qwen/Qwen2.5-7B-Instruct", "--gpu-memory-utilization=0.5", "--max-model-len=8192"], run=300)
    lines = c.log("a", previous=True) or c.log("a")
    assert has(lines, "Available KV cache memory: -")
    assert has(lines, "ValueError: No available memory for the cache blocks. Try increasing `gpu_memory_utilization` "
                      "when initializing the engine.")
    assert not ready(c)
    too_long = start(["--model=Qwen/Qwen2.5-7B-Instruct", "--gpu-memory-utilization=0.7"], run=300)
    assert has(too_long.log("a", previous=True) or too_long.log("a"),
               "ValueError: To serve at least one request with the models's max seq len (32768)")


def test_tensor_parallel_without_shm_fails_in_nccl_and_works_with_a_memory_emptydir():
    args = GOOD_ARGS + ["--tensor-parallel-size=2"]
    c = start(args, gpus=2, shm=False, run=600)
    lines = c.log("a", previous=True)
    assert any(re.search(r"misc/shmutils\.cc:129 NCCL WARN Error while creating shared memory segment /dev/shm/nccl-"
                         r"\w{6} \(size 33030528\), error: No space left on device \(28\)", line) for line in lines)
    assert has(lines, "RuntimeError: NCCL error: unhandled system error (run with NCCL_DEBUG=INFO for details)")
    assert c.container("a")["restartCount"] >= 2 and not ready(c)
    fixed = start(args, gpus=2)
    assert ready(fixed)
    assert has(fixed.log("a"), "rank 0 in world size 2 is assigned as DP rank 0, PP rank 0, TP rank 0, EP rank 0")


def test_memory_limit_below_rss_plus_streamer_buffer_is_oomkilled_while_loading():
    unbounded = {"HF_HUB_OFFLINE": "1"}  # RUNAI_STREAMER_MEMORY_LIMIT unset: the streamer buffers the whole model
    c = start(env=unbounded, memory="20Gi", run=300)
    last = c.container("a")["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (137, "OOMKilled")
    lines = c.log("a", previous=True)
    assert has(lines, "Loading safetensors using Runai Model Streamer:   0%")
    assert not has(lines, "Overall time to stream")
    assert c.messages("a", "BackOff") and not ready(c)
    assert ready(start(memory="20Gi"))  # bounded to 4 GiB it fits
    assert ready(start(env=unbounded, memory="36Gi"))  # or a limit that holds the model


def test_hub_access_costs_time_and_offline_without_weights_fails():
    offline = start()
    online = start(env={"RUNAI_STREAMER_MEMORY_LIMIT": str(4 * 2**30)})
    assert ready(online) and ready(offline)
    # with the model cached on the claim, online only adds Hub round trips before the engine starts
    first_engine = {c: next(t for t, line in c.logs.read(NS, "a", "vllm") if "EngineCore_DP0" in line)
                    for c in (offline, online)}
    assert first_engine[online] - first_engine[offline] == pytest.approx(
        online.profile.kinetics.hf_hub_check_seconds, abs=2)
    # nothing cached and online: the weights are downloaded from the Hub
    download = start(env={"RUNAI_STREAMER_MEMORY_LIMIT": str(4 * 2**30)}, cache=False, run=900)
    assert ready(download)
    assert has(download.log("a"), f"Time spent downloading weights for {download.profile.model.name}:")
    assert took(download, "weights_load") > took(online, "weights_load") + 100
    # nothing cached and offline: the engine cannot find the model
    missing = start(cache=False, run=300)
    lines = missing.log("a", previous=True) or missing.log("a")
    assert has(lines, "LocalEntryNotFoundError: Cannot find an appropriate cached snapshot folder")
    assert not ready(missing)


def test_nccl_cumem_enable_set_warns_like_vllm():
    c = start(env={**OFFLINE, "NCCL_CUMEM_ENABLE": "1"})
    assert any(re.search(r"^WARNING \d\d-\d\d [\d:]+ \[env_override\.py:17\] NCCL_CUMEM_ENABLE is set to 1, skipping "
                         r"override\. This may increase memory overhead with cudagraph\+allreduce", line)
               for line in c.log("a"))
    assert not has(start().log("a"), "NCCL_CUMEM_ENABLE")


def test_too_few_gpus_for_the_parallel_size_fails():
    c = start(GOOD_ARGS + ["--tensor-parallel-size=2"], run=200)
    lines = c.log("a", previous=True) or c.log("a")
    assert has(lines, "World size (2) is larger than the number of available GPUs (1)")
    assert not ready(c)


def test_modelcar_weights_are_read_from_the_node_disk():
    c = Cluster()
    c.node()
    modelcar = c.profile.model.modelcar
    init = [{"name": "modelcar-init", "image": modelcar, "args": ["sh", "-c", "echo 'Pre-fetching modelcar' && "
                                                                  "echo 'Done!'"]}]
    vllm = engine(c.profile.image.vllm, ["--model=/mnt/models", "--gpu-memory-utilization=0.75",
                                         "--max-model-len=8192", "--load-format=runai_streamer"],
                  env=OFFLINE, name="kserve-container")
    car = {"name": "modelcar", "image": modelcar, "args": ["sh", "-c", "ln -s /proc/$$$$/root/models /mnt/models "
                                                           "&& sleep infinity"]}
    c.pod("a", [vllm, car], init=init, volumes=[SHM])
    c.run(900)
    assert ready(c)
    gib = c.profile.model.weight_bytes / 2**30
    assert took(c, "weights_load") == pytest.approx(gib / c.profile.kinetics.disk_gib_per_s, rel=0.15)
    assert c.messages("a", "Pulled")[-1] == f'Container image "{modelcar}" already present on machine'


def test_coldstarts_own_parsers_read_the_simulation_back_to_its_ground_truth():
    """Events, pod status and logs as written here, parsed by coldstart's real-cluster parsers, give the phases
    the simulation timed (to the second: events and log stamps are whole seconds)."""
    from coldstart.timeline.build import build_timeline
    from coldstart.timeline.sources.events import events_from_objects
    from coldstart.timeline.sources.pods import pods_from_objects
    from coldstart.timeline.sources.vllm_log import parse_vllm_log

    c = start()
    pod = c.store.get("/Pod", NS, "a")
    timeline = build_timeline(events_from_objects(c.store.list("/Event", NS)[0]), pods_from_objects([pod]),
                              [("a.log", parse_vllm_log(c.log("a"), name="a.log"))])
    parsed = timeline.pods[0]
    created = c.store.get("/Pod", NS, "a")["metadata"]["creationTimestamp"]
    assert parsed.t0.strftime("%Y-%m-%dT%H:%M:%SZ") == created
    t0 = parsed.t0.timestamp()
    for phase, (begin, end) in c.truth("a").items():
        assert phase in parsed.phases, phase
        assert parsed.phases[phase].start == pytest.approx(begin - t0, abs=1.6), phase
        assert parsed.phases[phase].end == pytest.approx(end - t0, abs=1.6), phase


def test_storage_initializer_downloads_into_an_emptydir_the_engine_then_reads():
    c = Cluster()
    c.node()
    models = {"name": "kserve-provision-location", "emptyDir": {}}
    mount = {"name": "kserve-provision-location", "mountPath": "/mnt/models"}
    init = [{"name": "storage-initializer", "image": "kserve/storage-initializer:v0.15.0",
             "args": [f"hf://{c.profile.model.name}", "/mnt/models"], "volumeMounts": [mount]}]
    vllm = engine(c.profile.image.vllm, ["--model=/mnt/models", "--gpu-memory-utilization=0.75",
                                         "--max-model-len=8192"], env=OFFLINE, name="kserve-container", mounts=[mount])
    c.pod("a", [vllm], init=init, volumes=[SHM, models])
    c.run(900)
    assert ready(c)
    status = c.status("a")["initContainerStatuses"][0]["state"]["terminated"]
    k = c.profile.kinetics
    download = c.profile.model.weight_bytes / (k.hf_hub_mb_per_s * 1e6)
    assert _epoch(status["finishedAt"]) - _epoch(status["startedAt"]) == pytest.approx(download, rel=0.1)
    assert c.log("a", "storage-initializer")[-1] == "INFO:root:Successfully copied into /mnt/models"
    assert took(c, "weights_load") == pytest.approx(c.profile.model.weight_bytes / 2**30 / k.loader_gib_per_s, rel=0.1)
