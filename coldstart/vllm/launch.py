"""How a container starts vLLM, read once for the checker and the simulated engine: the launch and its flags.

Real manifests start vLLM as `vllm serve`, `python -m vllm.entrypoints.openai.api_server`, KServe's
`python -m huggingfaceserver`, NVIDIA Dynamo's `python -m dynamo.vllm`, the image's own entrypoint given only
args, or any of these inside `sh -c` scripts that `export` variables and reference `${X}`; Ray Serve puts the
engine's settings in `engine_kwargs`. Everything is reduced to one `Launch`: which entry point, a normalized flag
map (`--gpu-memory-utilization`, `--gpu_memory_utilization=` and `gpu_memory_utilization:` are one key, booleans
True/False, `-O3` is `compilation_config`), the model and the environment the engine process will see.

Flags are read the way vLLM's argparse reads them: a boolean flag never takes the next word as its value, so
`vllm serve --async-scheduling /mnt/models` serves /mnt/models. The table of boolean flags follows vLLM's
`EngineArgs`/`FrontendArgs` (store_true and BooleanOptionalAction flags, v0.4 to v0.11).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from coldstart.errors import InvalidValue
from coldstart.inputs.yamlsafe import load_yaml
from coldstart.kube.images import is_engine_image
from coldstart.kube.podspec import expand_refs
from coldstart.vllm.shell import Unset, commands, expand, positional

__all__ = [
    "BOOLEAN_FLAGS", "CACHE_DIR", "Launch", "RayEngine", "container_argv", "container_launches", "entrypoint_argv",
    "entrypoint_launch",
    "find_launches", "flag_name", "load_structured", "parse_flags", "ray_engines", "truthy",
]

SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh"}
# Where vLLM's caches live in its image (it runs as root; XDG_CACHE_HOME defaults to ~/.cache): the Hugging Face hub,
# vLLM's torch.compile cache and Triton's kernels, unless HF_HOME / VLLM_CACHE_ROOT / TRITON_CACHE_DIR move them.
CACHE_DIR = "/root/.cache"
# vLLM's boolean flags (store_true / BooleanOptionalAction): they never take the next word as a value.
BOOLEAN_FLAGS = {
    "api_server_count_auto", "async_scheduling", "calculate_kv_scales", "data_parallel_external_lb",
    "data_parallel_hybrid_lb", "disable_async_output_proc", "disable_cascade_attn", "disable_custom_all_reduce",
    "disable_fastapi_docs", "disable_frontend_multiprocessing", "disable_log_requests", "disable_log_stats",
    "disable_mm_preprocessor_cache", "disable_sliding_window", "disable_uvicorn_access_log", "enable_auto_tool_choice",
    "enable_chunked_prefill", "enable_dbo", "enable_eplb", "enable_expert_parallel", "enable_force_include_usage",
    "enable_lora", "enable_lora_bias", "enable_log_outputs", "enable_log_requests", "enable_prefix_caching",
    "enable_prompt_adapter", "enable_prompt_tokens_details", "enable_reasoning", "enable_request_id_headers",
    "enable_server_load_tracking", "enable_sleep_mode", "enable_tokenizer_info_endpoint", "enforce_eager",
    "fully_sharded_loras", "headless", "is_decode_worker", "is_prefill_worker", "kv_sharing_fast_prefill",
    "return_tokens_as_token_ids", "skip_tokenizer_init", "trust_remote_code", "use_v2_block_manager",
    "worker_use_ray",
}
MULTI_VALUE_FLAGS = {"served_model_name", "middleware", "allowed_origins"}  # nargs="+": words up to the next flag
FLAG_ALIASES = {"tp": "tensor_parallel_size", "pp": "pipeline_parallel_size", "dp": "data_parallel_size",
                "q": "quantization"}
API_SERVER_MODULES = ("vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server")
_NOT_LAUNCHERS = {"echo", "printf", "pip", "pip3", "uv", "apt", "apt-get", "yum", "dnf", "apk", "wget", "curl",
                  "cat", "grep", "sed", "awk", "test", "[", "until", "while", "if", "for", "kill", "pkill"}
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)


def flag_name(raw: str) -> str:
    """`--gpu-memory-utilization`, `gpu_memory_utilization` -> `gpu_memory_utilization`; `-tp` -> its long name."""
    name = raw.lstrip("-").replace("-", "_").lower()
    return FLAG_ALIASES.get(name, name)


@dataclass
class Launch:
    """What one container runs: the vLLM server itself (`role` "launcher") or a process that hosts engine workers
    ("host", e.g. a Ray worker of a multi-node engine). `entry` says which entry point: serve, api_server,
    kserve (huggingfaceserver), dynamo, ray."""

    role: str
    flags: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    env: dict[str, str | None] = field(default_factory=dict)  # environment at the launch, after script exports
    how: str = ""
    entry: str = "serve"
    model_positional: bool = False  # the model came as `vllm serve <model>` (vLLM logs it as model_tag)

    @property
    def launcher(self) -> bool:
        return self.role == "launcher"


def parse_flags(tokens: list[str]) -> tuple[dict[str, Any], list[str]]:
    """(normalized flags, positionals) from an argv tail: `--x=v`, `--x v`, boolean flags, `--no-x`, `-O3`."""
    flags: dict[str, Any] = {}
    positionals: list[str] = []
    words: list[str] = []
    for token in tokens:  # "--port 8080" as one list item is a common slip that vLLM users mean as two
        if token.startswith("-") and " " in token.strip() and "=" not in token.split(" ", 1)[0]:
            words.extend(token.split())
        else:
            words.append(token)
    i = 0
    while i < len(words):
        token = words[i]
        following = words[i + 1] if i + 1 < len(words) else None
        if token.startswith("-O") and not token.startswith("--"):  # -O3, -O.3, -O=3, -O 3, -O.level=3
            value = token[2:].lstrip("=.")
            if not value and following is not None:
                value, i = following, i + 1
            flags["compilation_config"] = value.removeprefix("level=")
        elif _looks_like_flag(token):
            raw, eq, value = token.partition("=")
            name = flag_name(raw)
            if eq:
                flags[name] = value
            elif name in MULTI_VALUE_FLAGS and following is not None and not _looks_like_flag(following):
                values = []
                while i + 1 < len(words) and not _looks_like_flag(words[i + 1]):
                    values.append(words[i + 1])
                    i += 1
                flags[name] = values if len(values) > 1 else values[0]
            elif name in BOOLEAN_FLAGS or following is None or _looks_like_flag(following) or (
                    name.startswith("no_") and name[3:] in BOOLEAN_FLAGS):
                if name.startswith("no_") and name not in BOOLEAN_FLAGS:
                    flags[name[3:]] = False
                else:
                    flags[name] = True
            else:
                flags[name] = following
                i += 1
        else:
            positionals.append(token)
        i += 1
    return flags, positionals


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _looks_like_flag(token: str) -> bool:
    return token.startswith("-") and len(token) > 1 and not _is_number(token)


def truthy(value: Any) -> bool:
    """Environment/flag truthiness as Hugging Face and vLLM read it (1/true/yes/on)."""
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def load_structured(value: Any, name: str = "a JSON/YAML setting") -> Any:
    """A JSON (or YAML) value given as a string, e.g. `--model-loader-extra-config '{"concurrency": 32}'`; the
    string itself when it is neither. YAML goes through the one safe loader: a string that is an alias bomb, refers
    to itself or repeats a key is refused (InputRefused naming `name`), never half-read."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        pass
    try:
        return load_yaml(value, name)
    except InvalidValue:
        return value


