"""How one line of a vLLM log is read: prefixes stripped, the message matched for meaning.

`vllm_log.parse_vllm_log` finds the lines worth reading; `LineReader` reads each of them and keeps what spans
lines (the last stamp for tracebacks, hard-wrapped config lines, the engine generation, the
failure candidates).
"""

from __future__ import annotations

import re
from typing import Any

from coldstart.kube.times import parse_timestamp
from coldstart.timeline.sources.vllm_failures import FAILURE_KINDS, classify
from coldstart.timeline.sources.vllm_model import Stamp, Timing, VllmLog

_RUNTIME_TS = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?)\s+")
_PROCESS = re.compile(r"\(\s*[A-Za-z_][\w.-]*(?:[ ,]+[\w.-]+=[^\s,)]*)*\s*\)\s?")
_VLLM_PREFIX = re.compile(
    r"(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s+(?P<mon>\d\d)-(?P<day>\d\d)\s+"
    r"(?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:[.,](?P<frac>\d+))?\s+(?:\[[^\]]*\]|[\w./-]+:\d+\])\s?")
_BRACKET_TS = re.compile(r"\[(?:(?P<year>\d{4})-)?(?P<mon>\d\d)-(?P<day>\d\d)[ T](?P<h>\d\d):(?P<m>\d\d):"
                         r"(?P<s>\d\d)(?:[.,](?P<frac>\d+))?\]\s?")

_NUM = r"(\d[\d,]*(?:\.\d+)?)"
_WEIGHTS = re.compile(r"Loading weights took " + _NUM + r"\s*s")
_MODEL_LOAD = re.compile(r"Model loading took " + _NUM + r"\s*(GiB|GB|MiB|MB)(?: memory)?(?:,? and " + _NUM + r"\s*s)?")
_V0_WEIGHTS = re.compile(r"Loading model weights took " + _NUM + r"\s*(GiB|GB|MiB|MB)(?:,? and " + _NUM + r"\s*s)?")
_STREAM = re.compile(r"Overall time to stream " + _NUM + r"\s*([KMGTP]i?B|[kKMGTP]B|Bytes?|B)\b of all files"
                     r"(?: to [^:]+)?:\s*" + _NUM + r"\s*s(?:,\s*" + _NUM + r"\s*([KMGTP]i?B|[kKMGTP]B|Bytes?|B)/s)?")
_TQDM_ELAPSED = re.compile(r"100%.*?\[(?:(\d+):)?(\d+):(\d+)<")
_COMPILE = re.compile(r"torch\.compile takes " + _NUM + r"\s*s in total")
_CACHE_LOAD = re.compile(r"Directly load the compiled graph.*?took " + _NUM + r"\s*s")
_COMPILE_GRAPH = re.compile(r"Compiling a graph for (?:general|dynamic) shape takes " + _NUM + r"\s*s")
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
_PLATFORM = re.compile(r"Automatically detected platform (\w+)")


def _num(text: str) -> float:
    return float(text.replace(",", ""))


