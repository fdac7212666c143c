"""Kubernetes events, from any shape they come in, normalised and interpreted.

Inputs: `kubectl get events -o json|yaml` (core/v1 and events.k8s.io/v1, a List or single objects), watch
streams (`{"type": "ADDED", "object": {...}}` or bare objects, already decoded), and the text tables of
`kubectl get events` / `kubectl events` / `kubectl describe` (see `event_tables` beside this module). Every event
becomes one `Event`; `interpret` then reads its message for meaning (pull durations and sizes, scheduler
reasons, autoscaler groups, probe failures), matching on the words kubelet and friends write rather
than on column positions.

Times: object timestamps become aware UTC datetimes. Tables only say how long ago (an age); those stay
offsets in seconds before "now" (`first_age`, `last_age`) and no absolute time is ever made up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from coldstart.inputs.decode import list_items
from coldstart.kube.times import parse_go_duration, parse_timestamp

_WATCH_TYPES = {"ADDED", "MODIFIED", "DELETED"}
_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_FIELD_CONTAINER = re.compile(r"spec\.(?:init|ephemeral)?[cC]ontainers\{([^}]*)\}")


@dataclass(slots=True)
class Event:
    """One event, whatever API version or table it came from."""

    reason: str = ""
    type: str = ""
    message: str = ""
    kind: str = ""
    namespace: str = ""
    name: str = ""
    field_path: str = ""
    uid: str = ""
    component: str = ""
    host: str = ""
    first: datetime | None = None
    last: datetime | None = None
    first_age: float | None = None  # seconds before "now", tables only
    last_age: float | None = None
    count: int = 1
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def object(self) -> str:
        """`namespace/name` of the involved object (just the name when the namespace is unknown)."""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def container(self) -> str | None:
        """The container a kubelet event is about (from fieldPath, else from the message)."""
        match = _FIELD_CONTAINER.search(self.field_path)
        return match.group(1) if match else self.info.get("container")


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    cached = _TIMES.get(value)
    if cached is None:
        cached = parse_timestamp(value)
        if len(_TIMES) > 200_000:
            _TIMES.clear()
        _TIMES[value] = cached
    return cached


_TIMES: dict[Any, datetime | None] = {}


def event_from_object(obj: Mapping[str, Any]) -> Event | None:
    """An Event from a decoded core/v1 or events.k8s.io/v1 object (or a watch event wrapping one)."""
    get = obj.get
    if get("type") in _WATCH_TYPES and isinstance(get("object"), Mapping):
        obj = obj["object"]
        get = obj.get
    if get("kind", "Event") != "Event" or not ("reason" in obj or "involvedObject" in obj or "regarding" in obj):
        return None
    # 100,000 events per scale-out: cached times are looked up inline, falling back to _time() to parse
    times = _TIMES.get
    ref = get("involvedObject") or get("regarding") or _EMPTY
    source = get("source") or get("deprecatedSource") or _EMPTY
    series = get("series") or _EMPTY
    value = get("firstTimestamp")
    first = (times(value) or _time(value)) if value else None
    if first is None:
        value = get("deprecatedFirstTimestamp")
        first = (times(value) or _time(value)) if value else None
        if first is None:
            value = get("eventTime")
            first = (times(value) or _time(value)) if value else None
            if first is None:
                first = _time((get("metadata") or _EMPTY).get("creationTimestamp"))
    last = None
    if series is not _EMPTY:
        value = series.get("lastObservedTime")
        last = (times(value) or _time(value)) if value else None
    if last is None:
        value = get("lastTimestamp")
        last = (times(value) or _time(value)) if value else None
        if last is None:
            last = _time(get("deprecatedLastTimestamp")) or first
    message = get("message") or get("note") or ""
    reason = get("reason") or ""
    type_ = get("type") or ""
    if message[-1:].isspace():
        message = message.strip()
    kind, namespace, name = ref.get("kind") or "", ref.get("namespace") or "", ref.get("name") or ""
    field_path, uid = ref.get("fieldPath") or "", ref.get("uid") or ""
    component = source.get("component") or get("reportingComponent") or get("reportingController") or ""
    host = source.get("host") or ""
    count = int(series.get("count") or get("count") or get("deprecatedCount") or 1)
    if reason:  # the meaning cache, looked up inline (see _meaning)
        info = _MEANINGS.get((reason, message))
        if info is None:
            info = _meaning(reason, message)
    else:
        info = {}
    return Event(reason, type_, message, kind, namespace, name, field_path, uid, component, host, first, last,
                 None, None, count, info)


_EMPTY: Mapping[str, Any] = {}


def events_from_objects(objects: Iterable[Any]) -> list[Event]:
    """Events from decoded documents: Lists (`items`), watch events, bare Event objects; others skipped."""
    out: list[Event] = []
    append = out.append
    for obj in objects:
        # plain dicts (what json/yaml decode to) skip the slower ABC check; other Mappings still count
        if type(obj) is dict or (not isinstance(obj, list) and isinstance(obj, Mapping)):
            if isinstance(obj.get("items"), list):
                out.extend(events_from_objects(obj["items"]))
                continue
            event = event_from_object(obj)
            if event is not None:
                append(event)
        elif isinstance(obj, list):
            out.extend(events_from_objects(obj))
    return out


def events_from_list(text: str) -> list[Event] | None:
    """Events from a `kubectl get events -o json` List read one item at a time (see structured.list_items).

    None when the text is anything else, or when an item fails to read: the caller then decodes the text
    whole, which decides (and fails) exactly as it always did.
    """
    out: list[Event] = []
    try:
        for obj in list_items(text):
            if type(obj) is dict and not isinstance(obj.get("items"), list):
                if (event := event_from_object(obj)) is not None:
                    out.append(event)
            else:
                out += events_from_objects((obj,))
    except Exception:  # any failure means: take the whole-document path
        return None
    return out


def order_events(events: list[Event]) -> list[Event]:
    """Oldest first by last observation, as kubectl sorts them; stable, so ties keep input order.

    Table events sort by age (larger = older); objects by timestamp. Events with neither keep their place
    relative to each other at the end. Tables and objects together cannot be compared: input order stays.
    """
    timed = [ev for ev in events if ev.last is not None]
    if isinstance(events, list) and len(timed) == len(events):  # objects only (usual): nothing aged or undated
        timed.sort(key=attrgetter("last"))
        return timed
    aged = [ev for ev in events if ev.last is None and (ev.last_age is not None or ev.first_age is not None)]
    if timed and aged:
        return list(events)
    rest = [ev for ev in events if ev.last is None and ev.last_age is None and ev.first_age is None]
    timed.sort(key=attrgetter("last"))
    aged.sort(key=lambda ev: -(ev.last_age if ev.last_age is not None else ev.first_age or 0.0))  # one is set
    return [*timed, *aged, *rest]


# ---------------------------------------------------------------------------------------------------
# Messages -> meaning

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
}


_MEANINGS: dict[tuple[str, str], dict[str, Any]] = {}


def _meaning(reason: str, message: str) -> dict[str, Any]:
    """Cached by (reason, message): a scale-out repeats the same few messages for every replica."""
    key = (reason, message)
    info = _MEANINGS.get(key)
    if info is None:
        reader = _INTERPRETERS.get(reason.lower())
        info = reader(message) if reader is not None and message else {}
        if len(_MEANINGS) > 50_000:
            _MEANINGS.clear()
        _MEANINGS[key] = info
    return info


def interpret(event: Event) -> Event:
    """Fill `event.info` with what the message means for its reason (empty when there is nothing to read).

    The dict may be shared between events with the same reason and message: read it, do not change it.
    """
    event.info = _meaning(event.reason, event.message)
    return event
