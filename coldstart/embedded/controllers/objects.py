"""Small pieces every simulated control-plane controller shares: owner references, conditions, pod
requests and priority, Kubernetes-style generated names, pod defaulting and a coalescing work queue.

They live in one place so the scheduler, the autoscaler and the workload controllers agree exactly on
what a pod asks for and how important it is; a disagreement there would make the simulation invent
scheduling outcomes no real cluster shows.
"""

from __future__ import annotations

import functools
import json
import math
import random
import weakref
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from coldstart.embedded.apiserver.admission import Admission
from coldstart.embedded.apiserver.errors import ApiError
from coldstart.embedded.context import SimContext
from coldstart.embedded.store.resources import BY_KEY
from coldstart.embedded.store.store import Change, Store, controller_uid, rfc3339
from coldstart.kube.quantity import parse_quantity

_T = TypeVar("_T")

# k8s.io/apimachinery/pkg/util/rand: the alphabet of generated name suffixes and pod-template-hash.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
DEFAULT_SCHEDULER = "default-scheduler"
GPU_TAINT_VALUE = "present"

# ---------------------------------------------------------------------------------------------------
# Names


_NAME_RNGS: weakref.WeakKeyDictionary[SimContext, random.Random] = weakref.WeakKeyDictionary()


def names(ctx: SimContext) -> random.Random:
    """A seeded source for generated names, separate from the jitter draws so names never shift timings."""
    rng = _NAME_RNGS.get(ctx)
    if rng is None:
        rng = _NAME_RNGS[ctx] = random.Random(ctx.rng.getrandbits(64))
    return rng


def rand_suffix(rng: random.Random, n: int = 5) -> str:
    """The five characters the API server appends to a generateName prefix."""
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(n))


def template_hash(template: Any, collision_count: int = 0) -> str:
    """pod-template-hash the way the deployment controller derives it: FNV-1a 32 of the template, each decimal
    digit mapped into the safe alphabet (so it never forms words and is stable for the same template)."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count:
        data += str(collision_count).encode()
    known = _HASHES.get(data)  # the byte loop is slow, and controllers hash the same template on every sync
    if known is not None:
        return known
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    if len(_HASHES) > 1_000:
        _HASHES.clear()
    _HASHES[data] = "".join(SAFE_ALPHABET[int(d) % len(SAFE_ALPHABET)] for d in str(h))
    return _HASHES[data]


_HASHES: dict[bytes, str] = {}  # serialised template -> its hash


# ---------------------------------------------------------------------------------------------------
# Ownership


def owner_ref(owner: dict, *, controller: bool = True) -> dict[str, Any]:
    meta = owner["metadata"]
    return {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"), "name": meta["name"],
            "uid": meta["uid"], "controller": controller, "blockOwnerDeletion": True}


def owned(items: Iterable[dict], owner: dict) -> list[dict]:
    uid = owner["metadata"]["uid"]
    return [o for o in items if controller_uid(o) == uid]


# ---------------------------------------------------------------------------------------------------
# Conditions


def condition(obj: dict, type_: str) -> dict | None:
    for cond in (obj.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def set_condition(conditions: list[dict], type_: str, status: str, reason: str | None, message: str | None,
                  now: float, *, update_time: bool = False, probe_time: bool = False, touch: bool = False) -> bool:
    """Set a condition in place; lastTransitionTime moves only when the status changes (lastUpdateTime, where
    kept, when anything changes or `touch` says progress was made). True if changed."""
    stamp = rfc3339(now)
    current = next((c for c in conditions if c.get("type") == type_), None)
    new: dict[str, Any] = {"type": type_, "status": status}
    if probe_time:
        new["lastProbeTime"] = None
    if update_time:
        new["lastUpdateTime"] = stamp
    new["lastTransitionTime"] = stamp
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    if current is not None:
        if current.get("status") == status:
            new["lastTransitionTime"] = current.get("lastTransitionTime", stamp)
            if update_time and not touch and current.get("reason") == reason and current.get("message") == message:
                new["lastUpdateTime"] = current.get("lastUpdateTime", stamp)
        if new == current:
            return False
        conditions[conditions.index(current)] = new
    else:
        conditions.append(new)
    return True


_MEMOS: list[dict[int, Any]] = []  # every by_identity cache, so a stopped cluster's objects can be let go


def identity_memo() -> dict[int, Any]:
    """A cache for by_identity, emptied by forget_memos() when a cluster stops."""
    memo: dict[int, Any] = {}
    _MEMOS.append(memo)
    return memo


def forget_memos() -> None:
    """Drop every remembered answer (and the stored pieces the entries hold): called when an embedded cluster
    stops, so its objects do not live on into the next cluster of the process. A cluster still running merely
    recomputes what it asks for next."""
    for memo in _MEMOS:
        memo.clear()


def by_identity(cache: dict[int, tuple[Any, _T]], part: Any, compute: Callable[[dict], _T], obj: dict) -> _T:
    """compute(obj), remembered by the identity of `part` (the piece of obj it reads). Stored objects are never
    changed in place, so the same piece gives the same answer; the entry holds the piece, so its id cannot be reused
    while cached. Controllers and the scheduler ask for these a lot."""
    cached = cache.get(id(part))
    if cached is not None and cached[0] is part:
        return cached[1]
    value = compute(obj)
    if len(cache) > 100_000:
        cache.clear()
    cache[id(part)] = (part, value)
    return value


_READY: dict[int, tuple[Any, bool]] = identity_memo()  # id(status) -> (status, ready)


def pod_ready(pod: dict) -> bool:
    return by_identity(_READY, pod.get("status"), _pod_ready, pod)


def _pod_ready(pod: dict) -> bool:
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def ready_since(pod: dict) -> str | None:
    cond = condition(pod, "Ready")
    return cond.get("lastTransitionTime") if cond and cond.get("status") == "True" else None


def terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def terminating(obj: dict) -> bool:
    return bool(obj["metadata"].get("deletionTimestamp"))


def active(pod: dict) -> bool:
    """Counts toward a controller's replicas: not finished and not being deleted."""
    return not terminal(pod) and not terminating(pod)


