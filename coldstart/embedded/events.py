"""Events the way real components write them, so one recorder in coldstart serves both cluster kinds.

Two styles exist on real clusters and both are reproduced:
- legacy core/v1 events (kubelet, cluster autoscaler, controllers): `source`, `firstTimestamp`,
  `lastTimestamp` and `count`; a repeat of the same reason and message on the same object within ten
  minutes bumps `count` and `lastTimestamp` instead of creating a new object (client-go's correlator);
- events.k8s.io/v1 events (the scheduler): `eventTime` in microseconds, `reportingComponent`,
  `action`, empty `source` and null first/last timestamps; repeats grow `series`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coldstart.embedded.store.store import Store, micro_time, rfc3339

_AGGREGATE_SECONDS = 600.0


def object_ref(obj: dict, field_path: str | None = None) -> dict[str, Any]:
    """The involvedObject reference for an object (fieldPath like `spec.containers{vllm}`)."""
    meta = obj["metadata"]
    ref = {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj.get("kind"), "name": meta["name"],
           "uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class EventRecorder:
    """Writes core/v1 Event objects into the store for one component (kubelet, default-scheduler, ...)."""

    def __init__(self, store: Store, now: Callable[[], float], component: str, *, new_style: bool = False):
        self.store, self.now, self.component, self.new_style = store, now, component, new_style
        self._recent: dict[tuple, tuple[str, str, float]] = {}  # key -> (namespace, event name, first time)
        # (namespace, object name) -> (instant in ns, the suffix to try next): a thousand events on one object in one
        # instant (a ReplicaSet creating its pods) probe for a free name once each, not once per earlier event
        self._next: dict[tuple[str, str], tuple[int, int]] = {}

    def event(self, obj: dict, type_: str, reason: str, message: str, *, field_path: str | None = None,
              host: str | None = None, action: str | None = None) -> dict:
        """Record (or aggregate) one event about obj; returns the stored Event."""
        t = self.now()
        ref = object_ref(obj, field_path)
        namespace = ref.get("namespace", "default")
        key = (ref["kind"], namespace, ref["name"], ref.get("uid"), field_path, type_, reason, message, host)
        seen = self._recent.get(key)
        if seen is not None and t - seen[2] <= _AGGREGATE_SECONDS:
            updated = self.store.mutate("/Event", seen[0], seen[1], lambda ev: self._repeat(ev, t), fresh=())
            if updated is not None:
                return updated
        instant = int(t * 1e9)
        known = self._next.get((namespace, ref["name"]))
        nanos = known[1] if known is not None and known[0] == instant else instant
        while self.store.get("/Event", namespace, f"{ref['name']}.{nanos:x}") is not None:
            nanos += 1  # virtual time stands still: two events on one object in the same instant
        self._next[(namespace, ref["name"])] = (instant, nanos + 1)
        name = f"{ref['name']}.{nanos:x}"
        event: dict[str, Any] = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": ref, "reason": reason, "message": message, "type": type_,
        }
        if self.new_style:
            event.update(eventTime=micro_time(t), firstTimestamp=None, lastTimestamp=None, source={},
                         reportingComponent=self.component,
                         reportingInstance=f"{self.component}-{host or 'control-plane'}",
                         action=action or reason)
        else:
            source = {"component": self.component}
            if host:
                source["host"] = host
            event.update(eventTime=None, firstTimestamp=rfc3339(t), lastTimestamp=rfc3339(t), count=1,
                         source=source, reportingComponent=self.component, reportingInstance=host or "")
        stored = self.store.create(event)
        self._recent[key] = (namespace, name, t)
        return stored

    def _repeat(self, event: dict, t: float) -> None:
        if self.new_style:
            series = event.get("series") or {"count": 1}
            event["series"] = {"count": series["count"] + 1, "lastObservedTime": micro_time(t)}
        else:
            event["count"] = event.get("count", 1) + 1
            event["lastTimestamp"] = rfc3339(t)
