"""What a vLLM log line says about a failure: its kind and how good the line is as evidence.

Kinds, most specific first: `cuda_oom` (torch.OutOfMemoryError / CUDA out of memory), `nccl` (NCCL errors,
NCCL WARN about /dev/shm "No space left on device", NCCL error codes, collective timeouts), `crash`
(exceptions, tracebacks, engine core or worker start failures, non-zero exits) and `shutdown` (SIGTERM,
`Killed`, `Shutting down` at a graceful stop). A log's failure is its most specific kind, shown by that
kind's best line: for an OOM the OutOfMemoryError line, not the Traceback header above it.
"""

from __future__ import annotations

import re

FAILURE_KINDS = ("cuda_oom", "nccl", "crash", "shutdown")  # most to least specific

_EXCEPTION_LINE = re.compile(r"(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception)(?::|$)")
_NCCL_CODES = ("ncclUnhandledCudaError", "ncclSystemError", "ncclInternalError", "ncclInvalidUsage",
               "ncclRemoteError", "ncclInvalidArgument")


def classify(msg: str) -> tuple[str, int] | None:
    """The failure kind a line shows and how specific the line is (higher = better evidence)."""
    if "OutOfMemoryError" in msg or "CUDA out of memory" in msg or "CUDA error: out of memory" in msg:
        return "cuda_oom", 3
    if "No available memory for the cache blocks" in msg:
        return "cuda_oom", 2
    if "NCCL" in msg or "nccl" in msg:
        if "No space left on device" in msg and ("NCCL WARN" in msg or "shm" in msg):
            return "nccl", 5
        if any(code in msg for code in _NCCL_CODES):
            return "nccl", 4
        if "NCCL error" in msg:
            return "nccl", 3
        if "NCCL" in msg and ("timeout" in msg.lower() or "timed out" in msg):
            return "nccl", 3
    if "Watchdog caught collective operation timeout" in msg:
        return "nccl", 3
    stripped = msg.strip()
    if _EXCEPTION_LINE.match(stripped):
        return "crash", 5
    if ("Engine core initialization failed" in msg or "WorkerProc failed to start" in msg
            or "EngineCore failed to start" in msg or "Exception in worker" in msg
            or "EngineDeadError" in msg or "encountered a fatal error" in msg):
        return "crash", 4
    if ("exit code" in msg or "exitcode" in msg) and ("died" in msg or "exited" in msg or "failed" in msg):
        return "crash", 2
    if stripped.startswith("Traceback (most recent call last)"):
        return "crash", 1
    if "SIGTERM" in msg or "Received signal 15" in msg:
        return "shutdown", 3
    if stripped == "Killed" or stripped.startswith("Killed "):
        return "shutdown", 2
    if "Shutting down" in msg:
        return "shutdown", 1
    return None


