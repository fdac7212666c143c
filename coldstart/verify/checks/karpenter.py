"""Node warm-up invariants on Karpenter (EKS, AKS node auto-provisioning): the engine's NodePool allows Spot and
on-demand for GPU instances the engine can land on, and neither the warm buffer's node nor a starting replica's can
be taken away by consolidation or drift."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from coldstart.errors import InvalidValue
from coldstart.kube import labels as L
from coldstart.kube.podspec import tolerates
from coldstart.kube.quantity import parse_quantity
from coldstart.verify.findings import Context, Finding, found, invariant
from coldstart.verify.workloads import Buffer, Workload

__all__ = ["GPU_FAMILIES", "node_pool_of", "pod_annotations", "requirement_values"]

# GPU instance families: AWS g4dn/g5/g6/g6e/gr6/p4d/p5..., Azure's NC/ND/NV sku families.
GPU_FAMILIES = re.compile(r"^(g|gr|p)\d[a-z0-9-]*$|^N[CDV][a-zA-Z0-9_]*$")
FAMILY_KEYS = (L.EKS_INSTANCE_FAMILY, L.AKS_SKU_FAMILY)
GPU_KEYS = (L.EKS_INSTANCE_GPU_NAME, L.EKS_INSTANCE_GPU_COUNT, L.AKS_SKU_GPU_NAME, L.AKS_SKU_GPU_COUNT)
DISRUPTION_REASONS = ("Underutilized", "Drifted")  # the voluntary disruptions a budget must block (Empty cannot hit)


def requirement_values(pool: dict[str, Any], key: str) -> tuple[str, list[str]] | None:
    """(operator, values) of a NodePool's requirement on a label, or None when it has none."""
    reqs = (((pool.get("spec") or {}).get("template") or {}).get("spec") or {}).get("requirements")
    for req in reqs if isinstance(reqs, list) else []:
        if isinstance(req, dict) and req.get("key") == key:
            values = req.get("values")
            return str(req.get("operator") or ""), [str(v) for v in values] if isinstance(values, list) else []
    return None


def node_pool_of(ctx: Context, selector: dict[str, str]) -> tuple[str | None, dict[str, Any] | None]:
    """(name, object) of the NodePool a pod selects with karpenter.sh/nodepool; the only one in the input otherwise."""
    name = selector.get(L.KARPENTER_NODEPOOL)
    if name:
        doc = ctx.inv.find("NodePool", name)
        return name, doc.obj if doc is not None else None
    pools = ctx.inv.of_kind("NodePool")
    if len(pools) == 1:
        return str((pools[0].obj.get("metadata") or {}).get("name")), pools[0].obj
    return None, None


def pod_annotations(obj: dict[str, Any]) -> dict[str, str]:
    """The annotations a workload's pods get: its pod templates', an InferenceService's own and its predictor's."""
    meta = obj.get("metadata") or {}
    found_: dict[str, str] = {}
    if obj.get("kind") in ("Pod", "InferenceService"):
        found_.update(meta.get("annotations") or {})
    predictor = (obj.get("spec") or {}).get("predictor") if obj.get("kind") == "InferenceService" else None
    if isinstance(predictor, dict):
        found_.update(predictor.get("annotations") or {})

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith(("template", "Template")) and isinstance(value, dict) \
                        and isinstance(value.get("metadata"), dict):
                    found_.update(value["metadata"].get("annotations") or {})
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
    walk(obj.get("spec"))
    return {str(k): str(v) for k, v in found_.items()}