# ---------------------------------------------------------------------------------------------------
# Resources and priority


def quantity(resource: str, value: Any) -> int:
    """A request in the scheduler's units: millicores for cpu, bytes for memory, whole units otherwise."""
    q = parse_quantity(value)
    if resource == "cpu":
        return math.ceil(q * 1000)
    return math.ceil(q)


def _container_requests(container: dict) -> dict[str, int]:
    resources = container.get("resources") or {}
    merged = dict(resources.get("limits") or {})  # apiserver defaulting: a limit without a request is the request
    merged.update(resources.get("requests") or {})
    return {name: quantity(name, value) for name, value in merged.items()}


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, 0) + value


_REQUESTS: dict[int, tuple[Any, dict[str, int]]] = identity_memo()  # id(spec) -> (spec, requests)


def pod_requests(pod: dict) -> dict[str, int]:
    """What a pod asks the node for: app containers and sidecars summed, init containers by their peak, overhead.
    The answer is shared: do not change it."""
    return by_identity(_REQUESTS, pod.get("spec"), _pod_requests, pod)


def _pod_requests(pod: dict) -> dict[str, int]:
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    sidecars: dict[str, int] = {}
    init_peak: dict[str, int] = {}
    for init in spec.get("initContainers") or []:
        req = _container_requests(init)
        if init.get("restartPolicy") == "Always":
            _add(sidecars, req)
            continue
        peak = dict(sidecars)
        _add(peak, req)
        for name, value in peak.items():
            init_peak[name] = max(init_peak.get(name, 0), value)
    for container in spec.get("containers") or []:
        _add(total, _container_requests(container))
    _add(total, sidecars)
    for name, value in init_peak.items():
        total[name] = max(total.get(name, 0), value)
    _add(total, {n: quantity(n, v) for n, v in (spec.get("overhead") or {}).items()})
    return {n: v for n, v in total.items() if v}


_LISTS: dict[int, tuple[Any, dict[str, int]]] = identity_memo()  # id(values) -> (values, parsed)


def resource_list(values: dict[str, Any]) -> dict[str, int]:
    return by_identity(_LISTS, values, _resource_list, values)


def _resource_list(values: dict[str, Any]) -> dict[str, int]:
    return {name: quantity(name, value) for name, value in (values or {}).items()}


def pod_view(pod: dict) -> tuple:
    """What workload controllers read of their pods: phase, readiness (and since when), deletion, node."""
    status = pod.get("status") or {}
    return (status.get("phase"), pod_ready(pod), ready_since(pod), bool(pod["metadata"].get("deletionTimestamp")),
            pod["spec"].get("nodeName"))


def priority_class_value(store: Store, name: str | None) -> tuple[int, str | None] | None:
    """(value, preemptionPolicy) of a PriorityClass, the global default when name is empty, None when missing."""
    if name:
        pc = store.get("scheduling.k8s.io/PriorityClass", "", name)
        return None if pc is None else (int(pc.get("value", 0)), pc.get("preemptionPolicy"))
    for pc in store.list("scheduling.k8s.io/PriorityClass")[0]:
        if pc.get("globalDefault"):
            return int(pc.get("value", 0)), pc.get("preemptionPolicy")
    return 0, None


