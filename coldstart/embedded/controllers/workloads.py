"""Deployment -> ReplicaSet -> Pods, as kube-controller-manager's deployment and replicaset controllers do it.

The cold start of a replica begins when its Deployment asks for it, so the objects, names, labels, owner
references, status counters, conditions and events here follow the real controllers: a recorder that
reads `ScalingReplicaSet` / `SuccessfulCreate` events and Deployment conditions works on both clusters.
A template change rolls a new ReplicaSet (RollingUpdate with maxSurge/maxUnavailable, or Recreate).
"""

from __future__ import annotations

import math
from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.objects import (
    Reconciler,
    active,
    admit_pod,
    controller_uid,
    names,
    owner_ref,
    parse_time,
    pod_from_template,
    pod_ready,
    pod_view,
    rand_suffix,
    ready_since,
    set_condition,
    template_hash,
)
from coldstart.embedded.store.store import Change, clone

RS = "apps/ReplicaSet"
DEPLOY = "apps/Deployment"
REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"


def _available(pod: dict, min_ready: int, now: float) -> bool:
    if not pod_ready(pod):
        return False
    since = parse_time(ready_since(pod))
    return min_ready <= 0 or (since is not None and now - since >= min_ready)


def _delete_rank(pod: dict) -> tuple:
    """Pods a scale-down removes first: unscheduled, pending, not ready, cheaper, ready for less time,
    restarted more, newer (the ReplicaSet controller's ActivePods order)."""
    status = pod.get("status") or {}
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}.get(status.get("phase", "Pending"), 0)
    cost = int((pod["metadata"].get("annotations") or {}).get("controller.kubernetes.io/pod-deletion-cost", 0))
    since = parse_time(ready_since(pod)) or 0.0
    restarts = sum(c.get("restartCount", 0) for c in status.get("containerStatuses") or [])
    created = parse_time(pod["metadata"].get("creationTimestamp")) or 0.0
    return (bool(pod["spec"].get("nodeName")), phase_rank, pod_ready(pod), cost, -since, -restarts, -created)


class _Counts:
    """A ReplicaSet's pods as its status counts them (live = active, ready), kept up to date pod by pod so a
    status update costs the same with a thousand replicas as with one."""

    def __init__(self) -> None:
        self.views: dict[str, tuple[bool, bool]] = {}
        self.live = self.ready = 0

    def record(self, pod: dict, gone: bool) -> None:
        name = pod["metadata"]["name"]
        old = self.views.pop(name, (False, False))
        new = (False, False) if gone else (active(pod), active(pod) and pod_ready(pod))
        if new != (False, False):
            self.views[name] = new
        self.live += new[0] - old[0]
        self.ready += new[1] - old[1]


