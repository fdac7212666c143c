"""The live recorder: watches a namespace's Events and Pods from before anything is applied, so no
transition is missed, and keeps everything the timeline needs once the run is over.

It works the same on a real cluster and on the embedded one because both write the same objects. A
watch that breaks (a dropped stream, `410 Gone`) is rebuilt from a fresh listing: events are keyed by
uid (a repeated event is the same object with a higher count) and pods by name (the newest version
wins), so a relist never duplicates or loses anything that still exists.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coldstart.errors import ClusterError, Forbidden, WatchExpired
from coldstart.kube.labels import component_of
from coldstart.live.cluster import Cluster, WatchStream

_WATCH_SECONDS = 3600  # each stream's server-side timeout; streams are renewed until the recorder stops
# Events about cluster-scoped objects land in "default": the node a pod waited for joining and becoming ready
# (kubelet, node controller) and, with Karpenter, its NodeClaim's Launched/Registered/Initialized. They give the
# timeline its node marks (coldstart.timeline.sources.provisioning); events of other kinds there are not ours.
NODE_EVENTS_NAMESPACE = "default"
NODE_EVENT_KINDS = frozenset({"Node", "NodeClaim", "Machine"})


def _about_a_node(event: dict[str, Any]) -> bool:
    return (event.get("involvedObject") or event.get("regarding") or {}).get("kind") in NODE_EVENT_KINDS


@dataclass
class Recording:
    """What a run left behind: Event objects, the last version of each pod, and each pod's vLLM log (and, for
    a container that restarted, the log of its previous run: the current one may be a new start that has
    not reached the failure yet, as `kubectl logs --previous` knows)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    pods: list[dict[str, Any]] = field(default_factory=list)
    logs: dict[str, str] = field(default_factory=dict)
    interruptions: int = 0
    previous_logs: dict[str, str] = field(default_factory=dict)
    cluster_time: float = 0.0  # the API server's clock at the last list (epoch seconds; 0: unknown): "now" for it


class _Stream:
    """One kind's list+watch loop on its own thread, merging into a dict keyed by `key`."""

    def __init__(self, cluster: Cluster, kind: str, namespace: str, key: str, label_selector: str | None,
                 changed: threading.Condition | None = None, keep: Callable[[dict[str, Any]], bool] | None = None):
        self.cluster, self.kind, self.namespace, self.key = cluster, kind, namespace, key
        self.label_selector = label_selector
        self.keep = keep or (lambda _: True)  # what of the stream to record (all of it unless told)
        self.changed = changed or threading.Condition()  # notified after each merge (never taken with `lock` held)
        self.items: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.interruptions = 0
        self.listed_at = 0.0  # cluster time of the last list
        self.error: BaseException | None = None
        self.current: WatchStream | None = None
        self.rv = self._relist()
        self.thread = threading.Thread(target=self._run, name=f"coldstart-recorder-{kind}", daemon=True)
        self.thread.start()

    def _id(self, obj: dict[str, Any]) -> str:
        meta = obj.get("metadata") or {}
        ident: str = meta.get(self.key) or meta.get("name", "")
        return ident

    def _relist(self) -> str:
        items, rv, self.listed_at = self.cluster.list("v1", self.kind, self.namespace,
                                                      label_selector=self.label_selector)
        with self.lock:
            for obj in items:
                if self.keep(obj):
                    self.items[self._id(obj)] = obj
        self._notify()
        return rv

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def _run(self) -> None:
        backoff = self.cluster.backoff()  # broken streams: relist after a growing, jittered pause, then give up
        while not self.stopped.is_set():
            try:
                stream = self.cluster.watch("v1", self.kind, self.namespace, resource_version=self.rv,
                                            timeout=_WATCH_SECONDS, label_selector=self.label_selector)
                with self.lock:
                    self.current = stream
                if self.stopped.is_set():  # stop() ran while the watch was opening: it cannot have closed this one
                    stream.close()
                    return
                for type_, obj in stream:
                    backoff.reset()
                    self.rv = (obj.get("metadata") or {}).get("resourceVersion") or self.rv
                    if type_ == "BOOKMARK" or not self.keep(obj):
                        continue
                    with self.lock:  # a DELETED pod keeps its last state: its timeline still counts
                        self.items[self._id(obj)] = obj
                    self._notify()
            except ClusterError as exc:  # 410 Gone, a dropped connection, an API server restarting
                if self.stopped.is_set():
                    return
                self.interruptions += 1
                try:
                    first_expiry = isinstance(exc, WatchExpired) and not backoff.failures
                    if not first_expiry and not backoff.wait(exc.retry_after):
                        raise exc
                    backoff.failures = max(backoff.failures, 1)
                    self.rv = self._relist()
                except ClusterError as error:  # the recording would be incomplete: say so at stop()
                    self.error = error
                    return

    def stop(self) -> list[dict[str, Any]]:
        """Stop watching, then list once more: the watch may lag what the caller already saw elsewhere."""
        self.stopped.set()
        with self.lock:
            current = self.current
        if current is not None:
            current.close()
        self.thread.join(timeout=10)
        self._relist()
        with self.lock:
            return list(self.items.values())


