"""`coldstart verify`: every registered invariant over any manifests, and the findings as a table or JSON.

Each invariant names one trap that makes vLLM start slowly or die while starting (a re-pulled image, weights
downloaded again, a 64Mi /dev/shm, a probe that kills a healthy slow start, no warm node). Users and CI key
on the ids and the JSON shape, so both are stable. Every invariant answers for every input: pass, fail with
what to change, or n/a with why it cannot be judged here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any

import coldstart.verify.checks  # noqa: F401  (the checks register their invariants on import)
from coldstart.errors import InvalidValue, ManifestError
from coldstart.inputs.documents import Document, as_documents, kubernetes_objects, read_documents
from coldstart.profiles import Profile
from coldstart.verify.discovery import find_buffers, find_workloads
from coldstart.verify.findings import INVARIANTS, LEVERS, NO_ENGINE, STATUS_RANK, Context, Finding, Status, found
from coldstart.verify.workloads import NAME_ONLY_KINDS, Inventory, slim_object

__all__ = ["check_documents", "format_findings", "summarize", "verify_paths", "worst"]


def check_documents(docs: Sequence[dict[str, Any] | Document], profile: Profile | None = None,
                    source: str = "<input>", *, sanitized: bool = False) -> list[Finding]:
    """Judge parsed objects (from files or read back from a cluster) against every invariant; `sanitized` when
    they were read through slim_object already (verify_paths), so they are not copied again."""
    documents = [d for d in docs if isinstance(d, Document)]
    documents += as_documents([d for d in docs if isinstance(d, dict)], source)
    inv = Inventory(documents, sanitized=sanitized)
    ctx = Context(inv, find_workloads(inv), find_buffers(inv), profile,
                  documents[0].file if documents else source)
    findings: list[Finding] = []
    for item in INVARIANTS.values():
        reason = item.skip_reason(profile)
        if not ctx.workloads:
            results = [Finding(item.id, "n/a", ctx.source, "-", None, reason or NO_ENGINE)]
        elif reason is not None:
            results = [found(item.id, "n/a", w, None, reason) for w in ctx.workloads]
        else:
            results = list(item.check(ctx)) or [found(item.id, "n/a", w, None, "nothing to judge")
                                                  for w in ctx.workloads]
        findings.extend(results)
    return findings


def verify_paths(paths: Sequence[str], profile: Profile | None = None) -> list[Finding]:
    """Read manifests (files, directories, '-') and judge them together, so cross-file joins work. Each object is
    slimmed as it is parsed (slim_object), so memory follows what the checks read, not the size of the input."""
    objects = kubernetes_objects(read_documents(paths, slim=slim_object, names_only=NAME_ONLY_KINDS.__contains__))
    if not objects:
        raise ManifestError(f"{', '.join(map(str, paths))}: no Kubernetes objects (documents with apiVersion and "
                            "kind) found; give rendered manifests")
    return check_documents(objects, profile, source=objects[0].file, sanitized=True)


def summarize(findings: Iterable[Finding]) -> dict[str, int]:
    """{"pass": n, "fail": n, "n/a": n}."""
    counts = {"pass": 0, "fail": 0, "n/a": 0}
    for f in findings:
        counts[f.status] += 1
    return counts


def worst(statuses: Iterable[Status]) -> Status:
    """fail > pass > n/a: the verdict of a group (a file, a workload)."""
    return max(statuses, key=lambda s: STATUS_RANK[s], default="n/a")


def format_findings(findings: Sequence[Finding], fmt: str = "table") -> str:
    """JSON for CI (`{"findings": [...], "summary": {...}}`) or an aligned table grouped by lever."""
    summary = summarize(findings)
    if fmt == "json":
        return json.dumps({"findings": [asdict(f) for f in findings], "summary": summary}, indent=2) + "\n"
    if fmt != "table":
        raise InvalidValue(f"unknown format {fmt!r}; use table or json")
    files = {f.file for f in findings}
    head = ["STATUS", "INVARIANT", "OBJECT", "CONTAINER", "MESSAGE"]
    if len(files) > 1:
        head.insert(2, "FILE")

    def row(f: Finding) -> list[str]:
        cells = ["FAIL" if f.status == "fail" else f.status, f.invariant, f.object, f.container or "-", f.message]
        if len(files) > 1:
            cells.insert(2, f.file)
        return cells

    order = {inv_id: i for i, inv_id in enumerate(INVARIANTS)}
    rows = sorted(findings, key=lambda f: (order.get(f.invariant, len(order)), -STATUS_RANK[f.status], f.object))
    table = [head] + [row(f) for f in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(head) - 1)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells[:-1], widths, strict=False)) + "  " + cells[-1]

    out = [line(head)]
    for lever, title in LEVERS.items():
        group = [f for f in rows if INVARIANTS.get(f.invariant) and INVARIANTS[f.invariant].lever == lever]
        if group:
            out.append(f"-- {title} " + "-" * max(0, sum(widths) + 2 * len(widths) - len(title) - 4))
            out.extend(line(row(f)) for f in group)
    others = [f for f in rows if f.invariant not in INVARIANTS]
    out.extend(line(row(f)) for f in others)
    verdict = "FAILED" if summary["fail"] else "ok"
    out.append(f"\n{verdict}: {summary['fail']} fail, {summary['pass']} pass, {summary['n/a']} n/a")
    return "\n".join(out) + "\n"