class ReplicaSetController(Reconciler):
    """Keeps spec.replicas live pods per ReplicaSet (recreating deleted or preempted ones) and counts them."""

    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self.events = ctx.recorder("replicaset-controller")
        self._blocked: set[tuple[str, str]] = set()  # sets whose pods admission refused (missing PriorityClass)
        self._counts: dict[str, _Counts] = {}  # ReplicaSet uid -> its pods' counts

    def on_change(self, change: Change) -> None:
        if change.key == RS:
            if change.type == "DELETED":
                self._counts.pop(change.obj["metadata"]["uid"], None)
            self.track(change)
        elif change.key == "/Pod":
            counts = self._counts.get(controller_uid(change.obj) or "")
            if counts is not None:
                counts.record(change.obj, change.type == "DELETED")
            self.enqueue_owner(change, pod_view)
        elif change.key == "scheduling.k8s.io/PriorityClass" and change.type == "ADDED":
            for target in sorted(self._blocked):
                self.enqueue(*target)
            self._blocked.clear()

    def reconcile(self, namespace: str, name: str) -> None:
        rs = self.store.get(RS, namespace, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        uid = rs["metadata"]["uid"]
        counts = self._counts.get(uid)
        if counts is None:
            counts = self._counts[uid] = _Counts()
            for pod in self.store.owned("/Pod", uid):
                counts.record(pod, False)
        want = int(rs["spec"].get("replicas", 1))
        if counts.live < want:
            for pod in self._create(rs, want - counts.live):
                counts.record(pod, False)
        elif counts.live > want:
            live = [p for p in self.store.owned("/Pod", uid) if active(p)]
            doomed = sorted(live, key=_delete_rank)[: len(live) - want]
            for pod in doomed:
                self.store.delete("/Pod", namespace, pod["metadata"]["name"])
                counts.record(pod, True)
                self.events.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
        self._update_status(rs, counts)

    def _create(self, rs: dict, count: int) -> list[dict]:
        meta = rs["metadata"]
        made: list[dict] = []
        for _ in range(count):
            pod = pod_from_template(rs["spec"]["template"], meta["namespace"], "", rs, {})
            pod["metadata"]["generateName"] = f"{meta['name']}-"
            for _attempt in range(10):
                pod["metadata"]["name"] = f"{meta['name']}-{rand_suffix(names(self.ctx))}"
                if self.store.get("/Pod", meta["namespace"], pod["metadata"]["name"]) is None:
                    break
            refused = admit_pod(self.store, pod, self.ctx.admission)
            if refused:
                self._blocked.add((meta["namespace"], meta["name"]))
                self.events.event(rs, "Warning", "FailedCreate", f"Error creating: {refused}")
                break
            made.append(self.store.create(pod))
            self.events.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod['metadata']['name']}")
        return made

    def _update_status(self, rs: dict, counts: _Counts) -> None:
        now = self.ctx.now()
        min_ready = int(rs["spec"].get("minReadySeconds") or 0)
        ready = available = counts.ready
        if min_ready and ready:  # only then does availability need each pod's time of readiness
            live = [p for p in self.store.owned("/Pod", rs["metadata"]["uid"]) if active(p)]
            available = sum(_available(p, min_ready, now) for p in live)
        if min_ready and available < ready:  # come back when the next ready pod becomes available
            waits = [min_ready - (now - (parse_time(ready_since(p)) or now)) for p in live
                     if pod_ready(p) and not _available(p, min_ready, now)]
            self.enqueue(rs["metadata"]["namespace"], rs["metadata"]["name"], delay=max(0.0, min(waits)) + 0.001)
        status: dict[str, Any] = {"replicas": counts.live}
        for key, value in (("fullyLabeledReplicas", counts.live), ("readyReplicas", ready),
                           ("availableReplicas", available)):
            if value:
                status[key] = value
        status["observedGeneration"] = rs["metadata"].get("generation", 1)
        if (rs.get("status") or {}) != status:
            self.store.mutate(RS, rs["metadata"]["namespace"], rs["metadata"]["name"],
                              lambda obj: obj.__setitem__("status", status), fresh=())