def pod_priority(store: Store, pod: dict) -> int:
    """spec.priority as admission filled it, else the PriorityClass's value looked up here."""
    spec = pod.get("spec") or {}
    if spec.get("priority") is not None:
        return int(spec["priority"])
    found = priority_class_value(store, spec.get("priorityClassName"))
    return found[0] if found else 0


# ---------------------------------------------------------------------------------------------------
# Pods made by controllers


def admit_pod(store: Store, pod: dict, admission: Admission | None = None) -> str | None:
    """Run a pod a controller creates through the API server's admission chain (defaults, the Priority plugin,
    QoS class, Pending phase, validation, and any mutating webhooks the cluster has), as a real controller's
    create does; returns the API server's refusal message (e.g. a missing PriorityClass) worded with the
    generateName prefix, as the controller reports it."""
    meta = pod["metadata"]
    try:
        admitted = (admission or Admission(store)).admit(BY_KEY["/Pod"], pod, "CREATE")
    except ApiError as err:
        prefix = meta.get("generateName") or meta.get("name", "")
        return err.message.replace(f'"{meta.get("name", "")}"', f'"{prefix}"', 1)
    if admitted is not pod:
        pod.clear()
        pod.update(admitted)
    return None


def pod_from_template(template: dict, namespace: str, name: str, owner: dict, labels: dict[str, str]) -> dict:
    meta = template.get("metadata") or {}
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": namespace,
                        "labels": {**(meta.get("labels") or {}), **labels},
                        "ownerReferences": [owner_ref(owner)]},
           "spec": json.loads(json.dumps(template.get("spec") or {}))}
    if meta.get("annotations"):
        pod["metadata"]["annotations"] = dict(meta["annotations"])
    return pod


# ---------------------------------------------------------------------------------------------------
# Work queue


class Reconciler:
    """Coalesces store changes into one reconcile per object once the burst of changes is delivered,
    like a controller's work queue: a burst of pod updates costs one pass, not one per update."""

    def __init__(self, ctx: SimContext):
        self.ctx, self.store = ctx, ctx.store
        self._dirty: dict[tuple[str, str], None] = {}
        self._timer: Any = None
        self.owners: dict[str, tuple[str, str]] = {}  # uid -> (namespace, name) of the objects this one owns
        self._views: dict[str, Any] = {}  # uid of a dependent -> what enqueue_owner last saw of it

    def track(self, change: Change) -> None:
        """One of this controller's own objects changed: remember it by uid (forget it once deleted) and
        reconcile it."""
        meta = change.obj["metadata"]
        if change.type == "DELETED":
            self.owners.pop(meta["uid"], None)
            return
        self.owners[meta["uid"]] = (change.namespace, meta["name"])
        self.enqueue(change.namespace, meta["name"])

    def enqueue_owner(self, change: Change, view: Any = None) -> None:
        """Something this controller made changed: reconcile the object that controls it. With `view` (a function
        of the changed object), only when what the controller reads of it changed (a pod's readiness, not each
        container status the kubelet writes): the controller's own informer filter."""
        target = self.owners.get(controller_uid(change.obj) or "")
        if not target:
            return
        if view is not None:
            uid = change.obj["metadata"]["uid"]
            seen = None if change.type == "DELETED" else view(change.obj)
            if change.type != "DELETED" and self._views.get(uid) == seen:
                return
            if change.type == "DELETED":
                self._views.pop(uid, None)
            else:
                self._views[uid] = seen
        self.enqueue(*target)

    def on_change(self, change: Change) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def enqueue(self, namespace: str, name: str, delay: float = 0.0) -> None:
        if delay > 0:
            self.ctx.clock.call_later(delay, self.enqueue, namespace, name)
            return
        self._dirty[(namespace, name)] = None
        if self._timer is None:
            self._timer = self.ctx.clock.call_later(0.0, self._flush)

    def _flush(self) -> None:
        self._timer = None
        items = list(self._dirty)
        self._dirty.clear()
        for namespace, name in items:
            self.reconcile(namespace, name)

    def reconcile(self, namespace: str, name: str) -> None:  # pragma: no cover - overridden
        raise NotImplementedError


@functools.lru_cache(maxsize=65536)
def parse_time(stamp: str | None) -> float | None:
    """Epoch seconds of a metav1.Time (`2025-01-02T03:04:05Z`); None when absent."""
    if not stamp:
        return None
    return datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