class Recorder:
    """Start before applying; `stop()` returns the Recording (and fetches the engine logs)."""

    def __init__(self, cluster: Cluster, namespace: str, *, label_selector: str | None = None):
        self.cluster, self.namespace = cluster, namespace
        self._changed = threading.Condition()
        self._events = _Stream(cluster, "Event", namespace, "uid", None, self._changed)
        self._streams = [self._events]
        try:
            self._pods = _Stream(cluster, "Pod", namespace, "name", label_selector, self._changed)
            self._streams.append(self._pods)
            self._nodes = self._node_events(cluster, namespace)
        except BaseException:
            for stream in self._streams:  # do not leave a thread behind
                stream.stop()
            raise

        self._logs: dict[str, str] = {}
        self._previous_logs: dict[str, str] = {}

    def _node_events(self, cluster: Cluster, namespace: str) -> _Stream | None:
        """The stream of node events, or None where the namespace already holds them or they may not be read."""
        if namespace == NODE_EVENTS_NAMESPACE:
            return None
        try:
            stream = _Stream(cluster, "Event", NODE_EVENTS_NAMESPACE, "uid", None, self._changed, keep=_about_a_node)
        except Forbidden:  # a diagnosis Role without the rule: the rest still records, without node marks
            return None
        self._streams.append(stream)
        return stream

    def _events_so_far(self) -> list[dict[str, Any]]:
        nodes = list(self._nodes.items.values()) if self._nodes is not None else []
        return list(self._events.items.values()) + nodes

    def snapshot(self) -> Recording:
        """What has been seen so far, without stopping."""
        locks = [s.lock for s in self._streams]
        for lock in locks:
            lock.acquire()
        try:
            return Recording(self._events_so_far(), list(self._pods.items.values()))
        finally:
            for lock in reversed(locks):
                lock.release()

    def wait_until(self, seen: Callable[[Recording], bool], timeout: float) -> Recording:
        """Block until what the watches delivered so far satisfies `seen`, or `timeout` wall seconds pass (then the
        caller's own check on the returned snapshot says what was missing). Woken by each delivery, no polling."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                recording = self.snapshot()
                left = deadline - time.monotonic()
                if seen(recording) or left <= 0:
                    return recording
                self._changed.wait(left)

    def stop(self, *, logs_for: str | None = "engine") -> Recording:
        """Stop watching; fetch the vLLM log of every pod of the given component (None: no logs)."""
        events, pods = self._events.stop(), self._pods.stop()
        if self._nodes is not None:
            events += self._nodes.stop()
        for stream in self._streams:
            if stream.error is not None:
                raise stream.error
        recording = Recording(events, pods, interruptions=sum(s.interruptions for s in self._streams),
                              cluster_time=max(self._events.listed_at, self._pods.listed_at))
        if logs_for:
            recording.logs = {**self._logs, **self.fetch_logs(pods, logs_for)}
            recording.previous_logs = dict(self._previous_logs)
        return recording

    def collect_logs(self, component: str = "engine") -> None:
        """Keep the logs of the pods that run now, before a scale-down deletes them (and their logs)."""
        self._logs.update(self.fetch_logs(self.snapshot().pods, component))

    def fetch_logs(self, pods: list[dict[str, Any]], component: str) -> dict[str, str]:
        """One log request per engine pod that started its container (timestamps on, engine container), and
        one more for the previous run's log when the container restarted (kept for `Recording.previous_logs`)."""
        logs = {}
        for pod in pods:
            meta = pod.get("metadata") or {}
            if component_of(pod) != component:
                continue
            if meta.get("deletionTimestamp") or not (pod.get("status") or {}).get("containerStatuses"):
                continue
            container = next((c["name"] for c in pod["spec"]["containers"]
                              if c["name"] in ("vllm", "kserve-container")), pod["spec"]["containers"][0]["name"])
            try:
                logs[meta["name"]] = self.cluster.pod_logs(meta["name"], self.namespace, container)
                if any(c.get("name") == container and c.get("restartCount")
                       for c in pod["status"]["containerStatuses"]):
                    self._previous_logs[meta["name"]] = self.cluster.pod_logs(meta["name"], self.namespace,
                                                                              container, previous=True)
            except ClusterError:
                continue  # the pod went away between the list and the log request
        return logs
