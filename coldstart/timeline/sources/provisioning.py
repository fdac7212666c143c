"""How the node under a pod came to be, read from the events of whichever provisioner made it.

Two provisioners, one answer. The cluster autoscaler decides with `TriggeredScaleUp` on the pod (a node group
grows), and the node then shows up in its kubelet's and the node controller's events (`RegisteredNode`,
`NodeReady`). Karpenter (also AKS node auto-provisioning, EKS Auto Mode and KAITO's gpu-provisioner, which are
Karpenter underneath) decides with `Nominated` on the pod ("Pod should schedule on: nodeclaim/<name>"), then
reports the NodeClaim's conditions as events on it: `Launched` (the cloud instance exists), `Registered` (its
node joined), `Initialized` and `Ready` (the node's resources, GPUs included, are advertised).

`node_provisioning` reduces either to the same four marks, so a timeline (and later readers, e.g. a
scale-out report) need not know which provisioner ran:

    scale_up         the provisioner decided to add a node for this pod
    node_launched    the instance exists (Karpenter only: the cluster autoscaler does not report it)
    node_registered  the node object joined the cluster
    node_ready       the node can run the pod (NodeClaim Initialized/Ready, else the node's Ready)

Each mark is the event that shows it; placing it on a time axis is the caller's business (objects have
times, kubectl tables only ages).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from coldstart.timeline.sources.events import Event

__all__ = ["CLAIM_KINDS", "CLUSTER_AUTOSCALER_MARKS", "DECISIONS", "KARPENTER_MARKS", "PROVISIONING_MARKS",
           "NodeProvisioning", "node_provisioning"]

PROVISIONING_MARKS = ("scale_up", "node_launched", "node_registered", "node_ready")
# The event reasons read, in one place (an embedded Karpenter emits exactly these): reason -> mark, in order of
# preference where two reasons show one mark. Karpenter's `Nominated` is on the pod, the rest on the NodeClaim
# (`Ready` also on the Node, from its condition).
KARPENTER_MARKS = {"Nominated": "scale_up", "Launched": "node_launched", "Registered": "node_registered",
                   "Initialized": "node_ready", "Ready": "node_ready"}
# The cluster autoscaler's `TriggeredScaleUp` is on the pod; the node's own events show it joining and ready.
CLUSTER_AUTOSCALER_MARKS = {"TriggeredScaleUp": "scale_up", "RegisteredNode": "node_registered",
                            "NodeReady": "node_ready"}
CLAIM_KINDS = ("NodeClaim", "Machine")  # Machine: Karpenter before v0.32
_CLAIM_KINDS = tuple(kind.lower() for kind in CLAIM_KINDS)


def _reasons(table: dict[str, str], mark: str) -> tuple[str, ...]:
    return tuple(reason for reason, named in table.items() if named == mark)


_NOMINATED = _reasons(KARPENTER_MARKS, "scale_up")
_LAUNCHED = _reasons(KARPENTER_MARKS, "node_launched")
_REGISTERED = _reasons(KARPENTER_MARKS, "node_registered")
_READY = _reasons(KARPENTER_MARKS, "node_ready")
_SCALE_UP = _reasons(CLUSTER_AUTOSCALER_MARKS, "scale_up")
_NODE_REGISTERED = _reasons(CLUSTER_AUTOSCALER_MARKS, "node_registered")
_NODE_READY = _reasons(CLUSTER_AUTOSCALER_MARKS, "node_ready")
DECISIONS = frozenset((*_NOMINATED, *_SCALE_UP))  # the pod events that say a provisioner acted for it


@dataclass(slots=True)
class NodeProvisioning:
    """The provisioning of one pod's node: who decided, which claim or group, and the event of each mark."""

    provisioner: str  # "karpenter" or "cluster-autoscaler"
    claim: str | None = None  # the NodeClaim (Karpenter) or the node group (cluster autoscaler)
    node: str | None = None
    events: dict[str, Event] | None = None  # mark name (PROVISIONING_MARKS) -> the event that shows it

    def event(self, mark: str) -> Event | None:
        """The event behind a mark, None when the input does not show it."""
        return (self.events or {}).get(mark)


