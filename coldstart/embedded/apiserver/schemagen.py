"""Generate the embedded API server's vendored schema data (a development tool, not imported at run time).

    python -m coldstart.embedded.apiserver.schemagen --protos ~/go/pkg/mod/k8s.io --defs <kubernetes-validate>/...

- `data/proto.json`: every message of the Kubernetes API's generated.proto files (k8s.io/api, apimachinery,
  apiextensions-apiserver, from the Go module cache), as {message: {field number: [json name, type, label]}},
  so `protobuf.py` can read the protobuf bodies kubectl sends for built-in kinds;
- `data/openapi.json.gz`: the OpenAPI definitions (kubernetes-validate's JSON schemas, generated from the
  upstream OpenAPI document) reachable from the kinds the embedded server serves: what `/openapi/v2` and `/v3`
  serve, `kubectl explain` reads and field validation checks against.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from pathlib import Path

from coldstart.embedded.apiserver.openapi import ROOTS

HERE = Path(__file__).parent / "data"
PROTO_FILES = ["api@*/core/v1", "api@*/apps/v1", "api@*/batch/v1", "api@*/scheduling/v1", "api@*/storage/v1",
               "api@*/policy/v1", "api@*/authorization/v1", "api@*/discovery/v1", "api@*/rbac/v1",
               "api@*/networking/v1", "api@*/autoscaling/v1", "api@*/coordination/v1",
               "apimachinery@*/pkg/apis/meta/v1", "apimachinery@*/pkg/runtime", "apimachinery@*/pkg/api/resource",
               "apimachinery@*/pkg/util/intstr", "apiextensions-apiserver@*/pkg/apis/apiextensions/v1"]
_FIELD = re.compile(r"^\s*(optional|repeated|required)?\s*(map<\s*([\w.]+)\s*,\s*([\w.]+)\s*>|[\w.]+)\s+(\w+)\s*=\s*"
                    r"(\d+)\s*;")


def _qualify(name: str, package: str) -> str:
    if name.startswith("."):
        return name[1:]
    return name if "." in name or name in _SCALARS else f"{package}.{name}"


_SCALARS = {"string", "bool", "int32", "int64", "bytes", "double", "float", "uint32", "uint64", "sint32", "sint64",
            "fixed32", "fixed64"}


def protos(root: Path) -> dict[str, dict[str, list]]:
    messages: dict[str, dict[str, list]] = {}
    for pattern in PROTO_FILES:
        for path in sorted(root.glob(f"{pattern}/generated.proto"))[-1:]:
            text = path.read_text()
            package = re.search(r"^package ([\w.]+);", text, re.M).group(1)  # type: ignore[union-attr]
            for name, body in re.findall(r"^message (\w+) \{(.*?)^\}", text, re.M | re.S):
                fields: dict[str, list] = {}
                for line in body.splitlines():
                    m = _FIELD.match(line)
                    if not m or line.strip().startswith("//"):
                        continue
                    label, type_, key, value, field, number = m.groups()
                    if key:
                        fields[number] = [field, "map", _qualify(key, package), _qualify(value, package)]
                    else:
                        fields[number] = [field, _qualify(type_, package), "repeated" if label == "repeated" else ""]
                messages[f"{package}.{name}"] = fields
    return messages


def definitions(defs_file: Path, roots: list[str]) -> dict[str, dict]:
    defs = json.loads(defs_file.read_text())["$defs"]
    keep: dict[str, dict] = {}
    todo = [r for r in roots if r in defs]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep[name] = defs[name]
        todo += [ref.rsplit("/", 1)[-1] for ref in re.findall(r'"\$ref": "([^"]+)"', json.dumps(defs[name]))]
    return keep


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--protos", type=Path, required=True, help="the Go module cache's k8s.io folder")
    parser.add_argument("--defs", type=Path, required=True, help="kubernetes-validate's <version>/_definitions.json")
    args = parser.parse_args()
    (HERE / "proto.json").write_text(json.dumps(protos(args.protos), separators=(",", ":"), sort_keys=True))
    subset = definitions(args.defs, list(ROOTS))
    with gzip.open(HERE / "openapi.json.gz", "wt") as handle:
        json.dump(subset, handle, separators=(",", ":"), sort_keys=True)


if __name__ == "__main__":
    main()
