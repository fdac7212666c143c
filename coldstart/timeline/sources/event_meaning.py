"""What an event's message means for its reason: pull durations and sizes, the scheduler's verdict, autoscaler
groups, probe failures, OOM kills, preemptions. Matched on the words kubelet and friends write, cached by
(reason, message) because a scale-out repeats the same few messages for every replica.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from coldstart.kube.times import parse_go_duration

_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_IMAGE = r'"(?P<image>[^"]+)"'
_DUR = r"(?P<dur>[0-9][0-9.]*(?:ns|us|µs|ms|s|m|h)(?:[0-9.]+(?:ns|us|µs|ms|s|m|h))*)"
_PULLED = re.compile(r"[Ss]uccessfully pulled image " + _IMAGE + r"(?: in " + _DUR
                     + r"(?: \((?P<wait>[0-9][0-9.hmsunµ]*) including waiting\))?)?"
                     + r"(?:\. Image size: (?P<bytes>\d+) bytes)?")
_PRESENT = re.compile(r"[Cc]ontainer image " + _IMAGE + r" already present on machine")
_PULLING = re.compile(r"[Pp]ulling image " + _IMAGE)
_CONTAINER = re.compile(r"(?:Created|Started|Stopping|[Kk]illing) container:? (?P<name>[\w.-]+)")
_BACKOFF_PULL = re.compile(r"Back-off pulling image " + _IMAGE)
_BACKOFF_RESTART = re.compile(r"Back-off restarting failed container(?::? (?P<name>[\w.-]+))?")
_FAILED_PULL = re.compile(r"Failed to pull image " + _IMAGE + r"(?::\s*(?P<error>.*))?")
_ERROR_CODE = re.compile(r"Error: (?P<code>\w+)")
_PROBE = re.compile(r"(?P<probe>Startup|Readiness|Liveness) probe (?:failed|errored)(?::\s*(?P<detail>.*))?", re.S)
_OOM = re.compile(r"[Kk]illed process (?P<pid>\d+) \((?P<process>[^)]+)\)")
_ASSIGNED = re.compile(r"Successfully assigned (?:(?P<namespace>[^/\s]+)/)?(?P<pod>\S+) to (?P<node>\S+)")
_NODES = re.compile(r"(?P<available>\d+)/(?P<total>\d+) nodes are available:?\s*(?P<body>.*)", re.S)
_COUNTED = re.compile(r"(?P<n>\d+) (?P<why>.+)", re.S)
_PREEMPTED = re.compile(r"Preempted by (?:pod )?(?P<by>\S+?)(?: on node (?P<node>\S+?))?\.?$")
_SCALE_GROUP = re.compile(r"\{(?P<group>\S+) (?P<from>\d+)->(?P<to>\d+) \(max: (?P<max>\d+)\)\}")
_NO_SCALE_UP = re.compile(r"pod didn't trigger scale-up(?: \((?P<note>[^)]*)\))?:?\s*(?P<body>.*)", re.S)
_NODE_WORD = re.compile(r"\bnode (?P<node>[\w.-]+)")
_NOMINATED = re.compile(r"[Ss]hould schedule on:?\s*(?:(?P<target_kind>nodeclaim|node)/)?(?P<target>[\w.-]+)")
_STREAMING = re.compile(r"[Ii]mage (?P<image>\S+) is backed by image streaming")
# Karpenter (and other controller-runtime operators) report status conditions as events on their objects
_CONDITION = re.compile(r"Status condition transitioned, Type: (?P<condition>\w+), Status: (?P<from_status>\w+) -> "
                        r"(?P<status>\w+)(?:, Reason: (?P<condition_reason>\w+))?")
_KUEUE_PREEMPTIONS = re.compile(r"Pending the preemption of (?P<n>\d+) workload")
_KUEUE_WAIT = re.compile(r"wait time since (?:queued|reservation) was (?P<wait>[0-9][0-9.hmsunµ]*)")
_KUEUE_EVICTED = re.compile(r"(?P<workload>[\w.-]+/[\w.-]+)\s*$")


def counted_reasons(body: str) -> dict[str, int]:
    """`1 Insufficient nvidia.com/gpu, 4 node(s) had untolerated taint {x: }.` -> {reason: nodes}."""
    reasons: dict[str, int] = {}
    for part in re.split(r",\s+(?=\d+ )", body.strip().rstrip(".")):
        match = _COUNTED.match(part.strip())
        if match:
            why = match.group("why").strip().rstrip(".")
            reasons[why] = reasons.get(why, 0) + int(match.group("n"))
    return reasons


def failed_scheduling(message: str) -> dict[str, Any]:
    """The scheduler's verdict: nodes available/total, nodes per reason, and the preemption verdict."""
    main, _, preemption = message.partition("preemption:")
    match = _NODES.search(main)
    if not match:
        return {"detail": message}
    info: dict[str, Any] = {"available": int(match.group("available")), "total": int(match.group("total")),
                            "reasons": counted_reasons(match.group("body"))}
    if preemption:
        info["preemption"] = preemption.strip()
        inner = _NODES.search(preemption)
        info["preemption_reasons"] = counted_reasons(inner.group("body")) if inner else {}
    return info


