"""Keyed lists for field ownership: the lists the Kubernetes schema marks `x-kubernetes-list-type: map`
(containers, env, ports, volumes, volumeMounts, conditions...) seen as maps from their keys to their items.

Server-side apply tracks such a list per element: a manager that applies container "one" owns
`f:containers: {k:{"name":"one"}: {...}}` and nothing of container "two", so two managers may each own a
container of one Deployment without conflict (structured-merge-diff does the same from the same schema markers).
`tree` turns an object into that shape, with each keyed list as a dict from `k:{...}` to its item, and
`untree` turns it back; the ownership code (`managed.py`) then works on plain nested dicts. A map the schema
marks `x-kubernetes-map-type: atomic` (a label selector, an object reference) becomes one `Atomic` leaf, owned as a
whole (`f:selector: {}`). Kinds without a schema here (custom resources) keep every list atomic.
"""

from __future__ import annotations

import json
from typing import Any

from coldstart.embedded.apiserver.openapi import definition_of, definitions

Schema = dict[str, Any]


class Atomic:
    """A map owned as one field: compared by value, never merged into; `untree` gives back a copy."""

    __slots__ = ("value",)

    def __init__(self, value: dict):
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Atomic) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


def root(obj: dict | None) -> Schema | None:
    """The schema of a built-in object from its apiVersion and kind (None for custom resources)."""
    if not obj:
        return None
    name = definition_of(str(obj.get("apiVersion") or ""), str(obj.get("kind") or ""))
    return definitions()[name] if name else None


def _resolve(node: Schema | None) -> Schema:
    ref = (node or {}).get("$ref")
    return definitions().get(ref.rsplit("/", 1)[-1], {}) if ref else (node or {})


def _child(schema: Schema, key: str) -> Schema | None:
    props = schema.get("properties")
    if isinstance(props, dict) and key in props:
        return _resolve(props[key])
    extra = schema.get("additionalProperties")
    return _resolve(extra) if isinstance(extra, dict) else None


def _keys(schema: Schema) -> list[str] | None:
    if schema.get("x-kubernetes-list-type") == "map" and schema.get("x-kubernetes-list-map-keys"):
        return list(schema["x-kubernetes-list-map-keys"])
    return None


def item_key(item: dict, keys: list[str]) -> str:
    """`k:{"containerPort":8000,"protocol":"TCP"}`: the path element of a keyed item, as FieldsV1 writes it."""
    return "k:" + json.dumps({k: item[k] for k in sorted(keys) if k in item}, separators=(",", ":"))


def _match(item: dict, keys: list[str], like: dict) -> str:
    """The item's key, or the key of the live item it names when it leaves out a defaulted key field
    (a port without `protocol` is the live port with protocol TCP)."""
    key = item_key(item, keys)
    if key in like or all(k in item for k in keys):
        return key
    given = {k: item[k] for k in keys if k in item}
    for live in like:
        fields = json.loads(live[2:])
        if all(fields.get(k) == v for k, v in given.items()):
            return str(live)
    return key


def tree(value: Any, schema: Schema | None, like: Any = None) -> Any:
    """`value` with every keyed list as a dict `k:{...} -> item` (items matched to those of `like`, the live
    object in the same shape, when a key field was left to its default)."""
    schema = _resolve(schema)
    if isinstance(value, list):
        keys = _keys(schema)
        items = _resolve(schema.get("items")) if isinstance(schema.get("items"), dict) else {}
        if keys is None or not all(isinstance(i, dict) for i in value):
            return value
        known = like if isinstance(like, dict) else {}
        out: dict[str, Any] = {}
        for item in value:
            key = _match(item, keys, known)
            out[key] = tree(item, items, known.get(key))
        return out if len(out) == len(value) else value  # duplicate keys (invalid): left whole for validation
    if isinstance(value, dict):
        if schema.get("x-kubernetes-map-type") == "atomic":
            return Atomic(value)
        return {k: tree(v, _child(schema, k), like.get(k) if isinstance(like, dict) else None)
                for k, v in value.items()}
    return value


def untree(value: Any, schema: Schema | None) -> Any:
    """Back from `tree`: each keyed list's dict to the list of its items, in the dict's order."""
    schema = _resolve(schema)
    if isinstance(value, Atomic):
        return json.loads(json.dumps(value.value))
    if isinstance(value, dict):
        if _keys(schema) is not None:
            items = _resolve(schema.get("items")) if isinstance(schema.get("items"), dict) else {}
            return [untree(v, items) for v in value.values()]
        return {k: untree(v, _child(schema, k)) for k, v in value.items()}
    return value
