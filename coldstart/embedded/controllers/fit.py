"""Does a pod fit a node? The scheduler's filter plugins, as pure functions shared by the scheduler and the
cluster autoscaler (which, like the real one, simulates the scheduler on template nodes).

Reasons are the real plugins' strings and the summary is FitError's format (`0/3 nodes are available:
1 Insufficient nvidia.com/gpu, 2 node(s) had untolerated taint {nvidia.com/gpu: present}.`), because
that message is what people and coldstart's recorder read to learn why a replica waited.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from coldstart.embedded.controllers.objects import pod_requests, resource_list, terminal
from coldstart.kube.podspec import tolerates

UNSCHEDULABLE = "Unschedulable"  # preemption may help (resources)
UNRESOLVABLE = "UnschedulableAndUnresolvable"  # preemption cannot help (taints, affinity, ...)

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
AFFINITY_REASON = "node(s) didn't match Pod's node affinity/selector"
PV_AFFINITY_REASON = "node(s) didn't match PersistentVolume's node affinity"
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


@dataclass
class NodeView:
    """A node with the pods counted on it: what the scheduler's NodeInfo holds."""

    node: dict
    allocatable: dict[str, int]
    pods: list[dict] = field(default_factory=list)
    requested: dict[str, int] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.node["metadata"]["name"]

    @property
    def labels(self) -> dict[str, str]:
        return self.node["metadata"].get("labels") or {}

    def add(self, pod: dict) -> None:
        self.pods.append(pod)
        for name, value in pod_requests(pod).items():
            self.requested[name] = self.requested.get(name, 0) + value

    def remove(self, pod: dict) -> None:
        uid = pod["metadata"]["uid"]
        self.pods = [p for p in self.pods if p["metadata"]["uid"] != uid]
        for name, value in pod_requests(pod).items():
            self.requested[name] = self.requested.get(name, 0) - value

    def copy(self) -> NodeView:
        return NodeView(self.node, dict(self.allocatable), list(self.pods), dict(self.requested))


def views(nodes: Iterable[dict], pods: Iterable[dict]) -> dict[str, NodeView]:
    """NodeViews by node name; pods count on their node until they finish (terminating ones still hold room)."""
    out = {n["metadata"]["name"]: NodeView(n, resource_list((n.get("status") or {}).get("allocatable") or {}))
           for n in sorted(nodes, key=lambda n: n["metadata"]["name"])}
    for pod in pods:
        view = out.get(pod["spec"].get("nodeName") or "")
        if view is not None and not terminal(pod):
            view.add(pod)
    return out


# ---------------------------------------------------------------------------------------------------
# Predicates


def untolerated_taint(pod: dict, node: dict) -> dict | None:
    tolerations = pod["spec"].get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def _expression(expr: dict, labels: dict[str, str]) -> bool:
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    value = labels.get(key) if key is not None else None
    if op == "In":
        return value in values
    if op == "NotIn":
        return value not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            return int(value) > int(values[0]) if op == "Gt" else int(value) < int(values[0])
        except ValueError:
            return False
    return False


def selector_terms_match(terms: list[dict], node: dict) -> bool:
    """NodeSelectorTerms are ORed; each term's expressions (and metadata.name fields) are ANDed."""
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    for term in terms:
        exprs, field_exprs = term.get("matchExpressions") or [], term.get("matchFields") or []
        if not exprs and not field_exprs:
            continue
        if all(_expression(e, labels) for e in exprs) and all(_expression(e, fields) for e in field_exprs):
            return True
    return False


def matches_node_affinity(pod: dict, node: dict) -> bool:
    labels = node["metadata"].get("labels") or {}
    spec = pod["spec"]
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    return terms is None or selector_terms_match(terms, node)


def insufficient(requests: dict[str, int], view: NodeView, extra: dict[str, int] | None = None,
                 extra_pods: int = 0) -> list[str]:
    """NodeResourcesFit's reasons (every short resource, plus `Too many pods`)."""
    reasons = []
    if len(view.pods) + extra_pods + 1 > view.allocatable.get("pods", 110):
        reasons.append("Too many pods")
    for name in sorted(requests, key=lambda n: ({"cpu": 0, "memory": 1, "ephemeral-storage": 2}.get(n, 3), n)):
        if name == "pods" or requests[name] <= 0:
            continue
        used = view.requested.get(name, 0) + (extra or {}).get(name, 0)
        if requests[name] > view.allocatable.get(name, 0) - used:
            reasons.append(f"Insufficient {name}")
    return reasons


def filter_node(pod: dict, view: NodeView, requests: dict[str, int], *, extra: dict[str, int] | None = None,
                extra_pods: int = 0, pv_terms: Sequence[list[dict]] = ()) -> tuple[str | None, list[str]]:
    """Run the filter plugins in the default order, stopping at the first that rejects the node."""
    node = view.node
    refused = _gated(pod, node)
    if refused is not None:
        return refused
    if not matches_node_affinity(pod, node):
        return UNRESOLVABLE, [AFFINITY_REASON]
    short = insufficient(requests, view, extra, extra_pods)
    if short:
        return UNSCHEDULABLE, short
    if any(not selector_terms_match(terms, node) for terms in pv_terms):
        return UNRESOLVABLE, [PV_AFFINITY_REASON]
    return None, []