# ---------------------------------------------------------------------------------------------------
# A container's launch


def container_argv(container: Mapping[str, Any], env: Mapping[str, str | None]) -> tuple[list[str], list[str]]:
    """(command, args) as strings after Kubernetes `$(VAR)` expansion."""
    def strings(key: str) -> list[str]:
        value = container.get(key) or []
        value = [value] if isinstance(value, str) else value
        return [expand_refs(("true" if v else "false") if isinstance(v, bool) else str(v), env)
                for v in value if v is not None]
    return strings("command"), strings("args")


def entrypoint_argv(image: str | None, command: list[str], args: list[str]) -> list[str]:
    """argv as the process sees it: without `command`, the image's entrypoint comes first (`vllm serve` in
    vllm/vllm-openai and its rebuilds, `python -m huggingfaceserver` in KServe's image). Args that start their
    own program (a shell, `vllm`, `python`) are taken as the command a user meant them to be."""
    if command or not is_engine_image(image):
        return command + args
    if args and args[0].rsplit("/", 1)[-1] in SHELLS | {"vllm", "python", "python3"}:
        return args
    if "huggingfaceserver" in str(image).lower():
        return ["python", "-m", "huggingfaceserver", *args]
    return ["vllm", "serve", *args]


def container_launches(container: Mapping[str, Any], env: Mapping[str, str | None], *,
                       unset: Unset = "keep") -> list[Launch]:
    """Every vLLM launch (or engine host) in one container; [] when it runs something else.

    `env` is the container's environment as Kubernetes builds it (None for values the input cannot know);
    `unset="empty"` expands unknown shell variables to nothing, as a real shell does, where `env` is complete."""
    command, args = container_argv(container, env)
    argv = entrypoint_argv(container.get("image"), command, args)
    launches = find_launches(argv, env, unset=unset)
    if not command and is_engine_image(container.get("image")):
        for launch in launches:
            launch.how = "image entrypoint" if not args or argv[:2] == ["vllm", "serve"] else launch.how
    return launches


