"""The embedded cluster's object store: objects by kind/namespace/name, one resourceVersion counter,
and a bounded change log that watches resume from (and get `410 Gone` from when it has moved on).

Both the HTTP API server and the simulated control plane read and write through this store, so the
simulation's writes reach watchers exactly like a real controller's would. Stored objects are never
mutated in place: every write stores a new dict, so readers may hold and serialise them without copies.
"""

from __future__ import annotations

import bisect
import builtins
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coldstart.embedded.store.resources import BY_KEY, key_of
from coldstart.embedded.store.selectors import BadSelector, parse_field_selector, parse_label_selector

__all__ = ["BadSelector", "parse_field_selector", "parse_label_selector"]  # for the API server and watches


class StoreError(Exception):
    """Base of store errors; the API server maps each subclass to an HTTP status."""

    status = 500
    reason = "InternalError"


class AlreadyExists(StoreError):
    status, reason = 409, "AlreadyExists"


class Missing(StoreError):
    status, reason = 404, "NotFound"


class Conflict(StoreError):
    status, reason = 409, "Conflict"


class Expired(StoreError):
    """The requested resourceVersion is older than the retained change history."""

    status, reason = 410, "Expired"


NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True, slots=True)
class Change:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    key: str  # store key, e.g. "apps/Deployment"
    namespace: str
    obj: dict[str, Any]


def rfc3339(t: float) -> str:
    """Seconds-precision timestamp as Kubernetes writes metav1.Time."""
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro_time(t: float) -> str:
    """Microsecond timestamp as Kubernetes writes metav1.MicroTime (events' eventTime)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def clone(obj: Any) -> Any:
    """A deep copy of a JSON-shaped value (faster than copy.deepcopy for these)."""
    return json.loads(json.dumps(obj))


class _Log:
    """Append-only list of changes with a retained window; bisect by resourceVersion."""

    def __init__(self, history: int):
        self.history = history
        self.items: list[Change] = []
        self.dropped_upto = 0  # highest rv no longer retained

    def append(self, change: Change) -> None:
        self.items.append(change)
        if len(self.items) > 2 * self.history:
            cut = len(self.items) - self.history
            self.dropped_upto = self.items[cut - 1].rv
            del self.items[:cut]

    def since(self, rv: int) -> list[Change]:
        if rv < self.dropped_upto:
            raise Expired(f"too old resource version: {rv} ({self.dropped_upto})")
        if not self.items or self.items[-1].rv <= rv:  # the usual answer to a caught-up reader: nothing new
            return []
        start = bisect.bisect_right(self.items, rv, key=lambda c: c.rv)
        return self.items[start:]


def controller_uid(obj: dict) -> str | None:
    """The uid of obj's controller: its ownerReference with controller: true."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


# ---------------------------------------------------------------------------------------------------
# The store


