"""One bounded wait, built on list + watch, that fails fast on the states a cold start never recovers from.

The deadline is in cluster time (the API server's clock: virtual on the embedded cluster), measured from
the first list's `Date`; the watch asks the server to end the stream at the deadline, so waiting costs
one list and one watch per attempt, not a polling loop. A stream that ends early (its timeout, a dropped
connection, `410 Gone`) is followed by a fresh list, which also tells the cluster's time; a few broken
streams in a row end the wait with the error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coldstart.errors import ColdstartError, ServerError, WaitFailed, WatchExpired
from coldstart.kube.times import parse_timestamp
from coldstart.live.cluster import Cluster

# Container states a cold start does not come back from without a change to the manifest or cluster.
TERMINAL_WAITING = {"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "InvalidImageName",
                    "CreateContainerConfigError", "CreateContainerError", "ErrImageNeverPull"}


@dataclass(frozen=True)
class Progress:
    """What a wait is waiting on, for the live progress line in notebooks and terminals."""

    what: str
    elapsed: float
    budget: float
    done: int
    total: int
    detail: str = ""

    def line(self) -> str:
        detail = f" - {self.detail}" if self.detail else ""
        return f"{self.what}: {self.done}/{self.total} after {self.elapsed:.0f}s of {self.budget:.0f}s{detail}"


def pod_ready(pod: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def pod_terminal_reason(pod: dict[str, Any]) -> str | None:
    """Why this pod will not become ready on its own (None while it still might)."""
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in TERMINAL_WAITING:
            return f"container {cs.get('name')} is {waiting['reason']}: {waiting.get('message', '')}".rstrip(": ")
        last = (cs.get("lastState") or {}).get("terminated") or {}
        if last.get("reason") == "OOMKilled":
            return f"container {cs.get('name')} was OOMKilled (exit {last.get('exitCode')})"
        if cs.get("restartCount", 0) > 0:
            why = last.get("reason") or "restarted"
            return f"container {cs.get('name')} restarted ({why}, exit {last.get('exitCode')}); a cold start " \
                   "should never restart"
    if status.get("phase") == "Failed":
        return f"pod failed: {status.get('reason', '')} {status.get('message', '')}".strip()
    return None


@dataclass
class Count:
    """A `done` that counts objects one by one (n of `total` satisfy `predicate`), kept up to date per change by
    wait_for, so a wait on 1,000 pods costs one check per event instead of one per pod per event."""

    predicate: Callable[[dict[str, Any]], bool]
    total: int
    hits: set[str] = field(default_factory=set)

    def reset(self, objects: dict[str, dict[str, Any]]) -> None:
        self.hits = {name for name, obj in objects.items() if self.predicate(obj)}

    def update(self, name: str, obj: dict[str, Any] | None) -> None:
        if obj is not None and self.predicate(obj):
            self.hits.add(name)
        else:
            self.hits.discard(name)

    def __call__(self, objects: dict[str, dict[str, Any]]) -> tuple[int, int]:
        return len(self.hits), self.total


def wait_for(cluster: Cluster, api_version: str, kind: str, namespace: str | None, *, label_selector: str | None,
             done: Callable[[dict[str, dict]], tuple[int, int]], timeout: float, what: str,
             terminal: Callable[[dict], str | None] | None = None,
             progress: Callable[[Progress], None] | None = None) -> dict[str, dict]:
    """Watch objects until `done(objects)` reports (n, total) with n >= total; raise WaitFailed on a terminal
    object or when `timeout` cluster seconds pass. Returns the objects by name."""
    objects: dict[str, dict] = {}
    start: float | None = None
    backoff = cluster.backoff()  # relists after broken streams wait a little longer each time, then give up
    while True:
        items, rv, now = cluster.list(api_version, kind, namespace, label_selector=label_selector)
        start = now if start is None else start
        objects = {o["metadata"]["name"]: o for o in items}
        if isinstance(done, Count):
            done.reset(objects)
        if _check(objects, done, terminal, what, now - start, timeout, progress, cluster):
            return objects
        remaining = timeout - (now - start)
        if remaining <= 0:
            _timeout(objects, done, what, timeout)
        try:
            for type_, obj in cluster.watch(api_version, kind, namespace, resource_version=rv, timeout=remaining,
                                            label_selector=label_selector):
                if type_ == "BOOKMARK":
                    continue
                name = obj["metadata"]["name"]
                if type_ == "DELETED":
                    objects.pop(name, None)
                else:
                    objects[name] = obj
                if isinstance(done, Count):
                    done.update(name, objects.get(name))
                changed = {name: obj} if type_ != "DELETED" else {}
                if _check(objects, done, terminal, what, _age(obj, start), timeout, progress, cluster, changed):
                    return objects
                backoff.reset()
        except WatchExpired as exc:  # relist: our resourceVersion is older than the server keeps
            if backoff.failures and not backoff.wait(exc.retry_after):  # a first 410 relists at once
                raise
            backoff.failures = max(backoff.failures, 1)
        except ServerError as exc:  # a dropped connection, a restarting API server: relist after a pause
            if not backoff.wait(exc.retry_after):
                raise
        # The stream ended (its server-side timeout, or it broke): the next list tells the state and the time.


def _age(obj: dict, start: float) -> float:
    """Cluster seconds since the wait began, from the newest condition transition the object carries."""
    stamps = [c.get("lastTransitionTime") for c in (obj.get("status") or {}).get("conditions") or []]
    stamps.append((obj.get("metadata") or {}).get("creationTimestamp"))
    times = [t.timestamp() for t in map(parse_timestamp, stamps) if t is not None]
    return max(0.0, max(times) - start) if times else 0.0


_TELLING = ("Killing", "OOMKilling", "Failed", "BackOff", "Unhealthy")


def explain(cluster: Cluster, obj: dict[str, Any]) -> str:
    """The kubelet's own word on why a pod's container stopped: its most telling recent event (one list)."""
    meta = obj.get("metadata") or {}
    try:
        events, _, _ = cluster.list("v1", "Event", meta.get("namespace"),
                                    field_selector=f"involvedObject.name={meta.get('name')}")
    except ColdstartError:  # explaining is best effort: the wait's own reason stands without it
        return ""
    ranked = sorted((e for e in events if e.get("reason") in _TELLING),
                    key=lambda e: (_TELLING.index(e["reason"]), -(e.get("count") or 1)))
    return f" ({ranked[0]['reason']}: {ranked[0].get('message', '')})" if ranked else ""


def _check(objects: dict[str, dict[str, Any]], done: Callable[[dict[str, dict[str, Any]]], tuple[int, int]],
           terminal: Callable[[dict[str, Any]], str | None] | None, what: str, elapsed: float, timeout: float,
           progress: Callable[[Progress], None] | None, cluster: Cluster | None = None,
           changed: dict[str, dict[str, Any]] | None = None) -> bool:
    """`changed`: only these objects changed since the last check (the others were judged then): only they can
    have turned terminal."""
    n, total = done(objects)
    if terminal is not None:
        for name, obj in sorted((objects if changed is None else changed).items()):
            reason = terminal(obj)
            if reason:
                reason += explain(cluster, obj) if cluster is not None else ""
                raise WaitFailed(f"{what}: {obj.get('kind', 'object')} {name}: {reason}", reason=reason, obj=name)
    if progress is not None:
        progress(Progress(what, elapsed, timeout, n, total))
    return n >= total


def _timeout(objects: dict[str, dict[str, Any]], done: Callable[[dict[str, dict[str, Any]]], tuple[int, int]],
             what: str, timeout: float) -> None:
    n, total = done(objects)
    raise WaitFailed(f"{what}: timed out after {timeout:.0f}s with {n}/{total} ready; look at the pods' events "
                     "(kubectl describe) or raise the budget", reason="timeout")


def wait_pods_ready(cluster: Cluster, namespace: str, label_selector: str, count: int, *, timeout: float,
                    what: str = "pods ready", fail_fast: bool = True,
                    progress: Callable[[Progress], None] | None = None) -> list[dict]:
    """Wait until `count` pods matching the selector are Ready; fail fast on CrashLoopBackOff, pull back-off,
    OOMKilled or any restart (unless fail_fast is False)."""
    objects = wait_for(cluster, "v1", "Pod", namespace, label_selector=label_selector, done=Count(pod_ready, count),
                       timeout=timeout, what=what, terminal=pod_terminal_reason if fail_fast else None,
                       progress=progress)
    return [p for p in objects.values() if pod_ready(p)]
