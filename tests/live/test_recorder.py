"""The live recorder on its own: relists after broken watches, and says so when it cannot (no silent gaps)."""

from __future__ import annotations

import threading

import pytest

from coldstart.errors import ServerError, WatchExpired
from coldstart.live.recorder import Recorder
from coldstart.live.transport import Backoff


def _pod(name, rv):
    return {"kind": "Pod", "metadata": {"name": name, "resourceVersion": rv,
                                        "labels": {"app.kubernetes.io/component": "buffer"}}}


class FlakyCluster:
    """Lists succeed while `lists_work`; each watch breaks in the way the script says, once the test lets them."""

    backoff = staticmethod(lambda: Backoff(sleep=lambda _: None))  # as Cluster.backoff, without the waits

    def __init__(self, breaks):
        self.breaks, self.lists, self.pod_lists = list(breaks), 0, 0
        self.lists_work, self.go = True, threading.Event()
        self.lock = threading.Lock()

    def list(self, api_version, kind, namespace, *, label_selector=None, field_selector=None):
        with self.lock:
            if not self.lists_work:
                raise ServerError(f"list {kind}: cannot reach the API server")
            self.lists += 1
            if kind != "Pod":
                return [], str(self.lists), 0.0
            self.pod_lists += 1
            return [_pod(f"p{self.pod_lists}", str(self.lists))], str(self.lists), 0.0

    def watch(self, api_version, kind, namespace, *, resource_version, timeout, label_selector=None):
        self.go.wait(5)  # nothing breaks before both streams have started
        with self.lock:
            how = self.breaks.pop(0) if self.breaks else "block"
        if how == "expired":
            raise WatchExpired("too old")
        if how == "drop":
            raise ServerError("watch: connection reset")
        return _Blocking()


class _Blocking:
    """A watch that delivers nothing until closed, like a quiet healthy stream."""

    def __init__(self):
        self.closed = threading.Event()

    def __iter__(self):
        self.closed.wait(5)
        return iter(())

    def close(self):
        self.closed.set()


def test_broken_watches_are_relisted_and_counted():
    cluster = FlakyCluster(["expired", "drop", "expired", "drop"])
    recorder = Recorder(cluster, "ns")
    cluster.go.set()
    for _ in range(200):
        if recorder._pods.interruptions + recorder._events.interruptions >= 4:
            break
        threading.Event().wait(0.01)
    recording = recorder.stop(logs_for=None)
    assert recording.interruptions >= 4
    names = {p["metadata"]["name"] for p in recording.pods}
    assert "p1" in names and len(names) >= 2  # the first list's pod survives the relists that found the others


def test_a_relist_that_fails_makes_stop_raise():
    cluster = FlakyCluster(["drop"] * 20)
    recorder = Recorder(cluster, "ns")
    cluster.lists_work = False  # from now on every relist fails
    cluster.go.set()
    for _ in range(200):
        if recorder._pods.error is not None and recorder._events.error is not None:
            break
        threading.Event().wait(0.01)
    with pytest.raises(ServerError):
        recorder.stop(logs_for=None)


def test_wait_until_returns_what_the_watches_delivered_or_gives_up_at_its_timeout():
    """A caller can wait for the recorder to have seen something without polling; at the timeout it gets the
    snapshot it has, so its own check says what was missing."""
    cluster = FlakyCluster([])
    recorder = Recorder(cluster, "ns")
    cluster.go.set()
    seen = recorder.wait_until(lambda recording: len(recording.pods) == 1, timeout=5)
    assert [p["metadata"]["name"] for p in seen.pods] == ["p1"]
    never = recorder.wait_until(lambda recording: len(recording.pods) > 1, timeout=0.05)
    assert len(never.pods) == 1
    recorder.stop(logs_for=None)


@pytest.mark.parametrize("profile", ["baseline", "eks"])
def test_a_cold_scale_up_records_the_node_marks_from_node_events(profile: str) -> None:
    """Node events live in "default" (kubelet, node controller, Karpenter's NodeClaim): the recorder reads them
    too, so the timeline of a pod that waited for a new node has its node marks, whichever provisioner ran."""
    from coldstart.profiles import load_profile
    from coldstart.runbooks import experiments, runbook

    (outcome,) = runbook.compare([experiments.naive(load_profile(profile))], "embedded")
    first = outcome.replicas[0].pod
    wanted = {"scale_up", "node_registered", "node_ready"} | ({"node_launched"} if profile == "eks" else set())
    assert wanted <= set(first.marks), sorted(first.marks)
    assert first.marks["scale_up"] <= first.marks["node_registered"] < first.marks["node_ready"] \
        <= first.marks["scheduled"]
