"""What the readers leave out, and why: objects with wrong-typed fields are skipped and counted, never a crash.

Kubernetes would reject an Event whose `count` is "x" or a Pod whose `status` is a list; a file holding one was
edited by hand or produced by a broken tool. The readers skip such an object (or the one entry of it that is
wrong: a container status, a condition), and `Skipped` counts them per kind with the first case, so the timeline
can say so ("skipped 3 events with wrong-typed fields (first: events.json item 4: count is 'x')").

`first_wrong_type` names the first field of an object that does not have the type the spec asks for; the
readers' fast paths only notice that something is off and ask it which field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from coldstart.errors import InvalidValue
from coldstart.kube.times import NULL_TIMES, parse_timestamp

TIME = "time"  # a spec value: an RFC 3339 string (or the datetime YAML makes of an unquoted one)
Spec = Mapping[str, Any]  # field -> str, int, bool, list (of anything), TIME, or a nested Spec


def show(value: Any) -> str:
    """A value for a message, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_NAMES = {str: "a string", int: "an integer", bool: "true or false", list: "a list", TIME: "a timestamp"}


def _wrong(value: Any, want: Any, prefix: str, key: str) -> str | None:
    """What is wrong with `value` at `prefix + key` against `want`; the path is only built for a message."""
    cls = value.__class__
    if want is str or want is int or want is bool or want is list:
        if cls is want:  # exactly: a bool is not an int here
            return None
    elif want is TIME:
        if cls is str:
            if parse_timestamp(value) is not None or value.strip() in NULL_TIMES:
                return None
        elif isinstance(value, datetime):
            return None
    elif cls is dict or isinstance(value, Mapping):
        return first_wrong_type(value, want, f"{prefix}{key}.")
    else:
        return f"{prefix}{key} is {show(value)} (a mapping is expected)"
    return f"{prefix}{key} is {show(value)} ({_NAMES.get(want, 'another type')} is expected)"


def first_wrong_type(obj: Mapping[str, Any], spec: Spec, prefix: str = "") -> str | None:
    """`involvedObject.name is 5 (a string is expected)` for the first field whose type the spec does not allow
    (a timestamp must also parse); None when every field present fits (null counts as absent)."""
    get = obj.get
    for key, want in spec.items():
        value = get(key)
        if value is not None and (problem := _wrong(value, want, prefix, key)) is not None:
            return problem
    return None


def typed_entries(raw: Any, spec: Spec, what: str, where: str, skipped: Skipped | None) -> list[Mapping[str, Any]]:
    """The entries of a list that are mappings fitting the spec; each other one is left out and counted."""
    good: list[Mapping[str, Any]] = []
    for i, entry in enumerate(raw or []):
        problem = _wrong(entry, spec, where, f"[{i}]") if entry is not None else None
        if problem is None and entry is not None:
            good.append(entry)
        elif problem is not None and skipped is not None:
            skipped.add(what, "", problem)
    return good


WATCH_TYPES = frozenset({"ADDED", "MODIFIED", "DELETED"})  # a watch stream's `{"type": ..., "object": {...}}`
_NESTED = 8  # Lists of Lists this deep are not kubectl output
_T = TypeVar("_T")


def collect(objects: Iterable[Any], convert: Callable[[Mapping[str, Any]], _T | None], what: str,
            skipped: Skipped | None, _depth: int = 0) -> list[_T]:
    """What `convert` makes of each decoded document, Lists (`items`) and lists opened; None results dropped.

    `convert` raises InvalidValue for an object with a wrong-typed field: it is left out and counted in `skipped`
    (when given) as `what`."""
    out: list[_T] = []
    append = out.append
    for index, obj in enumerate(objects):
        # plain dicts (what json/yaml decode to) skip the slower ABC check; other Mappings still count
        if type(obj) is dict or (not isinstance(obj, list) and isinstance(obj, Mapping)):
            items = obj.get("items")
            if isinstance(items, list):
                if _depth < _NESTED:
                    out.extend(collect(items, convert, what, skipped, _depth + 1))
                continue
            try:
                found = convert(obj)
            except InvalidValue as exc:
                if skipped is not None:
                    skipped.add(what, f"item {index + 1}", str(exc))
                continue
            if found is not None:
                append(found)
        elif isinstance(obj, list) and _depth < _NESTED:
            out.extend(collect(obj, convert, what, skipped, _depth + 1))
    return out


@dataclass
class Skipped:
    """Objects an input's readers skipped, counted per what ("events", "pods", "container statuses")."""

    source: str = "<input>"
    counts: dict[str, int] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)

    def add(self, what: str, where: str, problem: str) -> None:
        """Count one skipped object; the first of each kind is kept for the message."""
        self.counts[what] = self.counts.get(what, 0) + 1
        self.first.setdefault(what, f"{self.source}{' ' + where if where else ''}: {problem}")

    def merge(self, other: Skipped) -> None:
        for what, n in other.counts.items():
            self.counts[what] = self.counts.get(what, 0) + n
            self.first.setdefault(what, other.first[what])

    def warnings(self) -> list[str]:
        return [f"skipped {n} {what if n > 1 else _SINGULAR.get(what, what)} with wrong-typed fields "
                f"(first: {self.first[what]})" for what, n in self.counts.items()]


_SINGULAR = {"events": "event", "pods": "pod", "container statuses": "container status", "conditions": "condition",
             "containers": "container", "items": "item"}