def _gated(pod: dict, node: dict) -> tuple[str, list[str]] | None:
    """NodeUnschedulable and TaintToleration, the plugins that run before NodeAffinity."""
    if (node.get("spec") or {}).get("unschedulable") and not any(
            tolerates(t, {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"})
            for t in pod["spec"].get("tolerations") or []):
        return UNRESOLVABLE, ["node(s) were unschedulable"]
    taint = untolerated_taint(pod, node)
    if taint is not None:
        return UNRESOLVABLE, [f"node(s) had untolerated taint {{{taint['key']}: {taint.get('value') or ''}}}"]
    return None


def pinned_nodes(pod: dict) -> set[str] | None:
    """The only nodes a pod's required node affinity can match when it names them (`metadata.name In [...]`, as a
    DaemonSet pins each pod), else None. Like NodeAffinity's PreFilter result, it spares filtering every node."""
    required = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if terms is None:
        return None
    names: set[str] = set()
    for term in terms:
        exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
        if not exprs and not fields:
            continue  # an empty term matches no node
        pin = next((e for e in fields if e.get("key") == "metadata.name" and e.get("operator") == "In"), None)
        if pin is None:
            return None
        names.update(pin.get("values") or [])
    return names


class Elsewhere:
    """filter_node's verdict on the nodes a pinned pod does not name (they fail at NodeAffinity, or before it),
    kept per node object and tolerations: a pod that waits for its one node says why the others refused it."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], tuple[dict, tuple[str, list[str]]]] = {}

    def statuses(self, pod: dict, nodes: dict[str, NodeView], pinned: set[str],
                 statuses: dict[str, tuple[str, list[str]]]) -> dict[str, tuple[str, list[str]]]:
        """Every node's status in node order: `statuses` for the pinned ones, the cached verdict for the others."""
        tolerations = repr(pod["spec"].get("tolerations") or [])
        out = {}
        for name, view in nodes.items():
            if name in pinned:
                out[name] = statuses[name]
                continue
            known = self._known.get((tolerations, name))
            if known is None or known[0] is not view.node:
                known = self._known[(tolerations, name)] = (
                    view.node, _gated(pod, view.node) or (UNRESOLVABLE, [AFFINITY_REASON]))
            out[name] = known[1]
        return out


def signature(pod: dict, priority: int) -> tuple | None:
    """What makes pods alike for the scheduler: the same controller and template, the same priority; None for pods
    of other controllers (a DaemonSet pins each pod to a node, a StatefulSet gives each its claims)."""
    meta = pod["metadata"]
    owner = next((r for r in meta.get("ownerReferences") or [] if r.get("controller")), None)
    if owner is None or owner.get("kind") not in ("ReplicaSet", "Job"):
        return None
    labels = meta.get("labels") or {}
    return owner.get("uid"), labels.get("pod-template-hash"), priority


# ---------------------------------------------------------------------------------------------------
# Messages


def tally(reasons_by_node: Iterable[list[str]]) -> dict[str, int]:
    """How many nodes gave each reason."""
    counts: dict[str, int] = {}
    for reasons in reasons_by_node:
        for reason in reasons:
            counts[reason] = counts.get(reason, 0) + 1
    return counts


def histogram(counts: Mapping[str, int], absent: int = 0, absent_reason: str = "") -> list[str]:
    counts = dict(counts)
    if absent > 0 and absent_reason:
        counts[absent_reason] = counts.get(absent_reason, 0) + absent
    return sorted(f"{n} {r}" for r, n in counts.items())


def fit_error(num_nodes: int, reasons_by_node: dict[str, list[str]], *, prefilter: str | None = None,
              postfilter: str | None = None, absent_reason: str = "") -> str:
    """FitError.Error(): `0/N nodes are available: <prefilter or sorted reason counts>. <postfilter>`."""
    return fit_message(num_nodes, tally(reasons_by_node.values()), len(reasons_by_node), prefilter=prefilter,
                       postfilter=postfilter, absent_reason=absent_reason)


def fit_message(num_nodes: int, counts: Mapping[str, int], refused: int, *, prefilter: str | None = None,
                postfilter: str | None = None, absent_reason: str = "") -> str:
    """fit_error from the reasons already counted (reason -> nodes) and how many nodes refused: for a caller that
    keeps the counts current instead of counting every node's reasons again."""
    message = f"0/{num_nodes} nodes are available:"
    if prefilter:
        message += f" {prefilter}."
    else:
        parts = histogram(counts, num_nodes - refused, absent_reason)
        if parts:
            message += f" {', '.join(parts)}."
    if postfilter:
        message += f" {postfilter}"
    return message
