"""Endpoints and EndpointSlices for Services with a selector (the endpoints and endpointslice controllers): the
pods the selector matches that have an IP, ready ones as `addresses` (slices: `ready: true`), the others as
`notReadyAddresses`, with the Service's ports resolved against each pod's named container ports.

Work is proportional to what changed: a pod change re-reconciles only the Services of its namespace whose
selector matches it (or matched it before), and only when its IP, readiness or labels changed.
"""

from __future__ import annotations

import contextlib
from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.objects import Reconciler, owner_ref, pod_ready, terminating
from coldstart.embedded.store.store import AlreadyExists, Change, Missing

SERVICE, ENDPOINTS, SLICE = "/Service", "/Endpoints", "discovery.k8s.io/EndpointSlice"
MANAGED_BY = "endpointslice-controller.k8s.io"
BATCH_SECONDS = 1.0


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


class EndpointsController(Reconciler):
    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self._selectors: dict[str, dict[tuple[str, str], dict[str, str]]] = {}  # namespace -> service -> selector
        self._seen: dict[str, tuple] = {}  # pod uid -> what endpoints read of it
        self._batched: set[tuple[str, str]] = set()
        self._members: dict[tuple[str, str], dict[str, dict]] = {}  # service -> pod uid -> the pod as last seen

    def on_change(self, change: Change) -> None:
        if change.key == SERVICE:
            meta = change.obj["metadata"]
            services = self._selectors.setdefault(change.namespace, {})
            if change.type == "DELETED":
                services.pop((change.namespace, meta["name"]), None)
                self._members.pop((change.namespace, meta["name"]), None)
                with contextlib.suppress(Missing):
                    self.store.delete(ENDPOINTS, change.namespace, meta["name"])
                return
            selector = (change.obj.get("spec") or {}).get("selector") or {}
            if services.get((change.namespace, meta["name"])) != selector:  # (re)read its pods once
                services[(change.namespace, meta["name"])] = selector
                self._members[(change.namespace, meta["name"])] = {
                    p["metadata"]["uid"]: p for p in self.store.list("/Pod", change.namespace)[0]
                    if selector and _matches(selector, p["metadata"].get("labels") or {})}
            self.enqueue(change.namespace, meta["name"])
        elif change.key == "/Pod" and self._selectors.get(change.namespace):
            pod, uid = change.obj, change.obj["metadata"]["uid"]
            labels = pod["metadata"].get("labels") or {}
            view = (change.type, (pod.get("status") or {}).get("podIP"), pod_ready(pod), terminating(pod),
                    tuple(sorted(labels.items())))
            before = self._seen.pop(uid, None)
            if change.type != "DELETED":
                self._seen[uid] = view
            if before == view:
                return
            old_labels = dict(before[4]) if before else {}
            for (namespace, name), selector in self._selectors[change.namespace].items():
                if not selector:
                    continue
                members = self._members.setdefault((namespace, name), {})
                if change.type != "DELETED" and _matches(selector, labels):
                    members[uid] = pod
                    self.enqueue(namespace, name)
                elif members.pop(uid, None) is not None or (before and _matches(selector, old_labels)):
                    self.enqueue(namespace, name)

    def enqueue(self, namespace: str, name: str, delay: float = 0.0) -> None:
        """Changes within BATCH_SECONDS make one update (kube-controller-manager's --endpoint-updates-batch-period):
        a thousand pods becoming ready one after another rewrite the Endpoints a few hundred times, not a
        thousand."""
        if delay > 0:
            super().enqueue(namespace, name, delay)
            return
        if (namespace, name) in self._batched:
            return  # the batch already pending reads this change too
        self._batched.add((namespace, name))
        self.ctx.clock.call_later(BATCH_SECONDS, self._release, namespace, name)

    def _release(self, namespace: str, name: str) -> None:
        self._batched.discard((namespace, name))
        super().enqueue(namespace, name)

    def reconcile(self, namespace: str, name: str) -> None:
        svc = self.store.get(SERVICE, namespace, name)
        selector = ((svc or {}).get("spec") or {}).get("selector")
        if svc is None or not selector:
            return
        pods = [p for p in self._members.get((namespace, name), {}).values() if (p.get("status") or {}).get("podIP")
                and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        pods.sort(key=lambda p: p["metadata"]["name"])
        ports = [self._port(svc_port, pods[0] if pods else None) for svc_port in svc["spec"].get("ports") or []]
        ready = [p for p in pods if pod_ready(p) and not terminating(p)]
        is_ready = {id(p) for p in ready}  # by identity: `p in ready` compared whole pods, quadratic in replicas
        waiting = [p for p in pods if id(p) not in is_ready]
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = [_address(p) for p in ready]
        if waiting:
            subset["notReadyAddresses"] = [_address(p) for p in waiting]
        endpoints: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints",
                                     "metadata": {"name": name, "namespace": namespace,
                                                  "labels": dict(svc["metadata"].get("labels") or {})}}
        if subset:
            subset["ports"] = ports
            endpoints["subsets"] = [subset]
        self._write(ENDPOINTS, endpoints)
        labels = {**(svc["metadata"].get("labels") or {}), "kubernetes.io/service-name": name,
                  "endpointslice.kubernetes.io/managed-by": MANAGED_BY}
        slice_: dict[str, Any] = {
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{name}-ep", "namespace": namespace, "labels": labels,
                         "ownerReferences": [owner_ref(svc)]},
            "endpoints": [{"addresses": [p["status"]["podIP"]], "nodeName": p["spec"].get("nodeName"),
                           "targetRef": _target(p), "conditions": {"ready": id(p) in is_ready, "serving": pod_ready(p),
                                                                   "terminating": terminating(p)}} for p in pods],
            "ports": ports}
        self._write(SLICE, slice_)

    @staticmethod
    def _port(svc_port: dict, pod: dict | None) -> dict[str, Any]:
        target = svc_port.get("targetPort", svc_port.get("port"))
        if isinstance(target, str) and pod is not None:
            target = next((p.get("containerPort") for c in pod["spec"].get("containers") or []
                           for p in c.get("ports") or [] if p.get("name") == target), target)
        port: dict[str, Any] = {"port": target, "protocol": svc_port.get("protocol", "TCP")}
        if svc_port.get("name"):
            port["name"] = svc_port["name"]
        return port

    def _write(self, key: str, obj: dict) -> None:
        meta = obj["metadata"]
        current = self.store.get(key, meta["namespace"], meta["name"])
        if current is None:
            with contextlib.suppress(AlreadyExists):
                self.store.create(obj)
            return
        fields = [k for k in obj if k not in ("apiVersion", "kind", "metadata")]
        if all(current.get(k) == obj.get(k) for k in fields) and ("subsets" in current) == ("subsets" in obj):
            return

        def edit(live: dict) -> None:
            for k in fields:
                live[k] = obj[k]  # built afresh by this reconcile: nothing else holds it
            if "subsets" not in obj:
                live.pop("subsets", None)

        with contextlib.suppress(Missing):
            self.store.mutate(key, meta["namespace"], meta["name"], edit, fresh=())


def _target(pod: dict) -> dict[str, Any]:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}


def _address(pod: dict) -> dict[str, Any]:
    return {"ip": pod["status"]["podIP"], "nodeName": pod["spec"].get("nodeName"), "targetRef": _target(pod)}
