"""StatefulSets: ordinal pods (`<set>-0`, `<set>-1`, ...) with a claim per volumeClaimTemplate each
(`<template>-<set>-<ordinal>`), created one at a time (OrderedReady) or together (Parallel).

The claims outlive the pods (retention policy Retain), which is why a StatefulSet is one way to keep a
per-replica compile cache warm across restarts. Events and status follow kube-controller-manager's
statefulset controller.
"""

from __future__ import annotations

from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.objects import (
    Reconciler,
    active,
    admit_pod,
    pod_from_template,
    pod_ready,
    template_hash,
)
from coldstart.embedded.store.store import Change, clone

STS = "apps/StatefulSet"
REVISION_LABEL = "controller-revision-hash"


def _ordinal(set_name: str, pod: dict) -> int | None:
    suffix = pod["metadata"]["name"].removeprefix(f"{set_name}-")
    return int(suffix) if suffix.isdigit() else None


class StatefulSetController(Reconciler):
    """Keeps ordinal pods and their claims for each StatefulSet and reports its status."""

    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self.events = ctx.recorder("statefulset-controller")

    def on_change(self, change: Change) -> None:
        if change.key == STS:
            self.track(change)
        elif change.key == "/Pod":
            self.enqueue_owner(change)

    def reconcile(self, namespace: str, name: str) -> None:
        sts = self.store.get(STS, namespace, name)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return
        spec = sts["spec"]
        replicas = int(spec.get("replicas", 1))
        revision = f"{name}-{template_hash(spec.get('template') or {})}"
        parallel = spec.get("podManagementPolicy") == "Parallel"
        pods = {o: p for p in self.store.owned("/Pod", sts["metadata"]["uid"])
                if (o := _ordinal(name, p)) is not None and active(p)}
        for ordinal in range(replicas):
            pod = pods.get(ordinal)
            if pod is None:
                made = self._create(sts, ordinal, revision)
                if made is None or not parallel:
                    break
                pods[ordinal] = made
            elif not parallel and not pod_ready(pod):
                break  # OrderedReady: the next ordinal waits for this one
        else:
            self._scale_down_or_update(sts, pods, replicas, revision, parallel)
        self._status(sts, pods, revision)

    def _scale_down_or_update(self, sts: dict, pods: dict[int, dict], replicas: int, revision: str,
                              parallel: bool) -> None:
        extra = sorted((o for o in pods if o >= replicas), reverse=True)
        if extra:
            for ordinal in extra if parallel else extra[:1]:
                self._delete(sts, pods.pop(ordinal))
            return
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type") == "OnDelete" or not all(pod_ready(p) for p in pods.values()):
            return
        partition = int((strategy.get("rollingUpdate") or {}).get("partition", 0))
        stale = [o for o in sorted(pods, reverse=True)
                 if o >= partition and (pods[o]["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision]
        if stale:  # rolling update: replace the highest stale ordinal, one at a time
            self._delete(sts, pods.pop(stale[0]))

    def _claims(self, sts: dict, ordinal: int) -> dict[str, str]:
        meta = sts["metadata"]
        pod_name = f"{meta['name']}-{ordinal}"
        claims = {}
        selector = (sts["spec"].get("selector") or {}).get("matchLabels") or {}
        for template in sts["spec"].get("volumeClaimTemplates") or []:
            tmpl_name = template["metadata"]["name"]
            claim_name = f"{tmpl_name}-{meta['name']}-{ordinal}"
            claims[tmpl_name] = claim_name
            if self.store.get("/PersistentVolumeClaim", meta["namespace"], claim_name) is not None:
                continue
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {"name": claim_name, "namespace": meta["namespace"],
                                  "labels": {**(template["metadata"].get("labels") or {}), **selector}},
                     "spec": clone(template.get("spec") or {})}
            claim["spec"].setdefault("volumeMode", "Filesystem")
            self.store.create(claim)
            self.events.event(sts, "Normal", "SuccessfulCreate",
                              f"create Claim {claim_name} Pod {pod_name} in StatefulSet {meta['name']} success")
        return claims

    def _create(self, sts: dict, ordinal: int, revision: str) -> dict | None:
        meta = sts["metadata"]
        pod_name = f"{meta['name']}-{ordinal}"
        claims = self._claims(sts, ordinal)
        labels = {REVISION_LABEL: revision, "statefulset.kubernetes.io/pod-name": pod_name,
                  "apps.kubernetes.io/pod-index": str(ordinal)}
        pod = pod_from_template(sts["spec"].get("template") or {}, meta["namespace"], pod_name, sts, labels)
        pod["spec"]["hostname"] = pod_name
        if sts["spec"].get("serviceName"):
            pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
        volumes = [v for v in pod["spec"].get("volumes") or [] if v.get("name") not in claims]
        volumes += [{"name": tmpl, "persistentVolumeClaim": {"claimName": claim}} for tmpl, claim in claims.items()]
        if volumes:
            pod["spec"]["volumes"] = volumes
        refused = admit_pod(self.store, pod, self.ctx.admission)
        if refused:
            self.events.event(sts, "Warning", "FailedCreate",
                              f"create Pod {pod_name} in StatefulSet {meta['name']} failed error: {refused}")
            return None
        if self.store.get("/Pod", meta["namespace"], pod_name) is not None:
            return None  # the previous incarnation is still being deleted
        made = self.store.create(pod)
        self.events.event(sts, "Normal", "SuccessfulCreate",
                          f"create Pod {pod_name} in StatefulSet {meta['name']} successful")
        return made

    def _delete(self, sts: dict, pod: dict) -> None:
        meta = pod["metadata"]
        self.store.delete("/Pod", meta["namespace"], meta["name"])
        self.events.event(sts, "Normal", "SuccessfulDelete",
                          f"delete Pod {meta['name']} in StatefulSet {sts['metadata']['name']} successful")

    def _status(self, sts: dict, pods: dict[int, dict], revision: str) -> None:
        fresh = {o: self.store.get("/Pod", p["metadata"]["namespace"], p["metadata"]["name"]) for o, p in pods.items()}
        live = [p for p in fresh.values() if p is not None and active(p)]
        updated = sum((p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision for p in live)
        ready = sum(pod_ready(p) for p in live)
        prev = sts.get("status") or {}
        current = prev.get("currentRevision") or revision
        if updated == len(live) == int(sts["spec"].get("replicas", 1)):
            current = revision
        status: dict[str, Any] = {"observedGeneration": sts["metadata"].get("generation", 1), "replicas": len(live),
                                  "currentRevision": current, "updateRevision": revision, "collisionCount": 0}
        counts = {"readyReplicas": ready, "availableReplicas": ready, "updatedReplicas": updated,
                  "currentReplicas": sum((p["metadata"].get("labels") or {}).get(REVISION_LABEL) == current
                                         for p in live)}
        status.update({k: v for k, v in counts.items() if v})
        if prev != status:
            meta = sts["metadata"]
            self.store.mutate(STS, meta["namespace"], meta["name"], lambda obj: obj.__setitem__("status", status))
