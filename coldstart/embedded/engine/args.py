"""How the simulated vLLM reads its command line, as vLLM's own CLI would: `vllm serve <model>` (or
`--model`), `python -m vllm.entrypoints.openai.api_server`, KServe's `python -m huggingfaceserver`, the image's
entrypoint with args only, and all of these inside `sh -c` scripts (split with shlex after the shell's `$VAR`
expansion; `VAR=x` prefixes and `export` reach the engine's environment). `--flag=value`, `--flag value`,
`--flag_name`, `-tp 2`, `-O0` and `--model-loader-extra-config '{...}'` are understood.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh"}
BOOLEAN_FLAGS = {
    "enforce-eager", "trust-remote-code", "enable-chunked-prefill", "enable-prefix-caching", "disable-log-requests",
    "disable-log-stats", "enable-auto-tool-choice", "enable-lora", "disable-custom-all-reduce", "headless",
    "enable-expert-parallel", "disable-frontend-multiprocessing", "enable-log-requests", "enable-log-outputs",
    "enable-sleep-mode", "skip-tokenizer-init", "no-enable-prefix-caching", "no-enable-chunked-prefill",
    "no-enforce-eager", "disable-fastapi-docs", "enable-server-load-tracking", "async-scheduling",
    "disable-uvicorn-access-log", "enable-prompt-tokens-details", "disable-sliding-window",
}
SHORT = {"tp": "tensor-parallel-size", "pp": "pipeline-parallel-size", "dp": "data-parallel-size", "q": "quantization"}
API_SERVER_MODULES = {"vllm.entrypoints.openai.api_server", "vllm.entrypoints.api_server"}
_SHELL_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass
class EngineArgs:
    """The flags the simulation acts on, plus every flag given (for the `non-default args` log line)."""

    entry: str  # serve | api_server | kserve
    model: str
    flags: dict[str, Any] = field(default_factory=dict)  # dashed flag name -> value as given (True for booleans)
    env: dict[str, str] = field(default_factory=dict)  # variables the launch line itself sets

    def get(self, name: str, default: Any = None) -> Any:
        return self.flags.get(name, default)

    @property
    def port(self) -> int:
        default = 8080 if self.entry == "kserve" else 8000
        return _number(self.get("port", self.get("http-port", default)), default, int)

    @property
    def tensor_parallel(self) -> int:
        return max(1, _number(self.get("tensor-parallel-size", 1), 1, int))

    @property
    def gpu_memory_utilization(self) -> float:
        return _number(self.get("gpu-memory-utilization", 0.9), 0.9, float)

    @property
    def enforce_eager(self) -> bool:
        return bool(self.get("enforce-eager")) and not self.get("no-enforce-eager")

    @property
    def compilation_level(self) -> int | None:
        raw = self.get("compilation-config")
        if raw is None:
            return None
        if isinstance(raw, str) and raw.strip().startswith("{"):
            try:
                data = json.loads(raw)
            except json.JSONDecodeError:
                return None
            raw = data.get("level", data.get("mode"))
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None

    @property
    def load_format(self) -> str:
        return str(self.get("load-format", "auto"))

    @property
    def loader_extra(self) -> dict:
        raw = self.get("model-loader-extra-config")
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                return {}
            return value if isinstance(value, dict) else {}
        return {}

    def non_default(self) -> dict[str, Any]:
        """The `non-default args: {...}` dict vLLM logs: underscored names, typed values."""
        shown: dict[str, Any] = {}
        if self.entry == "serve" and self.get("__positional__"):
            shown["model_tag"] = self.model
        for name, value in self.flags.items():
            if name.startswith("__"):
                continue
            shown[name.replace("-", "_")] = _typed(value)
        shown.setdefault("model", self.model)
        return shown


def _number(value: Any, default: Any, cast: type) -> Any:
    """A numeric flag as vLLM's argparse would read it; the default when it is not a number."""
    try:
        return cast(float(str(value))) if cast is int else cast(str(value))
    except (TypeError, ValueError):
        return default


def _typed(value: Any) -> Any:
    if isinstance(value, bool | list):
        return value
    for cast in (int, float):
        try:
            return cast(value)
        except (TypeError, ValueError):
            continue
    return value


def shell_expand(script: str, env: dict[str, str]) -> str:
    """The shell's `$VAR`, `${VAR}` and `${VAR:-default}` expansion (unknown variables become empty)."""
    def sub(m: re.Match) -> str:
        name = m.group(1) or m.group(3)
        if name in env:
            return env[name]
        return m.group(2) or ""
    return _SHELL_VAR.sub(sub, script)


