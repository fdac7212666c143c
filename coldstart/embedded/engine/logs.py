"""vLLM's log lines, written the way vLLM v0.11 (V1 engine) writes them, so one log parser serves real and
simulated pods: `(EngineCore_DP0 pid=164) INFO 11-27 08:13:06 [gpu_model_runner.py:2653] Model loading took ...`,
tqdm progress bars without prefix, uvicorn's `INFO:     Application startup complete.`, and the tracebacks the
engine and API server print when startup fails. File names and line numbers follow v0.11.0's sources where the
message comes from; the timestamp is the container's clock (UTC) at the moment the line is written.
"""

from __future__ import annotations

from datetime import UTC, datetime

VERSION = "0.11.0"
API = "APIServer pid=1"
ENGINE_PID = 164
SITE = "/usr/local/lib/python3.12/dist-packages"
ROUTES = ("/openapi.json", "/docs", "/health", "/load", "/ping", "/tokenize", "/detokenize", "/v1/models",
          "/version", "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/metrics")


def engine(rank: int | None = None) -> str:
    """Process prefix of the engine core (or of tensor-parallel worker `rank`)."""
    if rank is None:
        return f"EngineCore_DP0 pid={ENGINE_PID}"
    return f"Worker_TP{rank} pid={ENGINE_PID + 67 + 4 * rank}"


def stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%m-%d %H:%M:%S")


def log(t: float, source: str, message: str, *, proc: str | None = API, level: str = "INFO") -> str:
    text = f"{level} {stamp(t)} [{source}] {message}"
    return f"({proc}) {text}" if proc else text


def uvicorn(message: str) -> str:
    return f"({API}) INFO:     {message}"


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes:02d}:{secs:02d}"


def bar(description: str, total: int, seconds: float, *, done: int | None = None, vllm_style: bool = True) -> str:
    """A tqdm line: vLLM's own bars say `100% Completed | 4/4`, plain tqdm ones draw a bar."""
    done = total if done is None else done
    pct = int(100 * done / max(total, 1))
    slow = done and seconds / done >= 1
    rate = f"{seconds / max(done, 1):.2f}s/it" if slow else f"{done / max(seconds, 1e-3):.2f}it/s"
    left = "00:00" if done == total else "?"
    stats = f"[{clock(seconds)}<{left}, {rate:>9}]" if done else "[00:00<?, ?it/s]"
    if vllm_style:
        return f"{description}: {pct:3d}% Completed | {done}/{total} {stats}"
    width = 50
    filled = "█" * int(width * done / max(total, 1))
    return f"{description}: {pct:3d}%|{filled:<{width}}| {done}/{total} {stats}"


def gib(n_bytes: float) -> float:
    return n_bytes / 2**30


