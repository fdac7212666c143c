"""Test helpers for the embedded control plane: a simulation on a virtual clock, a stand-in kubelet that
marks bound pods Ready (the real one is D2's), and small manifest builders."""

from __future__ import annotations

from typing import Any

from coldstart.embedded.clock import Simulation, VirtualClock
from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.objects import set_condition
from coldstart.embedded.store.store import Change, PodLogs, Store
from coldstart.profiles import Profile, load_profile

START = 1_750_000_000.0


def make_sim(profile: Profile | str = "baseline", *controllers: Any, seed: int | None = None):
    """(ctx, sim) with the given controller factories (callables taking ctx) wired in order."""
    prof = load_profile(profile) if isinstance(profile, str) else profile
    clock = VirtualClock(start=START)
    store = Store(now=clock.now)
    ctx = SimContext(prof, store, clock, PodLogs(), seed=seed)
    sim = Simulation(store, clock)
    for factory in controllers:
        made = factory(ctx)
        sim.add(*(made if isinstance(made, list) else [made]))
    return ctx, sim


class FakeKubelet:
    """Marks every pod bound to a node Running and Ready `delay` seconds after binding (none when the pod's
    name is in `never`), so status controllers have something to count before the real kubelet lands."""

    def __init__(self, ctx: SimContext, delay: float = 5.0, never: tuple[str, ...] = ()):
        self.ctx, self.delay, self.never = ctx, delay, never
        self.started: set[str] = set()

    def on_change(self, change: Change) -> None:
        if change.key != "/Pod" or change.type == "DELETED":
            return
        pod = change.obj
        uid = pod["metadata"]["uid"]
        if not pod["spec"].get("nodeName") or uid in self.started:
            return
        if any(pod["metadata"]["name"].startswith(prefix) for prefix in self.never):
            return
        self.started.add(uid)
        self.ctx.clock.call_later(self.delay, self._ready, pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _ready(self, namespace: str, name: str) -> None:
        def edit(pod: dict) -> None:
            status = pod.setdefault("status", {})
            status["phase"] = "Running"
            conds = status.setdefault("conditions", [])
            for kind in ("Initialized", "ContainersReady", "Ready"):
                set_condition(conds, kind, "True", None, None, self.ctx.now(), probe_time=True)

        self.ctx.store.mutate("/Pod", namespace, name, edit)


def events(store: Store, reason: str | None = None, name: str | None = None) -> list[dict]:
    items = store.list("/Event")[0]
    return [e for e in items if (reason is None or e["reason"] == reason)
            and (name is None or e["involvedObject"]["name"] == name)]


def event_time(ev: dict) -> str:
    return ev.get("eventTime") or ev.get("firstTimestamp")


def container(name: str = "app", image: str = "registry.local:5000/app:1", gpus: int = 0,
              cpu: str = "1", memory: str = "1Gi") -> dict:
    limits: dict[str, Any] = {"cpu": cpu, "memory": memory}
    if gpus:
        limits["nvidia.com/gpu"] = str(gpus)
    return {"name": name, "image": image, "resources": {"requests": dict(limits), "limits": limits}}


GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}


def deployment(name: str, replicas: int = 1, *, namespace: str = "default", gpus: int = 0,
               priority_class: str | None = None, tolerations: list | None = None,
               node_selector: dict | None = None, image: str = "registry.local:5000/app:1",
               strategy: dict | None = None, cpu: str = "1") -> dict:
    spec: dict[str, Any] = {"containers": [container(image=image, gpus=gpus, cpu=cpu)]}
    if priority_class:
        spec["priorityClassName"] = priority_class
    if tolerations is not None:
        spec["tolerations"] = tolerations
    if node_selector:
        spec["nodeSelector"] = node_selector
    body: dict[str, Any] = {"apiVersion": "apps/v1", "kind": "Deployment",
                            "metadata": {"name": name, "namespace": namespace},
                            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                     "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}
    if strategy:
        body["spec"]["strategy"] = strategy
    return body


def priority_class(name: str, value: int) -> dict:
    return {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, "preemptionPolicy": "PreemptLowerPriority"}
