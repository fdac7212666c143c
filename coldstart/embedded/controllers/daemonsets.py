"""DaemonSets: one pod per node that the template's selector, affinity and tolerations allow, as the
daemonset controller does it (the pod pinned to its node by required node affinity on `metadata.name`, bound
by the scheduler once the node is Ready).

An image pre-pull DaemonSet is how a cluster warms its new GPU nodes' image cache, so without this the
embedded cluster would silently ignore one of the image-pull levers.
"""

from __future__ import annotations

from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.fit import matches_node_affinity, untolerated_taint
from coldstart.embedded.controllers.objects import (
    Reconciler,
    active,
    admit_pod,
    names,
    owned,
    pod_from_template,
    pod_ready,
    rand_suffix,
    template_hash,
)
from coldstart.embedded.store.store import Change

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
    terms = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
             .get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []
    for term in terms:
        for expr in term.get("matchFields") or []:
            if expr.get("key") == "metadata.name" and expr.get("values"):
                return expr["values"][0]
    return pod["spec"].get("nodeName")


class DaemonSetController(Reconciler):
    """Keeps one daemon pod on every eligible node and counts them."""

    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self.events = ctx.recorder("daemonset-controller")

    def on_change(self, change: Change) -> None:
        if change.key == DS:
            self.track(change)
        elif change.key == "/Node":
            for target in sorted(self.owners.values()):
                self.enqueue(*target)
        elif change.key == "/Pod":
            self.enqueue_owner(change)

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

    def reconcile(self, namespace: str, name: str) -> None:
        ds = self.store.get(DS, namespace, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        probe = self._pod(ds, "")
        wanted = {n["metadata"]["name"] for n in self.store.list("/Node")[0]
                  if matches_node_affinity({"spec": {**probe["spec"], "affinity": {}}}, n)
                  and untolerated_taint(probe, n) is None}
        pods: dict[str, list[dict]] = {}
        for pod in owned(self.store.list("/Pod", namespace)[0], ds):
            if active(pod):
                pods.setdefault(_pinned_node(pod) or "", []).append(pod)
        for node in sorted(wanted - set(pods)):
            pod = self._pod(ds, node)
            pod["metadata"]["generateName"] = f"{name}-"
            pod["metadata"]["name"] = f"{name}-{rand_suffix(names(self.ctx))}"
            refused = admit_pod(self.store, pod, self.ctx.admission)
            if refused:
                self.events.event(ds, "Warning", "FailedCreate", f"Error creating: {refused}")
                break
            made = self.store.create(pod)
            pods[node] = [made]
            self.events.event(ds, "Normal", "SuccessfulCreate", f"Created pod: {made['metadata']['name']}")
        for node, extra in sorted(pods.items()):
            doomed = extra if node not in wanted else extra[1:]
            for pod in doomed:
                self.store.delete("/Pod", namespace, pod["metadata"]["name"])
                self.events.event(ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        live = [p[0] for n, p in pods.items() if n in wanted]
        ready = sum(pod_ready(p) for p in live)
        status: dict[str, Any] = {"currentNumberScheduled": len(live), "desiredNumberScheduled": len(wanted),
                                  "numberMisscheduled": 0, "numberReady": ready,
                                  "observedGeneration": ds["metadata"].get("generation", 1),
                                  "updatedNumberScheduled": len(live)}
        if ready:
            status["numberAvailable"] = ready
        if len(wanted) - ready:
            status["numberUnavailable"] = len(wanted) - ready
        if (ds.get("status") or {}) != status:
            self.store.mutate(DS, namespace, name, lambda obj: obj.__setitem__("status", status))
