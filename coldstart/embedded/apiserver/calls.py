"""A routed API request (`Call`) and its answer (`Reply`), with the request-level rules every verb shares:
body decoding, dry run, the field manager's name, and the field labels each kind can be selected on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from coldstart.embedded.apiserver import protobuf
from coldstart.embedded.apiserver.errors import OPTIONS_KIND, bad_request, invalid_options, unsupported_media
from coldstart.embedded.store.resources import Resource
from coldstart.errors import InputError
from coldstart.inputs.yamlsafe import load_yaml

_COMMON_FIELDS = {"metadata.name", "metadata.namespace"}
FIELD_LABELS = {
    "/Pod": {"spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
             "spec.hostNetwork", "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName"},
    "/Event": {"involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
               "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
               "reason", "reportingComponent", "source", "type"},
    "/Node": {"spec.unschedulable"}, "/Namespace": {"status.phase"}, "/Secret": {"type"},
    "batch/Job": {"status.successful"}, "apps/ReplicaSet": {"status.replicas"},
}


@dataclass
class Call:
    """One API request, routed: what the verbs need to know about it."""

    method: str
    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None
    query: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    body: bytes = b""
    user_agent: str = ""
    warnings: list[str] = field(default_factory=list)  # sent back as `Warning: 299` headers
    accept: str = ""
    duplicates: list[str] = field(default_factory=list)  # fields the JSON body gave twice (`data.a`)

    @property
    def dry_run(self) -> bool:
        value = self.query.get("dryRun")
        if value is not None and value != "All":
            kind = OPTIONS_KIND.get(self.method, "CreateOptions")
            raise invalid_options(kind, "dryRun", "FieldValueNotSupported",
                                  f'Unsupported value: {json.dumps([value])}: supported values: "All"')
        return value == "All"

    @property
    def manager(self) -> str:
        return self.query.get("fieldManager") or (self.user_agent.split("/")[0] or "unknown")


@dataclass
class Reply:
    code: int
    body: Any
    content_type: str = "application/json"
    warnings: list[str] = field(default_factory=list)


def status_success(code: int = 200, details: dict | None = None) -> dict:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def split_status(resource: Resource) -> bool:
    return "status" in resource.subresources


def check_field_selector(resource: Resource, selector: str | None) -> None:
    """400 for field labels the real server does not index for this kind (so GKE would refuse them too)."""
    allowed = _COMMON_FIELDS | FIELD_LABELS.get(resource.key, set())
    for part in (selector or "").split(","):
        label = part.replace("!=", "=").split("=")[0].strip()
        if label and label not in allowed and resource.key in FIELD_LABELS:  # the kind converts its own labels
            raise bad_request(f"field label not supported: {label}")
        if label and label not in allowed:  # apimachinery's default conversion
            raise bad_request(f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"')


JSON_TYPES = "application/json, application/yaml"  # and protobuf for the built-in kinds


def decode(call: Call) -> Any:
    ctype = call.content_type.split(";")[0].strip().lower()
    if ctype == protobuf.PROTOBUF:
        try:
            return protobuf.decode_object(call.body)
        except (protobuf.ProtobufError, UnicodeDecodeError) as exc:
            raise bad_request(f"unable to decode protobuf body: {exc}") from exc
    if ctype == "application/cbor" or ctype.endswith(("+protobuf", "+cbor")):
        raise unsupported_media(JSON_TYPES + ", " + protobuf.PROTOBUF)
    if not call.body.strip():
        raise bad_request("the body of the request was empty")
    try:
        twice: list[bool] = []  # set by the hook when an object gives a key twice (the last value wins, as in Go)
        value = json.loads(call.body, object_pairs_hook=lambda pairs: _object(pairs, twice))
        if twice:
            call.duplicates = duplicate_fields(json.loads(call.body, object_pairs_hook=_Pairs))
        return value
    except ValueError as exc:
        if "yaml" not in call.content_type:
            raise bad_request(f"couldn't get version/kind; json parse error: {exc}") from exc
    try:  # the one safe loader: an alias bomb or a duplicate key in a request is refused, as bad input
        return load_yaml(call.body, "the request body")
    except InputError as exc:
        raise bad_request(f"error decoding YAML: {exc}") from exc


class _Pairs(list):
    """A JSON object as its (key, value) pairs, duplicates kept."""


def _object(pairs: list[tuple[str, Any]], twice: list[bool]) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        twice.append(True)
    return out


def duplicate_fields(node: Any, path: str = "") -> list[str]:
    """Paths of the fields a decoded body gave twice, as the strict decoder names them: `data.a`,
    `spec.containers[0].name`."""
    out: list[str] = []
    if isinstance(node, _Pairs):
        seen: set[str] = set()
        for key, value in node:
            where = f"{path}.{key}" if path else key
            if key in seen and where not in out:
                out.append(where)
            seen.add(key)
            out.extend(duplicate_fields(value, where))
    elif isinstance(node, list):
        for n, item in enumerate(node):
            out.extend(duplicate_fields(item, f"{path}[{n}]"))
    return out