def _pulled(message: str) -> dict[str, Any]:
    if match := _PRESENT.search(message):
        return {"image": match.group("image"), "cached": True}
    match = _PULLED.search(message)
    if not match:
        return {}
    info: dict[str, Any] = {"image": match.group("image"), "cached": False}
    if match.group("dur"):
        info["seconds_literal"] = match.group("dur")
        info["seconds"] = parse_go_duration(match.group("dur"))
    if match.group("wait"):
        info["including_waiting_literal"] = match.group("wait")
        info["seconds_including_waiting"] = parse_go_duration(match.group("wait"))
    if match.group("bytes"):
        info["bytes"] = int(match.group("bytes"))
    return info


def _first(pattern: re.Pattern[str], message: str, **fixed: Any) -> dict[str, Any]:
    match = pattern.search(message)
    if not match:
        return {}
    return {**fixed, **{k: v for k, v in match.groupdict().items() if v is not None}}


def _container(message: str) -> dict[str, Any]:
    match = _CONTAINER.search(message)
    return {"container": match.group("name")} if match else {}


def _backoff(message: str) -> dict[str, Any]:
    if match := _BACKOFF_PULL.search(message):
        return {"what": "pull", "image": match.group("image")}
    if match := _BACKOFF_RESTART.search(message):
        return {"what": "restart", **({"container": match.group("name")} if match.group("name") else {})}
    return {}


def _failed(message: str) -> dict[str, Any]:
    if match := _FAILED_PULL.search(message):
        return {"what": "pull", "image": match.group("image"), "error": (match.group("error") or "").strip()}
    if match := _ERROR_CODE.search(message):
        code = match.group("code")
        return {"what": "pull" if "Image" in code else "container", "error": code}
    return {}


def _preempted(message: str) -> dict[str, Any]:
    match = _PREEMPTED.search(message.strip())
    if not match:
        return {}
    by = match.group("by")
    info: dict[str, Any] = {"by_uid": by} if _UID.match(by) else {"by": by}
    if match.group("node"):
        info["node"] = match.group("node")
    return info


def _scale_up(message: str) -> dict[str, Any]:
    groups = [{"group": m.group("group"), "from": int(m.group("from")), "to": int(m.group("to")),
               "max": int(m.group("max"))} for m in _SCALE_GROUP.finditer(message)]
    return {"groups": groups} if groups else {}


def _no_scale_up(message: str) -> dict[str, Any]:
    match = _NO_SCALE_UP.search(message)
    if not match:
        return {}
    info: dict[str, Any] = {"reasons": counted_reasons(match.group("body"))}
    if match.group("note"):
        info["note"] = match.group("note")
    return info


def _kueue_pending(message: str) -> dict[str, Any]:
    match = _KUEUE_PREEMPTIONS.search(message)
    return {"preemptions_pending": int(match.group("n"))} if match else {}


def _kueue_wait(message: str) -> dict[str, Any]:
    match = _KUEUE_WAIT.search(message)
    return {"wait_seconds": parse_go_duration(match.group("wait"))} if match else {}


def _evicted_due_to(reason: str, message: str) -> dict[str, Any]:
    """Kueue's `EvictedDueTo<Why>` (PodsReadyTimeout, Preempted, ...) on a Workload: why, and which workload."""
    info: dict[str, Any] = {"evicted": reason[len("EvictedDueTo"):]}
    if match := _KUEUE_EVICTED.search(message):
        info["workload"] = match.group("workload")
    return info


def _oom(message: str) -> dict[str, Any]:
    return {"oom": True, **_first(_OOM, message)}


_INTERPRETERS: dict[str, Callable[[str], dict[str, Any]]] = {
    "pulled": _pulled,
    "pulling": lambda m: _first(_PULLING, m),
    "created": _container, "started": _container, "killing": _container,
    "backoff": _backoff,
    "failed": _failed,
    "unhealthy": lambda m: _first(_PROBE, m),
    "oomkilling": _oom, "oomkilled": _oom, "systemoom": _oom,
    "scheduled": lambda m: _first(_ASSIGNED, m),
    "failedscheduling": failed_scheduling,
    "preempted": _preempted,
    "triggeredscaleup": _scale_up,
    "nottriggerscaleup": _no_scale_up,
    "scaledown": lambda m: _first(_NODE_WORD, m),
    "nominated": lambda m: _first(_NOMINATED, m),
    "imagestreaming": lambda m: _first(_STREAMING, m, streaming=True) or {"streaming": True},
    "pending": _kueue_pending,
    "quotareserved": _kueue_wait, "admitted": _kueue_wait,
}


_MEANINGS: dict[tuple[str, str], dict[str, Any]] = {}


class _Interpretable(Protocol):
    reason: str
    message: str
    info: dict[str, Any]


_E = TypeVar("_E", bound=_Interpretable)


def meaning(reason: str, message: str) -> dict[str, Any]:
    """Cached by (reason, message): a scale-out repeats the same few messages for every replica."""
    key = (reason, message)
    info = _MEANINGS.get(key)
    if info is None:
        reader = _INTERPRETERS.get(reason.lower())
        info = reader(message) if reader is not None and message else {}
        if not info and message.startswith("Status condition transitioned"):
            info = _first(_CONDITION, message)
        elif not info and reason.startswith("EvictedDueTo"):
            info = _evicted_due_to(reason, message)
        if len(_MEANINGS) > 50_000:
            _MEANINGS.clear()
        _MEANINGS[key] = info
    return info


def interpret(event: _E) -> _E:
    """Fill `event.info` with what the message means for its reason (empty when there is nothing to read).

    The dict may be shared between events with the same reason and message: read it, do not change it.
    """
    event.info = meaning(event.reason, event.message)
    return event
