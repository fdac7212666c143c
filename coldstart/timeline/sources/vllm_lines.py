"""How one line of a vLLM log is read: prefixes stripped (see `prefixes`), the message matched for meaning.

`vllm_log.parse_vllm_log` finds the lines worth reading; `LineReader` reads each of them and keeps what spans
lines (the last stamp for tracebacks, hard-wrapped config and timing lines, lazy per-size graph captures, the
engine generation, which container wrote what, the failure candidates).
"""

from __future__ import annotations

import re
from typing import Any

from coldstart.timeline.sources.prefixes import LineSplitter
from coldstart.timeline.sources.vllm_failures import FAILURE_KINDS, classify
from coldstart.timeline.sources.vllm_model import Stamp, Timing, VllmLog

_NUM = r"(\d[\d,]*(?:\.\d+)?)"
_WEIGHTS = re.compile(r"Loading weights took " + _NUM + r"\s*s")
_MODEL_LOAD = re.compile(r"Model loading took " + _NUM + r"\s*(GiB|GB|MiB|MB)(?: memory)?(?:,? and " + _NUM + r"\s*s)?")
_V0_WEIGHTS = re.compile(r"Loading model weights took " + _NUM + r"\s*(GiB|GB|MiB|MB)(?:,? and " + _NUM + r"\s*s)?")
_STREAM = re.compile(r"Overall time to stream " + _NUM + r"\s*([KMGTP]i?B|[kKMGTP]B|Bytes?|B)\b of all files"
                     r"(?: to [^:]+)?:\s*" + _NUM + r"\s*s(?:,\s*" + _NUM + r"\s*([KMGTP]i?B|[kKMGTP]B|Bytes?|B)/s)?")
_TQDM_ELAPSED = re.compile(r"100%.*?\[(?:(\d+):)?(\d+):(\d+)<")
_COMPILE = re.compile(r"torch\.compile (?:takes|took) " + _NUM + r"\s*s in total")
_CACHE_LOAD = re.compile(r"Directly load the compiled graph.*?took " + _NUM + r"\s*s")
_COMPILE_GRAPH = re.compile(r"Compiling a graph for (?:general shape|dynamic shape|compile range \([^)]*\))"
                            r" takes " + _NUM + r"\s*s")
_LAZY_GRAPH = re.compile(r"finished in " + _NUM + r"\s*secs?(?:,\s*took " + _NUM + r"\s*(GiB|MiB))?")
_DYNAMO = re.compile(r"Dynamo bytecode transform time:\s*" + _NUM + r"\s*s")
_GRAPHS = re.compile(r"Graph capturing finished in " + _NUM + r"\s*secs?(?:,\s*took " + _NUM + r"\s*GiB)?")
_KV_GIB = re.compile(r"Available KV cache memory:\s*" + _NUM + r"\s*GiB")
_BLOCKS = re.compile(r"# (?:GPU|cuda|CUDA|npu|xpu|hpu) blocks:\s*(\d+)(?:,\s*# CPU blocks:\s*(\d+))?")
_KV_TOKENS = re.compile(r"KV cache size:\s*" + _NUM + r"\s*tokens")
_NUM_GPU_BLOCKS = re.compile(r"num_gpu_blocks is:\s*(\d+)")
_INIT_ENGINE = re.compile(r"init engine \([^)]*\) took " + _NUM + r"\s*s")
_VERSION = re.compile(r"vLLM API server version v?(\S+)|LLM engine \(v([^)\s]+)\)"
                      r"|\bvLLM (?:server )?version:? v?(\d[\w.+-]*)")
