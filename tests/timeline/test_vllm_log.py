"""vLLM log parsing: every real fixture against its labels, plus small real-format snippets the fixtures lack."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from coldstart.timeline.sources.vllm_log import parse_vllm_log
from coldstart.timeline.sources.vllm_model import Stamp
from tests.conftest import FIXTURES, need

LOG_DIR = FIXTURES / "vllm_logs"

# label key -> VllmLog attribute
FIELDS = {
    "vllm_version": "version",
    "weights_loading_seconds": "weights_seconds",
    "model_loading_mem": "model_load_gib",
    "model_loading_mem_unit": "model_load_unit",
    "model_loading_seconds": "model_load_seconds",
    "graph_capture_seconds": "graph_capture_seconds",
    "graph_capture_gib": "graph_capture_gib",
    "torch_compile_seconds": "compile_seconds",
    "init_engine_seconds": "engine_init_seconds",
    "reached_ready": "ready",
    "ready_evidence": "ready_line",
    "failure_kind": "failure",
    "failure_evidence": "failure_line",
    "enforce_eager": "enforce_eager",
    "tensor_parallel_size": "tensor_parallel_size",
    "load_format": "load_format",
    "device": "device",
}
# free text scored by meaning: the engine's first word ("V1 (EngineCore_0 prefix)"), the rank count an evidence note
# ends with ("... => 8 ranks" is tensor_parallel_size 8)
MEANING = {"engine": "engine", "tensor_parallel_size_evidence": "tensor_parallel_size"}
FREE_TEXT: set[str] = set()

# Where we read the text differently from the label, with the argument; strict xfail so agreement is noticed.
DISAGREEMENTS = {
    ("runai_model_streamer_67_v1_compile_graph_ready.log", "reached_ready"):
        "'Starting vLLM API server on ...' is logged before uvicorn binds the port; the brief (and /health) "
        "count ready only at 'Application startup complete.', which the excerpt lacks. We report "
        "api_server_started=True and ready=None instead of ready=True.",
    ("runai_model_streamer_67_v1_compile_graph_ready.log", "ready_evidence"):
        "same judgement: the API-server line is kept as api_server_line, not as readiness evidence.",
}


def _cases() -> list:
    if not LOG_DIR.exists():
        return [pytest.param(None, None, id="fixtures-missing")]
    cases = []
    for meta_path in sorted(LOG_DIR.glob("*.log.meta.json")):
        labels = json.loads(meta_path.read_text())["labels"]
        file = meta_path.name.removesuffix(".meta.json")
        for key in labels:
            if key in FREE_TEXT:
                continue
            keys = [f"other_timings.{k}" for k in labels[key]] if key == "other_timings" else [key]
            for k in keys:
                marks = [pytest.mark.xfail(strict=True, reason=DISAGREEMENTS[(file, k)])] if (file, k) in \
                    DISAGREEMENTS else []
                cases.append(pytest.param(file, k, id=f"{file}:{k}", marks=marks))
    return cases


_parsed: dict[str, object] = {}


def _log(file: str):
    if file not in _parsed:
        _parsed[file] = parse_vllm_log((LOG_DIR / file).read_text(), name=file)
    return _parsed[file]


def _failure_kind(label: str) -> str:
    for prefix, kind in (("cuda_oom", "cuda_oom"), ("nccl", "nccl"), ("exception", "crash"), ("crash", "crash"),
                         ("shutdown", "shutdown")):
        if label.startswith(prefix):
            return kind
    raise AssertionError(f"unmapped failure label {label!r}")


def _evidence_matches(evidence: str, line: str) -> bool:
    """The label quotes the evidence (fragments joined by '; ', cut with '...') or, for a bare traceback, says so."""
    for fragment in re.split(r";\s+", evidence):
        fragment = fragment.split("...")[0].strip()
        if len(fragment) >= 20 and fragment[:60] in line:
            return True
    return evidence.lower().startswith("traceback") and "Traceback (most recent call last)" in line


@pytest.mark.parametrize(("file", "key"), _cases())
def test_fixture_label(file: str | None, key: str | None) -> None:
    need(LOG_DIR)
    labels = json.loads((LOG_DIR / f"{file}.meta.json").read_text())["labels"]
    log = _log(file)
    if key.startswith("other_timings."):
        name = key.split(".", 1)[1]
        assert log.extras.get(name) == pytest.approx(labels["other_timings"][name])
        return
    expected = labels[key]
    got = getattr(log, FIELDS.get(key) or MEANING[key])
    if key == "engine":
        assert got == expected.split()[0]
    elif key == "tensor_parallel_size_evidence":
        assert got == int(re.search(r"(\d+) ranks", expected).group(1))
    elif expected is None:
        assert got is None
    elif key == "failure_kind":
        assert got == _failure_kind(expected)
    elif key == "failure_evidence":
        assert got is not None and _evidence_matches(expected, got), got
    elif key == "ready_evidence":
        assert got is not None and expected in got
    elif isinstance(expected, float | int) and not isinstance(expected, bool):
        assert got == pytest.approx(expected)
    else:
        assert got == expected


def test_every_fixture_is_recognised() -> None:
    need(LOG_DIR)
    for path in sorted(LOG_DIR.glob("*.log")):
        assert parse_vllm_log(path.read_text()).recognised > 0, path.name


# ---------------------------------------------------------------------------------------------------
# Formats the fixtures lack (lines written the way vLLM, uvicorn and kubectl print them)

KUBECTL_V1 = """\
2025-06-02T11:01:02.123456789Z \x1b[1;36m(APIServer pid=1)\x1b[0;0m INFO 06-02 11:01:02 [api_server.py:1805] vLLM API server version 0.10.1
2025-06-02T11:01:10.000000000Z (EngineCore_DP0 pid=271) INFO 06-02 11:01:10 [core.py:74] Initializing a V1 LLM engine (v0.10.1) with config: model='/mnt/models', load_format=runai_streamer, tensor_parallel_size=2, enforce_eager=False, device_config=cuda
2025-06-02T11:01:31.500000000Z (EngineCore_DP0 pid=271) [RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: 12.41s, 1.1 GiB/s
2025-06-02T11:01:32.000000000Z (VllmWorker TP0 pid=301) INFO 06-02 11:01:32 [default_loader.py:267] Loading weights took 12.60 seconds
2025-06-02T11:01:33.000000000Z (VllmWorker TP1 pid=302) INFO 06-02 11:01:33 [default_loader.py:267] Loading weights took 13.10 seconds
2025-06-02T11:01:33.500000000Z (VllmWorker TP0 pid=301) INFO 06-02 11:01:33 [gpu_model_runner.py:1975] Model loading took 7.17 GiB memory and 13.648650 seconds
2025-06-02T11:02:20.000000000Z (VllmWorker TP0 pid=301) INFO 06-02 11:02:20 [backends.py:215] Compiling a graph for dynamic shape takes 30.02 s
2025-06-02T11:02:25.000000000Z (VllmWorker TP0 pid=301) INFO 06-02 11:02:25 [monitor.py:34] torch.compile takes 38.50 s in total
2025-06-02T11:02:40.000000000Z (VllmWorker TP0 pid=301) INFO 06-02 11:02:40 [gpu_model_runner.py:2567] Graph capturing finished in 12 secs, took 0.52 GiB
2025-06-02T11:02:41.000000000Z (EngineCore_DP0 pid=271) INFO 06-02 11:02:41 [core.py:216] init engine (profile, create kv cache, warmup model) took 66.20 seconds
2025-06-02T11:02:44.000000000Z (APIServer pid=1) INFO 06-02 11:02:44 [api_server.py:1880] Starting vLLM API server 0 on http://0.0.0.0:8000
2025-06-02T11:02:45.000000000Z (APIServer pid=1) INFO:     Started server process [1]
2025-06-02T11:02:45.100000000Z (APIServer pid=1) INFO:     Application startup complete.
"""  # noqa: E501 (log lines are as long as vLLM writes them)


def test_kubectl_timestamps_ranks_and_streamer() -> None:
    log = parse_vllm_log(KUBECTL_V1)
    assert log.version == "0.10.1" and log.engine == "V1"
    assert (log.load_format, log.tensor_parallel_size, log.enforce_eager, log.device) == \
        ("runai_streamer", 2, False, "cuda")
    assert log.streamer_bytes == int(14.2 * 2**30) and log.streamer_seconds == 12.41
    assert log.streamer_gib_per_s == pytest.approx(1.1)
    assert log.weights_seconds == 13.10  # the slower rank gates the engine
    assert (log.model_load_gib, log.model_load_unit, log.model_load_seconds) == (7.17, "GiB", 13.64865)
    assert log.compile_seconds == 38.5 and log.compile_cache_hit is False
    assert (log.graph_capture_seconds, log.graph_capture_gib) == (12, 0.52)
    assert log.engine_init_seconds == 66.2
    assert log.api_server_started and log.ready is True and "Application startup complete" in log.ready_line
    assert log.failure is None
    graphs = log.timing("graph_capture")
    assert graphs.stamp.resolve() == datetime(2025, 6, 2, 11, 2, 40, tzinfo=UTC)
    weights = log.timing("weights")
    assert weights.seconds == 13.10 and weights.stamp.at == datetime(2025, 6, 2, 11, 1, 33, tzinfo=UTC)


def test_streamer_message_forms() -> None:
    old = parse_vllm_log("[RunAI Streamer] Overall time to stream 15.0 GiB of all files: 5.0s, 3.0 GiB/s")
    assert old.streamer_bytes == 15 * 2**30 and old.streamer_gib_per_s == 3.0
    mib = parse_vllm_log("[RunAI Streamer] Overall time to stream 7.1 GiB of all files to cpu: 11.01s, 664.3 MiB/s")
    assert mib.streamer_gib_per_s == pytest.approx(664.3 / 1024, abs=1e-4)
    no_rate = parse_vllm_log("[RunAI Streamer] Overall time to stream 14.6 GiB of all files to cpu: 8.26s")
    assert no_rate.streamer_gib_per_s == pytest.approx(14.6 / 8.26, abs=1e-4)
    bar = parse_vllm_log("Loading safetensors using Runai Model Streamer: 100% Completed | 194/194 "
                         "[00:09<00:00, 20.81it/s]")
    assert bar.extras["streamer_progress_seconds"] == 9 and bar.recognised == 1


def test_v0_gb_figure_is_kept_with_its_unit() -> None:
    log = parse_vllm_log("INFO 08-02 15:41:14 model_runner.py:731] Loading model weights took 13.5083 GB")
    assert (log.model_load_gib, log.model_load_unit, log.model_load_seconds) == (13.5083, "GB", None)


def test_v0_graph_capture_without_gib_and_wall_clock_year() -> None:
    log = parse_vllm_log("INFO 08-02 15:41:30 model_runner.py:1219] Graph capturing finished in 13 secs.")
    timing = log.timing("graph_capture")
    assert log.graph_capture_gib is None and timing.seconds == 13
    assert timing.stamp.resolve() is None  # no year in vLLM's own stamp
    assert timing.stamp.resolve(2024) == datetime(2024, 8, 2, 15, 41, 30, tzinfo=UTC)


def test_compile_cache_hit_from_cache_line() -> None:
    log = parse_vllm_log(
        "(EngineCore_DP0 pid=1) INFO 10-26 21:47:56 [backends.py:161] Directly load the compiled graph(s) for "
        "dynamic shape from the cache, took 5.920 s\n"
        "(EngineCore_DP0 pid=1) INFO 10-26 21:47:59 [monitor.py:34] torch.compile takes 6.70 s in total\n")
    assert log.compile_cache_hit is True and log.compile_seconds == 6.7


def test_failure_line_is_the_most_specific() -> None:
    text = """\
ERROR 05-01 10:00:00 [core.py:700] EngineCore failed to start.
ERROR 05-01 10:00:00 [core.py:700] Traceback (most recent call last):
ERROR 05-01 10:00:00 [core.py:700]   File "/usr/local/lib/python3.12/dist-packages/vllm/v1/engine/core.py", line 691
ERROR 05-01 10:00:00 [core.py:700] torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.02 GiB.
INFO 05-01 10:00:01 [launcher.py:80] Shutting down FastAPI HTTP server.
"""
    log = parse_vllm_log(text)
    assert log.failure == "cuda_oom" and "torch.OutOfMemoryError" in log.failure_line
    assert log.ready is False


def test_crash_beats_shutdown_and_names_the_exception() -> None:
    text = """\
(VllmWorker rank=0 pid=301) ERROR 05-01 10:00:00 [multiproc_executor.py:527] Traceback (most recent call last):
(VllmWorker rank=0 pid=301) ERROR 05-01 10:00:00 [multiproc_executor.py:527] ValueError: The model's max seq len (131072) is larger than the maximum number of tokens that can be stored in KV cache (40960).
(RayWorkerWrapper pid=1234, ip=10.0.0.7) INFO 05-01 10:00:01 [worker.py:12] Received SIGTERM, shutting down
"""  # noqa: E501
    log = parse_vllm_log(text)
    assert log.failure == "crash" and "ValueError: The model's max seq len" in log.failure_line


def test_graceful_shutdown_after_ready_keeps_ready() -> None:
    text = ("INFO:     Application startup complete.\n"
            "INFO 05-01 11:00:00 [launcher.py:80] Shutting down FastAPI HTTP server.\n")
    log = parse_vllm_log(text)
    assert log.ready is True and log.failure == "shutdown"


def test_nccl_timeout() -> None:
    log = parse_vllm_log("[rank1]:[E501 10:00:00.000] [PG 0 Rank 1] Watchdog caught collective operation timeout: "
                         "WorkNCCL(SeqNum=2, OpType=ALLREDUCE) ran for 600000 milliseconds before timing out.")
    assert log.failure == "nccl"


def test_non_default_args_and_cli_command() -> None:
    text = ("$ vllm serve /models/qwen --tensor-parallel-size 4 --enforce-eager\n"
            "INFO 09-04 00:43:38 [cli_args.py:261] non-default args: {'model': '/models/qwen', "
            "'load_format': 'runai_streamer', 'tensor_parallel_size': 4, 'enforce_eager': True}\n")
    log = parse_vllm_log(text)
    assert (log.load_format, log.tensor_parallel_size, log.enforce_eager) == ("runai_streamer", 4, True)


def test_eager_hint_line_is_not_a_config() -> None:
    log = parse_vllm_log("INFO 08-02 15:41:18 model_runner.py:1018] Capturing the model for CUDA graphs. To run the "
                         "model in eager mode, set 'enforce_eager=True' or use '--enforce-eager' in the CLI.")
    assert log.enforce_eager is None


def test_nothing_recognisable() -> None:
    log = parse_vllm_log("hello\nworld\n")
    assert log.recognised == 0 and log.failure is None and log.ready is None


def test_stamp_text() -> None:
    assert Stamp(wall=(None, 6, 2, 11, 3, 56, 0)).text() == "06-02 11:03:56"
