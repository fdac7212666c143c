"""URL routing of the Kubernetes API the way kube-apiserver's RequestInfo parses it, and the record of one
served request (what tests and benchmarks count).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from coldstart.embedded.store.resources import Resource


@dataclass(frozen=True)
class RequestRecord:
    """One served request, as tests and benchmarks count them."""

    method: str
    path: str
    verb: str  # get list watch create update patch delete deletecollection, or "" outside the resource API
    key: str | None  # store key of the resource, e.g. "apps/Deployment"
    namespace: str | None
    name: str | None
    subresource: str | None
    watch: bool
    query: dict[str, str] = field(default_factory=dict)
    status: int = 0


@dataclass
class Route:
    resource: Resource
    namespace: str | None
    name: str | None
    subresource: str | None
    watch: bool


def verb_of(method: str, route: Route | None, watch: bool) -> str:
    if route is None:
        return ""
    if method == "GET":
        return "watch" if watch else ("get" if route.name else "list")
    if route.name is None:
        return {"POST": "create", "DELETE": "deletecollection"}.get(method, method.lower())
    return {"PUT": "update", "PATCH": "patch", "DELETE": "delete", "POST": "create"}.get(method, method.lower())


def route(path: str, find: Callable[[str, str, str], Resource | None]) -> Route | str | None:
    """Resource path -> Route; discovery path -> a tag string; anything else -> None (404)."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "root"
    if parts[0] == "api":
        if len(parts) == 1:
            return "api"
        if parts[1] != "v1":
            return None
        group, version, rest = "", "v1", parts[2:]
    elif parts[0] == "apis":
        if len(parts) <= 3:
            return "apis" if len(parts) == 1 else ("group" if len(parts) == 2 else "groupversion")
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    if not rest:
        return "groupversion"
    watch = rest[0] == "watch"
    rest = rest[1:] if watch else rest
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces" and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
        namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    resource = find(group, version, rest[0])
    if resource is None:
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if (namespace is not None and not resource.namespaced) or (sub is not None and sub not in resource.subresources):
        return None
    if resource.namespaced and namespace is None and name is not None:
        return None
    return Route(resource, namespace, name, sub, watch)
