"""Loading profiles: a shipped name or a user's file, its `extends:` chain merged, validated into the model.

A profile is a shipped name (`baseline`, `gke`, `eks`, `aks` in `params/`) or a path to a user's own file that
`extends:` one. Loading merges the chain, then validates it into frozen pydantic objects; any problem
is reported as one `ProfileError` naming the file, the key path and what to write instead.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from coldstart.errors import ProfileError
from coldstart.inputs.files import PROFILE, read_bytes
from coldstart.inputs.yamlsafe import load_yaml
from coldstart.profiles.model import Profile

PARAMS_DIR = Path(__file__).resolve().parent / "params"


# ---------------------------------------------------------------------------------------------------
# Loading


def shipped_profiles() -> list[str]:
    """Names of the profiles in params/."""
    return sorted(p.stem for p in PARAMS_DIR.glob("*.yaml"))


def resolve_profile_path(ref: str | Path, relative_to: Path | None = None) -> Path:
    """A shipped name (`gke`) or a path; relative paths resolve against the extending file."""
    text = str(ref)
    if "/" not in text and not text.endswith((".yaml", ".yml")):
        path = PARAMS_DIR / f"{text}.yaml"
        if not path.exists():
            raise ProfileError(f"profile {text!r} not found: shipped profiles are "
                               f"{', '.join(shipped_profiles())}, or give a path to a .yaml file")
        return path
    path = Path(text).expanduser()
    if not path.is_absolute() and relative_to is not None:
        path = relative_to.parent / path
    if not path.exists():
        raise ProfileError(f"profile file {path} does not exist; check the path")
    return path.resolve()


def _read_yaml(path: Path) -> dict[str, Any]:
    """A profile file: a regular file within the profile size limit, UTF-8, one safely loaded YAML mapping."""
    data = load_yaml(read_bytes(path, PROFILE, error=ProfileError), str(path), error=ProfileError)
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a YAML mapping of keys, got {type(data).__name__}")
    return data


# Free-form maps that a child profile replaces whole: a GKE node selector must not keep the baseline's labels.
_REPLACED_MAPS = {("gpu", "node_selector")}


def _merge(base: dict, override: dict, origin: dict[tuple, Path], path: Path, prefix: tuple = ()) -> dict:
    """Deep-merge override into base (maps merge, everything else replaces), recording each key's file."""
    merged = dict(base)
    for key, value in override.items():
        here = (*prefix, key)
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and here not in _REPLACED_MAPS:
            merged[key] = _merge(merged[key], value, origin, path, here)
        else:
            merged[key] = value
            for known in [k for k in origin if k[: len(here)] == here]:
                del origin[known]
        origin[here] = path
    return merged


def _load_chain(path: Path, origin: dict[tuple, Path], seen: tuple[Path, ...] = ()) -> dict:
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ProfileError(f"{path}: extends itself ({chain}); remove the cycle")
    data = _read_yaml(path)
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return _merge({}, data, origin, path)
    if not isinstance(parent_ref, str):
        raise ProfileError(f"{path}: extends: must be a profile name or a path, got {parent_ref!r}")
    parent = _load_chain(resolve_profile_path(parent_ref, relative_to=path), origin, (*seen, path))
    return _merge(parent, data, origin, path)


def _describe(error: ErrorDetails, merged: dict, origin: dict[tuple, Path], fallback: Path) -> str:
    loc = tuple(error["loc"])
    key_path = ".".join(str(p) for p in loc)
    file = next((origin[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in origin), fallback)
    if error["type"] == "extra_forbidden":
        parent = merged
        for part in loc[:-1]:
            parent = parent.get(part, {}) if isinstance(parent, dict) else {}
        model: type[BaseModel] | None = Profile
        for part in loc[:-1]:
            if model is None:
                break
            field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
            annotation = getattr(field, "annotation", None)
            model = next((a for a in getattr(annotation, "__args__", (annotation,))
                          if isinstance(a, type) and issubclass(a, BaseModel)), None)
        known = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"{file}: {key_path}: unknown key; remove it or fix the spelling ({hint})"
    if error["type"] == "missing":
        return f"{file}: {key_path}: required key is missing; add it (see params/baseline.yaml)"
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    if error["type"] in {"value_error"} or got is None or isinstance(got, dict | list):
        return f"{file}: {key_path}: {message}"
    return f"{file}: {key_path}: {message}, got {got!r}"


def load_profile(ref: str | Path) -> Profile:
    """Load and validate a profile by shipped name or path; raise ProfileError naming file and key.

    A file that extends another but names no profile of its own is named after the file, so its runs are
    never filed (and compared) under the name of the profile it extends."""
    path = resolve_profile_path(ref)
    origin: dict[tuple, Path] = {}
    merged = _load_chain(path, origin)
    if origin.get(("name",)) != path:
        merged["name"] = path.stem
        origin[("name",)] = path
    try:
        return Profile.model_validate(merged)
    except ValidationError as exc:
        errors = exc.errors()
        first = _describe(errors[0], merged, origin, path)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ProfileError(first + more) from None


def profile_with(profile: Profile, changes: dict[str, Any]) -> Profile:
    """A validated copy with dotted-key changes (`{"runtime.gpu_memory_utilization": 0.9}`), for experiments."""
    data = profile.model_dump()
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ProfileError(f"profile {profile.name}: {dotted}: no such key to change")
            node = node[part]
        if leaf not in node:
            raise ProfileError(f"profile {profile.name}: {dotted}: no such key to change")
        node[leaf] = value
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        first = _describe(exc.errors()[0], data, {}, Path(f"profile {profile.name}"))
        raise ProfileError(first) from None
