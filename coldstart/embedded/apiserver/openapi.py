"""OpenAPI for the embedded API server: `/openapi/v2` and `/openapi/v3` (the root and one document per group
version), built from the upstream Kubernetes definitions vendored in `data/openapi.json.gz` (see schemagen.py).

kubectl reads them to explain fields, and before `apply`/`create`/`replace`/`edit` to learn whether the server
validates fields itself (a `fieldValidation` parameter on the kind's PATCH operation): it does, so kubectl
sends `fieldValidation=Strict|Warn|Ignore` and leaves validation to `validation.py`, which checks against the
same definitions. Custom resources (KServe, LeaderWorkerSet, ComputeClass, user CRDs) have no definitions here:
they are stored as sent (as a CRD with `x-kubernetes-preserve-unknown-fields` would be).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from coldstart.embedded.apiserver.calls import Reply
from coldstart.embedded.apiserver.errors import not_found_path
from coldstart.embedded.store.resources import Resource

DATA = Path(__file__).parent / "data" / "openapi.json.gz"
_PACKAGES = {"": "core", "apps": "apps", "batch": "batch", "scheduling.k8s.io": "scheduling",
             "storage.k8s.io": "storage", "policy": "policy", "authorization.k8s.io": "authorization",
             "discovery.k8s.io": "discovery", "autoscaling": "autoscaling", "coordination.k8s.io": "coordination"}
_KINDS = {"core": ["Namespace", "Node", "Pod", "Event", "PersistentVolumeClaim", "PersistentVolume", "ConfigMap",
                   "Secret", "Service", "ServiceAccount", "Endpoints", "Binding"],
          "apps": ["Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ControllerRevision"],
          "batch": ["Job", "CronJob"], "scheduling": ["PriorityClass"], "storage": ["StorageClass"],
          "policy": ["Eviction"], "authorization": ["SelfSubjectAccessReview"], "discovery": ["EndpointSlice"],
          "autoscaling": ["Scale"], "coordination": ["Lease"]}
ROOTS = [f"io.k8s.api.{pkg}.v1.{kind}" for pkg, kinds in _KINDS.items() for kind in kinds] + [
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"]
_REF = re.compile(r"#/\$defs/")


def definition_name(resource: Resource) -> str | None:
    """The OpenAPI definition of a served built-in kind (None for custom resources)."""
    return definition_of(resource.api_version, resource.kind)


def definition_of(api_version: str, kind: str) -> str | None:
    """The OpenAPI definition of a built-in `apiVersion`/`kind` (None for custom resources)."""
    group, _, version = api_version.rpartition("/")
    if group == "apiextensions.k8s.io":
        return f"io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.{version}.{kind}"
    package = _PACKAGES.get(group)
    name = f"io.k8s.api.{package}.{version}.{kind}"
    return name if package is not None and name in definitions() else None


def _normalise(node: Any) -> Any:
    """JSON Schema back to OpenAPI: `type: [t, null]` -> `type: t`; int-or-string and quantity as upstream."""
    if isinstance(node, list):
        return [_normalise(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _normalise(v) for k, v in node.items()}
    if isinstance(out.get("type"), list):
        types = [t for t in out["type"] if t != "null"]
        out["type"] = types[0] if len(types) == 1 else types
    if "oneOf" in out and all(isinstance(o, dict) and set(o) == {"type"} for o in out["oneOf"]):
        kinds = {o["type"] for o in out.pop("oneOf")}
        out["type"] = "string"
        out["x-kubernetes-int-or-string" if "integer" in kinds else "format"] = True if "integer" in kinds \
            else "quantity"
    return out


@functools.cache
def definitions() -> dict[str, dict[str, Any]]:
    with gzip.open(DATA, "rt") as handle:
        raw = json.load(handle)
    return {name: _normalise(schema) for name, schema in raw.items()}


@functools.cache
def _text(ref_prefix: str) -> str:
    return _REF.sub(ref_prefix, json.dumps(definitions()))


def _params(*names: str) -> list[dict[str, Any]]:
    return [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}} for n in names]


def _paths(resources: list[Resource], prefix: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for r in resources:
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        base = f"{prefix}/namespaces/{{namespace}}/{r.plural}" if r.namespaced else f"{prefix}/{r.plural}"
        write = _params("dryRun", "fieldManager", "fieldValidation")
        op = {"x-kubernetes-group-version-kind": gvk, "parameters": write, "responses": {}}
        paths[base] = {"post": {**op, "x-kubernetes-action": "post"},
                       "get": {**op, "x-kubernetes-action": "list", "parameters": []}}
        paths[f"{base}/{{name}}"] = {"get": {**op, "x-kubernetes-action": "get", "parameters": []},
                                     "put": {**op, "x-kubernetes-action": "put"},
                                     "patch": {**op, "x-kubernetes-action": "patch",
                                               "parameters": write + _params("force")},
                                     "delete": {**op, "x-kubernetes-action": "delete",
                                                "parameters": _params("dryRun")}}
    return paths


def group_versions(resources: list[Resource]) -> dict[str, list[Resource]]:
    """`api/v1`, `apis/apps/v1`, ... -> the resources each serves."""
    out: dict[str, list[Resource]] = {}
    for r in resources:
        out.setdefault(f"apis/{r.group}/{r.version}" if r.group else "api/v1", []).append(r)
    return out


def v3_root(resources: list[Resource]) -> dict[str, Any]:
    paths = {}
    for gv in group_versions(resources):
        digest = hashlib.sha256(f"{gv}/{len(definitions())}".encode()).hexdigest()[:16].upper()
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}


def v3_document(gv: str, resources: list[Resource]) -> bytes | None:
    served = group_versions(resources).get(gv)
    if served is None:
        return None
    head = json.dumps({"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
                       "paths": _paths(served, "/" + gv)})
    return (head[:-1] + ',"components":{"schemas":' + _text("#/components/schemas/") + "}}").encode()


def v2_document(resources: list[Resource]) -> bytes:
    paths: dict[str, Any] = {}
    for gv, served in group_versions(resources).items():
        paths.update(_paths(served, "/" + gv))
    head = json.dumps({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"}, "paths": paths})
    return (head[:-1] + ',"definitions":' + _text("#/definitions/") + "}").encode()


def reply(path: str, served: list[Resource]) -> Reply:
    """GET /openapi/v2, /openapi/v3 or /openapi/v3/<group version>."""
    if path == "/openapi/v2":
        return Reply(200, v2_document(served))
    if path == "/openapi/v3":
        return Reply(200, v3_root(served))
    doc = v3_document(path.removeprefix("/openapi/v3/"), served)
    if doc is None:
        raise not_found_path()
    return Reply(200, doc)
