"""DaemonSets: one pod per node that the template's selector, affinity and tolerations allow, as the
daemonset controller does it (the pod pinned to its node by required node affinity on `metadata.name`, bound
by the scheduler once the node is Ready).

An image pre-pull DaemonSet is how a cluster warms its new GPU nodes' image cache, so without this the
embedded cluster would silently ignore one of the image-pull levers.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.fit import matches_node_affinity, untolerated_taint
from coldstart.embedded.controllers.objects import (
    Reconciler,
    active,
    admit_pod,
    by_identity,
    controller_uid,
    identity_memo,
    names,
    pod_from_template,
    pod_ready,
    pod_view,
    rand_suffix,
    template_hash,
)
from coldstart.embedded.store.store import Change, Missing

DS = "apps/DaemonSet"
# What the daemonset controller adds to every daemon pod (pkg/controller/daemon/util).
DAEMON_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]


def _pinned_node(pod: dict) -> str | None:
    return by_identity(_PINNED, pod["spec"], _pinned, pod)


_PINNED: dict[int, tuple[Any, str | None]] = identity_memo()  # id(spec) -> (spec, node)


def _pinned(pod: dict) -> str | None:
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for expr in term.get("matchFields") or []:
            if expr.get("key") == "metadata.name" and expr.get("values"):
                return expr["values"][0]
    return pod["spec"].get("nodeName")


@dataclass
class _Tally:
    """What the controller knows of one DaemonSet: eligible nodes, its active pods per node, nodes to look at."""

    generation: int
    wanted: set[str] = field(default_factory=set)
    pods: dict[str, dict[str, dict]] = field(default_factory=dict)  # node -> pod name -> pod
    where: dict[str, str] = field(default_factory=dict)  # pod name -> node
    dirty: set[str] = field(default_factory=set)
    live: set[str] = field(default_factory=set)  # wanted nodes running a daemon pod
    ready: set[str] = field(default_factory=set)  # ... a ready one

    def record(self, pod: dict, gone: bool) -> None:
        name = pod["metadata"]["name"]
        before = self.where.pop(name, None)
        if before is not None:
            self.pods.get(before, {}).pop(name, None)
            self.dirty.add(before)
        if not gone and active(pod):
            node = _pinned_node(pod) or ""
            self.where[name] = node
            self.pods.setdefault(node, {})[name] = pod
            self.dirty.add(node)


class DaemonSetController(Reconciler):
    """Keeps one daemon pod on every eligible node and counts them. Work is per changed node or pod (a node
    joining looks at that node only), so a thousand GPU nodes booting cost a thousand small steps."""

    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self.events = ctx.recorder("daemonset-controller")
        self._eligible: dict[tuple[str, int], dict[str, tuple[str | None, bool]]] = {}
        self._tallies: dict[str, _Tally] = {}  # DaemonSet uid -> its tally
        self._probes: dict[tuple[str, int], dict] = {}  # (uid, generation) -> a pod of its template, to judge nodes

    def on_change(self, change: Change) -> None:
        if change.key == DS:
            if change.type == "DELETED":
                self._tallies.pop(change.obj["metadata"]["uid"], None)
            self.track(change)
        elif change.key == "/Node":
            for tally in self._tallies.values():
                tally.dirty.add(change.obj["metadata"]["name"])
            for target in sorted(self.owners.values()):
                self.enqueue(*target)
        elif change.key == "/Pod":
            owner = self._tallies.get(controller_uid(change.obj) or "")
            if owner is not None:
                owner.record(change.obj, change.type == "DELETED")
            self.enqueue_owner(change, pod_view)

    def _pod(self, ds: dict, node: str) -> dict:
        pod = pod_from_template(ds["spec"].get("template") or {}, ds["metadata"]["namespace"], "", ds,
                                {"controller-revision-hash": template_hash(ds["spec"].get("template") or {}),
                                 "pod-template-generation": str(ds["metadata"].get("generation", 1))})
        spec = pod["spec"]
        affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
        affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}
        tolerations = spec.setdefault("tolerations", [])
        for default in DAEMON_TOLERATIONS:
            if not any(t.get("key") == default["key"] and t.get("effect") == default["effect"] for t in tolerations):
                tolerations.append(dict(default))
        return pod

    def _wanted(self, ds: dict, among: set[str] | None = None) -> set[str]:
        """The nodes (of `among`, or all) the DaemonSet's pod may run on, each judged again only when it changed."""
        meta = ds["metadata"]
        version = (meta["uid"], meta.get("generation", 1))
        cache = self._eligible.setdefault(version, {})
        probe: dict | None = self._probes.get(version)
        wanted = set()
        nodes = self.store.list("/Node")[0] if among is None else [
            n for n in (self.store.get("/Node", "", name) for name in sorted(among)) if n is not None]
        for node in nodes:
            name, rv = node["metadata"]["name"], node["metadata"].get("resourceVersion")
            known = cache.get(name)
            if known is None or known[0] != rv:
                probe = probe or self._probes.setdefault(version, self._pod(ds, ""))
                known = cache[name] = (rv, matches_node_affinity({"spec": {**probe["spec"], "affinity": {}}}, node)
                                       and untolerated_taint(probe, node) is None)
            if known[1]:
                wanted.add(name)
        return wanted

    def _tally(self, ds: dict) -> _Tally:
        meta = ds["metadata"]
        known = self._tallies.get(meta["uid"])
        if known is not None and known.generation == meta.get("generation", 1):
            return known
        tally = self._tallies[meta["uid"]] = _Tally(meta.get("generation", 1), self._wanted(ds))
        for pod in self.store.owned("/Pod", meta["uid"]):
            tally.record(pod, False)
        tally.dirty |= tally.wanted
        return tally

    def reconcile(self, namespace: str, name: str) -> None:
        ds = self.store.get(DS, namespace, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        tally = self._tally(ds)
        dirty, tally.dirty = tally.dirty, set()
        eligible = self._wanted(ds, dirty)
        tally.wanted = (tally.wanted - dirty) | eligible
        wanted = tally.wanted
        for node in sorted(n for n in eligible if not tally.pods.get(n)):
            pod = self._pod(ds, node)
            pod["metadata"]["generateName"] = f"{name}-"
            pod["metadata"]["name"] = f"{name}-{rand_suffix(names(self.ctx))}"
            refused = admit_pod(self.store, pod, self.ctx.admission)
            if refused:
                self.events.event(ds, "Warning", "FailedCreate", f"Error creating: {refused}")
                tally.dirty.add(node)
                break
            made = self.store.create(pod)
            tally.record(made, False)
            tally.dirty.discard(node)
            self.events.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {made['metadata']['name']}")
        for node in sorted(dirty):
            extra = sorted(tally.pods.get(node, {}).values(), key=lambda p: p["metadata"].get("creationTimestamp", ""))
            for pod in extra if node not in wanted else extra[1:]:
                with contextlib.suppress(Missing):
                    self.store.delete("/Pod", namespace, pod["metadata"]["name"])
                tally.record(pod, True)
                self.events.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        for node in dirty | eligible:  # what changed: the counts follow node by node
            first = next(iter(tally.pods.get(node, {}).values()), None) if node in wanted else None
            (tally.live.add if first is not None else tally.live.discard)(node)
            (tally.ready.add if first is not None and pod_ready(first) else tally.ready.discard)(node)
        live, ready = len(tally.live), len(tally.ready)
        status: dict[str, Any] = {"currentNumberScheduled": live, "desiredNumberScheduled": len(wanted),
                                  "numberMisscheduled": 0, "numberReady": ready,
                                  "observedGeneration": ds["metadata"].get("generation", 1),
                                  "updatedNumberScheduled": live}
        if ready:
            status["numberAvailable"] = ready
        if len(wanted) - ready:
            status["numberUnavailable"] = len(wanted) - ready
        if (ds.get("status") or {}) != status:
            self.store.mutate(DS, namespace, name, lambda obj: obj.__setitem__("status", status), fresh=())