class Store:
    """Thread-safe object store with one resourceVersion sequence and watchable change logs."""

    def __init__(self, now: Callable[[], float] = time.time, history: int = 100_000, seed: int | None = None):
        self.now = now
        # uids and generated names come from here, so a seeded cluster writes the same names run after run
        self._rng = random.Random(seed) if seed is not None else random.SystemRandom()
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._rv = 1
        self._objects: dict[str, dict[str, dict[str, dict]]] = {}  # key -> namespace -> name -> obj
        self._all = _Log(history)
        self._by_key: dict[str, _Log] = {}
        self._history = history
        # (key, controller uid) -> {(namespace, name): obj}: what a controller owns, without listing the kind
        self._owned: dict[tuple[str, str], dict[tuple[str, str], dict]] = {}

    def new_uid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def name_suffix(self, length: int = 5) -> str:
        """The random tail of a generateName (Kubernetes' alphabet without vowels and confusable digits)."""
        return "".join(self._rng.choice(NAME_CHARS) for _ in range(length))

    # -- reading -------------------------------------------------------------------------------------
    @property
    def resource_version(self) -> int:
        return self._rv

    @property
    def oldest_version(self) -> int:
        """The oldest resourceVersion the change log still reaches back to (older ones answer 410 Gone)."""
        return self._all.dropped_upto

    def get(self, key: str, namespace: str, name: str) -> dict | None:
        with self._lock:
            return self._objects.get(key, {}).get(namespace or "", {}).get(name)

    def list(self, key: str, namespace: str | None = None, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict], int]:
        """Objects of a kind (in a namespace, or all), filtered, with the list's resourceVersion."""
        labels_ok = parse_label_selector(label_selector)
        fields_ok = parse_field_selector(field_selector)
        with self._lock:
            spaces = self._objects.get(key, {})
            pools = [spaces.get(namespace, {})] if namespace is not None else list(spaces.values())
            items = [o for pool in pools for o in pool.values()
                     if labels_ok(o["metadata"].get("labels") or {}) and fields_ok(o)]
            return items, self._rv

    def list_at(self, key: str, rv: int, namespace: str | None = None, label_selector: str | None = None,
                field_selector: str | None = None) -> builtins.list[dict]:
        """Objects of a kind as they were at resourceVersion `rv` (a list with resourceVersionMatch=Exact), rebuilt
        from the change log; Expired when the log no longer reaches back that far, as etcd after a compaction."""
        labels_ok = parse_label_selector(label_selector)
        fields_ok = parse_field_selector(field_selector)
        with self._lock:
            if rv < self._all.dropped_upto:
                raise Expired("The resourceVersion for the provided list is too old.")
            log = self._by_key.get(key)
            spaces = self._objects.get(key, {})
            state = {(ns, name): o for ns, pool in spaces.items() if namespace is None or ns == namespace
                     for name, o in pool.items()}
            if log is not None and rv < self._rv:
                start = bisect.bisect_right(log.items, rv, key=lambda c: c.rv)
                seen: set[tuple[str, str]] = set()
                for change in log.items[start:]:
                    where = (change.namespace, change.obj["metadata"]["name"])
                    if where in seen or (namespace is not None and change.namespace != namespace):
                        continue
                    seen.add(where)  # its first change after rv says whether it existed at rv
                    state.pop(where, None)
                    if change.type != "ADDED":
                        state[where] = self._as_of(log, start, where)
            return [o for o in state.values() if labels_ok(o["metadata"].get("labels") or {}) and fields_ok(o)]

    @staticmethod
    def _as_of(log: _Log, start: int, where: tuple[str, str]) -> dict:
        """An object's last version before log position `start` (it existed then: a later change modified it)."""
        for change in reversed(log.items[:start]):
            if (change.namespace, change.obj["metadata"]["name"]) == where:
                if change.type == "DELETED":
                    break
                return change.obj
        raise Expired("The resourceVersion for the provided list is too old.")

    def owned(self, key: str, uid: str) -> builtins.list[dict]:
        """Objects of a kind whose controller (the ownerReference with controller: true) has this uid."""
        with self._lock:
            return list(self._owned.get((key, uid), {}).values())

    def _own(self, key: str, namespace: str, old: dict | None, new: dict | None) -> None:
        """Keep the (key, controller uid) index current as `old` becomes `new` (either None: created, deleted)."""
        was = controller_uid(old) if old is not None else None
        if new is not None and (now := controller_uid(new)) is not None:
            where = (namespace, new["metadata"]["name"])
            self._owned.setdefault((key, now), {})[where] = new  # the same controller: it keeps its place
            if was == now:
                return
        if old is not None and was is not None:
            index = self._owned.get((key, was), {})
            index.pop((namespace, old["metadata"]["name"]), None)
            if not index:
                self._owned.pop((key, was), None)

    def changes(self, since_rv: int, key: str | None = None) -> builtins.list[Change]:  # `list`: the method above
        """Changes after since_rv (of one kind, or of all); raises Expired when history has moved on."""
        with self._lock:
            log = self._all if key is None else self._by_key.get(key)
            if log is None:
                return []
            return log.since(since_rv)

    def wait(self, since_rv: int, timeout: float) -> int:
        """Block until something changes after since_rv or the (wall-clock) timeout; return the current rv."""
        with self._changed:
            if self._rv <= since_rv:
                self._changed.wait(timeout)
            return self._rv

    # -- writing -------------------------------------------------------------------------------------
    def _record(self, kind: str, obj: dict, key: str, namespace: str) -> Change:
        change = Change(self._rv, kind, key, namespace, obj)
        self._all.append(change)
        self._by_key.setdefault(key, _Log(self._history)).append(change)
        self._changed.notify_all()
        return change

    def _stamp(self, obj: dict) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    def create(self, obj: dict) -> dict:
        """Store a new object (uid, creationTimestamp, resourceVersion, generation set here)."""
        key = key_of(obj)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + self.name_suffix()
        name, namespace = meta.get("name"), self._namespace_of(key, meta)
        if not name:
            raise StoreError("name or generateName is required")
        with self._lock:
            pool = self._objects.setdefault(key, {}).setdefault(namespace, {})
            if name in pool:
                raise AlreadyExists(f'{obj.get("kind", key)} "{name}" already exists')
            meta.setdefault("uid", self.new_uid())
            meta.setdefault("creationTimestamp", rfc3339(self.now()))
            meta["generation"] = 1
            if namespace:
                meta["namespace"] = namespace
            self._stamp(obj)
            pool[name] = obj
            self._own(key, namespace, None, obj)
            self._record("ADDED", obj, key, namespace)
            return obj

    def replace(self, obj: dict, expect_rv: str | None = None) -> dict:
        """Store a new version of an existing object; Conflict when expect_rv is stale."""
        key = key_of(obj)
        meta = obj["metadata"]
        namespace, name = self._namespace_of(key, meta), meta["name"]
        with self._lock:
            pool = self._objects.get(key, {}).get(namespace, {})
            current = pool.get(name)
            if current is None:
                raise Missing(f'{obj.get("kind", key)} "{name}" not found')
            if expect_rv and expect_rv != current["metadata"]["resourceVersion"]:
                raise Conflict(f'Operation cannot be fulfilled on {obj.get("kind")} "{name}": the object has '
                               "been modified; please apply your changes to the latest version and try again")
            for fixed in ("uid", "creationTimestamp"):
                meta[fixed] = current["metadata"][fixed]
            generation = current["metadata"].get("generation", 1)
            if obj.get("spec") != current.get("spec"):
                generation += 1
            meta["generation"] = generation
            if namespace:
                meta["namespace"] = namespace
            self._stamp(obj)
            pool[name] = obj
            self._own(key, namespace, current, obj)
            self._record("MODIFIED", obj, key, namespace)
            return obj

    def mutate(self, key: str, namespace: str, name: str, fn: Callable[[dict], Any], *,
               fresh: tuple[str, ...] | None = None) -> dict | None:
        """Atomically apply fn to a copy of the object and store it (None when the object is gone).

        fn edits the copy in place; returning False skips the write (nothing changed). `fresh` names the top-level
        fields fn edits inside (deep-copied for it); the others stay shared with the stored version, which is never
        changed in place, so fn may only replace them or set metadata's own keys: a status write then costs no copy
        of a pod's spec. None copies everything."""
        with self._lock:
            current = self.get(key, namespace, name)
            if current is None:
                return None
            if fresh is None:
                copy = clone(current)
            else:
                copy = dict(current, metadata=dict(current["metadata"]))
                for field in fresh:
                    if field in current:
                        copy[field] = clone(current[field])
            if fn(copy) is False:
                return current
            return self.replace(copy)

    def delete(self, key: str, namespace: str, name: str) -> dict:
        with self._lock:
            pool = self._objects.get(key, {}).get(namespace or "", {})
            obj = pool.pop(name, None)
            if obj is None:
                raise Missing(f'{key.split("/")[-1]} "{name}" not found')
            self._own(key, namespace or "", obj, None)
            gone = dict(obj, metadata=dict(obj["metadata"]))
            self._stamp(gone)
            gone["metadata"].setdefault("deletionTimestamp", rfc3339(self.now()))
            self._record("DELETED", gone, key, namespace or "")
            return gone

    def kinds(self) -> builtins.list[str]:
        """The store keys that hold objects (every kind written so far)."""
        with self._lock:
            return [key for key, spaces in self._objects.items() if any(spaces.values())]

    @staticmethod
    def _namespace_of(key: str, meta: dict) -> str:
        resource = BY_KEY.get(key)
        if resource is None:  # a custom kind: the API server has set (or removed) the namespace for its scope
            return meta.get("namespace") or ""
        if not resource.namespaced:
            return ""
        return meta.get("namespace") or "default"


