"""Kubernetes events, from any shape they come in, normalised and interpreted.

Inputs: `kubectl get events -o json|yaml` (core/v1 and events.k8s.io/v1, a List or single objects), watch
streams (`{"type": "ADDED", "object": {...}}` or bare objects, already decoded), and the text tables of
`kubectl get events` / `kubectl events` / `kubectl describe` (see `event_tables` beside this module). Every event
becomes one `Event`; `interpret` (in `event_meaning`) then reads its message for meaning (pull durations and
sizes, scheduler reasons, autoscaler groups, probe failures), matching on the words kubelet and friends write
rather than on column positions. An event with a wrong-typed field (`count: "x"`) is skipped and counted (see
`skipped`), never a crash.

Times: object timestamps become aware UTC datetimes. Tables only say how long ago (an age); those stay
offsets in seconds before "now" (`first_age`, `last_age`) and no absolute time is ever made up.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any

from coldstart.errors import InvalidValue
from coldstart.inputs.decode import list_items
from coldstart.kube.times import NULL_TIMES, parse_timestamp
from coldstart.timeline.sources.event_meaning import (  # noqa: F401  (re-exported: what events mean)
    _MEANINGS,
    counted_reasons,
    failed_scheduling,
    interpret,
    meaning,
)
from coldstart.timeline.sources.skipped import TIME, WATCH_TYPES, Skipped, Spec, collect, first_wrong_type

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
    """A timestamp through the cache; a value that is not one (a number, a list, unparseable text) raises."""
    cached = _TIMES.get(value)  # unhashable (a list, a mapping): TypeError, which the caller turns into a skip
    if cached is None:
        if not isinstance(value, str | datetime):
            raise InvalidValue(f"not a timestamp: {value!r}")
        cached = parse_timestamp(value)
        if cached is None and isinstance(value, str) and value.strip() not in NULL_TIMES:
            raise InvalidValue(f"not a timestamp: {value!r}")
        if len(_TIMES) > 200_000:
            _TIMES.clear()
        _TIMES[value] = cached
    return cached


_TIMES: dict[Any, datetime | None] = {}
_REF = {"kind": str, "namespace": str, "name": str, "fieldPath": str, "uid": str}
_SOURCE = {"component": str, "host": str}
EVENT_FIELDS: Spec = {
    "reason": str, "type": str, "message": str, "note": str, "count": int, "deprecatedCount": int,
    "firstTimestamp": TIME, "lastTimestamp": TIME, "eventTime": TIME, "deprecatedFirstTimestamp": TIME,
    "deprecatedLastTimestamp": TIME, "reportingComponent": str, "reportingController": str,
    "involvedObject": _REF, "regarding": _REF, "source": _SOURCE, "deprecatedSource": _SOURCE,
    "series": {"count": int, "lastObservedTime": TIME}, "metadata": {"creationTimestamp": TIME},
}


def _text(value: Any) -> str:
    """The slow path of a string field: null and "" are "", anything else that is not a string is off (the
    caller asks first_wrong_type which field it was)."""
    if value is None or value == "":
        return ""
    raise InvalidValue("")


def _mapping(value: Any) -> Mapping[str, Any]:
    """The slow path of a mapping field: null is empty, a mapping is itself, anything else is off."""
    if value is None:
        return _EMPTY
    if isinstance(value, Mapping):
        return value
    raise InvalidValue("")


def event_from_object(obj: Mapping[str, Any]) -> Event | None:
    """An Event from a decoded core/v1 or events.k8s.io/v1 object (or a watch event wrapping one); None for
    objects that are not events. InvalidValue names the first wrong-typed field (`count is 'x'`): the caller
    skips the event and counts it."""
    get = obj.get
    wrapper = get("type")
    if wrapper.__class__ is str and wrapper in WATCH_TYPES and isinstance(get("object"), Mapping):
        obj = obj["object"]
        get = obj.get
    if get("kind", "Event") != "Event" or not ("reason" in obj or "involvedObject" in obj or "regarding" in obj):
        return None
    # 100,000 events per scale-out: cached times are looked up inline, falling back to _time() to parse; each
    # field costs one class check, and anything unexpected goes to the slow path (_text, _mapping, InvalidValue)
    try:
        times = _TIMES.get
        ref = get("involvedObject") or get("regarding")
        if ref.__class__ is not dict:  # absent, or the wrong type (even an empty list is caught here)
            ref = _mapping(ref if ref is not None else get("involvedObject", get("regarding")))
        source = get("source") or get("deprecatedSource")
        if source.__class__ is not dict:
            source = _mapping(source if source is not None else get("source", get("deprecatedSource")))
        series = get("series")
        if series is None:
            series = _EMPTY
        elif series.__class__ is not dict:
            series = _mapping(series)
        value = get("firstTimestamp")
        first = (times(value) or _time(value)) if value is not None else None
        if first is None:
            value = get("deprecatedFirstTimestamp")
            first = (times(value) or _time(value)) if value is not None else None
            if first is None:
                value = get("eventTime")
                first = (times(value) or _time(value)) if value is not None else None
                if first is None:
                    meta = _mapping(get("metadata"))
                    value = meta.get("creationTimestamp")
                    first = _time(value) if value is not None else None
        last = None
        if series:
            value = series.get("lastObservedTime")
            last = (times(value) or _time(value)) if value is not None else None
        if last is None:
            value = get("lastTimestamp")
            last = (times(value) or _time(value)) if value is not None else None
            if last is None:
                value = get("deprecatedLastTimestamp")
                last = (_time(value) if value is not None else None) or first
        message = get("message") or get("note")
        if message.__class__ is not str:
            message = _text(message if message is not None else get("message", get("note")))
        reason = get("reason")
        if reason.__class__ is not str:
            reason = _text(reason)
        type_ = get("type")
        if type_.__class__ is not str:
            type_ = _text(type_)
        if message[-1:].isspace():
            message = message.strip()
        rget = ref.get
        kind, namespace, name = rget("kind", ""), rget("namespace", ""), rget("name", "")
        field_path, uid = rget("fieldPath", ""), rget("uid", "")
        if not (kind.__class__ is namespace.__class__ is name.__class__ is field_path.__class__ is uid.__class__
                is str):
            kind, namespace, name, field_path, uid = (v if v.__class__ is str else _text(v)
                                                      for v in (kind, namespace, name, field_path, uid))
        component = source.get("component") or get("reportingComponent") or get("reportingController") or ""
        host = source.get("host", "")
        if not (component.__class__ is host.__class__ is str):
            component, host = (v if v.__class__ is str else _text(v) for v in (component, host))
        count = (series.get("count") if series else None) or get("count") or get("deprecatedCount") or 1
        if count.__class__ is not int:
            raise InvalidValue("")
        if reason:  # the meaning cache, looked up inline (see event_meaning.meaning)
            info = _MEANINGS.get((reason, message))
            if info is None:
                info = meaning(reason, message)
        else:
            info = {}
        return Event(reason, type_, message, kind, namespace, name, field_path, uid, component, host, first, last,
                     None, None, count, info)
    except (InvalidValue, TypeError, AttributeError, ValueError, OverflowError) as exc:
        problem = first_wrong_type(obj, EVENT_FIELDS) or str(exc) or "a field of the wrong type"
        raise InvalidValue(problem) from None


_EMPTY: Mapping[str, Any] = {}


def events_from_objects(objects: Iterable[Any], skipped: Skipped | None = None) -> list[Event]:
    """Events from decoded documents: Lists (`items`), watch events, bare Event objects; others skipped.

    An event with a wrong-typed field is left out and counted in `skipped` (when given)."""
    return collect(objects, event_from_object, "events", skipped)


def events_from_list(text: str, skipped: Skipped | None = None) -> list[Event] | None:
    """Events from a `kubectl get events -o json` List read one item at a time (see structured.list_items).

    None when the text is anything else, or when an item fails to decode: the caller then decodes the text
    whole, which decides (and fails) exactly as it always did. Wrong-typed events are counted in `skipped`.
    """
    found = Skipped(skipped.source) if skipped is not None else None
    try:
        out = events_from_objects(list_items(text), found)
    except (ValueError, RecursionError):  # not a List, or an item that does not decode: the whole-document path
        return None
    if skipped is not None and found is not None:
        skipped.merge(found)
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
