"""The three patch forms of Kubernetes, as pure functions on plain dicts: the embedded API server's PATCH verb and
every merge of two specs in the project (KServe's runtime + predictor, LLMInferenceService presets) use them.

- JSON merge patch (RFC 7386): maps merge, `null` deletes, lists replace.
- Strategic merge patch: a merge patch where the lists the built-in types declare with a patch merge key
  (containers and env by `name`, volumeMounts by `mountPath`, container ports by `containerPort`, conditions by
  `type`, ...) merge item by item, `finalizers` merge as a set, and the `$patch`, `$retainKeys`,
  `$deleteFromPrimitiveList/...` and `$setElementOrder/...` directives are honoured (the last is only dropped:
  order follows the live list). Lists without a declared key replace, as in the real server.
- JSON patch (RFC 6902): add, remove, replace, move, copy and test on JSON pointers.

All functions edit `target` in place and return it; callers pass a private copy.
"""

from __future__ import annotations

import copy
from typing import Any

from coldstart.errors import InputError

__all__ = ["MERGE_KEYS", "MalformedPatch", "PatchError", "json_patch", "merge_patch", "strategic_merge"]


class PatchError(InputError):
    """The patch cannot be applied to this object (an API server answers 422)."""


class MalformedPatch(PatchError):
    """The patch body itself is not a valid patch of its type (an API server answers 400)."""


# ---------------------------------------------------------------------------------------------------
# JSON merge patch


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: apply `patch` onto `target`."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


# ---------------------------------------------------------------------------------------------------
# Strategic merge patch

MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name",
    "volumes": "name", "imagePullSecrets": "name", "resourceClaims": "name", "volumeMounts": "mountPath",
    "volumeDevices": "devicePath", "conditions": "type", "ownerReferences": "uid", "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey", "ports": "containerPort",
}
_SET_LISTS = {"finalizers"}


def _merge_key(field: str, items: list) -> str | None:
    key = MERGE_KEYS.get(field)
    if field == "ports" and any(isinstance(i, dict) and "containerPort" not in i and "port" in i for i in items):
        key = "port"  # a Service's ports merge by port
    return key


def strategic_merge(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch (see module docstring for what is honoured)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    directive = patch.get("$patch")
    if directive == "delete":
        return None
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive is not None and directive != "merge":
        raise MalformedPatch(f"unknown patch type: {directive!r}")
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            if isinstance(target.get(field), list):
                target[field] = [v for v in target[field] if v not in (value or [])]
            continue
        if value is None:
            target.pop(key, None)
        elif isinstance(value, list):
            target[key] = _merge_list(key, target.get(key), value)
        elif isinstance(value, dict):
            merged = strategic_merge(target.get(key), value)
            if merged is None:
                target.pop(key, None)
            else:
                target[key] = merged
        else:
            target[key] = value
    if isinstance(retain, list):
        for key in [k for k in target if k not in retain]:
            del target[key]
    return target


def _merge_list(field: str, live: Any, patch: list[Any]) -> list[Any]:
    if any(isinstance(i, dict) and i.get("$patch") == "replace" for i in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, dict) and i.get("$patch") == "replace")]
    current: list[Any] = live if isinstance(live, list) else []
    if field in _SET_LISTS and all(not isinstance(i, dict | list) for i in patch):
        return current + [v for v in patch if v not in current]
    key = _merge_key(field, patch)
    if key is None or not all(isinstance(i, dict) for i in patch):
        return [i for i in copy.deepcopy(patch) if not (isinstance(i, dict) and i.get("$patch") == "delete")]
    result = list(current)
    for item in patch:
        if key not in item:
            raise MalformedPatch(f"map: {item} does not contain declared merge key: {key}")
        index = next((n for n, cur in enumerate(result) if isinstance(cur, dict) and cur.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
            continue
        if index is None:
            result.append(strategic_merge({}, item))
        else:
            result[index] = strategic_merge(result[index], item)
    return result


# ---------------------------------------------------------------------------------------------------
# JSON patch (RFC 6902)


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise MalformedPatch(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]] if path else []


def _index(container: list, token: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"invalid array index: {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"array index out of bounds: {index}")
    return index


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    node = doc
    for token in tokens[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, False)]
        else:
            raise PatchError(f"doc is missing path: {path!r}")
    return node


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"doc is missing path: {path!r}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, False)]
    raise PatchError(f"doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, True), value)
    else:
        raise PatchError(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent, last = _parent(doc, tokens, path), tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}: missing value")
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, False))
    raise PatchError(f"doc is missing path: {path!r}")


def json_patch(doc: Any, operations: Any) -> Any:
    """Apply an RFC 6902 operation list."""
    if not isinstance(operations, list):
        raise MalformedPatch("json patch must be a list of operations")
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise MalformedPatch(f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise MalformedPatch(f"missing value for {kind} operation at {path}")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)  # must exist
            tokens = _pointer(path)
            if not tokens:
                doc = copy.deepcopy(op["value"])
            else:
                parent = _parent(doc, tokens, path)
                key = tokens[-1] if isinstance(parent, dict) else _index(parent, tokens[-1], False)
                parent[key] = copy.deepcopy(op["value"])
        elif kind in ("move", "copy"):
            if "from" not in op:
                raise MalformedPatch(f"missing from for {kind} operation at {path}")
            value = _remove(doc, op["from"]) if kind == "move" else copy.deepcopy(_get(doc, op["from"]))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {path} failed")
        else:
            raise MalformedPatch(f"unexpected kind: {kind}")
    return doc