def entrypoint_launch(args: list[str], env: Mapping[str, str | None]) -> Launch:
    """Args given to a vLLM image's own entrypoint (`vllm serve`), for an operator that supplies the image."""
    return _launcher(list(args), dict(env), "image entrypoint", "serve", positional_model=True)


def find_launches(argv: list[str], env: Mapping[str, str | None], *, unset: Unset = "keep") -> list[Launch]:
    """Every vLLM launch (or engine host) in an argv (command + args after Kubernetes expansion)."""
    environment = dict(env)
    script = _shell_script(argv)
    if script is not None:
        return _script_launches(script, {**environment, **positional(_script_params(argv))}, unset)
    launch = _launch_in(argv, environment)
    return [launch] if launch is not None else []


def _shell_script(argv: list[str]) -> str | None:
    """The script of `sh -c SCRIPT` / `bash -exc SCRIPT` / `/bin/sh -c` + args, else None."""
    if not argv or argv[0].rsplit("/", 1)[-1] not in SHELLS:
        return None
    for i, token in enumerate(argv[1:], start=1):
        if token.startswith("-") and not token.startswith("--") and "c" in token[1:]:
            return argv[i + 1] if i + 1 < len(argv) else ""
        if not token.startswith("-"):
            return None
    return None


def _script_params(argv: list[str]) -> list[str]:
    """The words after the script: `$0` then the positional parameters."""
    for i, token in enumerate(argv[1:], start=1):
        if token.startswith("-") and not token.startswith("--") and "c" in token[1:]:
            return argv[i + 2:]
    return []


def _env_only(env: Mapping[str, str | None]) -> dict[str, str | None]:
    """Environment variables proper (the shell's `$@`, `$1` are not part of the process environment)."""
    return {k: v for k, v in env.items() if k.isidentifier()}


def _launch_in(words: list[str], env: dict[str, str | None]) -> Launch | None:
    """Locate the launcher in one command's words; flags are what follows it."""
    if not words or words[0].rsplit("/", 1)[-1] in _NOT_LAUNCHERS:
        return None
    for i, word in enumerate(words):
        base = word.rsplit("/", 1)[-1]
        nxt = words[i + 1] if i + 1 < len(words) else ""
        if base == "vllm" and nxt == "serve":
            return _launcher(words[i + 2:], env, "vllm serve", "serve", positional_model=True)
        if word.startswith("vllm.entrypoints"):
            tail = words[i + 1:]
            if tail[:1] == ["serve"]:
                return _launcher(tail[1:], env, f"python -m {word} serve", "serve", positional_model=True)
            return _launcher(tail, env, f"python -m {word}", "api_server", positional_model=False)
        if word.endswith("vllm/entrypoints/openai/api_server.py"):
            return _launcher(words[i + 1:], env, "api_server.py", "api_server", positional_model=False)
        if word == "dynamo.vllm":
            return _launcher(words[i + 1:], env, f"python -m {word}", "dynamo", positional_model=False)
        if word == "huggingfaceserver" and i and words[i - 1] == "-m":
            launch = _launcher(words[i + 1:], env, f"python -m {word}", "kserve", positional_model=False)
            if str(launch.flags.get("backend", "vllm")).lower() == "huggingface":
                return None  # KServe's Hugging Face server without vLLM
            return launch
        if base == "multi-node-serving.sh" or (base == "ray" and nxt == "start"):
            return Launch("host", env=_env_only(env), how="Ray worker for a multi-node engine", entry="ray")
    return None


def _launcher(tail: list[str], env: dict[str, str | None], how: str, entry: str, positional_model: bool) -> Launch:
    flags, positionals = parse_flags(tail)
    model = positionals[0] if positional_model and positionals else None
    from_flag = next((flags[k] for k in ("model", "model_id", "model_dir") if isinstance(flags.get(k), str)), None)
    return Launch("launcher", flags, model or from_flag, _env_only(env), how, entry, model_positional=bool(model))


