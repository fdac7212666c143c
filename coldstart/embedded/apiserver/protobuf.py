"""Protobuf request bodies, the way kube-apiserver reads them: kubectl's typed clients (`kubectl create
deployment|configmap|secret|namespace|job ...`, `kubectl run`, `kubectl expose`) send built-in kinds as
`application/vnd.kubernetes.protobuf`: the magic `k8s\\x00`, then a runtime.Unknown whose `raw` is the object.

The field numbers come from the upstream generated.proto files (`data/proto.json`, see schemagen.py); the
decoded object is the JSON the same client would have sent: fields at their zero value are left out (the JSON
encoder's omitempty), times become RFC 3339, quantities and int-or-strings their JSON forms, bytes base64.
"""

from __future__ import annotations

import base64
import functools
import json
import struct
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_KEEP_ZERO = {"replicas", "value", "port", "containerPort", "minReadySeconds", "terminationGracePeriodSeconds"}
_GROUP_PACKAGES = {"": "core", "apps": "apps", "batch": "batch", "scheduling.k8s.io": "scheduling",
                   "storage.k8s.io": "storage", "policy": "policy", "authorization.k8s.io": "authorization",
                   "discovery.k8s.io": "discovery", "rbac.authorization.k8s.io": "rbac",
                   "networking.k8s.io": "networking", "autoscaling": "autoscaling", "coordination.k8s.io":
                   "coordination"}


class ProtobufError(ValueError):
    """A body that is not a Kubernetes protobuf object this server can read."""


@functools.cache
def _messages() -> dict[str, dict[str, list]]:
    loaded: dict[str, dict[str, list]] = json.loads((Path(__file__).parent / "data" / "proto.json").read_text())
    return loaded


def _varint(data: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(data):
            raise ProtobufError("truncated varint")
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, i
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of one message: ints for varints, bytes for length-delimited."""
    out: list[tuple[int, int, Any]] = []
    i = 0
    value: Any
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i:i + length], i + length
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >= 1 << (bits - 1) else value


def _scalar(type_: str, value: Any) -> Any:
    if type_ == "string":
        return bytes(value).decode()
    if type_ == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if type_ == "bool":
        return bool(value)
    if type_ in ("int32", "int64"):
        return _signed(value, 64)
    if type_ in ("double", "float"):
        return struct.unpack("<d" if type_ == "double" else "<f", value)[0]
    return value


def _special(type_: str, data: bytes) -> Any:
    fields = {n: v for n, _, v in _fields(data)}
    if type_ in (_META + "Time", _META + "MicroTime"):
        seconds = _signed(fields.get(1, 0), 64)
        if type_.endswith("MicroTime"):
            nanos = fields.get(2, 0)
            return datetime.fromtimestamp(seconds + nanos / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if type_ == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return bytes(fields.get(1, b"")).decode()
    if type_ == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        return bytes(fields.get(3, b"")).decode() if fields.get(1) == 1 else _signed(fields.get(2, 0), 64)
    if type_ in ("k8s.io.apimachinery.pkg.runtime.RawExtension", _META + "FieldsV1"):
        raw = bytes(fields.get(1, b""))
        return json.loads(raw) if raw else None
    if type_ == _META + "Duration":
        return f"{fields.get(1, 0) / 1e9:g}s"
    return _MISSING


_MISSING = object()


def _zero(value: Any) -> bool:
    return value in ("", 0, False, None) or value == {} or value == []


def _message(type_: str, data: bytes) -> Any:
    special = _special(type_, data)
    if special is not _MISSING:
        return special
    schema = _messages().get(type_)
    if schema is None:
        raise ProtobufError(f"no protobuf schema for {type_}")
    out: dict[str, Any] = {}
    for number, _, value in _fields(data):
        spec = schema.get(str(number))
        if spec is None:
            continue
        name, kind, extra = spec[0], spec[1], spec[2]
        if kind == "map":
            entry = {n: v for n, _, v in _fields(value)}
            key = _scalar(extra, entry.get(1, b""))
            value_type = spec[3]
            raw = entry.get(2, b"" if value_type not in ("bool", "int32", "int64") else 0)
            out.setdefault(name, {})[key] = _decode(value_type, raw)
        elif extra == "repeated":
            out.setdefault(name, []).append(_decode(kind, value))
        else:
            out[name] = _decode(kind, value)
    return {k: v for k, v in out.items() if k in _KEEP_ZERO and v is not None or not _zero(v)}


def _decode(type_: str, value: Any) -> Any:
    if type_ in ("string", "bytes", "bool", "int32", "int64", "double", "float"):
        return _scalar(type_, value)
    return _message(type_, bytes(value))


def package_of(api_version: str) -> str:
    group, _, version = api_version.rpartition("/")
    if group == "apiextensions.k8s.io":
        return f"k8s.io.apiextensions-apiserver.pkg.apis.apiextensions.{version}"
    name = _GROUP_PACKAGES.get(group)
    if name is None:
        raise ProtobufError(f"protobuf is not served for {api_version}")
    return f"k8s.io.api.{name}.{version}"


def decode_object(body: bytes) -> dict[str, Any]:
    """A protobuf-encoded Kubernetes object as its JSON form (apiVersion and kind from the envelope)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("provided data does not contain the Kubernetes protobuf prefix")
    envelope = {n: v for n, _, v in _fields(body[len(MAGIC):])}
    type_meta = {n: bytes(v).decode() for n, _, v in _fields(bytes(envelope.get(1, b"")))}
    api_version, kind = type_meta.get(1, ""), type_meta.get(2, "")
    if not kind:
        raise ProtobufError("object has no kind")
    obj = _message(f"{package_of(api_version)}.{kind}", bytes(envelope.get(2, b"")))
    return {"apiVersion": api_version, "kind": kind, **obj}
