"""Field ownership (`metadata.managedFields`) and server-side apply.

Every write through the API records which manager set which fields, in the FieldsV1 form kubectl and
the client libraries read (`{"f:spec": {"f:replicas": {}}}`). Server-side apply uses that record the way
kube-apiserver does: the applied configuration's fields are set, fields the manager applied before and
no longer applies are removed unless someone else also owns them, and changing a field another manager
owns is a conflict unless forced (then ownership moves).

Lists the Kubernetes schema marks as keyed (`x-kubernetes-list-type: map`: containers, env, ports, volumes,
conditions...) are owned per element, by their keys (`k:{"name":"vllm"}`, see listmaps.py), as the real server
does: two managers may each own one container of a Deployment. Other lists, and every list of a custom resource
(no schema here), are atomic: a manager owns the whole list.
"""

from __future__ import annotations

import json
from typing import Any

from coldstart.embedded.apiserver import listmaps

Path = tuple[str, ...]
_MISSING = object()
# metadata the server owns or that identifies the object: never part of a field set
_SKIP_META = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "selfLink",
              "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"}


class ApplyConflict(Exception):
    """Applying would change fields other managers own: (manager, path) pairs."""

    def __init__(self, conflicts: list[tuple[str, Path]]):
        super().__init__(message(conflicts))
        self.conflicts = conflicts


def dotted(path: Path) -> str:
    """A field path as structured-merge-diff prints it: `.spec.template.spec.containers[name="vllm"].image`."""
    out = ""
    for part in path:
        if part.startswith("k:"):
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(part[2:]).items()) + "]"
        else:
            out += "." + part
    return out


def manager_label(entry: dict) -> str:
    """How a conflict names the other manager: `"m"`, `"m" with subresource "status"`, `"m" using apps/v1` (an
    Update manager, whose ownership came with an API version)."""
    label = json.dumps(entry.get("manager", ""))
    if entry.get("subresource"):
        label += f' with subresource "{entry["subresource"]}"'
    if entry.get("operation") == "Update":
        label += f" using {entry.get('apiVersion', '')}"
    return label


def message(conflicts: list[tuple[str, Path]]) -> str:
    """kube-apiserver's wording: `Apply failed with 1 conflict: conflict with "m": .spec.replicas` (each manager
    as `manager_label` names it)."""
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {manager}: {dotted(path)}"
    managers = sorted({m for m, _ in conflicts})
    lines = "\n".join(f"- {dotted(p)}" for _, p in conflicts)
    if len(managers) == 1:
        return f"Apply failed with {len(conflicts)} conflicts: conflicts with {managers[0]}:\n{lines}"
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(
        f"conflict with {m}: {dotted(p)}" for m, p in conflicts)


# ---------------------------------------------------------------------------------------------------
# Field sets


def scoped(obj: dict, subresource: str | None, status_split: bool) -> dict:
    """The part of an object a write through `subresource` may own (status only, or all but status)."""
    if subresource == "status":
        return {"status": obj["status"]} if isinstance(obj.get("status"), dict) else {}
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind") and not (status_split and k == "status")}
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k not in _SKIP_META}
        if not out["metadata"]:
            del out["metadata"]
    return out


def leaf_paths(obj: Any, prefix: Path = ()) -> set[Path]:
    """Paths of every leaf: scalars, lists (atomic) and empty maps."""
    if isinstance(obj, dict) and obj:
        out: set[Path] = set()
        for key, value in obj.items():
            out |= leaf_paths(value, (*prefix, key))
        return out
    return {prefix} if prefix else set()


def get(obj: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return _MISSING
        obj = obj[part]
    return obj


def remove(obj: dict, path: Path, keep: set[Path]) -> None:
    """Delete the leaf at path, then parents it leaves empty (unless a parent is itself an owned leaf)."""
    chain = [obj]
    for part in path[:-1]:
        node = chain[-1].get(part)
        if not isinstance(node, dict):
            return
        chain.append(node)
    chain[-1].pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):
        if chain[depth] or path[:depth] in keep:
            break
        chain[depth - 1].pop(path[depth - 1], None)


def to_fields_v1(paths: set[Path]) -> dict:
    root: dict = {}
    for path in sorted(paths):
        node = root
        for part in path:
            key = part if part.startswith(("k:", "v:", "i:", ".")) else f"f:{part}"
            node = node.setdefault(key, {})
            if part.startswith("k:"):
                node.setdefault(".", {})  # the keyed item itself is owned too
    return root


def from_fields_v1(doc: Any, prefix: Path = ()) -> set[Path]:
    if not isinstance(doc, dict) or not doc:
        return {prefix} if prefix else set()
    out: set[Path] = set()
    for key, value in doc.items():
        if key == ".":
            if not (prefix and prefix[-1].startswith("k:")):  # an item's "." comes with its fields
                out.add(prefix)
            continue
        part = key[2:] if key.startswith("f:") else key
        out |= from_fields_v1(value, (*prefix, part))
    return out


def _prefixes(paths: set[Path]) -> set[Path]:
    return {p[:n] for p in paths for n in range(1, len(p))}


def _overlaps(path: Path, owned: set[Path], owned_prefixes: set[Path]) -> bool:
    return path in owned or path in owned_prefixes or any(path[:n] in owned for n in range(1, len(path)))


def _disown(paths: set[Path], owned: set[Path]) -> set[Path]:
    """owned minus every path overlapping `paths` (equal, under or above one of them)."""
    pre = _prefixes(paths)
    return {q for q in owned if not _overlaps(q, paths, pre)}


# ---------------------------------------------------------------------------------------------------
# managedFields entries


def _entries(obj: dict | None) -> list[dict]:
    return list(((obj or {}).get("metadata") or {}).get("managedFields") or [])


