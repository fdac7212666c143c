"""Find the vLLM launch in a container and read its flags and environment, wherever people put them.

Real manifests start vLLM as `vllm serve`, `python -m vllm.entrypoints.openai.api_server`, inside `sh -c`
scripts that `export` variables and reference `${X}`, through Kubernetes `$(VAR)` expansion, or as Ray
Serve `engine_kwargs`. The checker judges meaning, so everything is reduced to one normalized flag map
(`--gpu-memory-utilization`, `--gpu_memory_utilization=` and `gpu_memory_utilization:` are the same key)
plus the environment the engine process will see.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from coldstart.vllm.shell import commands, expand, positional

SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh"}
# Flags vLLM defines as store_true (or BooleanOptionalAction): they never take the next word as a value.
BOOLEAN_FLAGS = {
    "enforce_eager", "trust_remote_code", "enable_chunked_prefill", "enable_prefix_caching", "disable_log_requests",
    "disable_log_stats", "enable_auto_tool_choice", "enable_lora", "disable_custom_all_reduce", "headless",
    "enable_expert_parallel", "disable_frontend_multiprocessing", "enable_log_requests", "enable_sleep_mode",
    "is_prefill_worker", "is_decode_worker", "skip_tokenizer_init", "disable_sliding_window", "use_v2_block_manager",
    "enable_reasoning", "no_enable_prefix_caching", "no_enforce_eager", "no_enable_chunked_prefill",
    "disable_fastapi_docs", "enable_server_load_tracking", "api_server_count_auto",
}
FLAG_ALIASES = {"tp": "tensor_parallel_size", "pp": "pipeline_parallel_size", "dp": "data_parallel_size",
                "o": "compilation_config", "q": "quantization"}
_NOT_LAUNCHERS = {"echo", "printf", "pip", "pip3", "uv", "apt", "apt-get", "yum", "dnf", "apk", "wget", "curl",
                  "cat", "grep", "sed", "awk", "test", "[", "until", "while", "if", "for", "kill", "pkill"}
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_K8S_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def flag_name(raw: str) -> str:
    """`--gpu-memory-utilization` / `gpu_memory_utilization` -> `gpu_memory_utilization`."""
    name = raw.lstrip("-").replace("-", "_").lower()
    return FLAG_ALIASES.get(name, name)


@dataclass
class Launch:
    """What one container runs: the vLLM server itself (`launcher`) or a process that hosts engine workers."""

    role: str  # "launcher" | "host"
    flags: dict[str, Any] = field(default_factory=dict)
    model: str | None = None
    env: dict[str, str | None] = field(default_factory=dict)  # environment at the launch, after script exports
    how: str = ""


def expand_k8s(text: str, env: Mapping[str, str | None]) -> str:
    """Kubernetes `$(VAR)` expansion in command/args/env: defined names are replaced, `$$` escapes a `$`."""
    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        value = env.get(match.group(1))
        return match.group(0) if value is None else value
    return _K8S_REF.sub(sub, text)


def parse_flags(tokens: list[str]) -> tuple[dict[str, Any], list[str]]:
    """(normalized flags, positionals) from an argv tail; `--x=v`, `--x v`, boolean flags and `--no-x`."""
    flags: dict[str, Any] = {}
    positional: list[str] = []
    expanded: list[str] = []
    for token in tokens:  # "--port 8080" as one list item is a common slip that vLLM users mean as two
        if token.startswith("-") and " " in token.strip() and "=" not in token.split(" ", 1)[0]:
            expanded.extend(token.split())
        else:
            expanded.append(token)
    i = 0
    while i < len(expanded):
        token = expanded[i]
        if token.startswith("-") and len(token) > 1 and not _is_number(token):
            raw, eq, value = token.partition("=")
            name = flag_name(raw)
            if eq:
                flags[name] = value
            elif name in BOOLEAN_FLAGS or i + 1 >= len(expanded) or _looks_like_flag(expanded[i + 1]):
                if name.startswith("no_"):
                    flags[name[3:]] = False
                else:
                    flags[name] = True
            else:
                flags[name] = expanded[i + 1]
                i += 1
        else:
            positional.append(token)
        i += 1
    return flags, positional


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


def load_structured(value: Any) -> Any:
    """A JSON (or YAML/Python-literal-ish) value given as a string, e.g. `--model-loader-extra-config`."""
    if not isinstance(value, str):
        return value
    for loads in (json.loads, yaml.safe_load):
        try:
            return loads(value)
        except (ValueError, yaml.YAMLError):
            continue
    return value


# ---------------------------------------------------------------------------------------------------
# Launch detection


def find_launches(argv: list[str], env: Mapping[str, str | None], image_is_engine: bool) -> list[Launch]:
    """Every vLLM launch (or engine host) in a container's command+args; [] when it runs something else.

    `argv` is command + args after Kubernetes expansion. With an empty command, the image's entrypoint runs:
    for a vLLM image that is `vllm serve`, so the args are its flags.
    """
    env = dict(env)
    if not argv:
        return [Launch("launcher", env=env, how="image entrypoint")] if image_is_engine else []
    script = _shell_script(argv)
    if script is not None:
        return _script_launches(script, {**env, **positional(_script_params(argv))})
    launch = _launch_in(argv, env)
    if launch is not None:
        return [launch]
    return []


def entrypoint_launch(args: list[str], env: Mapping[str, str | None]) -> Launch:
    """Args given to a vLLM image's own entrypoint (`vllm serve`): positional model and flags."""
    flags, positional = parse_flags(args)
    return Launch("launcher", flags, positional[0] if positional else flags.get("model"), dict(env),
                  "image entrypoint")


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
            return _launcher(words[i + 2:], env, "vllm serve", positional_model=True)
        if word.startswith("vllm.entrypoints"):
            tail = words[i + 1:]
            if tail[:1] == ["serve"]:
                return _launcher(tail[1:], env, f"python -m {word} serve", positional_model=True)
            return _launcher(tail, env, f"python -m {word}", positional_model=False)
        if word.endswith("vllm/entrypoints/openai/api_server.py"):
            return _launcher(words[i + 1:], env, "api_server.py", positional_model=False)
        if word == "dynamo.vllm" or (word == "huggingfaceserver" and i and words[i - 1] == "-m"):
            launch = _launcher(words[i + 1:], env, f"python -m {word}", positional_model=False)
            if word == "huggingfaceserver" and str(launch.flags.get("backend", "vllm")).lower() == "huggingface":
                return None
            return launch
        if base == "multi-node-serving.sh" or (base == "ray" and nxt == "start"):
            return Launch("host", env=_env_only(env), how="Ray worker for a multi-node engine")
    return None


