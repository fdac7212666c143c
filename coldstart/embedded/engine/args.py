"""The simulated engine's view of its command line: the one launch parser (`coldstart.vllm.launch`, the same
the checker uses) read with vLLM's defaults, so the engine and the checker can never disagree on what a
container runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from coldstart.vllm.launch import Launch, container_launches, flag_name

DEFAULT_MODEL = "facebook/opt-125m"  # vLLM's default `--model` (EngineArgs.model) up to v0.11


@dataclass
class EngineArgs:
    """A launch with vLLM's defaults: the flags the simulation acts on, and every flag given (for the
    `non-default args` log line)."""

    launch: Launch

    @property
    def entry(self) -> str:
        return self.launch.entry

    @property
    def model(self) -> str:
        return str(self.launch.model or DEFAULT_MODEL)

    @property
    def env(self) -> dict[str, str]:
        """The environment the launch line itself sets (script exports and prefixes included)."""
        return {k: v for k, v in self.launch.env.items() if v is not None}

    def get(self, name: str, default: Any = None) -> Any:
        """A flag by any spelling (`max-model-len`, `max_model_len`)."""
        return self.launch.flags.get(flag_name(name), default)

    @property
    def port(self) -> int:
        default = 8080 if self.entry == "kserve" else 8000
        return _number(self.get("port", self.get("http_port", default)), default, int)

    @property
    def tensor_parallel(self) -> int:
        return max(1, _number(self.get("tensor_parallel_size", 1), 1, int))

    @property
    def gpu_memory_utilization(self) -> float:
        return _number(self.get("gpu_memory_utilization", 0.9), 0.9, float)

    @property
    def enforce_eager(self) -> bool:
        value = self.get("enforce_eager", False)
        return value is True or (isinstance(value, str) and value.lower() in ("1", "true", "yes", "on"))

    @property
    def compilation_level(self) -> int | None:
        raw = self.get("compilation_config")
        if raw is None:
            return None
        if isinstance(raw, str) and raw.strip().startswith("{"):
            try:
                data = json.loads(raw)
            except json.JSONDecodeError:
                return None
            raw = data.get("level", data.get("mode")) if isinstance(data, dict) else None
        if isinstance(raw, dict):
            raw = raw.get("level", raw.get("mode"))
        try:
            return int(raw)
        except (TypeError, ValueError):
            return None

    @property
    def load_format(self) -> str:
        return str(self.get("load_format", "auto"))

    @property
    def loader_extra(self) -> dict[str, Any]:
        raw = self.get("model_loader_extra_config")
        if isinstance(raw, str):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError:
                return {}
            return value if isinstance(value, dict) else {}
        return raw if isinstance(raw, dict) else {}

    def non_default(self) -> dict[str, Any]:
        """The `non-default args: {...}` dict vLLM logs: underscored names, typed values."""
        shown: dict[str, Any] = {}
        if self.launch.model_positional:
            shown["model_tag"] = self.model
        for name, value in self.launch.flags.items():
            shown[name] = _typed(value)
        shown.setdefault("model", self.model)
        return shown


def engine_launch(container: dict[str, Any], env: dict[str, str]) -> EngineArgs | None:
    """What the simulated engine runs in this container (its first vLLM launcher), or None for any other
    program. `env` is the process environment the kubelet built, so unknown shell variables are empty."""
    launch = next((ln for ln in container_launches(container, env, unset="empty") if ln.launcher), None)
    return EngineArgs(launch) if launch is not None else None


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