_CFG = {
    "enforce_eager": re.compile(r"\benforce_eager['\"]?\s*[=:]\s*(True|False|true|false)"),
    "tensor_parallel_size": re.compile(r"\btensor_parallel_size['\"]?\s*[=:]\s*(\d+)"),
    "load_format": re.compile(r"\bload_format['\"]?\s*[=:]\s*['\"<]?(?:LoadFormat\.)?([A-Za-z_]+)"),
    "device": re.compile(r"\bdevice_config=([A-Za-z]+)"),
}
_CLI = {
    "load_format": re.compile(r"--load[-_]format[= ]+['\"]?([A-Za-z_]+)"),
    "tensor_parallel_size": re.compile(r"(?:--tensor[-_]parallel[-_]size|\s-tp)[= ]+(\d+)"),
}
_COMMAND = re.compile(r"(?:^|[\s$])(?:vllm serve|python[\d.]* -m vllm\.entrypoints)\b")
_WORKER = re.compile(r"\(VllmWorker(?:Process)?(?: TP(?P<tp>\d+)| rank=(?P<rank>\d+))?[^()]*? pid=(?P<pid>\d+)")
_P2P_CACHE = re.compile(r"gpu_p2p_access_cache_for_([\d,]+)\.json")
_PLATFORM = re.compile(r"Automatically detected platform (\w+)")
_WRAPPABLE = ("Dynamo bytecode", "Directly load", "KV cache size", "KV cache memory", "took", "takes", "finished in",
              "time to stream")  # the phrases a figure follows, where a paste's wrap may fall


def _num(text: str) -> float:
    return float(text.replace(",", ""))


