"""Watches and pod logs of the embedded API server, through the official client's Watch and raw streams."""

from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from coldstart.embedded.apiserver.server import ApiServer
from coldstart.embedded.store.store import PodLogs, Store

T0 = 1_750_000_000.0
SAFETY = 10  # client-side read timeout: a broken stream fails the test instead of hanging it


class FakeClock:
    def __init__(self) -> None:
        self.t = T0

    def __call__(self) -> float:
        return self.t


class Env:
    def __init__(self, history: int = 100_000, **server_kwargs):
        self.clock = FakeClock()
        self.store = Store(now=self.clock, history=history)
        self.logs = PodLogs()
        self.api = ApiServer(self.store, self.logs, **server_kwargs).start()
        self.ac = client.ApiClient(client.Configuration(host=self.api.url))
        self.v1 = client.CoreV1Api(self.ac)

    def pod(self, name: str, containers: tuple[str, ...] = ("vllm",), **labels: str):
        return self.v1.create_namespaced_pod("default", {
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": c, "image": "vllm/vllm-openai:v0.8.5"} for c in containers]}})

    def run(self, name: str, restarted: bool = False) -> None:
        """What the kubelet would have written: the pod bound and its containers running."""
        def started(pod):
            pod["spec"]["nodeName"] = "gpu-node-1"
            last = {"terminated": {"exitCode": 1, "reason": "Error"}} if restarted else {}
            pod["status"]["containerStatuses"] = [{"name": c["name"], "state": {"running": {}}, "lastState": last}
                                                  for c in pod["spec"]["containers"]]

        self.store.mutate("/Pod", "default", name, started)

    def close(self) -> None:
        self.api.stop()
        self.ac.close()


@pytest.fixture
def env():
    e = Env(bookmark_interval=5.0)
    yield e
    e.close()


def collect(stream, n: int, w: watch.Watch) -> list[tuple[str, str]]:
    out = []
    for event in stream:
        out.append((event["type"], event["raw_object"]["metadata"].get("name", "")))
        if len(out) == n:
            w.stop()
    return out


def later(seconds: float, fn) -> threading.Thread:
    def run():
        time.sleep(seconds)
        fn()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


# -- watch ---------------------------------------------------------------------------------------------


def test_watch_resumes_after_a_version_in_order(env):
    env.pod("a")
    rv = env.v1.list_namespaced_pod("default").metadata.resource_version
    env.pod("b")
    env.v1.patch_namespaced_pod("a", "default", {"metadata": {"labels": {"x": "1"}}})
    env.v1.delete_namespaced_pod("b", "default")
    w = watch.Watch()
    events = collect(w.stream(env.v1.list_namespaced_pod, "default", resource_version=rv,
                              _request_timeout=SAFETY), 3, w)
    assert events == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")]


def test_watch_from_zero_lists_then_follows(env):
    env.pod("a")
    later(0.3, lambda: env.pod("b"))
    w = watch.Watch()
    events = collect(w.stream(env.v1.list_namespaced_pod, "default", resource_version="0",
                              _request_timeout=SAFETY), 2, w)
    assert events == [("ADDED", "a"), ("ADDED", "b")]


def test_selector_watch_reports_objects_leaving_and_entering(env):
    env.pod("a", app="vllm")
    env.pod("b", app="other")

    def relabel():
        env.v1.patch_namespaced_pod("a", "default", {"metadata": {"labels": {"app": "gone"}}})
        env.v1.patch_namespaced_pod("b", "default", {"metadata": {"labels": {"app": "vllm"}}})
        env.v1.patch_namespaced_pod("b", "default", {"metadata": {"labels": {"extra": "1"}}})

    later(0.3, relabel)
    w = watch.Watch()
    events = collect(w.stream(env.v1.list_namespaced_pod, "default", label_selector="app=vllm",
                              _request_timeout=SAFETY), 4, w)
    assert events == [("ADDED", "a"), ("DELETED", "a"), ("ADDED", "b"), ("MODIFIED", "b")]


def test_bookmarks_carry_the_latest_resource_version(env):
    rv = env.v1.list_namespaced_pod("default").metadata.resource_version

    def elsewhere():
        env.v1.create_namespaced_config_map("default", {"metadata": {"name": "c"}})
        env.clock.t += 6  # past the 5 s bookmark interval of cluster time

    later(0.3, elsewhere)
    w = watch.Watch()
    for event in w.stream(env.v1.list_namespaced_pod, "default", resource_version=rv, allow_watch_bookmarks=True,
                          _request_timeout=SAFETY):
        assert event["type"] == "BOOKMARK"
        assert set(event["raw_object"]["metadata"]) == {"resourceVersion"}
        assert int(event["raw_object"]["metadata"]["resourceVersion"]) == env.store.resource_version
        w.stop()
    assert w.resource_version == str(env.store.resource_version)


def test_too_old_version_is_an_error_event_with_410():
    env = Env(history=5)
    try:
        for i in range(30):
            env.pod(f"p{i}")
        with pytest.raises(ApiException) as expired:
            for _ in watch.Watch().stream(env.v1.list_namespaced_pod, "default", resource_version="3",
                                          _request_timeout=SAFETY):
                pass
        assert expired.value.status == 410
        raw = env.v1.list_namespaced_pod("default", watch=True, resource_version="3", _preload_content=False,
                                         _request_timeout=SAFETY)
        assert raw.status == 200
        lines = [json.loads(line) for line in watch.watch.iter_resp_lines(raw)]
        assert [(e["type"], e["object"]["code"], e["object"]["reason"]) for e in lines] == [("ERROR", 410, "Expired")]
    finally:
        env.close()


def test_timeout_counts_cluster_time(env):
    env.pod("a")
    seen: list[str] = []
    done = threading.Event()

    def consume():
        for event in watch.Watch().stream(env.v1.list_namespaced_pod, "default", timeout_seconds=30,
                                          _request_timeout=SAFETY):
            seen.append(event["type"])
        done.set()

    threading.Thread(target=consume, daemon=True).start()
    time.sleep(0.5)
    assert not done.is_set()  # 30 s of cluster time have not passed, however long the wall clock ran
    env.clock.t += 31
    assert done.wait(5)
    assert seen == ["ADDED"]


def test_stream_ends_cleanly_when_the_server_stops():
    env = Env()
    raw = env.v1.list_namespaced_pod("default", watch=True, _preload_content=False, _request_timeout=SAFETY)
    later(0.3, env.api.stop)
    assert list(watch.watch.iter_resp_lines(raw)) == []  # chunked terminator, no error
    env.ac.close()


def test_dynamic_client_watch(env, tmp_path):
    dyn = DynamicClient(env.ac, cache_file=str(tmp_path / "d.json"))
    pods = dyn.resources.get(api_version="v1", kind="Pod")
    later(0.3, lambda: env.pod("a"))
    w = watch.Watch()
    for event in dyn.watch(pods, namespace="default", watcher=w):
        assert (event["type"], event["object"].metadata.name) == ("ADDED", "a")
        w.stop()


# -- logs ----------------------------------------------------------------------------------------------


def test_logs_timestamps_tail_since_and_limit(env):
    env.pod("a")
    env.run("a")
    for n, t in enumerate([T0 + 1.5, T0 + 2.25, T0 + 3]):
        env.logs.append("default", "a", "vllm", t, f"line {n}")
    env.clock.t = T0 + 3
    assert env.v1.read_namespaced_pod_log("a", "default") == "line 0\nline 1\nline 2\n"
    stamped = env.v1.read_namespaced_pod_log("a", "default", timestamps=True).splitlines()
    assert stamped[0] == "2025-06-15T15:06:41.5Z line 0"
    assert stamped[2] == "2025-06-15T15:06:43Z line 2"
    assert env.v1.read_namespaced_pod_log("a", "default", tail_lines=1) == "line 2\n"
    assert env.v1.read_namespaced_pod_log("a", "default", since_seconds=1) == "line 1\nline 2\n"
    assert env.v1.read_namespaced_pod_log("a", "default", limit_bytes=9) == "line 0\nli"


def test_previous_logs_and_container_choice(env):
    env.pod("a", containers=("vllm", "proxy"))
    env.run("a", restarted=True)
    env.logs.append("default", "a", "vllm", T0, "first run")
    env.logs.restart("default", "a", "vllm")
    env.logs.append("default", "a", "vllm", T0 + 5, "second run")
    assert env.v1.read_namespaced_pod_log("a", "default", container="vllm", previous=True) == "first run\n"
    assert env.v1.read_namespaced_pod_log("a", "default", container="vllm") == "second run\n"
    with pytest.raises(ApiException) as which:
        env.v1.read_namespaced_pod_log("a", "default")
    assert which.value.status == 400
    assert json.loads(which.value.body)["message"] == ("a container name must be specified for pod a, choose one "
                                                       "of: [vllm proxy]")
    with pytest.raises(ApiException) as unknown:
        env.v1.read_namespaced_pod_log("a", "default", container="nope")
    assert unknown.value.status == 400
    env.pod("b")
    with pytest.raises(ApiException) as unscheduled:
        env.v1.read_namespaced_pod_log("b", "default")
    assert json.loads(unscheduled.value.body)["message"] == "pod b does not have a host assigned"
    env.run("b")
    with pytest.raises(ApiException) as never_restarted:
        env.v1.read_namespaced_pod_log("b", "default", previous=True)
    assert json.loads(never_restarted.value.body)["message"] == ('previous terminated container "vllm" in pod "b" '
                                                                 "not found")


def test_logs_of_a_container_still_waiting(env):
    env.pod("a")

    def waiting(pod):
        pod["spec"]["nodeName"] = "n1"
        pod["status"]["containerStatuses"] = [{"name": "vllm", "state": {"waiting": {"reason": "PodInitializing"}}}]

    env.store.mutate("/Pod", "default", "a", waiting)
    with pytest.raises(ApiException) as early:
        env.v1.read_namespaced_pod_log("a", "default")
    assert early.value.status == 400
    assert json.loads(early.value.body)["message"] == ('container "vllm" in pod "a" is waiting to start: '
                                                       "PodInitializing")

    def backing_off(pod):
        pod["status"]["containerStatuses"] = [{"name": "vllm", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]

    env.store.mutate("/Pod", "default", "a", backing_off)
    with pytest.raises(ApiException) as pulling:
        env.v1.read_namespaced_pod_log("a", "default")
    assert json.loads(pulling.value.body)["message"] == ('container "vllm" in pod "a" is waiting to start: trying '
                                                         "and failing to pull image")

    def crash_looping(pod):
        pod["status"]["containerStatuses"] = [{"name": "vllm", "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                               "lastState": {"terminated": {"exitCode": 1}}}]

    env.logs.append("default", "a", "vllm", T0, "CUDA out of memory")
    env.logs.restart("default", "a", "vllm")
    env.store.mutate("/Pod", "default", "a", crash_looping)
    assert env.v1.read_namespaced_pod_log("a", "default") == "CUDA out of memory\n"  # the last attempt's log


def test_follow_streams_until_the_container_terminates(env):
    env.pod("a")
    env.run("a")
    env.logs.append("default", "a", "vllm", T0, "starting")

    def run():
        env.logs.append("default", "a", "vllm", T0 + 1, "loading weights")
        time.sleep(0.2)

        def terminated(pod):
            pod["status"]["containerStatuses"] = [{"name": "vllm", "state": {"terminated": {"exitCode": 1}}}]

        env.store.mutate("/Pod", "default", "a", terminated)

    later(0.3, run)
    raw = env.v1.read_namespaced_pod_log("a", "default", follow=True, _preload_content=False,
                                         _request_timeout=SAFETY)
    assert list(watch.watch.iter_resp_lines(raw)) == ["starting", "loading weights"]