def _launcher(tail: list[str], env: dict[str, str | None], how: str, positional_model: bool) -> Launch:
    flags, positional = parse_flags(tail)
    model = positional[0] if positional_model and positional else None
    model = model or (flags.get("model") if isinstance(flags.get("model"), str) else None)
    return Launch("launcher", flags, model, _env_only(env), how)


# ---------------------------------------------------------------------------------------------------
# Shell scripts: follow exports and ${X} to the launch


def _script_launches(script: str, env: dict[str, str | None], depth: int = 0) -> list[Launch]:
    launches: list[Launch] = []
    hosts: list[Launch] = []
    for command in commands(script):
        words = [w for part in command for w in expand(part, env)]
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
        inner = _shell_script(words)
        if inner is not None and depth < 3:
            found = _script_launches(inner, {**local_env, **positional(_script_params(words))}, depth + 1)
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
    config = load_structured(serve_config) if isinstance(serve_config, str) else serve_config
    if not isinstance(config, dict):
        return []
    engines: list[RayEngine] = []
    for app in config.get("applications") or []:
        if not isinstance(app, dict):
            continue
        app_env = _env_vars(app.get("runtime_env"))
        args = app.get("args") if isinstance(app.get("args"), dict) else {}
        configs = args.get("llm_configs") or ([args["llm_config"]] if isinstance(args.get("llm_config"), dict) else [])
        configs = configs if isinstance(configs, list) else [configs]
        for cfg in configs:
            if isinstance(cfg, str):
                engines.append(RayEngine(cfg.rsplit("/", 1)[-1], {}, app_env, None, settings_file=cfg))
                continue
            if not isinstance(cfg, dict):
                continue
            loading = cfg.get("model_loading_config") if isinstance(cfg.get("model_loading_config"), dict) else {}
            kwargs = cfg.get("engine_kwargs") if isinstance(cfg.get("engine_kwargs"), dict) else {}
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
