"""Whose object is this? The rule that keeps a run from deleting what it did not create.

Server-side apply takes over an existing object with the same name: without a rule, a run would label a
person's PVC or a cluster-wide PriorityClass as its own and its teardown would delete it. So before anything is
written, every object a run applies is read and sorted:
- absent: created by this run; it carries the run labels and the `coldstart.dev/created-by-run` annotation,
  set only here, when coldstart creates it;
- made by coldstart (an earlier run's leftover, which carries the annotation): this run takes it over;
- anything else is foreign: the run refuses before any write, or, when the caller adopts explicitly, applies its
  fields without the run labels and the annotation, so no cleanup ever selects it.
A Namespace that exists is never touched (and namespaces are never deleted).

Deletion checks the annotation again on every object it is about to delete: the run label alone is not proof
(anybody can copy a label).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from coldstart.errors import InputError, OwnershipRefused
from coldstart.kube.labels import CREATED_BY_RUN, MANAGED_BY, MANAGER, RUN_ID, labels_of

__all__ = ["RUN_ID_FORMAT", "Owner", "deletable", "owner_of", "refusal", "stamped", "validate_run_id"]

Owner = Literal["absent", "coldstart", "foreign"]
RUN_ID_FORMAT = re.compile(r"^[0-9a-f]{8}$")  # what live.targets.new_run_id() generates
_TEMPLATE_PATHS = (("spec", "template"), ("spec", "jobTemplate", "spec", "template"),
                   ("spec", "leaderWorkerTemplate", "leaderTemplate"),
                   ("spec", "leaderWorkerTemplate", "workerTemplate"))


def validate_run_id(run_id: str) -> str:
    """A run id as coldstart generates it (8 hex digits); anything else is refused before any request."""
    if not RUN_ID_FORMAT.match(run_id or ""):
        raise InputError(f"run id {run_id!r} is not one coldstart generates (8 hex digits, e.g. 1a2b3c4d: the "
                         "report's folder name or the coldstart.dev/run-id label); check the id")
    return run_id


def _annotations(obj: Mapping[str, Any] | None) -> dict[str, str]:
    meta = (obj or {}).get("metadata")
    found = meta.get("annotations") if isinstance(meta, dict) else None
    return found if isinstance(found, dict) else {}


def owner_of(existing: Mapping[str, Any] | None) -> Owner:
    """Who made an object as the API server holds it (None: it does not exist)."""
    if existing is None:
        return "absent"
    made_by_us = labels_of(existing).get(MANAGED_BY) == MANAGER and bool(_annotations(existing).get(CREATED_BY_RUN))
    return "coldstart" if made_by_us else "foreign"


def _pod_templates(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The pod templates (with their own metadata) a workload embeds, so its pods carry the run labels too."""
    for path in _TEMPLATE_PATHS:
        node: Any = doc
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict):
            yield node


def stamped(doc: Mapping[str, Any], run_id: str, owner: Owner) -> dict[str, Any]:
    """A copy to apply: ours (absent or made by coldstart) carries the run labels and the creation mark, on the
    object and on its pod templates; a foreign object being adopted carries neither."""
    out: dict[str, Any] = copy.deepcopy(dict(doc))
    if owner == "foreign":
        return out
    labels = {MANAGED_BY: MANAGER, RUN_ID: run_id}
    meta = out.setdefault("metadata", {})
    meta.setdefault("labels", {}).update(labels)
    meta.setdefault("annotations", {})[CREATED_BY_RUN] = run_id
    for template in _pod_templates(out):
        template.setdefault("metadata", {}).setdefault("labels", {}).update(labels)
    return out


def deletable(obj: Mapping[str, Any], run_id: str) -> bool:
    """May a cleanup of `run_id` delete this object? Only if coldstart created it for this run."""
    return (labels_of(obj).get(MANAGED_BY) == MANAGER and labels_of(obj).get(RUN_ID) == run_id
            and _annotations(obj).get(CREATED_BY_RUN) == run_id)


def refusal(foreign: list[str], where: str = "") -> OwnershipRefused:
    """The one-line refusal for objects someone else made, naming them and the ways forward."""
    verb = "exists" if len(foreign) == 1 else "exist"
    return OwnershipRefused(f"{', '.join(foreign)} already {verb}{' on ' + where if where else ''} and coldstart did "
                            "not create it; nothing was applied. Remove or rename it, use another namespace "
                            "(-p namespace ...), or adopt it (--adopt, or adopt=True in a notebook: applied, never "
                            "deleted by cleanup)")