# ---------------------------------------------------------------------------------------------------
# Shell scripts: follow exports and ${X} to the launch


def _script_launches(script: str, env: dict[str, str | None], unset: Unset, depth: int = 0) -> list[Launch]:
    launches: list[Launch] = []
    hosts: list[Launch] = []
    for command in commands(script):
        words = [w for part in command for w in expand(part, env, unset)]
        prefix: dict[str, str] = {}
        while words and (m := _ASSIGNMENT.match(words[0])):
            prefix[m.group(1)] = m.group(2)
            words = words[1:]
        if not words:
            env.update(prefix)
            continue
        head = words[0].rsplit("/", 1)[-1]
        if head in {"export", "declare", "typeset", "readonly", "local"}:
            for word in words[1:]:
                if m := _ASSIGNMENT.match(word):
                    env[m.group(1)] = m.group(2)
            continue
        if head == "unset":
            for word in words[1:]:
                env.pop(word, None)
            continue
        while words and words[0] in {"exec", "nohup", "time", "command", "env"}:
            words = words[1:]
            while words and (m := _ASSIGNMENT.match(words[0])):
                prefix[m.group(1)] = m.group(2)
                words = words[1:]
        local_env = {**env, **prefix}
        inner = " ".join(words[1:]) if words and words[0] == "eval" else _shell_script(words)  # eval: a script
        if inner is not None and depth < 3:
            found = _script_launches(inner, {**local_env, **positional(_script_params(words))}, unset, depth + 1)
        else:
            launch = _launch_in(words, local_env)
            found = [launch] if launch else []
        for launch in found:
            (launches if launch.role == "launcher" else hosts).append(launch)
    return launches or hosts[:1]


# ---------------------------------------------------------------------------------------------------
# Ray Serve LLM: engine settings live in serveConfigV2, a YAML document inside a string


@dataclass
class RayEngine:
    """One vLLM engine configured by a Ray Serve application (`llm_configs[].engine_kwargs`)."""

    name: str
    flags: dict[str, Any]
    env: dict[str, str | None]
    model_source: str | None
    settings_file: str | None = None  # llm_configs given as a path inside the image: settings not in the input


def ray_engines(serve_config: Any) -> list[RayEngine]:
    """vLLM engines declared in a RayService `serveConfigV2` (string or mapping); [] if none or unparseable."""
    config = load_structured(serve_config, "serveConfigV2") if isinstance(serve_config, str) else serve_config
    if not isinstance(config, dict):
        return []
    engines: list[RayEngine] = []
    for app in config.get("applications") or []:
        if not isinstance(app, dict):
            continue
        app_env = _env_vars(app.get("runtime_env"))
        args: dict[str, Any] = app["args"] if isinstance(app.get("args"), dict) else {}
        configs = args.get("llm_configs") or ([args["llm_config"]] if isinstance(args.get("llm_config"), dict) else [])
        configs = configs if isinstance(configs, list) else [configs]
        for cfg in configs:
            if isinstance(cfg, str):
                engines.append(RayEngine(cfg.rsplit("/", 1)[-1], {}, app_env, None, settings_file=cfg))
                continue
            if not isinstance(cfg, dict):
                continue
            loading: dict[str, Any] = cfg["model_loading_config"] if isinstance(cfg.get("model_loading_config"), dict) \
                else {}
            kwargs: dict[str, Any] = cfg["engine_kwargs"] if isinstance(cfg.get("engine_kwargs"), dict) else {}
            name = str(loading.get("model_id") or app.get("name") or "llm")
            engines.append(RayEngine(name, {flag_name(k): v for k, v in kwargs.items()},
                                     {**app_env, **_env_vars(cfg.get("runtime_env"))},
                                     loading.get("model_source") or loading.get("model_id")))
        import_path = str(app.get("import_path", "")).lower()
        pip = str((app.get("runtime_env") or {}).get("pip", "")).lower() if isinstance(app.get("runtime_env"), dict) \
            else ""
        if not configs and ("vllm" in import_path or "vllm" in pip):
            flags = {flag_name(k): v for k, v in args.items() if not isinstance(v, dict | list)}
            engines.append(RayEngine(str(app.get("name") or "llm"), flags, app_env,
                                     str(flags.get("model")) if flags.get("model") else None))
    return engines


def _env_vars(runtime_env: Any) -> dict[str, str | None]:
    if not isinstance(runtime_env, dict) or not isinstance(runtime_env.get("env_vars"), dict):
        return {}
    return {str(k): None if v is None else str(v) for k, v in runtime_env["env_vars"].items()}
