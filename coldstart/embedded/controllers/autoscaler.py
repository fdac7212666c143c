"""The cluster autoscaler (GKE node auto-provisioning with ComputeClasses included): adds GPU nodes for pods
the scheduler could not place, the way the real one decides and reports it.

Every scan (10 s) it takes the pods marked PodScheduled=False/Unschedulable, drops the expendable ones
(priority below -10: `--expendable-pods-priority-cutoff`, so a warm buffer at priority -20 never gets a
node), drops those that fit a node that exists or is on its way (a nominated preemptor counts on its node),
and simulates the scheduler on each node group's template node. It grows the best group
(`TriggeredScaleUp: pod triggered scale-up: [{group 0->1 (max: N)}]`) or says why not (`NotTriggerScaleUp:
pod didn't trigger scale-up: 1 Insufficient nvidia.com/gpu, ...`). A ComputeClass's priorities are groups
tried in order; a Spot attempt while `kinetics.spot_available` is false fails like a GCE stock-out
(`FailedScaleUp`), backs the group off and the next scan falls back to the next priority.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.fit import NodeView, filter_node, views
from coldstart.embedded.controllers.nodes import NodeGroup, NodeLifecycle, group_id, node_object, zone
from coldstart.embedded.controllers.objects import condition, pod_priority, pod_requests, terminating
from coldstart.embedded.store.store import Change

EXPENDABLE_CUTOFF = -10  # --expendable-pods-priority-cutoff
SCAN_INTERVAL = 10.0  # --scan-interval
UNNEEDED_SECONDS = 600.0  # --scale-down-unneeded-time
BACKOFF_SECONDS, MAX_BACKOFF_SECONDS = 300.0, 1800.0  # --initial/--max-node-group-backoff-duration
COMPUTE_CLASS = "cloud.google.com/ComputeClass"


@dataclass
class Attempt:
    """A scale-up the cloud has not answered yet (a Spot request that will come back out of resources)."""

    group: NodeGroup
    count: int
    pods: list[dict]


def unschedulable(pod: dict) -> bool:
    """The scheduler marked it PodScheduled=False/Unschedulable and nominated no node: it asks for a new node."""
    cond = condition(pod, "PodScheduled")
    return not (pod["spec"].get("nodeName") or terminating(pod) or cond is None or cond.get("status") != "False"
                or cond.get("reason") != "Unschedulable" or (pod.get("status") or {}).get("nominatedNodeName"))


def capacity_views(nodes: list[dict], pods: list[dict]) -> dict[str, NodeView]:
    """The nodes' views with their pods counted, a preemptor waiting for its victims as good as scheduled on its
    nominated node."""
    capacity = views(nodes, pods)
    for pod in pods:
        nominee = (pod.get("status") or {}).get("nominatedNodeName")
        if nominee in capacity and not pod["spec"].get("nodeName"):
            capacity[nominee].add(pod)
    return capacity


class FirstFit:
    """First-fit placement of pods onto node views, linear for pods that are alike: nodes only fill up while
    placing, so a node that refused a pod refuses the next pod of the same controller and template too, and
    the search for that kind of pod resumes where the last one left off."""

    def __init__(self, views: list[NodeView]):
        self.views = views
        self._start: dict[tuple, int] = {}

    def place(self, pod: dict) -> NodeView | None:
        meta = pod["metadata"]
        owner = next((r.get("uid") for r in meta.get("ownerReferences") or [] if r.get("controller")), meta["uid"])
        kind = (owner, (meta.get("labels") or {}).get("pod-template-hash"), json.dumps(pod["spec"].get("affinity"),
                                                                                      sort_keys=True))
        requests = pod_requests(pod)
        index = self._start.get(kind, 0)
        while index < len(self.views):
            if filter_node(pod, self.views[index], requests)[0] is None:
                self.views[index].add(pod)
                self._start[kind] = index
                return self.views[index]
            index += 1
        self._start[kind] = index
        return None

    def pack(self, pods: list[dict], template: NodeView, room: int) -> list[dict]:
        """Place each pod, opening a node like `template` while fewer than `room` are open: the pods placed (the
        nodes a scale-up needs are `views`)."""
        placed = []
        for pod in pods:
            home = self.place(pod)
            if home is None and len(self.views) < room:
                self.views.append(template.copy())
                home = self.place(pod)
            if home is not None:
                placed.append(pod)
        return placed


class Autoscaler:
    """cluster-autoscaler on the virtual clock."""

    def __init__(self, ctx: SimContext, lifecycle: NodeLifecycle):
        self.ctx, self.store, self.lifecycle = ctx, ctx.store, lifecycle
        self.events = ctx.recorder("cluster-autoscaler")
        self.members: dict[str, NodeGroup] = {}  # node name -> its group
        self.attempts: list[Attempt] = []
        self.backoff: dict[str, float] = {}  # group name -> until
        self.failures: dict[str, int] = {}  # group name -> failed scale-ups in a row
        self.empty_since: dict[str, float] = {}  # node name -> when it last held a pod that keeps it
        self._wakeups: set[float] = set()
        self._timer: Any = None

    # -- watching ------------------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        if change.key == "/Pod":
            if change.type == "DELETED" or not change.obj["spec"].get("nodeName"):
                self._dirty()
        elif change.key in ("/Node", COMPUTE_CLASS):
            self._dirty()

    def _dirty(self) -> None:
        if self._timer is None:
            at = (math.floor(self.ctx.now() / SCAN_INTERVAL) + 1) * SCAN_INTERVAL
            self._timer = self.ctx.clock.call_at(at, self.scan)

    # -- node groups ---------------------------------------------------------------------------------
    def groups(self) -> list[NodeGroup]:
        """The GPU pool of the profile's shape, plus one group per ComputeClass priority (GKE auto-provisions
        a node pool for each) and, for `whenUnsatisfiable: ScaleUpAnyway`, an on-demand fallback."""
        profile = self.ctx.profile
        out = [NodeGroup("gpu-pool", profile.nodes.machine_type, profile.nodes.gpus_per_node,
                         max_nodes=profile.nodes.max_nodes)]
        for cc in sorted(self.store.list(COMPUTE_CLASS)[0], key=lambda c: c["metadata"]["name"]):
            name, spec = cc["metadata"]["name"], cc.get("spec") or {}
            priorities = [p for p in spec.get("priorities") or [] if not p.get("nodepools")]
            streaming = ((spec.get("nodePoolConfig") or {}).get("imageStreaming") or {}).get("enabled")
            if spec.get("whenUnsatisfiable") == "ScaleUpAnyway":
                priorities.append({"spot": False})
            for rank, prio in enumerate(priorities):
                machine = prio.get("machineType") or profile.nodes.machine_type
                gpu = prio.get("gpu") or {}
                spot = bool(prio.get("spot"))
                digest = hashlib.sha256(f"{name}/{rank}".encode()).hexdigest()[:8]
                out.append(NodeGroup(f"nap-{machine}-{'spot-' if spot else ''}{digest}", machine,
                                     int(gpu.get("count") or profile.nodes.gpus_per_node), spot, name, rank,
                                     profile.nodes.max_nodes, gpu.get("type") or "", streaming))
        return out

    def _template(self, group: NodeGroup, name: str | None = None) -> dict:
        """The node a group would add, as the autoscaler imagines it: Ready, GPUs allocatable, every label."""
        return node_object(self.ctx.profile, name or f"template-{group.name}", group, 0, self.ctx.now(),
                           ready=True, gpu_ready=True)

    def _upcoming(self, node: dict) -> bool:
        """Booting, or Ready without its GPUs yet: the autoscaler counts it as capacity on its way."""
        ready = condition(node, "Ready")
        resource = self.ctx.profile.gpu.resource
        has_gpu = int((node.get("status") or {}).get("allocatable", {}).get(resource, "0") or 0) > 0
        return not (ready and ready.get("status") == "True" and has_gpu)

    # -- the loop ------------------------------------------------------------------------------------
    def scan(self) -> None:
        self._timer = None
        now = self.ctx.now()
        pods = self.store.list("/Pod")[0]
        nodes = []
        for node in self.store.list("/Node")[0]:
            group = self.members.get(node["metadata"]["name"])
            nodes.append(self._template(group, node["metadata"]["name"]) if group and self._upcoming(node)
                         else node)
        for attempt in self.attempts:
            nodes += [self._template(attempt.group, f"upcoming-{attempt.group.name}-{i}")
                      for i in range(attempt.count)]
        capacity = capacity_views(nodes, pods)
        waiting = []
        homes = FirstFit(list(capacity.values()))
        for pod in sorted(self._unschedulable(pods), key=lambda p: (-pod_priority(self.store, p),
                                                                    p["metadata"].get("creationTimestamp", ""))):
            home = homes.place(pod)
            if home is None:
                waiting.append(pod)
        if waiting:
            self._scale_up(waiting, now)
        self._scale_down(pods, now)

    def _scale_down(self, pods: list[dict], now: float) -> None:
        """Remove GPU nodes that held nothing but daemons and expendable pods for --scale-down-unneeded-time."""
        busy = set()
        for pod in pods:
            node = pod["spec"].get("nodeName") or (pod.get("status") or {}).get("nominatedNodeName")
            refs = pod["metadata"].get("ownerReferences") or []
            daemon = any(r.get("kind") == "DaemonSet" for r in refs)
            if node and not daemon and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed") \
                    and pod_priority(self.store, pod) >= EXPENDABLE_CUTOFF:
                busy.add(node)
        for name in sorted(self.members):
            if name in busy or self._upcoming(self.store.get("/Node", "", name) or {"status": {}}):
                self.empty_since.pop(name, None)
                continue
            since = self.empty_since.setdefault(name, now)
            if now - since < UNNEEDED_SECONDS:
                if since + UNNEEDED_SECONDS not in self._wakeups:
                    self._wakeups.add(since + UNNEEDED_SECONDS)
                    self.ctx.clock.call_at(since + UNNEEDED_SECONDS, self._dirty)
                continue
            node = self.store.get("/Node", "", name)
            for pod in pods:  # drain what is left (daemons and expendable pods)
                if pod["spec"].get("nodeName") == name and self.store.get("/Pod", pod["metadata"]["namespace"],
                                                                          pod["metadata"]["name"]) is not None:
                    self.store.delete("/Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
            if node is not None:
                self.events.event(node, "Normal", "ScaleDown", "node removed by cluster autoscaler")
                self.store.delete("/Node", "", name)
            del self.members[name]
            self.empty_since.pop(name, None)

    def _unschedulable(self, pods: list[dict]) -> list[dict]:
        # expendable pods: the autoscaler never adds nodes for them, and says nothing
        return [p for p in pods if unschedulable(p) and pod_priority(self.store, p) >= EXPENDABLE_CUTOFF]

    def _size(self, group: NodeGroup) -> int:
        return (sum(1 for g in self.members.values() if g.name == group.name)
                + sum(a.count for a in self.attempts if a.group.name == group.name))

    def _scale_up(self, waiting: list[dict], now: float) -> None:
        groups = self.groups()
        total_gpu_nodes = len(self.members) + sum(a.count for a in self.attempts)
        options = []
        rejected: dict[str, dict[str, list[str]]] = {p["metadata"]["uid"]: {} for p in waiting}
        for group in groups:
            node = self._template(group)
            template = views([node], [])[node["metadata"]["name"]]
            fitting = []
            for pod in waiting:
                code, reasons = filter_node(pod, template, pod_requests(pod))
                if code is not None:
                    rejected[pod["metadata"]["uid"]][group.name] = reasons
                elif self.backoff.get(group.name, 0) > now:
                    rejected[pod["metadata"]["uid"]][group.name] = ["in backoff after failed scale-up"]
                elif self._size(group) >= group.max_nodes or total_gpu_nodes >= self.ctx.profile.nodes.max_nodes:
                    rejected[pod["metadata"]["uid"]][group.name] = ["max node group size reached"]
                else:
                    fitting.append(pod)
            if fitting:
                options.append(((group.compute_class is None, group.rank, -len(fitting), group.name), group,
                                template, fitting))
        if not options:
            for pod in waiting:
                counts: dict[str, int] = {}
                for reasons in rejected[pod["metadata"]["uid"]].values():
                    for reason in reasons:
                        counts[reason] = counts.get(reason, 0) + 1
                detail = ", ".join(sorted(f"{n} {r}" for r, n in counts.items()))
                self.events.event(pod, "Normal", "NotTriggerScaleUp", f"pod didn't trigger scale-up: {detail}")
            return
        _, group, template, fitting = min(options, key=lambda o: o[0])
        room = min(group.max_nodes - self._size(group), self.ctx.profile.nodes.max_nodes - total_gpu_nodes)
        bins = FirstFit([])
        packed = bins.pack(fitting, template, room)
        size = self._size(group)
        info = f"[{{{group_id(self.ctx.profile, group)} {size}->{size + len(bins.views)} (max: {group.max_nodes})}}]"
        for pod in packed:
            self.events.event(pod, "Normal", "TriggeredScaleUp", f"pod triggered scale-up: {info}")
        if group.spot and not self.ctx.kinetics.spot_available:
            attempt = Attempt(group, len(bins.views), packed)
            self.attempts.append(attempt)
            self.ctx.clock.call_later(self.ctx.jitter(self.ctx.kinetics.spot_stockout_seconds,
                                                      f"stockout {group.name}"), self._failed, attempt)
            return
        for _ in bins.views:
            self.members[self.lifecycle.provision(group)] = group

    def _failed(self, attempt: Attempt) -> None:
        """GCE came back out of resources: tell the pods, back the group off, and look again."""
        self.attempts.remove(attempt)
        name = attempt.group.name
        self.failures[name] = self.failures.get(name, 0) + 1
        until = self.ctx.now() + min(BACKOFF_SECONDS * 2 ** min(self.failures[name] - 1, 30), MAX_BACKOFF_SECONDS)
        self.backoff[name] = until
        self.ctx.clock.call_at(until, self._dirty)  # the group may be tried again once the back-off ends
        message = (f"Node scale up in zones {zone(self.ctx.profile)} associated with this pod failed: "
                   "GCE out of resources. Pod is at risk of not being scheduled.")
        for pod in attempt.pods:
            current = self.store.get("/Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
            if current is not None:
                self.events.event(current, "Warning", "FailedScaleUp", message)
        self._dirty()
