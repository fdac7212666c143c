"""The garbage collector: deleting an owner deletes its dependents (background propagation).

Deleting an InferenceService removes its predictor Deployment, whose ReplicaSets and Pods follow in turn,
exactly as kube-controller-manager's garbage collector walks ownerReferences. A dependent whose owners
are all gone when it appears (created in a race with the owner's deletion) is collected too.
"""

from __future__ import annotations

import contextlib

from coldstart.embedded.context import SimContext
from coldstart.embedded.store.resources import RESOURCES, resource_for
from coldstart.embedded.store.store import Change, Missing


class GarbageCollector:
    """Indexes objects by the uids that own them and deletes dependents when an owner goes."""

    def __init__(self, ctx: SimContext):
        self.ctx, self.store = ctx, ctx.store
        self._dependents: dict[str, dict[tuple[str, str, str], None]] = {}  # owner uid -> (key, ns, name)
        for resource in RESOURCES:
            for obj in self.store.list(resource.key)[0]:
                self._index(resource.key, obj)

    def _index(self, key: str, obj: dict) -> None:
        meta = obj["metadata"]
        for ref in meta.get("ownerReferences") or []:
            self._dependents.setdefault(ref["uid"], {})[(key, meta.get("namespace", ""), meta["name"])] = None

    def _owner_alive(self, namespace: str, ref: dict) -> bool:
        resource = resource_for(ref.get("apiVersion", ""), ref.get("kind", ""))
        if resource is None:
            return True  # an owner kind we do not serve: never collect on its account
        owner = self.store.get(resource.key, namespace if resource.namespaced else "", ref["name"])
        return owner is not None and owner["metadata"].get("uid") == ref["uid"]

    def on_change(self, change: Change) -> None:
        if change.key == "/Event":
            return
        meta = change.obj["metadata"]
        refs = meta.get("ownerReferences") or []
        if change.type == "DELETED":
            for ref in refs:
                self._dependents.get(ref["uid"], {}).pop((change.key, change.namespace, meta["name"]), None)
            for key, namespace, name in list(self._dependents.pop(meta["uid"], {})):
                self._collect(key, namespace, name, meta["uid"])
            return
        self._index(change.key, change.obj)
        if change.type == "ADDED" and refs and not any(self._owner_alive(change.namespace, r) for r in refs):
            self._collect(change.key, change.namespace, meta["name"], None)

    def _collect(self, key: str, namespace: str, name: str, owner_uid: str | None) -> None:
        obj = self.store.get(key, namespace, name)
        if obj is None:
            return
        others = [r for r in obj["metadata"].get("ownerReferences") or [] if r["uid"] != owner_uid]
        if others and any(self._owner_alive(namespace, r) for r in others):
            return  # still owned by someone alive
        with contextlib.suppress(Missing):  # already gone
            self.store.delete(key, namespace, name)
