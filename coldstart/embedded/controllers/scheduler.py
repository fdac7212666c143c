"""kube-scheduler: binds Pending pods to nodes that fit, explains the ones it cannot place, and preempts
lower-priority pods (the warm-buffer pause pods) to make room for important ones.

Pods are taken by priority, then by when they entered the queue. Each binding writes spec.nodeName,
PodScheduled=True and a `Scheduled` event; each failure PodScheduled=False/Unschedulable and a
`FailedScheduling` event in FitError's format. Unschedulable pods wait for a cluster change (a node,
a pod leaving, a volume binding) with the real 1 s..10 s back-off, and are retried every 5 minutes anyway.
Preemption nominates the node, marks the victims DisruptionTarget, deletes them (gracefully: they leave
`kinetics.preemption_seconds` later) and binds the preemptor once they are gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coldstart.embedded.apiserver.admission import GATED
from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.cache import LiveViews, NominatedLoad, Verdicts
from coldstart.embedded.controllers.fit import (
    NO_VICTIMS,
    NOT_HELPFUL,
    UNSCHEDULABLE,
    Elsewhere,
    NodeView,
    filter_node,
    fit_error,
    fit_message,
    pinned_nodes,
    signature,
    tally,
)
from coldstart.embedded.controllers.objects import (
    DEFAULT_SCHEDULER,
    condition,
    parse_time,
    pod_priority,
    pod_requests,
    set_condition,
    terminating,
)
from coldstart.embedded.controllers.scoring import grade, scorer, wanted_images
from coldstart.embedded.store.store import Change, rfc3339

INITIAL_BACKOFF, MAX_BACKOFF = 1.0, 10.0  # podInitialBackoffSeconds / podMaxBackoffSeconds
UNSCHEDULABLE_FLUSH = 300.0  # podMaxInUnschedulablePodsDuration
REQUEUE_KEYS = {"/Node", "/PersistentVolumeClaim", "/PersistentVolume", "storage.k8s.io/StorageClass"}


@dataclass
class Queued:
    namespace: str
    name: str
    uid: str
    since: float  # when it entered the queue (ground truth start of scheduling)
    attempts: int = 0
    last_attempt: float = 0.0
    ready_at: float = 0.0
    unschedulable: bool = False
    flush: Any = None


class Scheduler:
    """The default scheduler on the virtual clock."""

    def __init__(self, ctx: SimContext):
        self.ctx, self.store = ctx, ctx.store
        self.events = ctx.recorder(DEFAULT_SCHEDULER, new_style=True)
        self.queue: dict[str, Queued] = {}
        self._waiting: dict[str, Queued] = {}  # the unschedulable ones, which a cluster change moves back
        self._timer: Any = None
        self._timer_at = float("inf")
        # Pods of one ReplicaSet or Job are alike (the equivalence cache kube-scheduler once had): a node's verdict
        # is kept for such pods until that node or what runs on it changes (Verdicts), and while nothing at all
        # changed the verdict on one (its FailedScheduling message, a preemption that found nothing) is the verdict
        # on the next. Retrying a thousand replicas that wait for a thousand nodes then costs little per retry.
        self._equivalent: dict[tuple, Verdicts] = {}
        self._preempted: dict[tuple, tuple[str | None, str]] = {}
        self._refused: dict[tuple, tuple[str, str | None]] = {}  # signature -> (FailedScheduling message, nominee)
        self._placed: dict[str, str] = {}  # uid of a pod counted on a node -> the node
        self._views = LiveViews(self.store)  # every node with the pods counted on it, kept current
        self._elsewhere = Elsewhere()

    # -- watching ------------------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        self._views.on_change(change)
        if change.key == "/Pod":
            self._track_placement(change)
            self._on_pod(change)
        elif change.key in REQUEUE_KEYS:
            if change.key == "/Node":
                self._invalidate(change.obj["metadata"]["name"])
            else:
                self._invalidate(None)
            self._cluster_changed()

    def _invalidate(self, node: str | None) -> None:
        """Forget cached filter results for a node that changed (None: for every node)."""
        for verdicts in self._equivalent.values():
            verdicts.forget(node)
        self._preempted.clear()
        self._refused.clear()

    def _track_placement(self, change: Change) -> None:
        """A pod counts on its node from binding until it finishes or goes: only then does the node change."""
        pod, uid = change.obj, change.obj["metadata"]["uid"]
        node = pod["spec"].get("nodeName")
        counted = node and change.type != "DELETED" and (pod.get("status") or {}).get("phase") not in (
            "Succeeded", "Failed")
        before = self._placed.get(uid)
        if counted and before != node:
            self._placed[uid] = node
            self._invalidate(node)
        elif not counted and before is not None:
            del self._placed[uid]
            self._invalidate(before)

    def _on_pod(self, change: Change) -> None:
        pod, uid = change.obj, change.obj["metadata"]["uid"]
        if change.type == "DELETED":
            self._forget(uid)
            if pod["spec"].get("nodeName"):
                self._cluster_changed()
            return
        if pod["spec"].get("nodeName"):
            self._forget(uid)
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                self._cluster_changed()
            return
        if uid in self.queue or terminating(pod) or pod["spec"].get("schedulerName", DEFAULT_SCHEDULER) \
                != DEFAULT_SCHEDULER:
            return
        now = self.ctx.now()
        if pod["spec"].get("schedulingGates"):  # not queued until the gates are removed
            self.store.mutate("/Pod", change.namespace, pod["metadata"]["name"], lambda obj: set_condition(
                obj.setdefault("status", {}).setdefault("conditions", []), "PodScheduled", "False", "SchedulingGated",
                GATED, now, probe_time=True) or False)
            return
        created = parse_time(pod["metadata"].get("creationTimestamp")) or now
        self.queue[uid] = Queued(change.namespace, pod["metadata"]["name"], uid, max(created, min(now, created + 1)),
                                 ready_at=now)
        self._kick(now)

    def _forget(self, uid: str) -> None:
        item = self.queue.pop(uid, None)
        self._waiting.pop(uid, None)
        if item is not None and item.flush is not None:
            item.flush.cancel()

    def _cluster_changed(self) -> None:
        """Move unschedulable pods back to the active queue, honouring each pod's back-off."""
        now = self.ctx.now()
        for item in list(self._waiting.values()):
            self._activate(item, now)

    def _activate(self, item: Queued, now: float) -> None:
        item.unschedulable = False
        self._waiting.pop(item.uid, None)
        backoff = min(INITIAL_BACKOFF * 2 ** min(max(item.attempts - 1, 0), 30), MAX_BACKOFF)  # no overflow
        item.ready_at = max(now, item.last_attempt + backoff)
        self._kick(item.ready_at)

    def _kick(self, at: float) -> None:
        if self._timer is not None and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.ctx.clock.call_at(at, self._cycle)

    def _flush(self, uid: str) -> None:
        item = self.queue.get(uid)
        if item is not None and item.unschedulable:
            item.flush = None
            self._activate(item, self.ctx.now())

    # -- scheduling ----------------------------------------------------------------------------------
    def _cycle(self) -> None:
        self._timer, self._timer_at = None, float("inf")
        now = self.ctx.now()
        due = []
        for item in list(self.queue.values()):
            if item.unschedulable or item.ready_at > now:
                continue
            pod = self.store.get("/Pod", item.namespace, item.name)
            if pod is None or pod["metadata"]["uid"] != item.uid or pod["spec"].get("nodeName"):
                self._forget(item.uid)
                continue
            due.append((-pod_priority(self.store, pod), item.since, item.name, item, pod))
        if due:
            nodes = self._views.get()
            nominated = NominatedLoad([(p["metadata"]["uid"], pod_priority(self.store, p),
                                        p["status"]["nominatedNodeName"], pod_requests(p))
                                       for p in self._views.nominated_pods()])
            for _, _, _, item, pod in sorted(due, key=lambda d: d[:3]):
                self._schedule_one(item, pod, nodes, nominated)
        pending = [i.ready_at for i in self.queue.values() if not i.unschedulable]
        if pending:
            self._kick(max(min(pending), now))

    def _volumes(self, pod: dict) -> tuple[str | None, list[list[dict]], list[str]]:
        """(PreFilter failure, PV node-affinity terms to honour, unbound WaitForFirstConsumer claims)."""
        terms, delayed = [], []
        for volume in pod["spec"].get("volumes") or []:
            claim = (volume.get("persistentVolumeClaim") or {}).get("claimName")
            if not claim:
                continue
            pvc = self.store.get("/PersistentVolumeClaim", pod["metadata"]["namespace"], claim)
            if pvc is None:
                return f'persistentvolumeclaim "{claim}" not found', [], []
            if terminating(pvc):
                return f'persistentvolumeclaim "{claim}" is being deleted', [], []
            if (pvc.get("status") or {}).get("phase") == "Bound":
                pv = self.store.get("/PersistentVolume", "", pvc["spec"].get("volumeName", ""))
                required = (((pv or {}).get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
                if required.get("nodeSelectorTerms"):
                    terms.append(required["nodeSelectorTerms"])
                continue
            sc_name = pvc["spec"].get("storageClassName")
            sc = self.store.get("storage.k8s.io/StorageClass", "", sc_name) if sc_name else None
            if sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                delayed.append(claim)
            else:
                return "pod has unbound immediate PersistentVolumeClaims", [], []
        return None, terms, delayed

    def _schedule_one(self, item: Queued, pod: dict, nodes: dict[str, NodeView], nominated: NominatedLoad) -> None:
        now = self.ctx.now()
        item.attempts += 1
        item.last_attempt = now
        priority = pod_priority(self.store, pod)
        requests = pod_requests(pod)
        prefilter, pv_terms, delayed = self._volumes(pod)
        load = nominated.load(pod["metadata"]["uid"], priority)
        sig = signature(pod, priority) if not load and not pv_terms and not delayed else None
        if sig is not None and sig in self._refused and prefilter is None:
            self._unschedulable(item, pod, *self._refused[sig])  # alike and nothing changed: the same answer
            return
        pinned = pinned_nodes(pod) if prefilter is None else None
        verdicts = Verdicts()  # this pod's alone, or those kept for its kind
        if sig is not None and pinned is None and prefilter is None:
            verdicts = self._equivalent.setdefault(sig, verdicts)
        wanted = wanted_images(pod)

        def check(view: NodeView) -> tuple[str | None, list[str]]:
            extra, extra_pods = load.get(view.name, ({}, 0))
            return filter_node(pod, view, requests, extra=extra, extra_pods=extra_pods, pv_terms=pv_terms)

        if prefilter is None:
            verdicts.refresh(nodes if pinned is None else {n: nodes[n] for n in sorted(pinned & nodes.keys())},
                             check, lambda view: grade(view, wanted))
        statuses, counts = verdicts.refused, verdicts.counts
        if pinned is not None and not verdicts.fitting:
            statuses = self._elsewhere.statuses(pod, nodes, pinned, statuses)
            counts = tally(reasons for _, reasons in statuses.values())
        if verdicts.fitting:
            chosen = (pod.get("status") or {}).get("nominatedNodeName")
            if chosen not in verdicts.fitting:
                chosen = next(iter(verdicts.fitting)) if len(verdicts.fitting) == 1 else None
            best = nodes[chosen] if chosen else verdicts.best(nodes, scorer(pod, nodes.values(), self._views.images))
            self._bind(item, pod, best, delayed)
            return
        nominee: str | None = None
        if prefilter is not None:
            post = "preemption: " + fit_error(len(nodes), {}, absent_reason=NOT_HELPFUL)
        elif sig is not None and sig in self._preempted:
            nominee, post = self._preempted[sig]
        else:
            nominee, post = self._preempt(pod, priority, nodes, statuses, requests, load)
            if nominee:
                self._preempted.clear()
                self._refused.clear()
            elif sig is not None:
                self._preempted[sig] = (nominee, post)
        message = fit_message(len(nodes), counts, len(statuses), prefilter=prefilter, postfilter=post)
        if sig is not None and not nominee and prefilter is None:
            self._refused[sig] = (message, nominee)
        self._unschedulable(item, pod, message, nominee)

    def _bind(self, item: Queued, pod: dict, view: NodeView, delayed: list[str]) -> None:
        now, meta = self.ctx.now(), pod["metadata"]
        for claim in delayed:  # VolumeBinding: the provisioner creates the volume where the pod lands
            self.store.mutate("/PersistentVolumeClaim", meta["namespace"], claim, lambda c: c["metadata"]
                              .setdefault("annotations", {}).__setitem__("volume.kubernetes.io/selected-node",
                                                                         view.name))

        def edit(obj: dict) -> None:
            obj["spec"] = {**obj["spec"], "nodeName": view.name}  # the spec is shared with the stored pod
            conds = obj.setdefault("status", {}).setdefault("conditions", [])
            set_condition(conds, "PodScheduled", "True", None, None, now, probe_time=True)

        bound = self.store.mutate("/Pod", meta["namespace"], meta["name"], edit, fresh=("status",))
        self._invalidate(view.name)
        self._forget(item.uid)
        if bound is None:
            return
        self._views.bound(view, bound)
        self.events.event(bound, "Normal", "Scheduled", f"Successfully assigned {meta['namespace']}/{meta['name']} "
                          f"to {view.name}", action="Binding")
        self.ctx.mark(meta["namespace"], meta["name"], "scheduling", item.since, now)

    def _unschedulable(self, item: Queued, pod: dict, message: str, nominee: str | None) -> None:
        now, meta = self.ctx.now(), pod["metadata"]

        def edit(obj: dict) -> bool:
            status = obj.setdefault("status", {})
            changed = set_condition(status.setdefault("conditions", []), "PodScheduled", "False", "Unschedulable",
                                    message, now, probe_time=True)
            if nominee and status.get("nominatedNodeName") != nominee:
                status["nominatedNodeName"], changed = nominee, True
            elif nominee == "" and status.pop("nominatedNodeName", None):
                changed = True
            return changed

        self.store.mutate("/Pod", meta["namespace"], meta["name"], edit, fresh=("status",))
        self.events.event(pod, "Warning", "FailedScheduling", message, action="Scheduling")
        item.unschedulable = True
        self._waiting[item.uid] = item
        if nominee:  # retried as soon as the victims are gone (a pod deletion)
            item.attempts = 0
        if item.flush is not None:
            item.flush.cancel()
        item.flush = self.ctx.clock.call_later(UNSCHEDULABLE_FLUSH, self._flush, item.uid)

    # -- preemption ----------------------------------------------------------------------------------
    def _preempt(self, pod: dict, priority: int, nodes: dict[str, NodeView],
                 statuses: dict[str, tuple[str, list[str]]], requests: dict[str, int],
                 load: dict[str, tuple[dict, int]]) -> tuple[str | None, str]:
        """DefaultPreemption's PostFilter: (nominated node, or "" to clear a stale nomination, or None to leave it;
        the `preemption: ...` message, or '' when it nominated)."""
        if pod["spec"].get("preemptionPolicy") == "Never":
            return None, "preemption: not eligible due to preemptionPolicy=Never."
        wanted = (pod.get("status") or {}).get("nominatedNodeName")
        if wanted in nodes and statuses.get(wanted, (UNSCHEDULABLE,))[0] == UNSCHEDULABLE:
            for other in nodes[wanted].pods:
                cond = condition(other, "DisruptionTarget")
                if (terminating(other) and pod_priority(self.store, other) < priority and cond
                        and cond.get("reason") == "PreemptionByScheduler"):
                    return None, "preemption: not eligible due to a terminating pod on the nominated node."
        reasons: dict[str, list[str]] = {}
        options: list[tuple[tuple, NodeView, list[dict]]] = []
        for name, (code, _) in statuses.items():
            if code != UNSCHEDULABLE:
                continue
            view = nodes[name]
            candidates = [p for p in view.pods if pod_priority(self.store, p) < priority]
            if not candidates:
                reasons[name] = [NO_VICTIMS]
                continue
            trial = view.copy()
            for victim in candidates:
                trial.remove(victim)
            extra, extra_pods = load.get(name, ({}, 0))
            rejected, why = filter_node(pod, trial, requests, extra=extra, extra_pods=extra_pods)
            if rejected is not None:
                reasons[name] = why
                continue
            victims = []
            for victim in sorted(candidates, key=lambda p: (-pod_priority(self.store, p),
                                                            p["metadata"].get("creationTimestamp", ""))):
                trial.add(victim)
                if filter_node(pod, trial, requests, extra=extra, extra_pods=extra_pods)[0] is not None:
                    trial.remove(victim)
                    victims.append(victim)
            prios = [pod_priority(self.store, v) for v in victims]
            options.append(((max(prios, default=-(2**31)), sum(prios), len(victims), name), view, victims))
        if not options:  # "" clears a nomination that no longer holds
            return "", "preemption: " + fit_error(len(nodes), reasons, absent_reason=NOT_HELPFUL)
        _, view, victims = min(options, key=lambda o: o[0])
        for victim in victims:
            self._evict(pod, victim, view.name)
        return view.name, ""

    def _evict(self, preemptor: dict, victim: dict, node: str) -> None:
        now, meta = self.ctx.now(), victim["metadata"]
        if terminating(victim):
            return
        grace = int(victim["spec"].get("terminationGracePeriodSeconds", 30))

        def edit(obj: dict) -> None:
            conds = obj.setdefault("status", {}).setdefault("conditions", [])
            set_condition(conds, "DisruptionTarget", "True", "PreemptionByScheduler",
                          f"{DEFAULT_SCHEDULER}: preempting to accommodate a higher priority pod", now,
                          probe_time=True)
            obj["metadata"]["deletionTimestamp"] = rfc3339(now + grace)
            obj["metadata"]["deletionGracePeriodSeconds"] = grace

        evicted = self.store.mutate("/Pod", meta["namespace"], meta["name"], edit)
        if evicted is None:
            return
        self.events.event(evicted, "Normal", "Preempted",
                          f"Preempted by pod {preemptor['metadata']['uid']} on node {node}", action="Preempting")
        gone_in = min(self.ctx.jitter(self.ctx.kinetics.preemption_seconds, f"preempt {self.ctx.identity(victim)}"),
                      float(grace))
        self.ctx.clock.call_later(gone_in, self._gone, meta["namespace"], meta["name"], meta["uid"])

    def _gone(self, namespace: str, name: str, uid: str) -> None:
        pod = self.store.get("/Pod", namespace, name)
        if pod is not None and pod["metadata"]["uid"] == uid:
            self.store.delete("/Pod", namespace, name)
