"""What a log line says about a failure: its kind and how good the line is as evidence.

The lines that matter most often arrive without vLLM's prefix (NCCL, the kernel, torch, Ray and the shell write
them), so every line of a log is asked, prefixed or not. Kinds, most specific first:

    cuda_oom  torch.OutOfMemoryError / CUDA out of memory / no memory left for the KV cache blocks
    nccl      NCCL errors; the /dev/shm trap: NCCL's `Error while creating shared memory segment /dev/shm/nccl-...`,
              `No space left on device` on shm, and the `Bus error` / SIGBUS a full /dev/shm raises; collective
              (watchdog) timeouts
    killed    SIGKILL from outside: a bare `Killed` (the kernel's OOM killer, also glued to a progress bar), a
              worker that died with exit code -9 / 137
    timeout   a rendezvous or handshake that never completed (Gloo connectFullMesh, TimeoutError, "timed out")
    crash     exceptions, tracebacks, engine core or worker start failures, other non-zero exits
    shutdown  SIGTERM, `Shutting down` at a graceful stop

A log's failure is its most specific kind, shown by that kind's best line: for an OOM the OutOfMemoryError line,
not the Traceback header above it.
"""

from __future__ import annotations

import re

FAILURE_KINDS = ("cuda_oom", "nccl", "killed", "timeout", "crash", "shutdown")  # most to least specific

_EXCEPTION_LINE = re.compile(r"(?:[A-Za-z_][\w]*\.)*[A-Z]\w*(?:Error|Exception)(?::|$)")
_NCCL_CODES = ("ncclUnhandledCudaError", "ncclSystemError", "ncclInternalError", "ncclInvalidUsage",
               "ncclRemoteError", "ncclInvalidArgument")
_KILLED_CODE = re.compile(r"exit ?code:? ?(?:-9|137)\b|\bsignal 9\b|\bSIGKILL\b|\b[Kk]illed by signal\b")
_TIMED_OUT = re.compile(r"\b(?:TimeoutError|[Tt]imed out|DistStoreError|[Hh]andshake (?:timeout|timed out|failed))")


def _nccl(msg: str) -> int:
    """How strongly a line shows an NCCL / shared-memory failure (0: it does not)."""
    if "shared memory segment" in msg or "/dev/shm/nccl-" in msg:  # NCCL's own words for the shm trap first
        if "rror" in msg or "failed" in msg or "No space" in msg:
            return 6 if "shared memory segment" in msg else 5
        return 0
    if "Bus error" in msg or "SIGBUS" in msg:
        return 4  # a full /dev/shm surfaces as SIGBUS on first touch
    if "NCCL" in msg or "nccl" in msg:
        if "No space left on device" in msg:
            return 5
        if any(code in msg for code in _NCCL_CODES):
            return 4
        if "NCCL error" in msg:
            return 3
        if "NCCL" in msg and ("timeout" in msg.lower() or "timed out" in msg):
            return 3
    if "Watchdog caught collective operation timeout" in msg:
        return 3
    return 0


def classify(msg: str) -> tuple[str, int] | None:
    """The failure kind a line shows and how specific the line is (higher = better evidence)."""
    if "OutOfMemoryError" in msg or "CUDA out of memory" in msg or "CUDA error: out of memory" in msg:
        return "cuda_oom", 3
    if "No available memory for the cache blocks" in msg:
        return "cuda_oom", 2
    if rank := _nccl(msg):
        return "nccl", rank
    stripped = msg.strip()
    if stripped == "Killed" or stripped.startswith("Killed ") or stripped.endswith("]Killed"):
        return "killed", 3
    if ("died" in msg or "exit" in msg or "illed" in msg or "KILL" in msg) and _KILLED_CODE.search(msg):
        return "killed", 2
    if "Gloo" in msg and ("connectFullMesh failed" in msg or "imeout" in msg or "timed out" in msg):
        return "timeout", 4
    if ("imeout" in msg or "imed out" in msg or "DistStore" in msg or "andshake" in msg) and _TIMED_OUT.search(msg):
        return "timeout", 3
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
    if "Shutting down" in msg:
        return "shutdown", 1
    return None
