"""Node warm-up invariants: a warm buffer of pause pods the engine can preempt (priority in [-10, -1], the same
GPU request, selector and tolerations) and, on GKE, a Spot-first ComputeClass with an on-demand fallback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coldstart.kube.labels import GKE_COMPUTE_CLASS
from coldstart.kube.podspec import accelerators
from coldstart.verify.findings import Context, Finding, found, invariant
from coldstart.verify.workloads import Buffer, Workload

BUFFER_PRIORITY_RANGE = (-10, -1)


def _priority(ctx: Context, name: str | None) -> int | None:
    """Value of a PriorityClass in the input (globalDefault or 0 when unnamed); None when not in the input."""
    classes = ctx.inv.of_kind("PriorityClass")
    if not name:
        default = next((d for d in classes if d.obj.get("globalDefault")), None)
        return int(default.obj.get("value", 0)) if default else 0
    doc = ctx.inv.find("PriorityClass", name)
    try:
        return None if doc is None else int(doc.obj.get("value", 0))
    except (TypeError, ValueError):
        return None


def _tolerations(items: list[Any] | None) -> set[tuple[str, str, str, str]]:
    return {(str(t.get("key") or ""), str(t.get("operator") or "Equal"), str(t.get("value") or ""),
             str(t.get("effect") or "")) for t in items or [] if isinstance(t, dict)}


def _buffer_problems(ctx: Context, w: Workload, b: Buffer) -> list[str]:
    problems: list[str] = []
    pc = b.priority_class
    value = _priority(ctx, pc)
    engine_value = _priority(ctx, w.priority_class)
    if not pc:
        problems.append("has no priorityClassName (priority 0 is not below the engine, so it is never preempted)")
    elif value is None:
        problems.append(f"its PriorityClass {pc} is not in this input")
    elif value < BUFFER_PRIORITY_RANGE[0]:
        problems.append(f"PriorityClass {pc} value {value} is below -10: the cluster autoscaler treats the pods as "
                        "expendable and never adds a node for them; use a value in [-10, -1]")
    elif value > BUFFER_PRIORITY_RANGE[1]:
        problems.append(f"PriorityClass {pc} value {value} is not negative; use a value in [-10, -1]")
    if value is not None and engine_value is not None and value >= engine_value:
        problems.append(f"priority {value} is not below the engine's {engine_value}, so the engine cannot preempt it")
    want = ctx.profile.nodes.warm_buffer if ctx.profile else 1
    if b.replicas < want:
        problems.append(f"replicas {b.replicas} < {want}")
    if "selectors" not in w.na:
        gpu = accelerators(b.spec.get("containers") or [])
        if set(gpu) != set(w.gpu):
            problems.append(f"requests {', '.join(sorted(gpu)) or 'no GPU'} but the engine requests "
                            f"{', '.join(sorted(w.gpu)) or 'no GPU'}")
        if dict(b.spec.get("nodeSelector") or {}) != w.node_selector:
            problems.append(f"nodeSelector {b.spec.get('nodeSelector') or {}} differs from the engine's "
                            f"{w.node_selector}")
        if _tolerations(b.spec.get("tolerations")) != _tolerations(w.tolerations):
            problems.append("tolerations differ from the engine's")
    return problems


@invariant("warm-buffer", "node_warmup",
           "with no warm GPU node, the first replica waits minutes for a node to boot and install its driver")
def check_warm_buffer(ctx: Context) -> Iterator[Finding]:
    buffers = [b for b in ctx.buffers if b.holds_capacity]
    for w in ctx.workloads:
        if not buffers:
            if w.priority_class:
                yield found("warm-buffer", "n/a", w, None, f"priorityClassName {w.priority_class} is set; the warm "
                            "buffer is not in this input (a cluster-wide one may exist)")
            else:
                yield found("warm-buffer", "fail", w, None, "no warm buffer: add pause pods at a PriorityClass in "
                            "[-10, -1] with the engine's GPU request, nodeSelector and tolerations")
            continue
        judged = sorted(((b, _buffer_problems(ctx, w, b)) for b in buffers), key=lambda bp: len(bp[1]))
        buffer, problems = judged[0]
        if problems:
            yield found("warm-buffer", "fail", w, None, f"warm buffer {buffer.ref}: " + "; ".join(problems))
        else:
            yield found("warm-buffer", "pass", w, None, f"warm buffer {buffer.ref} (replicas {buffer.replicas}, "
                        f"PriorityClass {buffer.priority_class}) holds nodes the engine can take")


@invariant("compute-class", "node_warmup",
           "without a Spot-first ComputeClass that falls back explicitly, a Spot stock-out leaves the pod pending",
           "gke:compute_class")
def check_compute_class(ctx: Context) -> Iterator[Finding]:
    profile = ctx.profile
    assert profile is not None and profile.gke is not None
    for w in ctx.workloads:
        name = w.node_selector.get(GKE_COMPUTE_CLASS)
        if not name:
            yield found("compute-class", "fail", w, None, f"the engine pods select no ComputeClass; add nodeSelector "
                        f"{GKE_COMPUTE_CLASS}: {profile.gke.compute_class.name}")
            continue
        doc = ctx.inv.find("ComputeClass", name)
        if doc is None:
            yield found("compute-class", "fail", w, None, f"ComputeClass {name} is not in this input")
            continue
        spec = doc.obj.get("spec") or {}
        rules = [p for p in spec.get("priorities") or [] if isinstance(p, dict) and "nodepools" not in p]
        spot = next((i for i, p in enumerate(rules) if p.get("spot") is True), None)
        on_demand = next((i for i, p in enumerate(rules) if not p.get("spot")), None)
        problems = []
        if profile.gke.compute_class.spot_first and (spot is None or on_demand is None or spot > on_demand):
            problems.append("priorities need a spot: true rule before an on-demand fallback")
        elif on_demand is None:
            problems.append("priorities have no on-demand fallback")
        if "whenUnsatisfiable" not in spec:
            problems.append("set whenUnsatisfiable explicitly (its default changed between GKE releases)")
        strays = [b.ref for b in ctx.buffers
                  if b.holds_capacity and (b.spec.get("nodeSelector") or {}).get(GKE_COMPUTE_CLASS) != name]
        if strays:
            problems.append(f"buffer {strays[0]} does not select ComputeClass {name}")
        if problems:
            yield found("compute-class", "fail", w, None, f"ComputeClass {name}: " + "; ".join(problems))
        else:
            yield found("compute-class", "pass", w, None, f"ComputeClass {name}: Spot first, on-demand fallback, "
                        f"whenUnsatisfiable {spec['whenUnsatisfiable']}")
