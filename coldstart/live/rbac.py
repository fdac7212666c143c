"""Least privilege: the Role and ClusterRole a runbook needs on a live cluster, derived from what it applies.

A runbook applies the kinds its profile renders (server-side apply is a PATCH, and creates the object when it
is absent, so it needs `create` and `patch`), reads them back and deletes what it created (`get`, `list`,
`delete`), waits on and records pods and events (`list`, `watch`, `pods/log`), and reads nodes for the live
invariants (cluster-wide `get`, `list`). A diagnosis only reads. No rule holds a wildcard. API discovery
(`/api`, `/apis`) is granted to every authenticated user by Kubernetes' built-in `system:discovery` role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from coldstart.kube.kinds import KINDS
from coldstart.levers import variants
from coldstart.levers.render import flatten, render
from coldstart.profiles import Profile, profile_with

__all__ = ["Rule", "allows", "manifests", "rules_for"]

APPLY = ("get", "list", "create", "patch", "delete")
READ = ("get", "list", "watch")
# What every diagnosed vLLM deployment may consist of, read only (the owner chain from pods up).
DIAGNOSED = ("Pod", "Event", "ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "LeaderWorkerSet",
             "InferenceService", "ServingRuntime", "ConfigMap", "PersistentVolumeClaim", "Service")
DIAGNOSED_CLUSTER = ("Node", "PriorityClass", "StorageClass", "ClusterServingRuntime", "ComputeClass")


@dataclass(frozen=True)
class Rule:
    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    cluster: bool  # a ClusterRole rule (cluster-scoped kinds), else the Role's in the run's namespace

    def to_json(self) -> dict[str, Any]:
        return {"apiGroups": [self.group], "resources": list(self.resources), "verbs": list(self.verbs)}


def _applied_kinds(profile: Profile) -> set[str]:
    """Every kind any runbook of this profile applies: both serving forms, and the naive comparison."""
    kinds: set[str] = set()
    for serving in ("kserve", "deployment"):
        docs = flatten(render(profile_with(profile, {"runtime.serving": serving})))
        kinds |= {d["kind"] for d in docs}
    kinds |= {d["kind"] for d in variants.naive(profile)}
    return kinds


def rules_for(profile: Profile, *, diagnose: bool = False) -> list[Rule]:
    """The rules a runbook (or, with diagnose, a read-only diagnosis) needs for this profile."""
    wanted: dict[tuple[str, bool], dict[str, set[str]]] = {}

    def add(kind: str, verbs: Iterable[str], sub: str = "", *, everywhere: bool = False) -> None:
        row = KINDS[kind]
        resource = f"{row.plural}/{sub}" if sub else row.plural
        cluster = everywhere or not row.namespaced
        wanted.setdefault((row.group, cluster), {}).setdefault(resource, set()).update(verbs)

    if diagnose:
        for kind in DIAGNOSED + DIAGNOSED_CLUSTER:
            if kind != "ComputeClass" or profile.gke is not None:
                add(kind, READ)
        add("Pod", ("get",), "log")
    else:
        for kind in sorted(_applied_kinds(profile)):
            add(kind, APPLY)
        add("Namespace", ("get", "create", "patch"))  # only used when the namespace does not exist yet
        add("Pod", READ)
        add("Pod", ("get",), "log")
        add("Event", ("list", "watch"))
        add("Node", ("get", "list"))
        # node events (joined, ready; Karpenter's NodeClaim Launched/Registered/Initialized; GKE's ImageStreaming)
        # are recorded from "default": RBAC cannot grant one other namespace from a Role here, so cluster-wide
        add("Event", ("list", "watch"), everywhere=True)
    order = {verb: i for i, verb in enumerate(("get", "list", "watch", "create", "patch", "delete"))}
    rules = []
    for (group, cluster), resources in sorted(wanted.items()):
        by_verbs: dict[tuple[str, ...], list[str]] = {}
        for resource, verbs in sorted(resources.items()):
            by_verbs.setdefault(tuple(sorted(verbs, key=order.__getitem__)), []).append(resource)
        rules += [Rule(group, tuple(res), verbs, cluster) for verbs, res in by_verbs.items()]
    return rules


def allows(rules: Iterable[Rule], verb: str, group: str, resource: str, subresource: str | None,
           cluster: bool) -> bool:
    """Would these rules allow one request? (RBAC: group, resource[/subresource] and verb must all match.)"""
    name = f"{resource}/{subresource}" if subresource else resource
    return any(r.group == group and name in r.resources and verb in r.verbs and (r.cluster or not cluster)
               for r in rules)


def manifests(profile: Profile, *, diagnose: bool = False, name: str = "") -> list[dict[str, Any]]:
    """A Role in the profile's namespace and a ClusterRole, to bind to the identity the runbooks use."""
    name = name or ("coldstart-diagnose" if diagnose else "coldstart-runbook")
    rules = rules_for(profile, diagnose=diagnose)
    labels = {"app.kubernetes.io/part-of": "coldstart"}
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": name, "namespace": profile.namespace, "labels": labels},
            "rules": [r.to_json() for r in rules if not r.cluster]}
    cluster_role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                    "metadata": {"name": name, "labels": labels},
                    "rules": [r.to_json() for r in rules if r.cluster]}
    return [role, cluster_role]