def _resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def rollout_limits(deploy: dict) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in pods; Recreate allows neither."""
    spec = deploy["spec"]
    desired = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge", "25%"), desired, True)
    unavailable = _resolve(rolling.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, desired)


class DeploymentController(Reconciler):
    """Rolls ReplicaSets for a Deployment's template and reports its status and conditions."""

    def __init__(self, ctx: SimContext):
        super().__init__(ctx)
        self.events = ctx.recorder("deployment-controller")
        self._deadlines: dict[tuple[str, str], float] = {}  # progress-deadline checks already scheduled

    def on_change(self, change: Change) -> None:
        if change.key == DEPLOY:
            self.track(change)
        elif change.key == RS:
            self.enqueue_owner(change)

    # -- reconcile -----------------------------------------------------------------------------------
    def reconcile(self, namespace: str, name: str) -> None:
        deploy = self.store.get(DEPLOY, namespace, name)
        if deploy is None or deploy["metadata"].get("deletionTimestamp"):
            return
        spec = deploy["spec"]
        desired = int(spec.get("replicas", 1))
        sets = self.store.owned(RS, deploy["metadata"]["uid"])
        want_hash = template_hash(spec.get("template") or {}, (deploy.get("status") or {}).get("collisionCount", 0))
        new = next((r for r in sets if (r["metadata"].get("labels") or {}).get(HASH_LABEL) == want_hash), None)
        old = sorted((r for r in sets if r is not new), key=lambda r: int(r["metadata"].get("annotations", {})
                                                                            .get(REVISION, 0)))
        created = False
        if spec.get("paused"):  # no rollout while paused: only the current ReplicaSet follows spec.replicas
            if new is not None and int(new["spec"].get("replicas", 0)) != desired and not old:
                new = self._scale(deploy, new, desired)
        elif (spec.get("strategy") or {}).get("type") == "Recreate":
            if any(int(r["spec"].get("replicas", 0)) for r in old):
                for r in old:
                    self._scale(deploy, r, 0)
            elif not any(self.store.owned("/Pod", r["metadata"]["uid"]) for r in old):
                if new is None:
                    new, created = self._create_rs(deploy, want_hash, desired, old), True
                elif int(new["spec"].get("replicas", 0)) != desired:
                    new = self._scale(deploy, new, desired)
        else:
            new, created = self._rolling(deploy, new, old, want_hash, desired)
        self._sync_status(deploy, new, self.store.owned(RS, deploy["metadata"]["uid"]), created)

    def _rolling(self, deploy: dict, new: dict | None, old: list[dict], want_hash: str,
                 desired: int) -> tuple[dict | None, bool]:
        surge, unavailable = rollout_limits(deploy)
        created = False
        total = sum(int(r["spec"].get("replicas", 0)) for r in old)
        if new is None:
            count = desired if total == 0 else max(0, min(desired + surge - total, desired))
            new, created = self._create_rs(deploy, want_hash, count, old), True
        else:
            current = int(new["spec"].get("replicas", 0))
            if current > desired:
                new = self._scale(deploy, new, desired)
            elif current < desired:
                room = desired + surge - (total + current)
                if room > 0:
                    new = self._scale(deploy, new, current + min(room, desired - current))
        old_total = sum(int(r["spec"].get("replicas", 0)) for r in old)
        if old_total:
            new_replicas = int(new["spec"].get("replicas", 0))
            new_unavailable = new_replicas - int((new.get("status") or {}).get("availableReplicas", 0))
            budget = (old_total + new_replicas) - (desired - unavailable) - new_unavailable
            for r in old:  # oldest first
                if budget <= 0:
                    break
                replicas = int(r["spec"].get("replicas", 0))
                if replicas == 0:
                    continue
                step = min(budget, replicas)
                self._scale(deploy, r, replicas - step)
                budget -= step
        return new, created

    def _create_rs(self, deploy: dict, pod_hash: str, replicas: int, old: list[dict]) -> dict:
        meta, spec = deploy["metadata"], deploy["spec"]
        template = clone(spec.get("template") or {})
        template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
        selector = clone(spec.get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
        revision = 1 + max((int((r["metadata"].get("annotations") or {}).get(REVISION, 0)) for r in old), default=0)
        surge, _ = rollout_limits(deploy)
        desired = int(spec.get("replicas", 1))
        rs: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
              "metadata": {"name": f"{meta['name']}-{pod_hash}", "namespace": meta["namespace"],
                           "labels": dict(template["metadata"]["labels"]),
                           "annotations": {"deployment.kubernetes.io/desired-replicas": str(desired),
                                           "deployment.kubernetes.io/max-replicas": str(desired + surge),
                                           REVISION: str(revision)},
                           "ownerReferences": [owner_ref(deploy)]},
              "spec": {"replicas": replicas, "minReadySeconds": int(spec.get("minReadySeconds") or 0),
                       "selector": selector, "template": template}}
        created = self.store.create(rs)
        if replicas > 0:
            self.events.event(deploy, "Normal", "ScalingReplicaSet",
                              f"Scaled up replica set {rs['metadata']['name']} from 0 to {replicas}")
        return created

    def _scale(self, deploy: dict, rs: dict, replicas: int) -> dict:
        before = int(rs["spec"].get("replicas", 0))
        if before == replicas:
            return rs
        desired = str(int(deploy["spec"].get("replicas", 1)))

        def edit(obj: dict) -> None:
            obj["spec"]["replicas"] = replicas
            obj["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/desired-replicas"] = desired

        updated = self.store.mutate(RS, rs["metadata"]["namespace"], rs["metadata"]["name"], edit) or rs
        direction = "up" if replicas > before else "down"
        self.events.event(deploy, "Normal", "ScalingReplicaSet",
                          f"Scaled {direction} replica set {rs['metadata']['name']} from {before} to {replicas}")
        return updated

    # -- status --------------------------------------------------------------------------------------
    def _sync_status(self, deploy: dict, new: dict | None, sets: list[dict], created: bool) -> None:
        now = self.ctx.now()
        spec, prev = deploy["spec"], deploy.get("status") or {}
        desired = int(spec.get("replicas", 1))
        new = next((r for r in sets if new is not None and r["metadata"]["uid"] == new["metadata"]["uid"]), None)

        def total(field: str, items: list[dict]) -> int:
            return sum(int((r.get("status") or {}).get(field, 0)) for r in items)

        counts = {"replicas": total("replicas", sets), "updatedReplicas": total("replicas", [new] if new else []),
                  "readyReplicas": total("readyReplicas", sets), "availableReplicas": total("availableReplicas", sets)}
        counts["unavailableReplicas"] = max(desired - counts["availableReplicas"], 0)
        conditions = clone(prev.get("conditions") or [])
        _, max_unavailable = rollout_limits(deploy)
        if counts["availableReplicas"] >= desired - max_unavailable:
            set_condition(conditions, "Available", "True", "MinimumReplicasAvailable",
                          "Deployment has minimum availability.", now, update_time=True)
        else:
            set_condition(conditions, "Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.", now, update_time=True)
        rs_name = new["metadata"]["name"] if new else ""
        complete = (new is not None and counts["updatedReplicas"] == desired and counts["replicas"] == desired
                    and counts["availableReplicas"] == desired)
        progressed = any(counts[k] > int(prev.get(k, 0)) for k in ("updatedReplicas", "readyReplicas",
                                                                     "availableReplicas"))
        progressed = progressed or (counts["replicas"] - counts["updatedReplicas"]
                                    < int(prev.get("replicas", 0)) - int(prev.get("updatedReplicas", 0)))
        deadline = int(spec.get("progressDeadlineSeconds", 600))
        current = next((c for c in conditions if c["type"] == "Progressing"), None)
        if spec.get("paused"):
            set_condition(conditions, "Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", now,
                          update_time=True)
        elif complete:
            set_condition(conditions, "Progressing", "True", "NewReplicaSetAvailable",
                          f'ReplicaSet "{rs_name}" has successfully progressed.', now, update_time=True)
        elif created:
            set_condition(conditions, "Progressing", "True", "NewReplicaSetCreated",
                          f'Created new replica set "{rs_name}"', now, update_time=True)
        elif progressed or current is None or current.get("reason") == "NewReplicaSetAvailable":
            set_condition(conditions, "Progressing", "True", "ReplicaSetUpdated",
                          f'ReplicaSet "{rs_name}" is progressing.', now, update_time=True, touch=True)
        else:
            last = parse_time(current.get("lastUpdateTime")) or now
            if current.get("status") == "True" and now >= last + deadline:
                set_condition(conditions, "Progressing", "False", "ProgressDeadlineExceeded",
                              f'ReplicaSet "{rs_name}" has timed out progressing.', now, update_time=True)
        current = next(c for c in conditions if c["type"] == "Progressing")
        if not complete and current.get("status") == "True":
            at = (parse_time(current.get("lastUpdateTime")) or now) + deadline + 1.0
            key = (deploy["metadata"]["namespace"], deploy["metadata"]["name"])
            if self._deadlines.get(key) != at:
                self._deadlines[key] = at
                self.enqueue(*key, delay=max(0.0, at - now))
        status: dict[str, Any] = {"observedGeneration": deploy["metadata"].get("generation", 1)}
        status.update({k: v for k, v in counts.items() if v})
        status["conditions"] = sorted(conditions, key=lambda c: c["type"] != "Available")
        if prev.get("collisionCount"):
            status["collisionCount"] = prev["collisionCount"]
        revision = (new["metadata"].get("annotations") or {}).get(REVISION) if new else None

        def edit(obj: dict) -> bool:
            annotations = obj["metadata"].setdefault("annotations", {})
            if obj.get("status") == status and (revision is None or annotations.get(REVISION) == revision):
                return False
            obj["status"] = status
            if revision is not None:
                annotations[REVISION] = revision
            return True

        self.store.mutate(DEPLOY, deploy["metadata"]["namespace"], deploy["metadata"]["name"], edit,
                          fresh=("metadata",))