class PodLogs:
    """Container logs the kubelet would keep on the node, served through the `pods/log` subresource.

    Lines carry their (virtual) time so `?timestamps=true` can prefix them the way the kubelet does.
    A restart moves the current log to `previous`, as `kubectl logs --previous` expects."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current: dict[tuple[str, str, str], list[tuple[float, str]]] = {}
        self._previous: dict[tuple[str, str, str], list[tuple[float, str]]] = {}

    def append(self, namespace: str, pod: str, container: str, t: float, line: str) -> None:
        with self._lock:
            self._current.setdefault((namespace, pod, container), []).append((t, line))

    def restart(self, namespace: str, pod: str, container: str) -> None:
        with self._lock:
            key = (namespace, pod, container)
            self._previous[key] = self._current.pop(key, [])

    def read(self, namespace: str, pod: str, container: str, previous: bool = False) -> list[tuple[float, str]]:
        with self._lock:
            source = self._previous if previous else self._current
            return list(source.get((namespace, pod, container), []))

    def containers(self, namespace: str, pod: str) -> list[str]:
        with self._lock:
            return sorted({c for (ns, p, c) in self._current if ns == namespace and p == pod})

    def forget(self, namespace: str, pod: str) -> None:
        """Drop a deleted pod's logs (the kubelet removes them with the pod)."""
        with self._lock:
            for source in (self._current, self._previous):
                for key in [k for k in source if k[0] == namespace and k[1] == pod]:
                    del source[key]
