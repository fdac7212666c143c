"""Karpenter (EKS; AKS node auto-provisioning is Karpenter too) on the virtual clock, in place of the cluster
autoscaler when the profile's GPU nodes come from a NodePool.

After a batch window (`kinetics.provisioner_batch_seconds`; Karpenter's BATCH_IDLE_DURATION) it takes the pods the
scheduler marked Unschedulable, drops those that fit a node that exists or a NodeClaim on its way, and for the rest
picks a NodePool whose template node the pod fits (requirements, taints, the pod's selectors and resources). Unlike
the cluster autoscaler it has no expendable-priority cutoff: every pending pod gets capacity. Each new NodeClaim is
named `<nodepool>-<5 chars>`, each pod gets `Nominated` ("Pod should schedule on: nodeclaim/<name>"), and the claim
walks its conditions with an event each, as Karpenter v1 writes them: `Launched` once the cloud created the instance
(`kinetics.instance_launch_seconds`), `Registered` once its kubelet joined (`node_boot_seconds` later), then
`Initialized` and `Ready` once the node is Ready with its GPUs advertised (`driver_install_seconds`). The reasons are
the ones the timeline's Karpenter reader turns into scale-up / node-ready marks (timeline.sources.provisioning).

Spot first: a NodePool that allows both capacity types launches Spot; while `kinetics.spot_available` is false the
launch fails after `spot_stockout_seconds` (`InsufficientCapacityError` on the claim, which is deleted), the Spot
offering is cached as unavailable for three minutes, and the next batch launches on-demand. Consolidation is
simulated for empty nodes only (`WhenEmpty` and the empty case of `WhenEmptyOrUnderutilized`) after the pool's
`consolidateAfter`: a node holding a warm-buffer pod is never empty, so it stays.

When no NodePool in the cluster fits a pod, the platform's default pool does (AKS node auto-provisioning ships one
named `default`; on EKS the platform team installs one): on-demand only, no node class, so no image accelerator.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from coldstart.embedded.context import SimContext
from coldstart.embedded.controllers.autoscaler import FirstFit, capacity_views, unschedulable
from coldstart.embedded.controllers.fit import filter_node, selector_terms_match, views
from coldstart.embedded.controllers.nodes import NodeGroup, NodeLifecycle, node_object
from coldstart.embedded.controllers.objects import (
    condition,
    names,
    owner_ref,
    pod_priority,
    pod_requests,
    rand_suffix,
    set_condition,
)
from coldstart.embedded.store.store import Change
from coldstart.kube import labels as L
from coldstart.profiles.clouds import node_class_image_loading

__all__ = ["DEFAULT_POOL", "Karpenter", "instance_labels"]

NODEPOOL, NODECLAIM = "karpenter.sh/NodePool", "karpenter.sh/NodeClaim"
NODE_CLASSES = {"EC2NodeClass": "karpenter.k8s.aws/EC2NodeClass", "AKSNodeClass": "karpenter.azure.com/AKSNodeClass"}
DEFAULT_POOL = "default"
UNAVAILABLE_OFFERING_SECONDS = 180.0  # Karpenter's unavailable-offerings cache TTL after an ICE
_DURATION = re.compile(r"(\d+)([hms])")
_CAPACITY_ORDER = ("spot", "on-demand")  # cheapest first


def _seconds(duration: Any) -> float | None:
    """A Go duration ("10m", "1h30m") in seconds; None for "Never" or nothing."""
    parts = _DURATION.findall(str(duration or ""))
    return sum(int(n) * {"h": 3600, "m": 60, "s": 1}[u] for n, u in parts) if parts else None


def instance_labels(ctx: SimContext) -> dict[str, str]:
    """The well-known labels of the profile's instance type, as the cloud's Karpenter provider knows them before
    the node exists (EKS: karpenter.k8s.aws/instance-*, AKS: karpenter.azure.com/sku-*)."""
    profile, pool = ctx.profile, ctx.profile.karpenter
    machine = profile.nodes.machine_type
    gpu_name = pool.gpu_name if pool is not None else profile.gpu.type
    count = str(profile.nodes.gpus_per_node)
    if profile.cloud == "aks":
        family = re.match(r"^Standard_([A-Z]+)", machine)
        return {L.AKS_SKU_NAME: machine, L.AKS_SKU_FAMILY: family.group(1) if family else machine,
                L.AKS_SKU_GPU_NAME: gpu_name, L.AKS_SKU_GPU_COUNT: count}
    return {L.EKS_INSTANCE_FAMILY: machine.split(".")[0], L.EKS_INSTANCE_GPU_NAME: gpu_name,
            L.EKS_INSTANCE_GPU_COUNT: count}


@dataclass
class Claim:
    """A NodeClaim this Karpenter made and follows until its node is initialized (or it is gone)."""

    name: str
    pool: str
    group: NodeGroup
    pods: set[str] = field(default_factory=set)  # uids nominated to it
    node: str | None = None
    initialized: bool = False


class Karpenter:
    """Karpenter's provisioner, NodeClaim lifecycle and empty-node consolidation."""

    def __init__(self, ctx: SimContext, lifecycle: NodeLifecycle):
        self.ctx, self.store, self.lifecycle = ctx, ctx.store, lifecycle
        self.events = ctx.recorder("karpenter")
        self.claims: dict[str, Claim] = {}
        self.unavailable: dict[tuple[str, str], float] = {}  # (nodepool, capacity type) -> until
        self.empty_since: dict[str, float] = {}  # claim -> since when its node holds nothing but daemons
        self._timer: Any = None
        self._wakeups: set[float] = set()
        self._count = 0

    # -- watching ------------------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        if change.key == "/Pod":
            if change.type == "DELETED" or not change.obj["spec"].get("nodeName"):
                self._dirty()
        elif change.key == "/Node":
            claim = next((c for c in self.claims.values() if c.node == change.obj["metadata"]["name"]), None)
            if claim is not None and not claim.initialized and self._initialized(change.obj):
                claim.initialized = True
                self.ctx.clock.call_later(0, self._initialize, claim.name)
        elif change.key == NODEPOOL:
            self._dirty()

    def _dirty(self, delay: float | None = None) -> None:
        if self._timer is None:
            wait = self.ctx.kinetics.provisioner_batch_seconds if delay is None else delay
            self._timer = self.ctx.clock.call_later(wait, self.provision)

    def _initialized(self, node: dict) -> bool:
        ready = condition(node, "Ready")
        gpus = (node.get("status") or {}).get("allocatable", {}).get(self.ctx.profile.gpu.resource, "0")
        return bool(ready and ready.get("status") == "True" and int(gpus or 0) > 0)

    # -- NodePools and the nodes they would launch ---------------------------------------------------
    def _pools(self) -> list[tuple[str, dict, dict | None]]:
        """(name, spec, object) of every NodePool, by weight (highest first), then the platform's default."""
        stored = sorted(self.store.list(NODEPOOL)[0], key=lambda p: (-int((p.get("spec") or {}).get("weight") or 0),
                                                                     p["metadata"]["name"]))
        out: list[tuple[str, dict, dict | None]] = [(p["metadata"]["name"], p.get("spec") or {}, p) for p in stored]
        if DEFAULT_POOL not in {name for name, _, _ in out}:
            default = {"template": {"spec": {"requirements": [
                {"key": L.KARPENTER_CAPACITY_TYPE, "operator": "In", "values": ["on-demand"]}]}}}
            out.append((DEFAULT_POOL, default, None))
        return out

    def _capacity_types(self, name: str, spec: dict) -> list[str]:
        """The capacity types the pool allows (on-demand without a requirement), cheapest first, minus those
        cached as unavailable."""
        reqs = ((spec.get("template") or {}).get("spec") or {}).get("requirements") or []
        req = next((r for r in reqs if r.get("key") == L.KARPENTER_CAPACITY_TYPE), None)
        allowed = {"on-demand"} if req is None else {c for c in _CAPACITY_ORDER if selector_terms_match(
            [{"matchExpressions": [req]}], {"metadata": {"name": "", "labels": {L.KARPENTER_CAPACITY_TYPE: c}}})}
        now = self.ctx.now()
        return [c for c in _CAPACITY_ORDER if c in allowed and self.unavailable.get((name, c), 0) <= now]

    def _image_loading(self, spec: dict) -> str | None:
        ref = ((spec.get("template") or {}).get("spec") or {}).get("nodeClassRef") or {}
        key = NODE_CLASSES.get(str(ref.get("kind")))
        node_class = self.store.get(key, "", str(ref.get("name"))) if key else None
        return node_class_image_loading(str(ref.get("kind")), node_class.get("spec") or {}) if node_class else None

    def _group(self, name: str, spec: dict, capacity: str) -> NodeGroup | None:
        """The node this pool would launch with this capacity type, or None when its requirements exclude the
        profile's instance type."""
        template = spec.get("template") or {}
        labels = {**instance_labels(self.ctx), L.KARPENTER_NODEPOOL: name, L.KARPENTER_CAPACITY_TYPE: capacity,
                  L.INSTANCE_TYPE: self.ctx.profile.nodes.machine_type, L.ARCH: "amd64", L.OS: "linux",
                  **{str(k): str(v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()}}
        reqs = (template.get("spec") or {}).get("requirements") or []
        for req in reqs:  # a single-valued In on a label nobody set: the node gets that label
            if req.get("key") not in labels and req.get("operator") == "In" and len(req.get("values") or []) == 1:
                labels[req["key"]] = str(req["values"][0])
        known = [r for r in reqs if r.get("key") in labels]
        if known and not selector_terms_match([{"matchExpressions": known}], {"metadata": {"name": "",
                                                                                            "labels": labels}}):
            return None
        loading = self._image_loading(spec)
        if loading:
            labels[L.IMAGE_LOADING] = loading
        return NodeGroup(name, self.ctx.profile.nodes.machine_type, self.ctx.profile.nodes.gpus_per_node,
                         capacity == "spot", max_nodes=self.ctx.profile.nodes.max_nodes,
                         labels=tuple(sorted(labels.items())))

    def _template(self, group: NodeGroup, spec: dict, name: str) -> dict:
        node = node_object(self.ctx.profile, name, group, 0, self.ctx.now(), ready=True, gpu_ready=True)
        keys = {t["key"] for t in node["spec"]["taints"]}
        node["spec"]["taints"] += [t for t in ((spec.get("template") or {}).get("spec") or {}).get("taints") or []
                                   if t.get("key") not in keys]
        return node

    def _room(self, name: str, spec: dict) -> int:
        """More nodes the pool may launch: its GPU limit and the profile's node cap."""
        gpus = self.ctx.profile.nodes.gpus_per_node
        mine = sum(1 for c in self.claims.values() if c.pool == name)
        limit = ((spec.get("limits") or {}).get(self.ctx.profile.gpu.resource))
        by_limit = int(float(str(limit)) // gpus) - mine if limit is not None and gpus else 1 << 30
        return max(0, min(by_limit, self.ctx.profile.nodes.max_nodes - len(self.claims)))

    # -- the provisioner -----------------------------------------------------------------------------
    def provision(self) -> None:
        self._timer = None
        pods = self.store.list("/Pod")[0]
        nodes = [n for n in self.store.list("/Node")[0] if not any(c.node == n["metadata"]["name"] and not
                                                                    c.initialized for c in self.claims.values())]
        nodes += [self._template(c.group, {}, f"claim-{c.name}") for c in self.claims.values() if not c.initialized]
        capacity = capacity_views(nodes, pods)
        homes = FirstFit(list(capacity.values()))
        waiting = []
        for pod in sorted(filter(unschedulable, pods), key=lambda p: (-pod_priority(self.store, p),
                                                                      p["metadata"].get("creationTimestamp", ""))):
            home = homes.place(pod)
            if home is None:
                waiting.append(pod)
            elif home.name.startswith("claim-"):
                self._nominate(pod, self.claims[home.name.removeprefix("claim-")])
        if waiting:
            self._launch_for(waiting)
        self._consolidate(pods)

    def _launch_for(self, waiting: list[dict]) -> None:
        for name, spec, obj in self._pools():
            if not waiting:
                return
            for capacity in self._capacity_types(name, spec)[:1]:
                group = self._group(name, spec, capacity)
                if group is None:
                    continue
                template = views([self._template(group, spec, f"template-{name}")], [])[f"template-{name}"]
                fitting = [p for p in waiting if filter_node(p, template, pod_requests(p))[0] is None]
                bins = FirstFit([])
                placed = bins.pack(fitting, template, self._room(name, spec))
                for view in bins.views:
                    self._create_claim(name, spec, obj, group, view.pods)
                waiting = [p for p in waiting if p not in placed]

    def _create_claim(self, pool: str, spec: dict, pool_obj: dict | None, group: NodeGroup, pods: list[dict]) -> None:
        name = f"{pool}-{rand_suffix(names(self.ctx))}"
        template = (spec.get("template") or {}).get("spec") or {}
        capacity = dict(group.labels)[L.KARPENTER_CAPACITY_TYPE]
        requests: dict[str, int] = {}
        for pod in pods:
            for resource, value in pod_requests(pod).items():
                requests[resource] = requests.get(resource, 0) + value
        claim_spec: dict[str, Any] = {
            "requirements": [*template.get("requirements", []),
                             {"key": L.INSTANCE_TYPE, "operator": "In", "values": [group.machine_type]},
                             {"key": L.KARPENTER_CAPACITY_TYPE, "operator": "In", "values": [capacity]}],
            "resources": {"requests": {k: (f"{v}m" if k == "cpu" else str(v)) for k, v in sorted(requests.items())}}}
        for key in ("nodeClassRef", "taints", "expireAfter"):
            if key in template:
                claim_spec[key] = template[key]
        labels = {L.KARPENTER_NODEPOOL: pool, L.KARPENTER_CAPACITY_TYPE: capacity, L.INSTANCE_TYPE: group.machine_type}
        meta: dict[str, Any] = {"name": name, "labels": labels}
        if pool_obj is not None:
            meta["ownerReferences"] = [owner_ref(pool_obj, controller=False)]
        now = self.ctx.now()
        conditions: list[dict] = []
        for type_ in ("Launched", "Registered", "Initialized", "Ready"):
            set_condition(conditions, type_, "Unknown", "AwaitingReconciliation", "object is awaiting reconciliation",
                          now)
        self.store.create({"apiVersion": "karpenter.sh/v1", "kind": "NodeClaim", "metadata": meta, "spec": claim_spec,
                           "status": {"conditions": conditions}})
        claim = self.claims[name] = Claim(name, pool, group)
        for pod in pods:
            self._nominate(pod, claim)
        k = self.ctx.kinetics
        if capacity == "spot" and not k.spot_available:
            self.ctx.clock.call_later(self.ctx.jitter(k.spot_stockout_seconds, f"stockout {name}"), self._ice, name)
        else:
            self.ctx.clock.call_later(self.ctx.jitter(k.instance_launch_seconds, f"launch {name}"), self._launched,
                                      name)

    def _nominate(self, pod: dict, claim: Claim) -> None:
        if pod["metadata"]["uid"] not in claim.pods:
            claim.pods.add(pod["metadata"]["uid"])
            self.events.event(pod, "Normal", "Nominated", f"Pod should schedule on: nodeclaim/{claim.name}")

    # -- the NodeClaim lifecycle ---------------------------------------------------------------------
    def _transition(self, name: str, type_: str, status: dict[str, Any] | None = None) -> dict | None:
        """Set a NodeClaim condition True (and its status fields), with the event Karpenter writes for it."""
        now = self.ctx.now()

        def edit(obj: dict) -> None:
            obj.setdefault("status", {}).update(status or {})
            set_condition(obj["status"].setdefault("conditions", []), type_, "True", type_, None, now)

        claim = self.store.mutate(NODECLAIM, "", name, edit)
        if claim is not None:
            self.events.event(claim, "Normal", type_, f"Status condition transitioned, Type: {type_}, Status: "
                              f"Unknown -> True, Reason: {type_}")
        return claim

    def _ice(self, name: str) -> None:
        """The cloud had no Spot capacity: the claim fails and goes, the offering is cached unavailable."""
        claim = self.claims.pop(name, None)
        obj = self.store.get(NODECLAIM, "", name)
        if claim is None or obj is None:
            return
        self.events.event(obj, "Warning", "InsufficientCapacityError", f"NodeClaim {name} event: creating nodeclaim, "
                          "insufficient capacity, all requested instance types were unavailable during launch")
        until = self.unavailable[(claim.pool, "spot")] = self.ctx.now() + UNAVAILABLE_OFFERING_SECONDS
        self.store.delete(NODECLAIM, "", name)
        self._dirty()
        self.ctx.clock.call_at(until, self._dirty)  # the offering may be back: look again

    def _node_name(self, claim: Claim) -> str:
        """EKS names a node after its private IP, AKS after its NodeClaim."""
        if self.ctx.profile.cloud == "aks":
            return f"aks-{claim.name}"
        if self.ctx.profile.cloud == "eks":
            self._count += 1
            octet = int(hashlib.sha256(claim.name.encode()).hexdigest()[:2], 16)
            domain = "ec2.internal" if self.ctx.profile.region == "us-east-1" else \
                f"{self.ctx.profile.region}.compute.internal"
            return f"ip-10-0-{self._count % 256}-{octet}.{domain}"
        return claim.name

    def _launched(self, name: str) -> None:
        claim = self.claims.get(name)
        if claim is None:
            return
        claim.node = self._node_name(claim)
        allocatable = {"cpu": str(self.ctx.profile.nodes.node_cpu), "memory": self.ctx.profile.nodes.node_memory,
                       self.ctx.profile.gpu.resource: str(claim.group.gpus)}
        template = node_object(self.ctx.profile, claim.node, claim.group, 0, self.ctx.now(), ready=False,
                               gpu_ready=False)
        if self._transition(name, "Launched", {"providerID": template["spec"]["providerID"], "capacity": allocatable,
                                               "allocatable": allocatable}) is not None:
            boot = self.ctx.jitter(self.ctx.kinetics.node_boot_seconds, f"boot {name}")
            self.ctx.clock.call_later(boot, self._registered, name)

    def _registered(self, name: str) -> None:
        claim = self.claims.get(name)
        if claim is None or claim.node is None or self.store.get(NODECLAIM, "", name) is None:
            return
        group = NodeGroup(claim.group.name, claim.group.machine_type, claim.group.gpus, claim.group.spot,
                          max_nodes=claim.group.max_nodes,
                          labels=(*claim.group.labels, (L.KARPENTER_REGISTERED, "true")))
        self.lifecycle.provision(group, claim.node, booted=True)
        self._transition(name, "Registered", {"nodeName": claim.node})

    def _initialize(self, name: str) -> None:
        claim = self.claims.get(name)
        if claim is None or claim.node is None:
            return
        self.store.mutate("/Node", "", claim.node,
                          lambda node: node["metadata"]["labels"].update({L.KARPENTER_INITIALIZED: "true"}))
        self._transition(name, "Initialized")
        self._transition(name, "Ready")

    # -- consolidation (empty nodes) -----------------------------------------------------------------
    def _consolidate(self, pods: list[dict]) -> None:
        now = self.ctx.now()
        busy = set()
        for pod in pods:
            refs = pod["metadata"].get("ownerReferences") or []
            if pod["spec"].get("nodeName") and not any(r.get("kind") == "DaemonSet" for r in refs) \
                    and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                busy.add(pod["spec"]["nodeName"])
        pools = {name: spec for name, spec, _ in self._pools()}
        for claim in list(self.claims.values()):
            after = _seconds(((pools.get(claim.pool) or {}).get("disruption") or {}).get("consolidateAfter", "0s"))
            if not claim.initialized or claim.node in busy or after is None:
                self.empty_since.pop(claim.name, None)
                continue
            since = self.empty_since.setdefault(claim.name, now)
            if now - since < after:
                if since + after not in self._wakeups:
                    self._wakeups.add(since + after)
                    self.ctx.clock.call_at(since + after, self._dirty, 0.0)
                continue
            self._disrupt(claim, pods)

    def _disrupt(self, claim: Claim, pods: list[dict]) -> None:
        node = self.store.get("/Node", "", claim.node or "")
        obj = self.store.get(NODECLAIM, "", claim.name)
        for target in (node, obj):
            if target is not None:
                self.events.event(target, "Normal", "DisruptionTerminating",
                                  f"Disrupting {target['kind']}: Empty/Delete")
        for pod in pods:
            if pod["spec"].get("nodeName") == claim.node and self.store.get(
                    "/Pod", pod["metadata"]["namespace"], pod["metadata"]["name"]) is not None:
                self.store.delete("/Pod", pod["metadata"]["namespace"], pod["metadata"]["name"])
        if node is not None:
            self.store.delete("/Node", "", claim.node or "")
        if obj is not None:
            self.store.delete(NODECLAIM, "", claim.name)
        del self.claims[claim.name]
        self.empty_since.pop(claim.name, None)
