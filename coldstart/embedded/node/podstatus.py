"""The kubelet's view of one pod and the status it writes: phase, IPs, conditions with lastTransitionTime
(changed only when a condition's status changes), init/container statuses with state, lastState, imageID,
started, ready and restartCount, in the shapes the API server serves on a real cluster.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from coldstart.embedded.clock import Timer
from coldstart.embedded.node.probes import ProbeRunner
from coldstart.embedded.node.process import Health, Plan
from coldstart.embedded.store.store import rfc3339
from coldstart.kube.quantity import parse_quantity

CONDITION_ORDER = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass
class ContainerRun:
    """One container of a pod across its restarts."""

    name: str
    spec: dict
    init: bool = False
    image: str = ""
    image_id: str = ""
    container_id: str = ""
    restart_count: int = 0
    state: dict = field(default_factory=lambda: {"waiting": {"reason": "ContainerCreating"}})
    last_state: dict = field(default_factory=dict)
    started: bool = False
    ready: bool = False
    running_since: float | None = None
    exits: int = 0  # consecutive failures, for the restart back-off
    plan: Plan | None = None
    health: Health = field(default_factory=Health)
    memory: int = 0
    probes: ProbeRunner | None = None
    timers: list[Timer] = field(default_factory=list)
    instance: int = 0  # bumps on every start/kill, so stale timers can tell they are stale
    launched: bool = False  # the kubelet has begun starting it (image, create, start)

    @property
    def sidecar(self) -> bool:
        """A native sidecar: an init container with restartPolicy Always keeps running."""
        return self.init and self.spec.get("restartPolicy") == "Always"

    @property
    def running(self) -> bool:
        return "running" in self.state

    @property
    def completed(self) -> bool:
        return self.state.get("terminated", {}).get("exitCode") == 0

    def cancel(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        if self.probes is not None:
            self.probes.stop()
            self.probes = None

    def new_id(self, pod_uid: str) -> str:
        digest = hashlib.sha256(f"{pod_uid}/{self.name}/{self.restart_count}/{self.instance}".encode()).hexdigest()
        self.container_id = f"containerd://{digest}"
        return self.container_id

    def render(self) -> dict[str, Any]:
        status: dict[str, Any] = {"name": self.name, "image": self.image or self.spec.get("image", ""),
                                  "imageID": self.image_id, "ready": self.ready, "restartCount": self.restart_count,
                                  "started": self.started, "state": self.state, "lastState": self.last_state}
        if self.container_id:
            status["containerID"] = self.container_id
        return status


@dataclass
class PodRun:
    """One pod bound to a node, as its kubelet tracks it."""

    uid: str
    namespace: str
    name: str
    node: str
    pod: dict
    host_ip: str
    start_time: float
    inits: list[ContainerRun] = field(default_factory=list)
    mains: list[ContainerRun] = field(default_factory=list)
    pod_ip: str = ""
    phase: str = "Pending"
    conditions: dict[str, dict] = field(default_factory=dict)
    stage: str = "volumes"  # volumes | attach | init | main | done
    image_first: float | None = None
    image_last: float | None = None
    timers: list[Timer] = field(default_factory=list)
    engine: str | None = None  # name of the vLLM container

    @property
    def all(self) -> list[ContainerRun]:
        return self.inits + self.mains

    def condition(self, type_: str, status: bool, t: float, reason: str | None = None,
                  message: str | None = None) -> None:
        """Set a condition; lastTransitionTime moves only when the status changes."""
        value = "True" if status else "False"
        current = self.conditions.get(type_)
        when = current["lastTransitionTime"] if current and current["status"] == value else rfc3339(t)
        cond: dict[str, Any] = {"type": type_, "status": value, "lastProbeTime": None, "lastTransitionTime": when}
        if reason and not status:
            cond["reason"] = reason
        if message and not status:
            cond["message"] = message
        self.conditions[type_] = cond

    def readiness(self, t: float) -> bool:
        """Recompute ContainersReady/Ready from the containers; True when the pod just became Ready."""
        unready = [c.name for c in self.mains if not c.ready]
        was = self.conditions.get("Ready", {}).get("status") == "True"
        message = f"containers with unready status: [{' '.join(unready)}]" if unready else None
        self.condition("ContainersReady", not unready, t, "ContainersNotReady", message)
        self.condition("Ready", not unready, t, "ContainersNotReady", message)
        return not unready and not was

    def render(self, current: dict) -> dict[str, Any]:
        """The pod status to store, keeping what the control plane owns (PodScheduled, nominatedNodeName)."""
        status = dict(current or {})
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        conditions.update(self.conditions)
        status["conditions"] = sorted(conditions.values(), key=lambda c: CONDITION_ORDER.index(c["type"])
                                      if c["type"] in CONDITION_ORDER else len(CONDITION_ORDER))
        status.update(phase=self.phase, hostIP=self.host_ip, hostIPs=[{"ip": self.host_ip}],
                      startTime=rfc3339(self.start_time), qosClass=status.get("qosClass") or qos_class(self.pod))
        if self.pod_ip:
            status.update(podIP=self.pod_ip, podIPs=[{"ip": self.pod_ip}])
        if self.inits:
            status["initContainerStatuses"] = [c.render() for c in self.inits]
        status["containerStatuses"] = [c.render() for c in self.mains]
        return status


def qos_class(pod: dict) -> str:
    """Guaranteed when every container's cpu and memory requests equal limits, BestEffort when none set any."""
    containers = (pod.get("spec", {}).get("containers") or []) + (pod.get("spec", {}).get("initContainers") or [])
    any_set, guaranteed = False, True
    for c in containers:
        res = c.get("resources") or {}
        limits, requests = res.get("limits") or {}, res.get("requests") or {}
        if limits or requests:
            any_set = True
        for name in ("cpu", "memory"):
            if name not in limits or _q(requests.get(name, limits.get(name))) != _q(limits.get(name)):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _q(value: object) -> object:
    try:
        return parse_quantity(value) if value is not None else None  # type: ignore[arg-type]
    except ValueError:
        return value