def human_gib(n_bytes: float) -> str:
    """humanize.naturalsize(binary=True) as the Run:ai streamer prints sizes: `14.2 GiB`, `664.3 MiB`."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{int(n_bytes)} Bytes"


def traceback(t: float, proc: str, source: str, frames: list[tuple[str, int, str, str]], error: str) -> list[str]:
    """A logged exception: `ERROR ... [core.py:708] Traceback ...`, one frame per two lines."""
    lines = [log(t, source, "EngineCore failed to start.", proc=proc, level="ERROR"),
             log(t, source, "Traceback (most recent call last):", proc=proc, level="ERROR")]
    for path, line, func, code in frames:
        lines.append(log(t, source, f'  File "{SITE}/{path}", line {line}, in {func}', proc=proc, level="ERROR"))
        lines.append(log(t, source, f"    {code}", proc=proc, level="ERROR"))
    lines.append(log(t, source, error, proc=proc, level="ERROR"))
    return lines


ENGINE_INIT = [
    ("vllm/v1/engine/core.py", 699, "run_engine_core", "engine_core = EngineCoreProc(*args, **kwargs)"),
    ("vllm/v1/engine/core.py", 498, "__init__", "super().__init__(vllm_config, executor_class, log_stats,"),
    ("vllm/v1/engine/core.py", 92, "__init__", "self._initialize_kv_caches(vllm_config)"),
]
CAPTURE = ENGINE_INIT + [
    ("vllm/v1/engine/core.py", 207, "_initialize_kv_caches",
     "self.model_executor.initialize_from_config(kv_cache_configs)"),
    ("vllm/v1/executor/abstract.py", 75, "initialize_from_config", 'self.collective_rpc("compile_or_warm_up_model")'),
    ("vllm/v1/worker/gpu_worker.py", 345, "compile_or_warm_up_model",
     "cuda_graph_memory_bytes = self.model_runner.capture_model()"),
    ("vllm/v1/worker/gpu_model_runner.py", 3440, "capture_model", "self._capture_cudagraphs("),
    ("vllm/v1/worker/gpu_model_runner.py", 3522, "_capture_cudagraphs",
     "self._dummy_run(num_tokens, cudagraph_runtime_mode=mode,"),
    ("torch/utils/_contextlib.py", 120, "decorate_context", "return func(*args, **kwargs)"),
]
KV_CHECK = ENGINE_INIT + [
    ("vllm/v1/engine/core.py", 199, "_initialize_kv_caches",
     "kv_cache_configs = get_kv_cache_configs(vllm_config, kv_cache_specs,"),
    ("vllm/v1/core/kv_cache_utils.py", 1205, "get_kv_cache_configs",
     "check_enough_kv_cache_memory(vllm_config, kv_cache_spec_one_worker,"),
    ("vllm/v1/core/kv_cache_utils.py", 686, "check_enough_kv_cache_memory", "raise ValueError("),
]
LOAD = [
    ("vllm/v1/engine/core.py", 699, "run_engine_core", "engine_core = EngineCoreProc(*args, **kwargs)"),
    ("vllm/v1/engine/core.py", 83, "__init__", "self.model_executor = executor_class(vllm_config)"),
    ("vllm/v1/worker/gpu_worker.py", 227, "load_model", "self.model_runner.load_model(eep_scale_up=eep_scale_up)"),
    ("vllm/v1/worker/gpu_model_runner.py", 2635, "load_model", "self.model = model_loader.load_model("),
    ("vllm/model_executor/model_loader/base_loader.py", 45, "load_model",
     "model = initialize_model(vllm_config=vllm_config,"),
]
NCCL = [
    ("vllm/v1/executor/multiproc_executor.py", 571, "worker_main", "worker = WorkerProc(*args, **kwargs)"),
    ("vllm/v1/executor/multiproc_executor.py", 430, "__init__", "self.worker.init_device()"),
    ("vllm/worker/worker_base.py", 259, "init_device", "self.worker.init_device()  # type: ignore"),
    ("vllm/v1/worker/gpu_worker.py", 187, "init_device", "init_worker_distributed_environment(self.vllm_config,"),
    ("vllm/distributed/device_communicators/pynccl.py", 139, "__init__",
     "self.comm: ncclComm_t = self.nccl.ncclCommInitRank("),
]
API_FAILURE = [
    ("vllm/entrypoints/openai/api_server.py", 1953, "<module>", "uvloop.run(run_server(args))"),
    ("vllm/entrypoints/openai/api_server.py", 1884, "run_server",
     "await run_server_worker(listen_address, sock, args, **uvicorn_kwargs)"),
    ("vllm/entrypoints/openai/api_server.py", 1902, "run_server_worker", "async with build_async_engine_client("),
    ("vllm/v1/engine/utils.py", 880, "wait_for_engine_startup",
     'raise RuntimeError("Engine core initialization failed. "'),
]


def api_server_failure(t: float) -> list[str]:
    """What the API server prints when its engine core did not come up; the container then exits 1."""
    lines = [f"({API}) Traceback (most recent call last):"]
    for path, line, func, code in API_FAILURE:
        lines += [f'({API})   File "{SITE}/{path}", line {line}, in {func}', f"({API})     {code}"]
    lines.append(f"({API}) RuntimeError: Engine core initialization failed. See root cause above. "
                 "Failed core proc(s): {}")
    return lines


def cuda_oom(gpu: int, total_gib: float, in_use_gib: float, tried_mib: float) -> str:
    free_mib = max(0.0, (total_gib - in_use_gib) * 1024)
    torch_gib = in_use_gib - 0.42
    return (f"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate {tried_mib:.2f} MiB. GPU {gpu} has a "
            f"total capacity of {total_gib:.2f} GiB of which {free_mib:.2f} MiB is free. Including non-PyTorch memory, "
            f"this process has {in_use_gib:.2f} GiB memory in use. Of the allocated memory {torch_gib:.2f} GiB is "
            f"allocated by PyTorch, and 203.52 MiB is reserved by PyTorch but unallocated. If reserved but "
            "unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid "
            "fragmentation.  See documentation for Memory Management  "
            "(https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")


def nccl_shm_failure(t: float, pod: str, suffix: str, segment_bytes: int) -> list[str]:
    """NCCL cannot create its /dev/shm segment (NCCL's own WARN line, then the worker's traceback)."""
    worker, src = engine(0), "multiproc_executor.py:597"
    lines = [f"{pod}:{ENGINE_PID + 67}:{ENGINE_PID + 412} [0] misc/shmutils.cc:129 NCCL WARN Error while creating "
             f"shared memory segment /dev/shm/nccl-{suffix} (size {segment_bytes}), error: No space left on device "
             "(28)",
             log(t, src, "WorkerProc failed to start.", proc=worker, level="ERROR"),
             log(t, src, "Traceback (most recent call last):", proc=worker, level="ERROR")]
    for path, line, func, code in NCCL:
        lines += [log(t, src, f'  File "{SITE}/{path}", line {line}, in {func}', proc=worker, level="ERROR"),
                  log(t, src, f"    {code}", proc=worker, level="ERROR")]
    lines.append(log(t, src, "RuntimeError: NCCL error: unhandled system error (run with NCCL_DEBUG=INFO for details)",
                     proc=worker, level="ERROR"))
    return lines