def _claim_target(event: Event) -> tuple[str | None, bool]:
    """(NodeClaim named by a Karpenter `Nominated`, whether it is new capacity: no existing node named)."""
    kind = str(event.info.get("target_kind", "")).lower()
    target = event.info.get("target")
    if not target or (kind and kind not in _CLAIM_KINDS):
        return None, False
    return str(target), "node/" not in event.message


def node_provisioning(pod_events: Sequence[Event], claim_events: Mapping[str, Sequence[Event]],
                      node_events: Mapping[str, Sequence[Event]], node: str | None = None) -> NodeProvisioning | None:
    """How the pod's node was provisioned, from the pod's events, the events of each NodeClaim (by name) and of
    each node (by name); `node` is where the pod ran, when known. None when no provisioner acted for the pod.

    Karpenter may nominate a pod to several NodeClaims in turn (a launch fails, a claim is replaced): the one
    that counts is the last nominated one that was launched, else the last nominated."""
    nominated = [e for e in pod_events if e.reason in _NOMINATED]
    claims = [(e, claim) for e in nominated for claim, new in [_claim_target(e)] if claim and new]
    if claims:
        launched = [c for _, c in claims if _first(claim_events.get(c, ()), *_LAUNCHED) is not None]
        claim = launched[-1] if launched else claims[-1][1]
        own = claim_events.get(claim, ())
        node = node or _node_of(own) or _node_named_after(claim, node_events)
        marks: dict[str, Event] = {"scale_up": claims[0][0]}
        _put(marks, "node_launched", _first(own, *_LAUNCHED))
        _put(marks, "node_registered", _first(own, *_REGISTERED) or _first(node_events.get(node or "", ()),
                                                                          *_NODE_REGISTERED))
        _put(marks, "node_ready", _first_of(own, _READY) or _node_ready(node_events.get(node or "", ())))
        return NodeProvisioning("karpenter", claim, node, marks)
    scale_ups = [e for e in pod_events if e.reason in _SCALE_UP]
    if not scale_ups:
        return None
    groups = scale_ups[0].info.get("groups") or [{}]
    own_node = node_events.get(node or "", ())
    marks = {"scale_up": scale_ups[0]}
    _put(marks, "node_registered", _first(own_node, *_NODE_REGISTERED))
    _put(marks, "node_ready", _node_ready(own_node))
    return NodeProvisioning("cluster-autoscaler", groups[0].get("group"), node, marks)


def _put(marks: dict[str, Event], name: str, event: Event | None) -> None:
    if event is not None:
        marks[name] = event


def _first(events: Sequence[Event], *reasons: str) -> Event | None:
    """The first event of these reasons that is not a condition turning False or Unknown."""
    return next((e for e in events if e.reason in reasons and e.info.get("status") in (None, "True")), None)


def _first_of(events: Sequence[Event], reasons: tuple[str, ...]) -> Event | None:
    """The first event of the first reason that shows (in preference order), e.g. Initialized before Ready."""
    return next((found for reason in reasons if (found := _first(events, reason)) is not None), None)


def _node_ready(events: Sequence[Event]) -> Event | None:
    """The node's first Ready: kubelet's `NodeReady`, or Karpenter's condition event `Ready` on the node."""
    return _first(events, *_NODE_READY) or _first(events, *_READY)


def _node_of(claim_events: Sequence[Event]) -> str | None:
    return next((str(e.info["node"]) for e in claim_events if e.info.get("node")), None)


def _node_named_after(claim: str, node_events: Mapping[str, Sequence[Event]]) -> str | None:
    """AKS names a NAP node after its NodeClaim (`default-rp626` -> `aks-default-rp626`)."""
    return next((name for name in node_events if name == claim or name.endswith("-" + claim)), None)