_SIZE_UNITS = {"B": 1, "Byte": 1, "Bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50,
               "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}


class LineReader:
    """One pass over the lines; keeps the state that spans lines (stamps, wrapped config lines)."""

    def __init__(self, source: str, lines: list[str]) -> None:
        self.log = VllmLog(source=source)
        self.stamp = Stamp()
        self.config_buf: list[str] = []
        self.config_priority = 0
        self.cfg_seen: dict[str, int] = {}
        self.failures: list[tuple[int, int, int, str, Stamp]] = []  # kind index, -rank, line_no, line, stamp
        self.engine_strength = 0
        self.raw_lines = lines  # the lines read so far, or the last few hundred of them when the log is streamed
        self.base = 0  # how many earlier lines were dropped from raw_lines

    # -- prefixes ---------------------------------------------------------------------------------
    @staticmethod
    def split(raw: str) -> tuple[str, Stamp | None, bool]:
        """(message, stamp or None, vLLM-prefixed?) after the runtime timestamp, process and vLLM prefixes."""
        at = None
        pos = 0  # prefixes are matched in place (none of their patterns looks behind), not on copies
        m = _RUNTIME_TS.match(raw)
        if m:
            at = parse_timestamp(m.group(1))
            pos = m.end()
        m = _PROCESS.match(raw, pos)
        if m:
            pos = m.end()
        m = _VLLM_PREFIX.match(raw, pos)
        prefixed = m is not None
        if m is None:
            m = _BRACKET_TS.match(raw, pos)
        if m:
            month, day, hour, minute, second, frac = m.group("mon", "day", "h", "m", "s", "frac")
            year = None if prefixed else m.group("year")
            wall = (int(year) if year else None, int(month), int(day), int(hour), int(minute), int(second),
                    int((frac or "0")[:6].ljust(6, "0")))
            return raw[m.end():], Stamp(at, wall), prefixed
        return (raw[pos:] if pos else raw), (Stamp(at) if at is not None else None), False

    def stamp_before(self, index: int) -> Stamp:
        """The stamp of the nearest earlier line that has one (tracebacks and uvicorn lines carry none)."""
        for i in range(index - 1 - self.base, max(-1, index - 500 - self.base), -1):
            stamp = self.split(self.raw_lines[i].rstrip("\r"))[1]
            if stamp is not None:
                return stamp
        return Stamp()

    # -- one message ------------------------------------------------------------------------------
    def timing(self, name: str, seconds: float, line_no: int, raw: str) -> None:
        self.log.timings.append(Timing(name, seconds, self.stamp, line_no, raw))

    def read(self, line_no: int, raw: str) -> None:
        msg, stamp, prefixed = self.split(raw)
        self.stamp = stamp if stamp is not None else self.stamp_before(line_no - 1)
        if stamp is not None:
            self.log.marks.setdefault("first_line", stamp)
        if prefixed or not msg.strip():
            if self.config_buf:
                self.flush_config()
        elif self.config_buf:
            self.config_buf.append(msg)  # a hard-wrapped continuation of a config line
        if "**" in msg:
            msg = msg.replace("**", "")
        hit = prefixed
        log = self.log
        if ("took" in msg or "takes" in msg or "finished in" in msg or "time to stream" in msg
                or "Dynamo" in msg or "Directly load" in msg):
            hit = self.timings(msg, line_no, raw) or hit
        if "KV cache" in msg or "blocks" in msg:
            hit = self.memory(msg) or hit
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
        if "Starting vLLM API server" in msg or "Uvicorn running on" in msg or "Started server process" in msg:
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
        if found := classify(msg):  # a failure candidate; finish() keeps the most specific
            self.failures.append((FAILURE_KINDS.index(found[0]), -found[1], line_no, raw, self.stamp))
        if hit:
            log.recognised += 1

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
        elif "Directly load the compiled graph" in msg:
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
        elif m := _INIT_ENGINE.search(msg):
            seconds = _num(m.group(1))
            log.engine_init_seconds = max(seconds, log.engine_init_seconds or 0.0)
            self.timing("engine_init", seconds, line_no, raw)
        elif m := _DYNAMO.search(msg):
            log.extras["dynamo_bytecode_transform_seconds"] = _num(m.group(1))
        else:
            return False
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
        if "EngineCore" in raw or "V1 engine" in msg or "gpu_model_runner.py" in raw or "[core.py" in raw:
            self.log.engine, self.engine_strength = "V1", 1
        elif "MQLLMEngine" in msg or "VllmWorkerProcess" in raw or " model_runner.py" in raw:
            self.log.engine, self.engine_strength = "V0", 1

    def finish(self) -> VllmLog:
        self.flush_config()
        log = self.log
        if log.engine is None and log.version and re.match(r"0\.[0-7]\.", log.version):
            log.engine = "V0"  # releases before 0.8 had only the V0 engine
        if self.failures:
            kind_index, _, _, line, stamp = min(self.failures)
            log.failure = FAILURE_KINDS[kind_index]
            log.failure_line = line
            log.marks["failure"] = stamp
            if not log.ready:
                log.ready = False
        return log