_SIZE_UNITS = {"B": 1, "Byte": 1, "Bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50,
               "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}


class LineReader:
    """One pass over the lines; keeps the state that spans lines (stamps, wrapped lines, sources, failures)."""

    def __init__(self, source: str, lines: list[str]) -> None:
        self.log = VllmLog(source=source)
        self.stamp = Stamp()
        self.splitter = LineSplitter()
        self.config_buf: list[str] = []
        self.config_priority = 0
        self.cfg_seen: dict[str, int] = {}
        # kind index, -rank, line_no, line, stamp, the container that wrote it
        self.failures: list[tuple[int, int, int, str, Stamp, str | None]] = []
        self.engine_strength = 0
        self.raw_lines = lines  # the lines read so far, or the last few hundred of them when the log is streamed
        self.base = 0  # how many earlier lines were dropped from raw_lines
        self.wrapped: tuple[int, str, str, Stamp] | None = None  # a timing line cut before its figure
        self.sources: dict[str, list[int]] = {}  # container -> [vLLM-prefixed lines, recognised lines]
        self.lazy_graphs: list[float] = []  # seconds of each size captured lazily, one line per size
        self.lazy_open = False  # a `Graph capturing for N input tokens` line waits for its `finished in`
        self.lazy_last: tuple[int, str, Stamp] | None = None
        self.p2p_gpus = 0
        self.workers: set[int] = set()  # V1 worker TP ranks (>= 0), V0 worker processes (-pid)

    def stamp_before(self, index: int) -> Stamp:
        """The stamp of the nearest earlier line that has one (tracebacks and uvicorn lines carry none)."""
        for i in range(index - 1 - self.base, max(-1, index - 500 - self.base), -1):
            stamp = self.splitter.split(self.raw_lines[i].rstrip("\r")).stamp
            if stamp is not None:
                return stamp
        return Stamp()

    # -- one message ------------------------------------------------------------------------------
    def timing(self, name: str, seconds: float, line_no: int, raw: str) -> None:
        self.log.timings.append(Timing(name, seconds, self.stamp, line_no, raw))

    def read(self, line_no: int, raw: str) -> None:
        split = self.splitter.split(raw)
        msg, stamp, prefixed, source = split.message, split.stamp, split.vllm, split.source
        if self.wrapped is not None:
            before, before_raw, before_msg, before_stamp = self.wrapped
            self.wrapped = None
            if before == line_no - 1 and stamp is None and msg.strip() and not self.config_buf:
                self.stamp = before_stamp  # the rest of the line above, broken by a paste: read the two as one
                self.message(before, f"{before_raw} {msg.strip()}", f"{before_msg.rstrip()} {msg.strip()}", False,
                             None, rejoined=True)
                return
        self.stamp = stamp if stamp is not None else self.stamp_before(line_no - 1)
        if stamp is not None:
            self.log.marks.setdefault("first_line", stamp)
        if prefixed or not msg.strip():
            if self.config_buf:
                self.flush_config()
        elif self.config_buf:
            self.config_buf.append(msg)  # a hard-wrapped continuation of a config line
        if source is not None:
            counts = self.sources.setdefault(source, [0, 0])
            counts[0] += prefixed
        self.message(line_no, raw, msg, prefixed, source)

    def message(self, line_no: int, raw: str, msg: str, prefixed: bool, source: str | None, *,
                rejoined: bool = False) -> None:
        """Read one message for meaning (`rejoined`: a line a paste had cut, completed by the next one)."""
        if "**" in msg:
            msg = msg.replace("**", "")
        hit = prefixed
        log = self.log
        timed = False
        if ("took" in msg or "takes" in msg or "finished in" in msg or "time to stream" in msg
                or "Dynamo" in msg or "Directly load" in msg or "Graph capturing for" in msg):
            timed = self.timings(msg, line_no, raw)
        if "KV cache" in msg or "blocks" in msg:
            timed = self.memory(msg) or timed
        if not timed and not rejoined and _cut(msg):
            self.wrapped = (line_no, raw, msg, self.stamp)
        hit = hit or timed
        if "version" in msg or "LLM engine (v" in msg:
            m = _VERSION.search(msg)
            if m and log.version is None:
                log.version = next(g for g in m.groups() if g)
                hit = True
        if "with config:" in msg or "Namespace(" in msg or "non-default args" in msg:
            self.flush_config()
            self.config_buf = [msg]
            self.config_priority = 3 if "with config:" in msg else 2
            hit = True
        elif " --" in msg and _COMMAND.search(msg):
            self.config(msg, priority=1, cli=True)
        if "Automatically detected platform" in msg:
            m = _PLATFORM.search(msg)
            if m:
                self.set_cfg("device", m.group(1).lower(), 0)
        if ("Starting vLLM API server" in msg or "Starting vLLM server" in msg or "Uvicorn running on" in msg
                or "Started server process" in msg):
            log.api_server_started = True
            if log.api_server_line is None:
                log.api_server_line = raw
                log.marks["api_server"] = self.stamp
            hit = True
        if "Application startup complete" in msg:
            log.ready = True
            if log.ready_line is None:
                log.ready_line = raw
                log.marks["ready"] = self.stamp
            hit = True
        if "Runai Model Streamer" in msg and "100%" in msg:
            m = _TQDM_ELAPSED.search(msg)
            if m:
                hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
                log.extras["streamer_progress_seconds"] = hours * 3600 + minutes * 60 + seconds
            hit = True
        if self.engine_strength < 2:
            self.engine_hint(msg, raw)
        if "P2P" in msg and (m := _P2P_CACHE.search(msg)):  # custom all-reduce's cache names the TP group's GPUs
            self.p2p_gpus = len(m.group(1).split(","))
        if "(VllmWorker" in raw and (m := _WORKER.search(raw)):
            rank = m.group("tp") or m.group("rank")
            self.workers.add(int(rank) if rank is not None else -int(m.group("pid")))
        if found := classify(msg):  # a failure candidate; finish() keeps the most specific
            self.failures.append((FAILURE_KINDS.index(found[0]), -found[1], line_no, raw, self.stamp, source))
            hit = True  # a log that shows only its failure still says something
        if hit and not rejoined:
            log.recognised += 1
            if source is not None:
                self.sources[source][1] += 1

    def timings(self, msg: str, line_no: int, raw: str) -> bool:
        log = self.log
        if m := _WEIGHTS.search(msg):
            seconds = _num(m.group(1))
            log.weights_seconds = max(seconds, log.weights_seconds or 0.0)
            self.timing("weights", seconds, line_no, raw)
        elif m := _MODEL_LOAD.search(msg) or _V0_WEIGHTS.search(msg):
            log.model_load_gib = max(_num(m.group(1)), log.model_load_gib or 0.0)
            log.model_load_unit = m.group(2)
            if m.group(3):
                seconds = _num(m.group(3))
                log.model_load_seconds = max(seconds, log.model_load_seconds or 0.0)
                self.timing("model_load", seconds, line_no, raw)
        elif m := _STREAM.search(msg):
            size = _num(m.group(1)) * _SIZE_UNITS.get(m.group(2), 1)
            seconds = _num(m.group(3))
            if log.streamer_seconds is None or seconds >= log.streamer_seconds:
                log.streamer_bytes, log.streamer_seconds = int(size), seconds
                if m.group(4):
                    rate = _num(m.group(4)) * _SIZE_UNITS.get(m.group(5), 1)
                else:
                    rate = size / seconds if seconds else 0.0
                log.streamer_gib_per_s = round(rate / 2**30, 4)
            self.timing("streamer", seconds, line_no, raw)
        elif m := _COMPILE.search(msg):
            seconds = _num(m.group(1))
            log.compile_seconds = max(seconds, log.compile_seconds or 0.0)
            self.timing("compile", seconds, line_no, raw)
        elif "Directly load the compiled graph" in msg or "Directly load AOT compil" in msg:
            if log.compile_cache_hit is None:
                log.compile_cache_hit = True
            if m := _CACHE_LOAD.search(msg):
                log.extras["compiled_graph_cache_load_seconds"] = _num(m.group(1))
        elif m := _COMPILE_GRAPH.search(msg):
            log.compile_cache_hit = False
            log.extras["compile_graph_general_shape_seconds"] = _num(m.group(1))
        elif m := _GRAPHS.search(msg):
            seconds = _num(m.group(1))
            log.graph_capture_seconds = max(seconds, log.graph_capture_seconds or 0.0)
            if m.group(2):
                log.graph_capture_gib = _num(m.group(2))
            self.timing("graph_capture", seconds, line_no, raw)
        elif "Graph capturing for" in msg or (self.lazy_open and "finished in" in msg):
            return self.lazy_graph(msg, line_no, raw)
        elif m := _INIT_ENGINE.search(msg):
            seconds = _num(m.group(1))
            log.engine_init_seconds = max(seconds, log.engine_init_seconds or 0.0)
            self.timing("engine_init", seconds, line_no, raw)
        elif m := _DYNAMO.search(msg):
            log.extras["dynamo_bytecode_transform_seconds"] = _num(m.group(1))
        else:
            return False
        return True

    def lazy_graph(self, msg: str, line_no: int, raw: str) -> bool:
        """Newer vLLM captures CUDA graphs per batch size as they are needed: `Graph capturing for N input tokens`,
        then (on the same or the next line) `finished in S secs, took M MiB`; the sizes add up to the capture."""
        if "Graph capturing for" in msg:
            self.lazy_open = True
        if not self.lazy_open or (m := _LAZY_GRAPH.search(msg)) is None:
            return self.lazy_open
        self.lazy_open = False
        self.lazy_graphs.append(_num(m.group(1)))
        self.lazy_last = (line_no, raw, self.stamp)
        return True

    def memory(self, msg: str) -> bool:
        log = self.log
        if m := _KV_GIB.search(msg):
            log.kv_cache_gib = _num(m.group(1))
            log.extras["available_kv_cache_gib"] = log.kv_cache_gib
        elif m := _BLOCKS.search(msg):
            log.extras["num_gpu_blocks"] = int(m.group(1))
            if m.group(2):
                log.extras["num_cpu_blocks"] = int(m.group(2))
        elif m := _KV_TOKENS.search(msg):
            log.extras["kv_cache_tokens"] = int(_num(m.group(1)))
        elif m := _NUM_GPU_BLOCKS.search(msg):
            log.extras.setdefault("num_gpu_blocks", int(m.group(1)))
        else:
            return False
        return True

    # -- configuration ----------------------------------------------------------------------------
    def set_cfg(self, key: str, value: Any, priority: int) -> None:
        if priority >= self.cfg_seen.get(key, -1):
            setattr(self.log, key, value)
            self.cfg_seen[key] = priority

    def config(self, text: str, priority: int, cli: bool = False) -> None:
        patterns = _CLI if cli else _CFG
        for key, pattern in patterns.items():
            if m := pattern.search(text):
                value: Any = m.group(1)
                if key == "enforce_eager":
                    value = value.lower() == "true"
                elif key == "tensor_parallel_size":
                    value = int(value)
                else:
                    value = value.lower()
                self.set_cfg(key, value, priority)
        if cli and "--enforce-eager" in text:
            self.set_cfg("enforce_eager", True, priority)

    def flush_config(self) -> None:
        if self.config_buf:
            self.config("".join(self.config_buf), self.config_priority)
            self.config_buf = []

    # -- engine generation and failures -----------------------------------------------------------
    def engine_hint(self, msg: str, raw: str) -> None:
        strong = None
        if "V1 LLM engine" in msg:
            strong = "V1"
        elif "V0 LLM engine" in msg or "Initializing an LLM engine" in msg or "Falling back to V0" in msg:
            strong = "V0"
        if strong:
            if self.engine_strength < 2:
                self.log.engine, self.engine_strength = strong, 2
            return
        if self.engine_strength:
            return
        if ("EngineCore" in raw or "V1 engine" in msg or "gpu_model_runner.py" in raw or "[core.py" in raw
                or "[v1/" in raw or "/vllm/v1/" in raw):  # V1's modules live under vllm/v1/
            self.log.engine, self.engine_strength = "V1", 1
        elif ("MQLLMEngine" in msg or "VllmWorkerProcess" in raw or " model_runner.py" in raw
              or ("init engine" in msg and "llm_engine.py" in raw)):  # V1 says init engine from core.py
            self.log.engine, self.engine_strength = "V0", 1

    def finish(self) -> VllmLog:
        self.flush_config()
        log = self.log
        if log.engine is None and log.version and re.match(r"0\.[0-7]\.", log.version):
            log.engine = "V0"  # releases before 0.8 had only the V0 engine
        if self.lazy_graphs and self.lazy_last is not None:
            total = round(sum(self.lazy_graphs), 6)
            log.extras["graph_capture_sizes"] = len(self.lazy_graphs)
            log.extras["graph_capture_per_size_seconds"] = total
            if log.graph_capture_seconds is None:  # no total line: the sizes captured are the capture
                line_no, raw, self.stamp = self.lazy_last
                log.graph_capture_seconds = total
                self.timing("graph_capture", total, line_no, raw)
        if log.tensor_parallel_size is None and (self.workers or self.p2p_gpus):  # no config line says: the GPUs
            ranks = [w for w in self.workers if w >= 0]  # of the P2P cache, else the ranks that spoke (an excerpt
            seen = max(ranks) + 1 if ranks else len(self.workers) + 1 if self.workers else 0  # may miss some;
            log.tensor_parallel_size = max(self.p2p_gpus, seen)  # V0's workers are TP-1 beside the driver)
        log.containers = list(self.sources)
        if self.sources:  # the container that wrote vLLM's own lines, then the most recognised ones
            log.container = max(self.sources, key=lambda name: tuple(self.sources[name]))
        failures = [f for f in self.failures if f[5] is None or f[5] == log.container]
        if failures:
            kind_index, _, _, line, stamp, _ = min(failures)
            log.failure = FAILURE_KINDS[kind_index]
            log.failure_line = line
            log.marks["failure"] = stamp
            if not log.ready:
                log.ready = False
        return log


_FIGURE = re.compile(r"\d\s*(?:s|secs?|seconds|GiB|MiB|GB|MB|tokens|%)\b")


def _cut(msg: str) -> bool:
    """A timing line a paste broke before its figure (`Dynamo bytecode transform time:` / `5.03 s`)."""
    for phrase in _WRAPPABLE:
        at = msg.rfind(phrase)
        if at != -1:  # the figure would follow closely: a line that goes on long after the phrase is whole
            return len(msg) - at - len(phrase) <= 40 and _FIGURE.search(msg, at) is None
    return False
