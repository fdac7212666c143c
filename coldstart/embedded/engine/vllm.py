"""The vLLM engine as a simulated process: it reads its argv and environment and what the pod gives it (GPUs,
memory limit, /dev/shm, volumes at /root/.cache and /mnt/models), then plays vLLM v0.11's V1 startup in
virtual time with its own log lines, and fails the way vLLM fails when the manifest holds a trap.

Durations come from the profile's kinetics and the manifest: weights = bytes / min(storage rate, loader rate)
(default loader vs Run:ai streamer with its concurrency; node disk for a modelcar, Hyperdisk ML for such a
claim, the Hub when online with a repo id and nothing cached); torch.compile cold unless an earlier engine
compiled the same model and flags into the same cache location; `--enforce-eager` / `-O0` skip compile and
CUDA graphs. `/health` answers 200 only after `Application startup complete.`.

Traps (each only because the manifest contains it):
- gpu memory utilization above 0.8 (vLLM's default is 0.9): CUDA OOM during CUDA graph capture, exit 1;
  weights beyond utilization x GPU memory: "No available memory for the cache blocks";
- tensor/pipeline parallel > 1 with the runtime's 64Mi /dev/shm: NCCL cannot create its segments, exit 1;
- RSS + /dev/shm pages + the Run:ai streamer's CPU buffer (RUNAI_STREAMER_MEMORY_LIMIT; unset = up to ~40 GB
  or the model) above the memory limit: the kubelet OOM-kills it while the weights stream;
- HF_HUB_OFFLINE unset: Hub round trips (and a download when nothing is cached); set with nothing cached: fails;
- NCCL_CUMEM_ENABLE set non-zero: vLLM's env_override warning (and more graph memory with TP > 1).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from coldstart.embedded.context import SimContext
from coldstart.embedded.engine import logs as L
from coldstart.embedded.engine.args import EngineArgs
from coldstart.embedded.engine.model import DEFAULT_MAX_MODEL_LEN, architecture, is_repo_id, max_length, weight_bytes
from coldstart.embedded.node.process import ContainerEnv, Health, Plan, Step, as_int
from coldstart.embedded.node.volumes import NodeSideState, mount_for
from coldstart.profiles.physics import loader_gib_per_s, weight_gib_per_s

MAX_SAFE_UTILIZATION = 0.8  # above it, what is left of the GPU cannot hold the CUDA graph pools (project finding)
SHM_QUEUE_BYTES = 10 * 10 * 2**20  # vLLM's shm_broadcast MessageQueue: 10 chunks of 10 MiB in /dev/shm
NCCL_SEGMENT_BYTES = 33_030_528  # one NCCL shared-memory segment (llm-d issue 352)
STREAMER_UNBOUNDED_BYTES = 40e9  # Run:ai streamer CPU buffer when RUNAI_STREAMER_MEMORY_LIMIT is unset
ACTIVATION_GIB = 1.3  # profiling peak (activations, sampler) plus non-torch allocations
IMAGE_READ_BYTES = 2 * 2**30  # what the engine reads from its image while importing (torch, CUDA libs)
TRUTHY = {"1", "true", "yes", "on"}


@dataclass
class _Timeline:
    """Steps at offsets from the container start, with log lines stamped at their absolute time."""

    t0: float
    steps: list[Step] = field(default_factory=list)
    now: float = 0.0

    def at(self) -> float:
        return self.t0 + self.now

    def wait(self, seconds: float) -> None:
        self.now += max(0.0, seconds)

    def step(self) -> Step:
        if not self.steps or self.steps[-1].at != self.now:
            self.steps.append(Step(self.now))
        return self.steps[-1]

    def raw(self, *lines: str) -> None:
        self.step().lines.extend(lines)

    def log(self, source: str, message: str, *, proc: str | None = L.API, level: str = "INFO") -> None:
        self.raw(L.log(self.at(), source, message, proc=proc, level=level))

    def memory(self, n_bytes: float) -> None:
        self.step().memory = int(n_bytes)

    def mark(self, phase: str, start: float) -> None:
        self.step().marks.append((phase, start, self.now))


def engine_plan(env: ContainerEnv, args: EngineArgs, ctx: SimContext, state: NodeSideState) -> Plan:
    """The engine's startup as a plan of timed steps (see the module docstring for the model)."""
    return _Engine(env, args, ctx, state).plan()


