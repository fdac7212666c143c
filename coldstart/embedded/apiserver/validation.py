"""Field validation against the upstream OpenAPI definitions (`openapi.py`), as kube-apiserver decodes a body.

- A value of the wrong type (`containerPort: "eighty"`) cannot be decoded: 400 BadRequest, worded like the Go
  JSON decoder's error, whatever `fieldValidation` says.
- An unknown field (`spec.bogusField`) is dropped from the object. `fieldValidation=Strict` refuses the request
  instead (400, `strict decoding error: unknown field "spec.bogusField"`); `Warn` (the default) keeps it dropped
  and sends one `Warning` header per field; `Ignore` drops it silently.

Custom resources are not checked (their CRDs preserve unknown fields here). Enumerations and required fields are
the validation stage's business (admission.py, 422 Invalid), not the decoder's.
"""

from __future__ import annotations

from typing import Any

from coldstart.embedded.apiserver.errors import bad_request
from coldstart.embedded.apiserver.openapi import definition_name, definitions
from coldstart.embedded.store.resources import Resource

MODES = ("Strict", "Warn", "Ignore")
_JSON_TYPES = {str: "string", bool: "bool", int: "number", float: "number", list: "array", dict: "object"}
_GO_TYPES = {"integer": "int64", "number": "float64", "string": "string", "boolean": "bool", "array": "[]",
             "object": "map"}


class _Walk:
    def __init__(self) -> None:
        self.unknown: list[str] = []
        self.type_error: str | None = None

    def schema(self, node: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        ref = node.get("$ref")
        if not ref:
            return node, None
        name = ref.rsplit("/", 1)[-1]
        return definitions().get(name, {}), name

    def value(self, value: Any, node: dict[str, Any], path: str, owner: str) -> None:
        schema, name = self.schema(node)
        owner = (name or "").rsplit(".", 1)[-1] or owner
        if value is None or self.type_error or schema.get("x-kubernetes-preserve-unknown-fields"):
            return
        want = schema.get("type")
        if schema.get("x-kubernetes-int-or-string") or schema.get("format") == "quantity":
            ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        elif want == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif want == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        elif want in ("string", "boolean", "array", "object"):
            ok = isinstance(value, {"string": str, "boolean": bool, "array": list, "object": dict}[want])
        else:
            ok = True
        if not ok:
            go = schema.get("format") if want == "integer" and schema.get("format") else _GO_TYPES.get(str(want), want)
            field = ".".join(p.split("[")[0] for p in path.split(".") if p)
            self.type_error = (f"json: cannot unmarshal {_JSON_TYPES.get(type(value), 'value')} into Go struct field "
                               f"{owner}.{field} of type {go}")
            return
        if isinstance(value, list) and isinstance(schema.get("items"), dict):
            for n, item in enumerate(value):
                self.value(item, schema["items"], f"{path}[{n}]", owner)
        elif isinstance(value, dict):
            self.object(value, schema, path, owner)

    def object(self, obj: dict[str, Any], schema: dict[str, Any], path: str, owner: str) -> None:
        properties = schema.get("properties")
        extra = schema.get("additionalProperties")
        if properties is None and not isinstance(extra, dict):
            return  # an object of any shape (RawExtension, FieldsV1)
        for key in list(obj):
            where = f"{path}.{key}" if path else key
            if properties is not None and key in properties:
                self.value(obj[key], properties[key], where, owner)
            elif isinstance(extra, dict):  # a map's key is no Go struct field: errors name the map
                self.value(obj[key], extra, f"{path}[{key}]", owner)
            else:
                self.unknown.append(where)
                del obj[key]


def check(resource: Resource, obj: dict[str, Any], mode: str | None, duplicates: list[str] | None = None) -> list[str]:
    """Decode-time checks of `obj` (pruned in place; `duplicates`: fields the body gave twice); returns the warnings
    to send. Raises 400 on a type error or, under Strict, an unknown or duplicate field."""
    mode = mode or "Warn"
    if mode not in MODES:
        raise bad_request(f'fieldValidation: Unsupported value: "{mode}": supported values: "Ignore", "Strict", '
                          '"Warn"')
    cannot = f'{resource.kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
    texts = [f'duplicate field "{p}"' for p in duplicates or []]
    name = definition_name(resource)
    walk = _Walk()
    if name is not None:
        walk.object(obj, definitions()[name], "", resource.kind)
    if walk.type_error:
        raise bad_request(cannot + walk.type_error)
    texts += [f'unknown field "{p}"' for p in walk.unknown if p not in ("apiVersion", "kind")]
    if texts and mode == "Strict":
        raise bad_request(cannot + "strict decoding error: " + ", ".join(texts))
    return texts if mode == "Warn" else []
