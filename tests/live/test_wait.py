"""The bounded wait: one list and one watch per attempt, terminal states fail fast, relist on 410."""

from __future__ import annotations

import pytest

from coldstart.errors import ServerError, WaitFailed, WatchExpired
from coldstart.live.transport import Backoff
from coldstart.live.wait import Progress, pod_terminal_reason, wait_pods_ready


def _pod(name, ready=False, **status):
    conditions = [{"type": "Ready", "status": "True" if ready else "False",
                   "lastTransitionTime": "2026-01-01T00:01:40Z"}]
    return {"kind": "Pod", "metadata": {"name": name, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"conditions": conditions, **status}}


class FakeCluster:
    """Answers list/watch from scripted streams and counts the requests, like an API server would see them."""

    backoff = staticmethod(lambda: Backoff(sleep=lambda _: None))  # as Cluster.backoff, without the waits

    def __init__(self, lists, watches, events=()):
        self.lists, self.watches, self.requests, self.events = list(lists), list(watches), [], list(events)

    def list(self, api_version, kind, namespace, *, label_selector=None, field_selector=None):
        if kind == "Event":
            self.requests.append(("events", field_selector))
            return self.events, "1", T0
        self.requests.append("list")
        items, rv, now = self.lists.pop(0)
        return items, rv, now

    def watch(self, api_version, kind, namespace, *, resource_version, timeout, label_selector=None):
        self.requests.append(("watch", resource_version, int(timeout)))
        script = self.watches.pop(0)
        if script == "expired":
            raise WatchExpired("too old")
        for item in script:
            if item == "drop":  # the connection breaks halfway through the stream
                raise ServerError("watch Pod: cannot reach the API server (ProtocolError)")
            yield item


T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def test_waits_with_one_list_and_one_watch():
    fake = FakeCluster([([_pod("a")], "10", T0)], [[("MODIFIED", _pod("a", ready=True))]])
    seen = []
    ready = wait_pods_ready(fake, "ns", "app=x", 1, timeout=300, progress=seen.append)
    assert [p["metadata"]["name"] for p in ready] == ["a"]
    assert fake.requests == ["list", ("watch", "10", 300)]
    assert isinstance(seen[-1], Progress) and seen[-1].done == 1 and seen[-1].elapsed == 100


def test_resumes_after_stream_end_and_relists_after_410():
    fake = FakeCluster(
        [([_pod("a")], "10", T0), ([_pod("a")], "20", T0 + 100), ([_pod("a")], "30", T0 + 150)],
        [[("BOOKMARK", {"metadata": {"name": ""}})], "expired", [("MODIFIED", _pod("a", ready=True))]])
    wait_pods_ready(fake, "ns", "app=x", 1, timeout=300)
    assert fake.requests == ["list", ("watch", "10", 300), "list", ("watch", "20", 200), "list",
                             ("watch", "30", 150)]


def test_times_out_in_cluster_time():
    fake = FakeCluster([([_pod("a")], "10", T0), ([_pod("a")], "11", T0 + 301)], [[]])
    with pytest.raises(WaitFailed, match=r"timed out after 300s with 0/1 ready") as err:
        wait_pods_ready(fake, "ns", "app=x", 1, timeout=300)
    assert err.value.reason == "timeout"


@pytest.mark.parametrize(("status", "fragment"), [
    ({"containerStatuses": [{"name": "vllm", "restartCount": 3, "state": {"waiting": {
        "reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}}}]}, "CrashLoopBackOff"),
    ({"containerStatuses": [{"name": "vllm", "restartCount": 1, "state": {"running": {}},
                             "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}]}, "OOMKilled"),
    ({"containerStatuses": [{"name": "vllm", "restartCount": 1, "state": {"running": {}},
                             "lastState": {"terminated": {"reason": "Error", "exitCode": 137}}}]}, "restarted"),
    ({"initContainerStatuses": [{"name": "modelcar-init", "restartCount": 0, "state": {"waiting": {
        "reason": "ImagePullBackOff"}}}]}, "ImagePullBackOff"),
])
def test_terminal_states_fail_fast(status, fragment):
    pod = _pod("a", **status)
    assert fragment in pod_terminal_reason(pod)
    fake = FakeCluster([([pod], "10", T0)], [])
    with pytest.raises(WaitFailed, match=fragment):
        wait_pods_ready(fake, "ns", "app=x", 1, timeout=300)
    assert fake.requests == ["list", ("events", "involvedObject.name=a")]


def test_a_restart_is_explained_by_the_kubelets_event():
    restarted = _pod("a", containerStatuses=[{"name": "vllm", "restartCount": 1, "state": {"running": {}},
                                              "lastState": {"terminated": {"reason": "Error", "exitCode": 137}}}])
    events = [{"reason": "Unhealthy", "message": "Startup probe failed: connection refused", "count": 3},
              {"reason": "Killing", "message": "Container vllm failed startup probe, will be restarted", "count": 1}]
    fake = FakeCluster([([restarted], "10", T0)], [], events)
    with pytest.raises(WaitFailed, match=r"restarted \(Error, exit 137\).*Killing: Container vllm failed startup"):
        wait_pods_ready(fake, "ns", "app=x", 1, timeout=300)


def test_healthy_pods_are_not_terminal():
    pod = _pod("a", containerStatuses=[{"name": "vllm", "restartCount": 0, "state": {"running": {}}}])
    assert pod_terminal_reason(pod) is None


def test_already_done_at_the_first_list_needs_no_watch():
    fake = FakeCluster([([_pod("a", ready=True)], "10", T0)], [])
    wait_pods_ready(fake, "ns", "app=x", 1, timeout=300)
    assert fake.requests == ["list"]


def test_a_dropped_watch_relists_and_carries_on():
    fake = FakeCluster([([_pod("a")], "10", T0), ([_pod("a")], "20", T0 + 50)],
                       [[("MODIFIED", _pod("a")), "drop"], [("MODIFIED", _pod("a", ready=True))]])
    wait_pods_ready(fake, "ns", "app=x", 1, timeout=300)
    assert fake.requests == ["list", ("watch", "10", 300), "list", ("watch", "20", 250)]


def test_a_connection_that_keeps_dropping_ends_the_wait():
    fake = FakeCluster([([_pod("a")], str(i), T0 + i) for i in range(10)], [["drop"]] * 10)
    with pytest.raises(ServerError):
        wait_pods_ready(fake, "ns", "app=x", 1, timeout=300)
    assert fake.requests.count("list") == 6  # the first list, then one per broken stream up to the limit


def test_count_keeps_n_of_total_per_change():
    """wait_for keeps a Count per event (one check per change, not one per pod per event)."""
    from coldstart.live.wait import Count

    ready = Count(lambda o: o.get("ready", False), 2)
    ready.reset({"a": {"ready": True}, "b": {}})
    assert ready({}) == (1, 2)
    ready.update("b", {"ready": True})
    assert ready({}) == (2, 2)
    ready.update("a", None)  # deleted
    ready.update("b", {"ready": False})
    assert ready({}) == (0, 2)