def _entry_key(entry: dict) -> tuple[str, str, str]:
    return entry.get("manager", ""), entry.get("operation", ""), entry.get("subresource", "")


def _sets(obj: dict | None) -> dict[tuple[str, str, str], tuple[dict, set[Path]]]:
    return {_entry_key(e): (e, from_fields_v1(e.get("fieldsV1"))) for e in _entries(obj)}


def _write(obj: dict, sets: dict[tuple[str, str, str], tuple[dict, set[Path]]], changed: set[tuple],
           api_version: str, now: str) -> None:
    entries = []
    for key, (entry, paths) in sets.items():
        if not paths:
            continue
        if key in changed or not entry:
            manager, operation, subresource = key
            entry = {"manager": manager, "operation": operation, "apiVersion": api_version, "time": now,
                     "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(paths)}
            if subresource:
                entry["subresource"] = subresource
        entries.append(entry)
    if entries:
        obj.setdefault("metadata", {})["managedFields"] = entries
    else:
        obj.get("metadata", {}).pop("managedFields", None)


def record_update(old: dict | None, new: dict, manager: str, subresource: str | None, status_split: bool,
                  api_version: str, now: str) -> None:
    """Record a create/update/patch by `manager` in new's managedFields (it owns what it changed)."""
    sets = _sets(old)
    schema = listmaps.root(new)
    before = listmaps.tree(scoped(old, subresource, status_split), schema) if old else {}
    after = listmaps.tree(scoped(new, subresource, status_split), schema)
    old_paths, new_paths = leaf_paths(before), leaf_paths(after)
    changed = {p for p in new_paths if get(before, p) != get(after, p)}
    removed = old_paths - new_paths
    key = (manager, "Update", subresource or "")
    touched = set()
    for other, (entry, owned) in list(sets.items()):
        if other == key:
            continue
        kept = _disown(changed | removed, owned) if (changed or removed) else owned
        if kept != owned:
            sets[other] = (entry, kept)
            touched.add(other)
    if changed:
        entry, owned = sets.get(key, ({}, set()))
        sets[key] = (entry, (owned - removed) | changed)
        touched.add(key)
    _write(new, sets, touched, api_version, now)


def apply(live: dict | None, config: dict, manager: str, subresource: str | None, status_split: bool) -> dict:
    """The object after applying `config` as `manager` (no ownership bookkeeping yet, see `record_apply`)."""
    schema = listmaps.root(live) or listmaps.root(config)
    new = listmaps.tree(json.loads(json.dumps(live)), schema) if live is not None else {}
    applied = listmaps.tree(scoped(config, subresource, status_split), schema, new)
    previous = _sets(live).get((manager, "Apply", subresource or ""), ({}, set()))[1]
    others: set[Path] = set()
    for key, (_, owned) in _sets(live).items():
        if key != (manager, "Apply", subresource or ""):
            others |= owned
    mine = leaf_paths(applied)
    mine_above, others_above = _prefixes(mine), _prefixes(others)
    for path in sorted(previous - mine, key=len, reverse=True):  # what it applied before and no longer does
        if path in mine_above or _overlaps(path, others, others_above):
            continue  # still under a field it applies (an empty map clears it), or someone else's
        remove(new, path, others | mine)
    _deep_merge(new, applied)
    for name in ("apiVersion", "kind"):
        if name in config:
            new[name] = config[name]
    meta = new.setdefault("metadata", {})
    for name in ("name", "namespace", "generateName"):
        if name in (config.get("metadata") or {}) and name not in meta:
            meta[name] = config["metadata"][name]
    return dict(listmaps.untree(new, schema))


def _deep_merge(target: dict, source: dict) -> None:
    for key, value in source.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            _deep_merge(target[key], value)
        else:
            target[key] = _copy(value)


def _copy(value: Any) -> Any:
    """A deep copy of a tree (Atomic leaves are never mutated, so shared)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def record_apply(live: dict | None, result: dict, config: dict, manager: str, subresource: str | None,
                 status_split: bool, force: bool, api_version: str, now: str) -> None:
    """Check conflicts of an apply against `live` and record ownership in `result`'s managedFields.

    Raises ApplyConflict when a field another manager owns would change and `force` is false."""
    schema = listmaps.root(result)
    before = listmaps.tree(scoped(live, subresource, status_split), schema) if live else {}
    after = listmaps.tree(scoped(result, subresource, status_split), schema)
    mine = leaf_paths(listmaps.tree(scoped(config, subresource, status_split), schema, after))
    changing = {p for p in mine if get(before, p) != get(after, p)}
    sets = _sets(live)
    key = (manager, "Apply", subresource or "")
    conflicts: list[tuple[str, Path]] = []
    touched = {key}
    for other, (entry, owned) in list(sets.items()):
        if other[0] == manager or other[2] != (subresource or ""):
            continue
        pre = _prefixes(owned)
        hits = sorted(p for p in changing if _overlaps(p, owned, pre))
        if hits and not force:
            conflicts.extend((manager_label(entry), p) for p in hits)
        elif hits:
            sets[other] = (entry, _disown(set(hits), owned))
            touched.add(other)
    if conflicts:
        raise ApplyConflict(conflicts)
    entry = sets.get(key, ({}, set()))[0]
    if sets.get(key, ({}, set()))[1] == mine:
        touched.discard(key)
    sets[key] = (entry, mine)
    # removed fields nobody owns any more drop out of every set
    gone = leaf_paths(before) - leaf_paths(after)
    for other, (entry, owned) in list(sets.items()):
        if other != key and owned & gone:
            sets[other] = (entry, owned - gone)
            touched.add(other)
    _write(result, sets, touched, api_version, now)