def _landing_problems(pool: dict[str, Any], w: Workload) -> list[str]:
    """Why Karpenter would never launch a node of this NodePool for the engine's pods."""
    problems = []
    template = (((pool.get("spec") or {}).get("template") or {}).get("spec") or {})
    pool_labels = (((pool.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {}
    for taint in template.get("taints") or []:
        if isinstance(taint, dict) and taint.get("effect") in ("NoSchedule", "NoExecute") \
                and not any(tolerates(t, taint) for t in w.tolerations):
            problems.append(f"the engine does not tolerate its taint {taint.get('key')}:{taint.get('effect')}")
    for key, value in w.node_selector.items():
        req = requirement_values(pool, key)
        if key in pool_labels:
            if str(pool_labels[key]) != value:
                problems.append(f"the engine selects {key}={value} but the NodePool labels nodes {pool_labels[key]}")
        elif req is not None:
            operator, values = req
            if (operator == "In" and value not in values) or (operator == "NotIn" and value in values) \
                    or operator == "DoesNotExist":
                problems.append(f"the engine selects {key}={value} but the NodePool requires {operator} {values}")
        elif not key.startswith(L.KARPENTER_KNOWN_PREFIXES):
            problems.append(f"the engine selects {key}, a label Karpenter cannot know before the node exists (it "
                            "would never launch a node for it): select a karpenter.* label or add it to the "
                            "NodePool's template labels")
    return problems


@invariant("karpenter-spot-fallback", "node_warmup",
           "a NodePool without on-demand leaves the pod pending when Spot runs out (and one without Spot never saves)",
           "karpenter")
def check_spot_fallback(ctx: Context) -> Iterator[Finding]:
    for w in ctx.workloads:
        name, pool = node_pool_of(ctx, w.node_selector)
        if pool is None:
            yield found("karpenter-spot-fallback", "n/a", w, None, f"NodePool {name} is not in this input (it may "
                        "exist in the cluster)" if name else "the engine selects no NodePool (karpenter.sh/nodepool) "
                        "and the input holds none")
            continue
        problems = []
        capacity = requirement_values(pool, L.KARPENTER_CAPACITY_TYPE)
        allowed = _capacity_types(capacity)
        missing = sorted({"spot", "on-demand"} - allowed)
        if missing:
            default = " (no karpenter.sh/capacity-type requirement: on-demand only)" if capacity is None else ""
            problems.append(f"capacity types allow {', '.join(sorted(allowed)) or 'nothing'}{default}; add "
                            f"{' and '.join(missing)} to karpenter.sh/capacity-type In")
        families = next((requirement_values(pool, k) for k in FAMILY_KEYS if requirement_values(pool, k)), None)
        gpu_req = any(requirement_values(pool, k) for k in GPU_KEYS)
        if families is not None and families[0] == "In" and not all(GPU_FAMILIES.match(f) for f in families[1]):
            problems.append(f"instance families {families[1]} include non-GPU families")
        elif families is None and not gpu_req:
            problems.append("no instance-family or GPU requirement: Karpenter may pick instances without a GPU")
        problems += _landing_problems(pool, w)
        limits = (pool.get("spec") or {}).get("limits") or {}
        for resource, count in w.gpu.items():
            if resource in limits and _number(limits[resource]) < count:
                problems.append(f"limits {resource}: {limits[resource]} is below one replica's {count}")
        if problems:
            yield found("karpenter-spot-fallback", "fail", w, None, f"NodePool {name}: " + "; ".join(problems))
        else:
            yield found("karpenter-spot-fallback", "pass", w, None, f"NodePool {name}: Spot and on-demand GPU "
                        f"instances{' ' + str(families[1]) if families else ''}; the engine's pods can land on it")


def _capacity_types(requirement: tuple[str, list[str]] | None) -> set[str]:
    """The capacity types a karpenter.sh/capacity-type requirement allows (none: Karpenter's default, on-demand)."""
    if requirement is None:
        return {"on-demand"}
    operator, values = requirement
    return {"In": set(values), "NotIn": {"spot", "on-demand"} - set(values),
            "Exists": {"spot", "on-demand"}}.get(operator, set())


def _number(value: Any) -> Decimal:
    """A NodePool limit as a quantity (`8`, `1k`); an unreadable one limits nothing."""
    try:
        return parse_quantity(value)
    except InvalidValue:
        return Decimal("Infinity")


def _blocking_budget(pool: dict[str, Any] | None) -> str | None:
    """A NodePool budget that always allows zero voluntary disruptions of the kinds that take a busy node."""
    budgets = ((pool or {}).get("spec") or {}).get("disruption", {}).get("budgets") or []
    for budget in budgets if isinstance(budgets, list) else []:
        if not isinstance(budget, dict) or str(budget.get("nodes")) not in ("0", "0%") or budget.get("schedule"):
            continue
        reasons = budget.get("reasons") or list(DISRUPTION_REASONS)
        if all(r in reasons for r in DISRUPTION_REASONS):
            return f"budget nodes: {budget.get('nodes')} for {', '.join(reasons)}"
    return None


def _protection(ctx: Context, where: Workload | Buffer, selector: dict[str, str]) -> str | None:
    """How the pods' node is kept from consolidation and drift, or None."""
    if pod_annotations(where.doc.obj).get(L.KARPENTER_DO_NOT_DISRUPT) == "true":
        return f"{L.KARPENTER_DO_NOT_DISRUPT}: \"true\" on its pods"
    return _blocking_budget(node_pool_of(ctx, selector)[1])


@invariant("karpenter-do-not-disrupt", "node_warmup",
           "Karpenter consolidates or drifts the warm buffer's node, or a replica's node while it starts, and the "
           "next start waits for a new node again", "karpenter")
def check_do_not_disrupt(ctx: Context) -> Iterator[Finding]:
    buffers = [b for b in ctx.buffers if b.holds_capacity]
    advice = (f"annotate the pod template {L.KARPENTER_DO_NOT_DISRUPT}: \"true\" (or give the NodePool a budget "
              "nodes: \"0\" for Underutilized and Drifted)")
    for w in ctx.workloads:
        unprotected = []
        how = _protection(ctx, w, w.node_selector)
        if how is None:
            unprotected.append(f"the engine's pods ({w.ref}) can lose their node while starting")
        for b in buffers:
            buffer_how = _protection(ctx, b, dict(b.spec.get("nodeSelector") or {}))
            if buffer_how is None:
                unprotected.append(f"warm buffer {b.ref} can lose its warm node to consolidation")
        if unprotected:
            yield found("karpenter-do-not-disrupt", "fail", w, None, "; ".join(unprotected) + f": {advice}")
        else:
            yield found("karpenter-do-not-disrupt", "pass", w, None, f"{how}" + (
                "; the warm buffer's too" if buffers else " (no warm buffer in this input)"))