class _Engine:
    def __init__(self, env: ContainerEnv, args: EngineArgs, ctx: SimContext, state: NodeSideState):
        self.env, self.args, self.ctx, self.state = env, args, ctx, state
        self.key = f"engine {ctx.identity(env.pod)}/{env.container.get('name')}"
        self.k = ctx.kinetics
        self.vars = {**env.env, **args.env}
        self.tl = _Timeline(env.started_at)
        self.model = args.model
        self.weights = weight_bytes(self.model, ctx.profile)
        self.tp = args.tensor_parallel
        self.world = self.tp * max(1, as_int(args.get("pipeline-parallel-size", 1), 1))
        self.gpu_gib = ctx.profile.gpu.memory_gib
        self.util = args.gpu_memory_utilization
        level = args.compilation_level
        self.compile = (level if level is not None else (0 if args.enforce_eager else 3)) > 0
        self.graphs = not args.enforce_eager and level != 0
        self.rss = self.k.engine_rss_gib * 2**30 * (1 + 0.5 * (self.world - 1))
        pairs = self.world * (self.world - 1) // 2
        self.shm_used = 0 if self.world == 1 else SHM_QUEUE_BYTES + NCCL_SEGMENT_BYTES * pairs
        self.failed = False

    # -- the plan -----------------------------------------------------------------------------------
    def plan(self) -> Plan:
        tl, base = self.tl, self.k.engine_base_seconds
        tl.memory(2**30)
        cumem = self.vars.get("NCCL_CUMEM_ENABLE")
        tl.wait(self._jit(0.2 * base) + self._image_penalty())
        if cumem not in (None, "", "0"):
            tl.log("env_override.py:17", f"NCCL_CUMEM_ENABLE is set to {cumem}, skipping override. This may increase "
                   "memory overhead with cudagraph+allreduce: https://github.com/NVIDIA/nccl/issues/1234",
                   proc=None, level="WARNING")
        tl.log("__init__.py:216", "Automatically detected platform cuda.", proc=None)
        tl.wait(0.8)
        tl.log("api_server.py:1839", f"vLLM API server version {L.VERSION}")
        tl.log("utils.py:233", f"non-default args: {self.args.non_default()}")
        tl.memory(self.rss * 0.4)
        self._config()
        if not self.failed:
            self._engine_core()
        if not self.failed:
            self._weights()
        if not self.failed:
            self._init_engine()
        if self.failed:
            return Plan(tl.steps, exit_at=tl.now + 1.0, exit_code=1, engine=True)
        return Plan(tl.steps, engine=True, ready_mark_from=self.ready_from)

    def _jit(self, seconds: float) -> float:
        return self.ctx.jitter(seconds, self.key)

    def _image_penalty(self) -> float:
        """Image streaming: the imports read the image lazily from the registry until it is cached."""
        lazy = self.env.image_lazy_until
        if lazy is None or lazy <= self.env.started_at:
            return 0.0
        return IMAGE_READ_BYTES / (self.k.registry_mb_per_s * 1e6)

    def _fail(self, frames: list, error: str, *, proc: str | None = None) -> None:
        t = self.tl.at()
        self.tl.raw(*L.traceback(t, proc or L.engine(), "core.py:708", frames, error))
        self.tl.wait(0.5)
        self.tl.raw(*L.api_server_failure(self.tl.at()))
        self.failed = True

    def _config(self) -> None:
        tl, base = self.tl, self.k.engine_base_seconds
        tl.wait(self._jit(0.05 * base))
        self.repo = is_repo_id(self.model)
        self.offline = self.vars.get("HF_HUB_OFFLINE", "").lower() in TRUTHY
        hub = self.args.get("download-dir") or self.vars.get("HF_HUB_CACHE")
        if not hub and self.vars.get("HF_HOME"):
            hub = self.vars["HF_HOME"].rstrip("/") + "/hub"
        if not hub:
            hub = self.vars.get("XDG_CACHE_HOME", "/root/.cache").rstrip("/") + "/huggingface/hub"
        self.hub_location = self.state.location(mount_for(self.env.mounts, str(hub)), self.env.pod_uid)
        self.hub_mount = mount_for(self.env.mounts, str(hub))
        self.cached = self.state.has(self.hub_location, f"hf:{self.model}")
        if self.repo and not self.offline:
            # TRANSFORMERS_OFFLINE spares transformers' own config/tokenizer look-ups, not vLLM's Hub calls
            share = 0.5 if self.vars.get("TRANSFORMERS_OFFLINE", "").lower() in TRUTHY else 1.0
            tl.wait(self._jit(self.k.hf_hub_check_seconds * share))
        if self.repo and self.offline and not self.cached:
            tl.raw(f"({L.API}) Traceback (most recent call last):",
                   f'({L.API})   File "{L.SITE}/huggingface_hub/file_download.py", line 1484, in '
                   "_raise_on_head_call_error",
                   f"({L.API})     raise LocalEntryNotFoundError(",
                   f"({L.API}) huggingface_hub.errors.LocalEntryNotFoundError: Cannot find an appropriate cached "
                   "snapshot folder for the specified revision on the local disk and outgoing traffic has been "
                   "disabled. To enable repo look-ups and downloads online, pass 'local_files_only=False' as input.")
            self.failed = True
            return
        tl.log("model.py:547", f"Resolved architecture: {architecture(self.model, self.ctx.profile.model.name)}")
        self.max_len = max_length(self.args.get("max-model-len", DEFAULT_MAX_MODEL_LEN))
        tl.log("model.py:1510", f"Using max model len {self.max_len}")
        tl.log("scheduler.py:205", "Chunked prefill is enabled with max_num_batched_tokens=2048.")
        if self.env.gpus < 1:
            tl.raw(f"({L.API}) RuntimeError: Failed to infer device type, please set the environment variable "
                   "`VLLM_LOGGING_LEVEL=DEBUG` to turn on verbose logging to help debug the issue.")
            self.failed = True
        elif self.world > self.env.gpus:
            tl.raw(f"({L.API}) ValueError: World size ({self.world}) is larger than the number of available GPUs "
                   f"({self.env.gpus}) in this node. If this is intentional and you are using:")
            self.failed = True

    def _engine_core(self) -> None:
        tl, base, eng = self.tl, self.k.engine_base_seconds, L.engine()
        tl.wait(self._jit(0.15 * base))
        tl.log("__init__.py:216", "Automatically detected platform cuda.", proc=None)
        tl.log("core.py:644", "Waiting for init message from front-end.", proc=eng)
        tl.log("core.py:77", f"Initializing a V1 LLM engine (v{L.VERSION}) with config: model='{self.model}', "
               f"speculative_config=None, tokenizer='{self.model}', skip_tokenizer_init=False, tokenizer_mode=auto, "
               f"revision=None, trust_remote_code={bool(self.args.get('trust-remote-code'))}, dtype=torch.bfloat16, "
               f"max_seq_len={self.max_len}, download_dir={self.args.get('download-dir')!r}, "
               f"load_format={self.args.load_format}, tensor_parallel_size={self.tp}, "
               f"pipeline_parallel_size={self.world // self.tp}, data_parallel_size=1, "
               f"quantization={self.args.get('quantization')}, enforce_eager={self.args.enforce_eager}, "
               f"kv_cache_dtype=auto, device_config=cuda, seed=0, served_model_name={self.model}, "
               f"enable_prefix_caching=True, chunked_prefill_enabled=True, "
               f'compilation_config={{"level":{3 if self.compile else 0},"use_cudagraph":{str(self.graphs).lower()}}}',
               proc=eng)
        tl.memory(self.rss + self.shm_used)
        if self.world > 1:
            tl.wait(self._jit(2.0))
            tl.log("pynccl.py:70", "vLLM is using nccl==2.27.3", proc=L.engine(0))
            if self.env.shm_bytes < self.shm_used:
                self._nccl_failure()
                return
        tl.log("parallel_state.py:1208", f"rank 0 in world size {self.world} is assigned as DP rank 0, PP rank 0, "
               "TP rank 0, EP rank 0", proc=L.engine(0) if self.world > 1 else eng)
        tl.wait(self._jit(0.2 * base))

    def _nccl_failure(self) -> None:
        pod = self.env.pod["metadata"]["name"]
        suffix = hashlib.sha256(f"{pod}{self.env.restart_count}".encode()).hexdigest()[:6]
        self.tl.raw(*L.nccl_shm_failure(self.tl.at(), pod, suffix, NCCL_SEGMENT_BYTES))
        self.tl.wait(0.5)
        self._fail(L.ENGINE_INIT[:2], "Exception: WorkerProc initialization failed due to an exception in a "
                   "background process. See stack trace for root cause.")

    def _storage_rate(self) -> float:
        """GiB/s the weights can be read at, before the loader's own limit."""
        k, env = self.k, self.env
        if self.repo:
            mount = self.hub_mount
            return (mount.read_gib_per_s if mount else None) or k.disk_gib_per_s
        if env.modelcar and self.model.startswith("/mnt/models"):
            lazy = env.modelcar_lazy_until
            if lazy is not None and lazy > self.tl.at():
                return k.registry_mb_per_s * 1e6 / 2**30  # streamed modelcar: weights fetched on demand
            return k.disk_gib_per_s
        mount = mount_for(env.mounts, self.model)
        return (mount.read_gib_per_s if mount else None) or k.disk_gib_per_s

    def _weights(self) -> None:
        tl, eng, k = self.tl, L.engine(0) if self.world > 1 else L.engine(), self.k
        start = tl.now
        tl.log("gpu_model_runner.py:2602", f"Starting to load model {self.model}...", proc=eng)
        tl.log("gpu_model_runner.py:2634", "Loading model from scratch...", proc=eng)
        tl.log("cuda.py:366", "Using Flash Attention backend on V1 engine.", proc=eng)
        per_gpu = self.weights / max(1, self.tp)
        if self.repo and not self.offline and not self.cached:
            tl.raw(f"({eng}) WARNING:huggingface_hub.file_download:Xet Storage is enabled for this repo, but the "
                   "'hf_xet' package is not installed. Falling back to regular HTTP download. For better "
                   "performance, install the package with: `pip install huggingface_hub[hf_xet]` or "
                   "`pip install hf_xet`")
            seconds = self._jit(self.weights / (k.hf_hub_mb_per_s * 1e6))
            tl.wait(seconds)
            tl.log("weight_utils.py:581", f"Time spent downloading weights for {self.model}: {seconds:.6f} seconds",
                   proc=eng)
            location, model = self.hub_location, self.model
            tl.step().effect = lambda: self.state.write(location, f"hf:{model}")
        streamer = self.args.load_format.startswith("runai_streamer")
        storage = self._storage_rate()
        concurrency = max(1, as_int(self.args.loader_extra.get("concurrency")
                                    or self.vars.get("RUNAI_STREAMER_CONCURRENCY"), 16))
        rate = weight_gib_per_s(storage, loader_gib_per_s(k, self.args.load_format, concurrency))
        seconds = self._jit(L.gib(self.weights) / rate)
        if per_gpu / 2**30 > self.gpu_gib:
            tl.wait(seconds * self.gpu_gib / (per_gpu / 2**30))
            self._fail(L.LOAD, L.cuda_oom(0, self.gpu_gib, self.gpu_gib - 0.01, 260.0))
            return
        if streamer:
            self._stream(seconds, eng)
        else:
            shards = max(1, round(self.weights / 3.9e9))
            tl.log("weight_utils.py:392", "Using model weights format ['*.safetensors']", proc=eng)
            tl.raw(L.bar("Loading safetensors checkpoint shards", shards, 0, done=0))
            tl.wait(seconds)
            tl.raw(L.bar("Loading safetensors checkpoint shards", shards, seconds),
                   L.bar("Loading safetensors checkpoint shards", shards, seconds), f"({eng}) ")
            tl.log("default_loader.py:267", f"Loading weights took {seconds:.2f} seconds", proc=eng)
        tl.wait(self._jit(0.6))
        tl.log("gpu_model_runner.py:2653", f"Model loading took {L.gib(per_gpu):.4f} GiB and "
               f"{tl.now - start:.6f} seconds", proc=eng)
        tl.mark("weights_load", start)

    def _stream(self, seconds: float, eng: str) -> None:
        """The Run:ai streamer fills its CPU buffer as it reads; a tight memory limit is crossed mid-stream."""
        tl = self.tl
        limit_raw = self.args.loader_extra.get("memory_limit", self.vars.get("RUNAI_STREAMER_MEMORY_LIMIT"))
        limit = as_int(limit_raw, -1)
        buffer = min(self.weights, STREAMER_UNBOUNDED_BYTES if limit < 0 else limit)
        base = self.rss + self.shm_used
        tensors = max(1, int(self.weights / 45e6))
        desc = "Loading safetensors using Runai Model Streamer"
        tl.raw(L.bar(desc, tensors, 0, done=0))
        fill = seconds * min(1.0, buffer / self.weights)
        cap = self.env.memory_limit
        start = tl.now
        if cap is not None and base + buffer > cap:
            tl.wait(fill * max(0.0, min(1.0, (cap - base) / buffer)) + 0.1)
            tl.memory(base + buffer)  # the kubelet's cgroup limit ends it here
            tl.wait(max(0.0, seconds - (tl.now - start)))
        else:
            tl.wait(min(fill, seconds) * 0.5)
            tl.memory(base + buffer)
            tl.wait(seconds - min(fill, seconds) * 0.5)
        tl.raw(L.bar(desc, tensors, seconds))
        tl.log("file_streamer.py:69", f"[RunAI Streamer] Overall time to stream {L.human_gib(self.weights)} of all "
               f"files to cpu: {seconds:.2f}s, {L.human_gib(self.weights / max(seconds, 1e-3))}/s", proc=eng)
        tl.memory(base)

    def _init_engine(self) -> None:
        tl, k, base, eng = self.tl, self.k, self.k.engine_base_seconds, L.engine()
        init_start = tl.now
        if self.compile:
            self._compile(eng)
        tl.wait(self._jit(0.25 * base))
        budget = self.util * self.gpu_gib
        per_gpu = L.gib(self.weights / max(1, self.tp))
        kv = budget - per_gpu - ACTIVATION_GIB
        tl.log("gpu_worker.py:298", f"Available KV cache memory: {kv:.2f} GiB", proc=eng)
        if kv <= 0:
            self._fail(L.KV_CHECK, "ValueError: No available memory for the cache blocks. Try increasing "
                       "`gpu_memory_utilization` when initializing the engine.")
            return
        per_token = self.weights / 265_000 / max(1, self.tp)  # KV bytes per token per GPU (7B-class geometry)
        tokens = int(kv * 2**30 / per_token)
        if tokens < self.max_len:
            need = self.max_len * per_token / 2**30
            self._fail(L.KV_CHECK, f"ValueError: To serve at least one request with the models's max seq len "
                       f"({self.max_len}), ({need:.2f} GiB KV cache is needed, which is larger than the available "
                       f"KV cache memory ({kv:.2f} GiB). Based on the available memory, the estimated maximum model "
                       f"length is {tokens}. Try increasing `gpu_memory_utilization` or decreasing `max_model_len` "
                       "when initializing the engine.")
            return
        tl.log("kv_cache_utils.py:1087", f"GPU KV cache size: {tokens:,} tokens", proc=eng)
        tl.log("kv_cache_utils.py:1091", f"Maximum concurrency for {self.max_len:,} tokens per request: "
               f"{tokens / self.max_len:.2f}x", proc=eng)
        if self.graphs and not self._capture(eng, budget):
            return
        tl.wait(self._jit(0.15 * base))
        tl.log("core.py:210", f"init engine (profile, create kv cache, warmup model) took {tl.now - init_start:.2f} "
               "seconds", proc=eng)
        tl.mark("engine_init", init_start)
        api = self._jit(k.api_server_seconds)
        tl.wait(api * 0.4)
        tl.log("loggers.py:147", f"Engine 000: vllm cache_config_info with initialization after num_gpu_blocks is: "
               f"{tokens // 16}")
        tl.log("api_server.py:1637", "Supported_tasks: ['generate']")
        host = self.args.get("host", "0.0.0.0")
        self.ready_from = tl.now  # api_ready: from "Starting vLLM API server" to the Ready condition
        tl.log("api_server.py:1915", f"Starting vLLM API server 0 on http://{host}:{self.args.port}")
        tl.log("launcher.py:34", "Available routes are:")
        for route in L.ROUTES:
            methods = "POST" if route.startswith(("/v1/chat", "/v1/comp", "/v1/emb", "/tok", "/detok")) else "GET"
            tl.log("launcher.py:42", f"Route: {route}, Methods: {methods}")
        tl.wait(api * 0.6)
        tl.raw(L.uvicorn("Started server process [1]"), L.uvicorn("Waiting for application startup."),
               L.uvicorn("Application startup complete."))
        tl.step().health = Health(frozenset({self.args.port}), 200)

    def _compile(self, eng: str) -> None:
        tl, k = self.tl, self.k
        root = (self.vars.get("VLLM_CACHE_ROOT") or self.vars.get("XDG_CACHE_HOME", "/root/.cache").rstrip("/")
                + "/vllm")
        facts = (self.model, self.tp, self.world, self.args.get("dtype"), self.args.get("quantization"), self.max_len)
        key = hashlib.sha256(repr(facts).encode()).hexdigest()[:10]
        location = self.state.location(mount_for(self.env.mounts, root), self.env.pod_uid)
        warm = self.state.has(location, f"compile:{key}")
        tl.wait(self._jit(2.0))
        start = tl.now
        tl.log("backends.py:548", f"Using cache directory: {root}/torch_compile_cache/{key}/rank_0_0/backbone for "
               "vLLM's torch.compile", proc=eng)
        if warm:
            dynamo = self._jit(0.5 * k.compile_warm_seconds)
            tl.wait(dynamo)
            tl.log("backends.py:559", f"Dynamo bytecode transform time: {dynamo:.2f} s", proc=eng)
            loaded = self._jit(0.5 * k.compile_warm_seconds)
            tl.wait(loaded)
            tl.log("backends.py:161", f"Directly load the compiled graph(s) for dynamic shape from the cache, took "
                   f"{loaded:.3f} s", proc=eng)
            total = dynamo
        else:
            dynamo = self._jit(0.12 * k.compile_cold_seconds)
            tl.wait(dynamo)
            tl.log("backends.py:559", f"Dynamo bytecode transform time: {dynamo:.2f} s", proc=eng)
            graph = self._jit(0.88 * k.compile_cold_seconds)
            tl.wait(graph * 0.15)
            tl.log("backends.py:197", "Cache the graph for dynamic shape for later use", proc=eng)
            tl.wait(graph * 0.85)
            tl.log("backends.py:218", f"Compiling a graph for dynamic shape takes {graph:.2f} s", proc=eng)
            tl.step().effect = lambda: self.state.write(location, f"compile:{key}")
            total = dynamo + graph
        tl.wait(0.4)
        tl.log("monitor.py:34", f"torch.compile takes {total:.2f} s in total", proc=eng)
        tl.mark("compile", start)

    def _capture(self, eng: str, budget: float) -> bool:
        """CUDA graph capture; above MAX_SAFE_UTILIZATION the leftover GPU memory cannot hold the graph pools."""
        tl = self.tl
        start = tl.now
        seconds = self._jit(self.k.graph_capture_seconds)
        piecewise = "Capturing CUDA graphs (mixed prefill-decode, PIECEWISE)"
        full = "Capturing CUDA graphs (decode, FULL)"
        if self.util > MAX_SAFE_UTILIZATION:
            tl.wait(seconds * 0.4)
            tl.raw(L.bar(piecewise, 67, seconds * 0.4, done=27, vllm_style=False))
            in_use = min(self.gpu_gib - 0.02, budget + (self.gpu_gib - budget) * 0.97)
            self._fail(L.CAPTURE, L.cuda_oom(0, self.gpu_gib, in_use, 20.0))
            return False
        tl.wait(seconds * 0.7)
        tl.raw(L.bar(piecewise, 67, seconds * 0.7, vllm_style=False))
        tl.wait(seconds * 0.3)
        tl.raw(L.bar(full, 35, seconds * 0.3, vllm_style=False))
        took = 0.45 + (0.1 if self.world > 1 else 0.0)
        if self.world > 1 and self.vars.get("NCCL_CUMEM_ENABLE") not in (None, "", "0"):
            took += 0.5  # cuMem-backed NCCL buffers cannot share the graph pool (the env_override warning)
        tl.log("gpu_model_runner.py:3480", f"Graph capturing finished in {round(seconds)} secs, took {took:.2f} GiB",
               proc=eng)
        tl.mark("graph_capture", start)
        return True