def _commands(script: str) -> list[list[str]]:
    """A shell script as simple commands (words), splitting on newlines, ; && || | and &."""
    lines = [line for line in script.replace("\\\n", " ").splitlines() if not line.strip().startswith("#")]
    lexer = shlex.shlex(";".join(lines), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    commands: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token and set(token) <= set(";&|"):
                commands.append([])
            else:
                commands[-1].append(token)
    except ValueError:
        return []
    return [c for c in commands if c]


def with_entrypoint(container: dict, argv: list[str]) -> list[str]:
    """argv as the process sees it: without `command`, the image's entrypoint comes first (`vllm serve` in
    vllm/vllm-openai and its rebuilds, `python -m huggingfaceserver` in KServe's image)."""
    if container.get("command"):
        return argv
    image = str(container.get("image", "")).lower()
    if "huggingfaceserver" in image:
        return ["python", "-m", "huggingfaceserver", *argv]
    if "vllm" in image and (not argv or os.path.basename(argv[0]) not in SHELLS | {"vllm", "python", "python3"}):
        return ["vllm", "serve", *argv]
    return argv


def find_launch(argv: list[str], image: str, env: dict[str, str]) -> EngineArgs | None:
    """The vLLM (or KServe Hugging Face server) launch in a container's argv, if any."""
    if argv and os.path.basename(argv[0]) in SHELLS:
        for i, word in enumerate(argv[1:], 1):
            if word.startswith("-") and "c" in word and i + 1 < len(argv):
                exported = dict(env)
                for command in _commands(argv[i + 1]):
                    found = _launch([shell_expand(w, exported) for w in command], image, exported)
                    if found is not None:
                        found.env = {**{k: v for k, v in exported.items() if env.get(k) != v}, **found.env}
                        return found
                return None
        return None
    return _launch(argv, image, dict(env))


def _launch(words: list[str], image: str, env: dict[str, str]) -> EngineArgs | None:
    own: dict[str, str] = {}
    if words and words[0] == "export":
        for assignment in words[1:]:
            name, eq, value = assignment.partition("=")
            if eq:
                env[name] = value
        return None
    while words and (words[0] in ("exec", "env", "nohup", "time") or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
        name, eq, value = words[0].partition("=")
        if eq:
            own[name] = value
        words = words[1:]
    if not words:
        return None
    head = os.path.basename(words[0])
    found: tuple[str, list[str]] | None = None
    if head == "vllm" and len(words) > 1 and words[1] == "serve":
        found = ("serve", words[2:])
    elif head.startswith("python") and "-m" in words:
        i = words.index("-m")
        module = words[i + 1] if i + 1 < len(words) else ""
        if module in API_SERVER_MODULES:
            found = ("api_server", words[i + 2:])
        elif module == "huggingfaceserver":
            found = ("kserve", words[i + 2:])
    elif words[0].startswith("-") or (len(words) == 1 and "/" in words[0] and not words[0].startswith("/bin")):
        if "huggingfaceserver" in image:
            found = ("kserve", words)
        elif "vllm" in image:
            found = ("serve", words)  # the vllm/vllm-openai image's entrypoint takes serve's arguments
    if found is None:
        return None
    args = parse_flags(*found)
    args.env.update(own)
    return args


def parse_flags(entry: str, words: list[str]) -> EngineArgs:
    flags: dict[str, Any] = {}
    model = ""
    i = 0
    while i < len(words):
        word = words[i]
        following = words[i + 1] if i + 1 < len(words) else None
        if word.startswith("-O") and not word.startswith("--"):
            value = word[2:].lstrip("=.") or following or ""
            if not word[2:]:
                i += 1
            flags["compilation-config"] = value.removeprefix("level=")
        elif word.startswith("-") and not word.startswith("--") and word[1:] in SHORT:
            flags[SHORT[word[1:]]] = following
            i += 1
        elif word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            name = name.replace("_", "-")
            if eq:
                flags[name] = value
            elif name == "served-model-name":
                names = []
                while i + 1 < len(words) and not words[i + 1].startswith("--"):
                    names.append(words[i + 1])
                    i += 1
                flags[name] = names
            elif name in BOOLEAN_FLAGS or following is None or (following.startswith("--")):
                flags[name] = True
            else:
                flags[name] = following
                i += 1
        elif not model and entry == "serve":
            model = word
            flags["__positional__"] = True
        i += 1
    for key in ("model", "model-id", "model-dir"):
        if flags.get(key):
            model = str(flags[key])
            break
    return EngineArgs(entry, model or "facebook/opt-125m", flags)
