"""vLLM logs in every shape they reach an SRE, one real public sample per shape (tests/timeline/data/logs, each
with its source URL in a `.source` file beside it): collectors' prefixes, several containers in one paste, newer
vLLM wording, lines a paste wrapped or cut, and failures that arrive without vLLM's prefix."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from coldstart.cli import main
from coldstart.timeline.sources.prefixes import LineSplitter, split_line
from coldstart.timeline.sources.vllm_log import parse_vllm_log
from coldstart.timeline.sources.vllm_model import VllmLog

DATA = Path(__file__).with_name("data") / "logs"


def _log(name: str) -> VllmLog:
    return parse_vllm_log((DATA / name).read_text(), name=name)


def test_every_sample_names_its_source() -> None:
    for path in DATA.glob("*.log"):
        source = path.with_name(path.name + ".source").read_text()
        assert "https://github.com/" in source or "stored-file id" in source, path.name


# -- collectors' prefixes --------------------------------------------------------------------------

def test_kubectl_prefix_two_replicas() -> None:
    log = _log("kubectl_prefix_gke_runai.log")
    assert (log.model_load_gib, log.model_load_unit, log.model_load_seconds) == (58.99, "GiB", 27.655491)
    assert log.container == "inference-server"
    assert log.extras["streamer_progress_seconds"] == 24
    assert log.timing("model_load").stamp.wall == (None, 9, 25, 16, 20, 10, 0)


def test_docker_compose_service_prefix() -> None:
    log = _log("compose_rocm_gemma3.log")
    assert log.version == "0.11.0rc2.dev98+g393de22d2" and log.engine == "V1" and log.container == "vllm"
    assert (log.weights_seconds, log.model_load_gib, log.model_load_seconds) == (29.38, 51.7891, 29.929735)
    assert log.compile_seconds == 48.19 and log.compile_cache_hit is False
    assert (log.graph_capture_seconds, log.graph_capture_gib, log.kv_cache_gib) == (22, 1.02, 109.86)
    assert log.engine_init_seconds == 102.52
    assert log.ready is True and "Application startup complete" in log.ready_line and log.failure is None


def test_journald_prefix() -> None:
    log = _log("journald_vllm_21909.log")
    assert log.version == "0.10.0" and log.device == "cuda"
    assert log.marks["first_line"].wall == (None, 7, 30, 6, 54, 50, 0)


def test_stern_pod_and_container() -> None:
    log = _log("stern_production_stack.log")
    assert log.container == "vllm" and log.recognised == 2
    assert log.marks["first_line"].wall == (None, 4, 8, 1, 24, 55, 0)


def test_stern_with_runtime_stamp_on_a_controller_log() -> None:
    line = (DATA / "stern_karpenter_4738.log").read_text().splitlines()[0]
    split = LineSplitter().split(line)
    assert (split.pod, split.source) == ("karpenter-5dd479847d-5kxvj", "controller")
    assert split.stamp.at == datetime(2023, 10, 5, 5, 34, 3, 533000, tzinfo=UTC)
    assert split.message.startswith("ERROR\tcontroller.provisioner\tCould not schedule pod")


def test_ray_nested_process_prefixes_and_c10_stamp() -> None:
    split = split_line((DATA / "gloo_timeout_gpustack_2125.log").read_text().splitlines()[0])
    assert split.message.startswith("Gloo connectFullMesh failed")
    assert split.stamp.wall == (None, 5, 28, 8, 52, 46, 164295)
    nested = split_line("(EngineCore_DP0 pid=1234) (RayWorkerWrapper pid=5678, ip=10.0.0.2) INFO 09-01 10:00:00 "
                        "[gpu_model_runner.py:1] Model loading took 7.1 GiB and 9.5 seconds")
    assert nested.vllm and nested.message.startswith("Model loading took")


def test_ray_nested_prefixes_on_a_real_engine_core_failure() -> None:
    log = _log("ray_nested_engine_core_ascend.log")
    first = split_line((DATA / "ray_nested_engine_core_ascend.log").read_text().splitlines()[0])
    assert first.vllm and first.message.startswith("Registered model loader")
    assert log.engine == "V1" and log.failure == "crash"
    assert log.failure_line.endswith("AssertionError: local_world_size (32) must be less than or equal to the number "
                                     "of visible devices (16).")
    assert log.marks["failure"].wall == (None, 11, 24, 8, 50, 34, 0)


def test_bracketed_utc_and_iso_stamps() -> None:
    assert split_line("[2025-06-02 11:01:02 UTC] Bus error (core dumped)").stamp.at == \
        datetime(2025, 6, 2, 11, 1, 2, tzinfo=UTC)
    assert split_line("[2025-06-02T11:01:02Z] Killed").message == "Killed"
    local = split_line("[2025-10-13 09:06:25] host:3663:4044 [0] NCCL WARN x")
    assert local.stamp.at is None and local.stamp.wall == (2025, 10, 13, 9, 6, 25, 0)  # no zone: a wall clock


def test_unknown_wrapper_before_vllm_prefix() -> None:
    """TorchServe (https://github.com/pytorch/serve/pull/3343) wraps every vLLM line in its own logger."""
    split = split_line("2024-10-07T22:54:54,595 [INFO ] W-9000-model_1.0-stdout MODEL_LOG - INFO 10-07 22:54:54 "
                       "llm_engine.py:226] Initializing an LLM engine (v0.6.1.dev238+ge2c6e0a82) with config: x")
    assert split.vllm and split.message.startswith("Initializing an LLM engine")
    assert split.stamp.wall == (2024, 10, 7, 22, 54, 54, 0)  # the wrapper's year given to vLLM's own clock


def test_vllm_fork_logger_format() -> None:
    log = _log("compile_range_cache_musa_69.log")
    assert (log.model_load_gib, log.model_load_seconds) == (29.04, 28.927489)
    assert log.compile_cache_hit is True and log.extras["compiled_graph_cache_load_seconds"] == 1.803
    assert log.extras["dynamo_bytecode_transform_seconds"] == 14.33


# -- several containers in one paste -----------------------------------------------------------------

def test_interleaved_containers_are_told_apart() -> None:
    log = _log("interleaved_sidecar.log")
    assert log.container == "inference-server"
    assert set(log.containers) == {"inference-server", "vllm-simulator"}
    assert log.model_load_gib == 58.99 and log.failure is None


def test_a_sidecar_failure_is_not_vllm_s() -> None:
    text = ("[pod/vllm-0/routing-sidecar] E0602 11:00:00.000000       1 main.go:80] Error: listen tcp :8000: bind: "
            "address already in use\n"
            "[pod/vllm-0/vllm] INFO 06-02 11:00:01 [api_server.py:1] vLLM API server version 0.10.1\n"
            "[pod/vllm-0/vllm] INFO:     Application startup complete.\n")
    log = parse_vllm_log(text)
    assert log.container == "vllm" and log.ready is True and log.failure is None


# -- newer vLLM wording ------------------------------------------------------------------------------

def test_aot_compile_and_torch_compile_took() -> None:
    log = _log("aot_compile_v022.log")
    assert (log.weights_seconds, log.model_load_gib, log.model_load_seconds) == (1.65, 15.18, 2.640207)
    assert log.compile_seconds == 25.93 and log.compile_cache_hit is False
    assert log.extras["compile_graph_general_shape_seconds"] == 16.97
    assert (log.graph_capture_seconds, log.graph_capture_gib) == (7, 0.71)
    assert log.engine_init_seconds == 50.64 and log.ready is True and log.api_server_started


def test_aot_cache_hit() -> None:
    log = parse_vllm_log("(EngineCore pid=9) INFO 03-24 10:00:01 [decorators.py:1] Directly load AOT compilation "
                         "from path /root/.cache/vllm/torch_compile_cache/torch_aot_compile/abc/rank_0_0/model\n"
                         "(EngineCore pid=9) INFO 03-24 10:00:02 [monitor.py:53] torch.compile took 8.51 s in total\n")
    assert log.compile_cache_hit is True and log.compile_seconds == 8.51


def test_lazy_per_size_graph_capture() -> None:
    log = _log("lazy_graph_capture_23184.log")
    assert log.extras["graph_capture_sizes"] == 3
    assert log.extras["graph_capture_per_size_seconds"] == pytest.approx(0.156)
    assert log.graph_capture_seconds == pytest.approx(0.156)  # no total line: the sizes are the capture


# -- lines a paste wrapped or cut ----------------------------------------------------------------------

def test_hard_wrapped_timing_lines() -> None:
    log = _log("wrapped_paste_16848.log")
    assert log.extras["dynamo_bytecode_transform_seconds"] == 5.03
    assert log.compile_cache_hit is True and log.extras["compiled_graph_cache_load_seconds"] == 4.19
    assert log.extras["kv_cache_tokens"] == 532032


def test_line_cut_mid_number_is_not_misread() -> None:
    log = parse_vllm_log("INFO 04-18 08:26:11 [default_loader.py:1] Loading weights took 1")
    assert log.weights_seconds is None


# -- failures without vLLM's prefix ----------------------------------------------------------------------

def test_bare_nccl_shm_error() -> None:
    log = _log("nccl_shm_bare_dynamo_1408.log")
    assert log.failure == "nccl" and "Error while creating shared memory segment" in log.failure_line
    assert log.marks["failure"].wall == (2025, 6, 6, 9, 52, 1, 0) and log.ready is False


def test_bare_nccl_shm_error_cli_exits_0(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "vllm-0.log"
    path.write_text("[2025-10-13 09:06:25] vllm-deepseek-ep-decode-0:3663:4044 [0] misc/shmutils.cc:129 NCCL WARN "
                    "Error while creating shared memory segment /dev/shm/nccl-Ewjreo (size 33030528), error: No "
                    "space left on device (28)\n")
    assert main(["timeline", "--log", str(path)]) == 0
    out = capsys.readouterr().out
    assert "failure: nccl" in out and "Error while creating shared memory segment /dev/shm/nccl-Ewjreo" in out
    assert "2025-10-13 09:06:25" in out


def test_sigbus_under_ray_is_the_shm_trap() -> None:
    log = _log("ray_sigbus_1111.log")
    assert log.failure == "nccl" and "SIGBUS" in log.failure_line and log.tensor_parallel_size == 2


def test_bus_error_line() -> None:
    assert parse_vllm_log("Bus error (core dumped)\n").failure == "nccl"


def test_gloo_rendezvous_is_a_timeout() -> None:
    log = _log("gloo_timeout_gpustack_2125.log")
    assert log.failure == "timeout" and "Gloo connectFullMesh failed" in log.failure_line


def test_engine_core_initialization_failed() -> None:
    log = _log("engine_core_failed_23176.log")
    assert log.failure == "crash" and "Engine core initialization failed" in log.failure_line


def test_killed_glued_to_a_progress_bar() -> None:
    log = _log("killed_after_tqdm_video_llava_13.log")
    assert log.failure == "killed" and log.failure_line.endswith("Killed")


def test_killed_after_the_kv_cache_is_sized() -> None:
    log = _log("killed_after_blocks_mu_got_17.log")
    assert log.failure == "killed" and log.failure_line == "Killed"
    assert (log.model_load_gib, log.extras["num_gpu_blocks"]) == (1.99, 12453) and log.ready is False


def test_oom_during_weight_loading_without_prefix() -> None:
    log = parse_vllm_log("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 2 has a total "
                         "capacity of 14.62 GiB of which 2.81 MiB is free.\n")
    assert log.failure == "cuda_oom" and log.recognised


def test_worker_killed_by_signal_9() -> None:
    log = parse_vllm_log("ERROR 05-01 10:00:00 [multiproc_worker_utils.py:1] Worker VllmWorkerProcess pid 7 died, "
                         "exit code: -9\n")
    assert log.failure == "killed"
