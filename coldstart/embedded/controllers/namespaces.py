"""Namespaces as kube-controller-manager keeps them: every namespace gets its `default` ServiceAccount (the
serviceaccount controller) and the `kube-root-ca.crt` ConfigMap (the root-ca-cert-publisher); a deleted one
(Terminating, see verbs.delete) is emptied of every namespaced object, then removed (the namespace controller)."""

from __future__ import annotations

import contextlib
from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.store.resources import BY_KEY
from coldstart.embedded.store.store import AlreadyExists, Change, Missing

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
        elif change.type == "DELETED" and change.namespace and change.key in ("/ServiceAccount", "/ConfigMap"):
            ns = self.store.get(NAMESPACE, "", change.namespace)
            if ns is not None and not ns["metadata"].get("deletionTimestamp"):
                self._populate(change.namespace)  # the controllers recreate what someone deleted
        elif change.type == "DELETED" and change.namespace:
            ns = self.store.get(NAMESPACE, "", change.namespace)
            if ns is not None and ns["metadata"].get("deletionTimestamp"):
                self._terminate(change.namespace)

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
        """Delete everything in the namespace; once it is empty, the namespace goes."""
        for key in self.store.kinds():
            resource = BY_KEY.get(key)
            if key == NAMESPACE or (resource is not None and not resource.namespaced):
                continue
            for obj in self.store.list(key, namespace)[0]:
                with contextlib.suppress(Missing):
                    self.store.delete(key, namespace, obj["metadata"]["name"])
        with contextlib.suppress(Missing):
            self.store.delete(NAMESPACE, "", namespace)
