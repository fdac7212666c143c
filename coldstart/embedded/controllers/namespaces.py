"""Namespaces as kube-controller-manager keeps them: every namespace gets its `default` ServiceAccount (the
serviceaccount controller) and the `kube-root-ca.crt` ConfigMap (the root-ca-cert-publisher); a deleted one
(Terminating, see verbs.delete) is emptied of every namespaced object, then removed (the namespace controller)."""

from __future__ import annotations

import contextlib
from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.store.resources import BY_KEY
from coldstart.embedded.store.store import AlreadyExists, Change, Missing, rfc3339

NAMESPACE = "/Namespace"
ROOT_CA = "kube-root-ca.crt"
# A placeholder certificate: the embedded API server speaks plain HTTP on loopback and checks no credentials.
CA_PEM = ("-----BEGIN CERTIFICATE-----\nMIIBcoldstartembeddedclusterplaceholderCAnotusedforTLS\n"
          "-----END CERTIFICATE-----\n")


class NamespaceController:
    """Default contents of new namespaces and the emptying of deleted ones."""

    def __init__(self, ctx: SimContext):
        self.ctx, self.store = ctx, ctx.store
        for ns in self.store.list(NAMESPACE)[0]:
            self._populate(ns["metadata"]["name"])

    def on_change(self, change: Change) -> None:
        if change.key == NAMESPACE and change.type != "DELETED":
            name = change.obj["metadata"]["name"]
            if change.obj["metadata"].get("deletionTimestamp"):
                self._terminate(name)
            elif change.type == "ADDED":
                self._populate(name)
        elif change.type == "DELETED" and change.namespace:
            ns = self.store.get(NAMESPACE, "", change.namespace)
            if ns is not None and ns["metadata"].get("deletionTimestamp"):
                self._terminate(change.namespace)  # what held it may have been the last content
            elif ns is not None and change.key in ("/ServiceAccount", "/ConfigMap"):
                self._populate(change.namespace)  # the controllers recreate what someone deleted

    def _populate(self, namespace: str) -> None:
        defaults: list[dict[str, Any]] = [{"apiVersion": "v1", "kind": "ServiceAccount",
                     "metadata": {"name": "default", "namespace": namespace}},
                    {"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": ROOT_CA, "namespace": namespace,
                                  "annotations": {"kubernetes.io/description": "Contains a CA bundle that can be used "
                                                  "to verify the kube-apiserver when using internal endpoints such "
                                                  "as the internal service IP or kubernetes.default.svc. No other "
                                                  "usage is guaranteed across distributions of Kubernetes "
                                                  "clusters."}},
                     "data": {"ca.crt": CA_PEM}}]
        for obj in defaults:
            with contextlib.suppress(AlreadyExists):
                if self.store.get(f"/{obj['kind']}", namespace, obj["metadata"]["name"]) is None:
                    self.store.create(obj)

    def _terminate(self, namespace: str) -> None:
        """Delete everything in the namespace; once it is empty, the namespace goes. An object held by a finalizer
        is asked to go (deletionTimestamp) and waited for, with the namespace's conditions saying so, as the
        namespace controller does."""
        remaining: dict[str, int] = {}  # resource -> objects left
        finalizers: dict[str, int] = {}  # finalizer -> objects it holds
        for key in self.store.kinds():
            resource = BY_KEY.get(key)
            if key == NAMESPACE or (resource is not None and not resource.namespaced):
                continue
            for obj in self.store.list(key, namespace)[0]:
                held = obj["metadata"].get("finalizers") or []
                if not held:
                    with contextlib.suppress(Missing):
                        self.store.delete(key, namespace, obj["metadata"]["name"])
                    continue
                plural = f"{resource.plural}.{resource.group}" if resource is not None else key
                remaining[plural] = remaining.get(plural, 0) + 1
                for name in held:
                    finalizers[name] = finalizers.get(name, 0) + 1
                if not obj["metadata"].get("deletionTimestamp"):
                    self.store.mutate(key, namespace, obj["metadata"]["name"], self._ask_to_go)
        if not remaining:
            with contextlib.suppress(Missing):
                self.store.delete(NAMESPACE, "", namespace)
            return
        conditions = _conditions(remaining, finalizers, rfc3339(self.store.now()))

        def note(ns: dict) -> bool | None:
            old = ns.setdefault("status", {}).get("conditions") or []
            if [(c["type"], c["message"]) for c in old] == [(c["type"], c["message"]) for c in conditions]:
                return False
            ns["status"]["conditions"] = conditions
            return None

        self.store.mutate(NAMESPACE, "", namespace, note)

    def _ask_to_go(self, obj: dict) -> None:
        obj["metadata"]["deletionTimestamp"] = rfc3339(self.store.now())
        obj["metadata"]["deletionGracePeriodSeconds"] = 0


def _conditions(remaining: dict[str, int], finalizers: dict[str, int], now: str) -> list[dict[str, Any]]:
    """A Terminating namespace's conditions while content held by finalizers remains (namespace controller)."""
    def condition(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {"type": type_, "status": status, "lastTransitionTime": now, "reason": reason, "message": message}

    left = ", ".join(f"{r} has {n} resource instances" for r, n in sorted(remaining.items()))
    held = ", ".join(f"{f} in {n} resource instances" for f, n in sorted(finalizers.items()))
    return [condition("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered",
                      "All resources successfully discovered"),
            condition("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions",
                      "All legacy kube types successfully parsed"),
            condition("NamespaceDeletionContentFailure", "False", "ContentDeleted",
                      "All content successfully deleted, may be waiting on finalization"),
            condition("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                      f"Some resources are remaining: {left}"),
            condition("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain",
                      f"Some content in the namespace has finalizers remaining: {held}")]
