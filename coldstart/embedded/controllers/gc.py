"""The garbage collector: deleting an owner deletes its dependents, with the propagation the client asked for.

- Background (the default): the owner goes at once; its dependents are deleted after it, and theirs in turn
  (deleting an InferenceService removes its predictor Deployment, whose ReplicaSets and Pods follow).
- Foreground: the API server leaves the owner with a deletionTimestamp and the `foregroundDeletion` finalizer;
  the collector deletes its dependents (those that have dependents of their own in foreground too) and removes
  the finalizer once none is left, so the owner goes last.
- Orphan: the owner carries the `orphan` finalizer; the collector removes the owner's reference from each
  dependent, then the finalizer, and the dependents stay.

A dependent whose owners are all gone when it appears (created in a race with the owner's deletion) is collected.
"""

from __future__ import annotations

import contextlib

from coldstart.embedded.context import SimContext
from coldstart.embedded.store.resources import resource_for
from coldstart.embedded.store.store import Change, Missing, rfc3339

ORPHAN, FOREGROUND = "orphan", "foregroundDeletion"
Ref = tuple[str, str, str]  # store key, namespace, name


class GarbageCollector:
    """Indexes objects by the uids that own them and deletes (or orphans) dependents when an owner goes."""

    def __init__(self, ctx: SimContext):
        self.ctx, self.store = ctx, ctx.store
        self._dependents: dict[str, dict[Ref, None]] = {}  # owner uid -> dependents
        self._waiting: dict[str, Ref] = {}  # uid -> an owner in foreground deletion, waiting for its dependents
        for key in self.store.kinds():
            for obj in self.store.list(key)[0]:
                self._index(key, obj)

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
                if ref["uid"] in self._waiting:
                    self._foreground(ref["uid"])
            self._waiting.pop(meta["uid"], None)
            for key, namespace, name in list(self._dependents.pop(meta["uid"], {})):
                self._collect(key, namespace, name, meta["uid"])
            return
        self._index(change.key, change.obj)
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp") and ORPHAN in finalizers:
            self._orphan(change.key, change.namespace, meta)
        elif meta.get("deletionTimestamp") and FOREGROUND in finalizers and meta["uid"] not in self._waiting:
            self._waiting[meta["uid"]] = (change.key, change.namespace, meta["name"])
            for key, namespace, name in list(self._dependents.get(meta["uid"], {})):
                self._delete_dependent(key, namespace, name, meta["uid"])
            self._foreground(meta["uid"])
        if change.type == "ADDED" and refs and not any(self._owner_alive(change.namespace, r) for r in refs):
            self._collect(change.key, change.namespace, meta["name"], None)

    # -- propagation ---------------------------------------------------------------------------------
    def _orphan(self, key: str, namespace: str, meta: dict) -> None:
        uid = meta["uid"]
        for dep_key, dep_ns, dep_name in list(self._dependents.pop(uid, {})):
            self.store.mutate(dep_key, dep_ns, dep_name, lambda obj: _drop_owner(obj, uid))
        self._finish(key, namespace, meta["name"], ORPHAN)

    def _foreground(self, uid: str) -> None:
        """Remove the finalizer of an owner in foreground deletion once its last dependent is gone."""
        target = self._waiting.get(uid)
        if target is None:
            return
        alive = [d for d in self._dependents.get(uid, {}) if self._references(d, uid)]
        if not alive:
            del self._waiting[uid]
            self._finish(*target, FOREGROUND)

    def _references(self, dependent: Ref, uid: str) -> bool:
        obj = self.store.get(*dependent)
        return obj is not None and any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])

    def _delete_dependent(self, key: str, namespace: str, name: str, owner_uid: str) -> None:
        obj = self.store.get(key, namespace, name)
        if obj is None or not any(r.get("uid") == owner_uid for r in obj["metadata"].get("ownerReferences") or []):
            return
        if self._dependents.get(obj["metadata"]["uid"]):  # it owns things too: it goes in foreground as well
            now = rfc3339(self.ctx.now())

            def mark(o: dict) -> None:
                o["metadata"].setdefault("deletionTimestamp", now)
                if FOREGROUND not in o["metadata"].setdefault("finalizers", []):
                    o["metadata"]["finalizers"].append(FOREGROUND)

            self.store.mutate(key, namespace, name, mark)
            return
        with contextlib.suppress(Missing):
            self.store.delete(key, namespace, name)

    def _finish(self, key: str, namespace: str, name: str, finalizer: str) -> None:
        """Remove one finalizer; the object goes when it was the last."""
        def edit(obj: dict) -> bool:
            finalizers = obj["metadata"].get("finalizers") or []
            if finalizer not in finalizers:
                return False
            obj["metadata"]["finalizers"] = [f for f in finalizers if f != finalizer]
            return True

        obj = self.store.mutate(key, namespace, name, edit)
        if obj is not None and obj["metadata"].get("deletionTimestamp") and not obj["metadata"].get("finalizers"):
            with contextlib.suppress(Missing):
                self.store.delete(key, namespace, name)

    def _collect(self, key: str, namespace: str, name: str, owner_uid: str | None) -> None:
        obj = self.store.get(key, namespace, name)
        if obj is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        if owner_uid is not None and not any(r.get("uid") == owner_uid for r in refs):
            return  # orphaned meanwhile: no longer a dependent
        others = [r for r in refs if r["uid"] != owner_uid]
        if others and any(self._owner_alive(namespace, r) for r in others):
            return  # still owned by someone alive
        with contextlib.suppress(Missing):  # already gone
            self.store.delete(key, namespace, name)


def _drop_owner(obj: dict, uid: str) -> bool:
    refs = obj["metadata"].get("ownerReferences") or []
    kept = [r for r in refs if r.get("uid") != uid]
    if len(kept) == len(refs):
        return False
    if kept:
        obj["metadata"]["ownerReferences"] = kept
    else:
        obj["metadata"].pop("ownerReferences", None)
    return True
