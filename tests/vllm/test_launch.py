"""The one vLLM launch parser: what the checker judges and what the simulated engine runs."""

import pytest

from coldstart.vllm.launch import BOOLEAN_FLAGS, container_launches, find_launches, parse_flags


@pytest.mark.parametrize("flag", sorted(BOOLEAN_FLAGS))
def test_a_boolean_flag_never_swallows_the_model(flag):
    (launch,) = find_launches(["vllm", "serve", f"--{flag.replace('_', '-')}", "/mnt/models"], {})
    assert launch.model == "/mnt/models" and launch.flags[flag] is True


def test_async_scheduling_before_the_model():
    (launch,) = find_launches(["vllm", "serve", "--async-scheduling", "/mnt/models"], {})
    assert launch.model == "/mnt/models" and launch.flags == {"async_scheduling": True}


@pytest.mark.parametrize(("tokens", "flags"), [
    (["-O3"], {"compilation_config": "3"}),
    (["-O", "0"], {"compilation_config": "0"}),
    (["-O.level=2"], {"compilation_config": "2"}),
    (["--no-enable-prefix-caching"], {"enable_prefix_caching": False}),
    (["-tp", "2"], {"tensor_parallel_size": "2"}),
    (["--served-model-name", "a", "b", "--port", "8080"], {"served_model_name": ["a", "b"], "port": "8080"}),
    (["--port 8080"], {"port": "8080"}),
    (["--gpu_memory_utilization=0.7"], {"gpu_memory_utilization": "0.7"}),
    (["--seed", "-1"], {"seed": "-1"}),
])
def test_flags_are_read_as_vllm_argparse_reads_them(tokens, flags):
    assert parse_flags(tokens)[0] == flags


def test_shell_scripts_exports_and_unknown_variables():
    script = "export M=Qwen/Qwen2.5-7B-Instruct\nHF_HUB_OFFLINE=1 exec vllm serve ${M} --port ${PORT}"
    (kept,) = find_launches(["sh", "-c", script], {})
    assert kept.model == "Qwen/Qwen2.5-7B-Instruct" and kept.flags["port"] == "${PORT}"
    assert kept.env["HF_HUB_OFFLINE"] == "1"
    (empty,) = find_launches(["sh", "-c", script], {}, unset="empty")  # a real shell expands it to nothing
    assert empty.flags["port"] is True


def test_an_engine_image_with_args_only_runs_its_entrypoint():
    (launch,) = container_launches({"image": "vllm/vllm-openai:v0.11.0", "args": ["--model", "x/y"]}, {})
    assert launch.model == "x/y" and launch.how == "image entrypoint" and launch.entry == "serve"
    (kserve,) = container_launches({"image": "kserve/huggingfaceserver:v0.15", "args": ["--model_id=a/b"]}, {})
    assert kserve.entry == "kserve" and kserve.model == "a/b"
    assert container_launches({"image": "kserve/huggingfaceserver:v0.15",
                               "args": ["--model_id=a/b", "--backend=huggingface"]}, {}) == []
    assert container_launches({"image": "nginx", "args": ["--model", "x"]}, {}) == []


def test_kubernetes_references_expand_before_the_shell():
    container = {"image": "vllm/vllm-openai:v0.11.0", "command": ["vllm", "serve", "$(MODEL)", "$$(literal)"]}
    (launch,) = container_launches(container, {"MODEL": "m/n"})
    assert launch.model == "m/n"
