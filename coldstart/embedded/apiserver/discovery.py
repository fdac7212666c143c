"""Discovery documents (`/version`, `/api`, `/apis`, APIResourceLists, aggregated v2) built from RESOURCES.

Clients (the dynamic client, kubectl) find kinds, plurals, scopes and subresources here before any
request; the shapes follow kube-apiserver's so those clients need no special casing.
"""

from __future__ import annotations

from typing import Any

from coldstart.embedded.apiserver.calls import Reply
from coldstart.embedded.apiserver.errors import not_found_path
from coldstart.embedded.store.resources import Resource

KUBE_VERSION = {"major": "1", "minor": "33", "gitVersion": "v1.33.0", "gitCommit": "coldstart-embedded",
                "gitTreeState": "clean", "buildDate": "2025-04-23T00:00:00Z", "goVersion": "go1.24.2",
                "compiler": "gc", "platform": "linux/amd64"}

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

OBJECT_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
# subresource -> (group, version, kind or None for the parent's kind, verbs); group None = parent's group
_SUBRESOURCES: dict[str, tuple[str | None, str | None, str | None, list[str]]] = {
    "status": (None, None, None, ["get", "patch", "update"]),
    "scale": ("autoscaling", "v1", "Scale", ["get", "patch", "update"]),
    "log": (None, None, "Pod", ["get"]),
    "binding": (None, None, "Binding", ["create"]),
    "eviction": ("policy", "v1", "Eviction", ["create"]),
    "finalize": (None, None, "Namespace", ["update"]),
}


def groups(resources: list[Resource]) -> dict[str, list[str]]:
    """Served groups (core "" included) to their versions, preferred (first listed) first."""
    out: dict[str, list[str]] = {}
    for r in resources:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out


def _group_doc(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_versions(server_address: str) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}]}


def api_group_list(resources: list[Resource]) -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group_doc(g, vs) for g, vs in groups(resources).items() if g]}


def api_group(group: str, resources: list[Resource]) -> dict[str, Any] | None:
    versions = groups(resources).get(group)
    if not group or versions is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(group, versions)}


def _entry(r: Resource) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                             "kind": r.kind, "verbs": list(r.verbs or OBJECT_VERBS)}
    if r.short_names:
        entry["shortNames"] = list(r.short_names)
    if r.categories:
        entry["categories"] = list(r.categories)
    return entry


def resource_list(group: str, version: str, resources: list[Resource]) -> dict[str, Any] | None:
    """The APIResourceList of one group/version (None when the group/version is not served)."""
    served = [r for r in resources if r.group == group and r.version == version]
    if not served:
        return None
    items: list[dict[str, Any]] = []
    for r in served:
        items.append(_entry(r))
        for sub in r.subresources:
            sub_group, sub_version, kind, verbs = _SUBRESOURCES[sub]
            item: dict[str, Any] = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                                    "kind": kind or r.kind, "verbs": verbs}
            if sub_group is not None:
                item["group"], item["version"] = sub_group, sub_version
            items.append(item)
    return {"kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": f"{group}/{version}" if group else version, "resources": items}


def aggregated(core: bool, served: list[Resource]) -> dict[str, Any]:
    """apidiscovery.k8s.io/v2 APIGroupDiscoveryList for `/api` (core) or `/apis` (named groups)."""
    items = []
    for group, versions in groups(served).items():
        if (group == "") != core:
            continue
        version_docs = []
        for version in versions:
            resources = []
            for r in served:
                if r.group != group or r.version != version:
                    continue
                doc: dict[str, Any] = {"resource": r.plural, "singularResource": r.singular,
                                       "responseKind": {"group": group, "version": version, "kind": r.kind},
                                       "scope": "Namespaced" if r.namespaced else "Cluster",
                                       "verbs": list(r.verbs or OBJECT_VERBS)}
                if r.short_names:
                    doc["shortNames"] = list(r.short_names)
                if r.categories:
                    doc["categories"] = list(r.categories)
                subs = []
                for sub in r.subresources:
                    sub_group, sub_version, kind, verbs = _SUBRESOURCES[sub]
                    subs.append({"subresource": sub, "verbs": verbs,
                                 "responseKind": {"group": group if sub_group is None else sub_group,
                                                  "version": version if sub_version is None else sub_version,
                                                  "kind": kind or r.kind}})
                if subs:
                    doc["subresources"] = subs
                resources.append(doc)
            version_docs.append({"version": version, "resources": resources, "freshness": "Current"})
        items.append({"metadata": {"name": group, "creationTimestamp": None}, "versions": version_docs})
    return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
            "items": items}


def wants_aggregated(accept: str) -> bool:
    """True when the Accept header prefers aggregated v2 discovery (kubectl >= 1.30 sends it first)."""
    first = accept.split(",")[0].replace(" ", "")
    return "as=APIGroupDiscoveryList" in first and "v=v2;" in first + ";"


_HEALTH = {"/healthz", "/livez", "/readyz"}


def reply(path: str, target: str | None, accept: str, served: list[Resource], address: str) -> Reply:
    """The answer to a discovery (or health) GET: `/version`, `/`, `/api`, `/apis`, a group or a group version."""
    parts = [p for p in path.split("/") if p]
    aggregate = wants_aggregated(accept)
    doc: dict | None = None
    if path == "/version":
        doc = KUBE_VERSION
    elif path in _HEALTH:
        return Reply(200, b"ok", "text/plain; charset=utf-8")
    elif target == "root":
        doc = {"paths": sorted({"/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz",
                                "/openapi/v2", "/openapi/v3", *(f"/apis/{g}" for g in groups(served) if g),
                                *(f"/apis/{g}/{v}" for g, vs in groups(served).items() if g for v in vs)})}
    elif target == "api":
        if aggregate:
            return Reply(200, aggregated(True, served), AGGREGATED)
        doc = api_versions(address)
    elif target == "apis":
        if aggregate:
            return Reply(200, aggregated(False, served), AGGREGATED)
        doc = api_group_list(served)
    elif target == "group":
        doc = api_group(parts[1], served)
    elif target == "groupversion":
        doc = resource_list(*(("", "v1") if parts[0] == "api" else (parts[1], parts[2])), served)
    if doc is None:
        raise not_found_path()
    return Reply(200, doc)
