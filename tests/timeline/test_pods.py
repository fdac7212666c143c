"""Pod status: the real fixtures (pod documents and the pod parts of describe/get output) against their labels."""

from __future__ import annotations

import json

import pytest

from coldstart.kube.times import parse_age, parse_timestamp
from coldstart.timeline.inputs import parse_events
from coldstart.timeline.sources.pods import PodStatus, parse_describe_pods, parse_pods
from tests.conftest import FIXTURES, need

POD_DIR = FIXTURES / "pod_status"
EVENT_DIR = FIXTURES / "k8s_events"
POD_KEYS = {"restarts_or_oom", "pod_start_time", "node", "container_runtime", "container_started"}
FREE_TEXT = {"note"}


def _cases() -> list:
    cases = []
    for directory, keys in ((POD_DIR, None), (EVENT_DIR, POD_KEYS)):
        if not directory.exists():
            cases.append(pytest.param(directory.name, None, None, id=f"{directory.name}-missing"))
            continue
        for meta in sorted(directory.glob("*.meta.json")):
            labels = json.loads(meta.read_text())["labels"]
            file = meta.name.removesuffix(".meta.json")
            for key in labels:
                if key not in FREE_TEXT and (keys is None or key in keys):
                    cases.append(pytest.param(directory.name, file, key, id=f"{file}:{key}"))
    return cases


def _pod(directory: str, file: str) -> PodStatus:
    pods = parse_pods((FIXTURES / directory / file).read_text())
    assert len(pods) == 1, [p.key for p in pods]
    return pods[0]


@pytest.mark.parametrize(("directory", "file", "key"), _cases())
def test_fixture_label(directory: str, file: str | None, key: str | None) -> None:
    need(FIXTURES / directory)
    expected = json.loads((FIXTURES / directory / f"{file}.meta.json").read_text())["labels"][key]
    if key == "restarts_or_oom" and not expected:
        text = (FIXTURES / directory / file).read_text()
        pods = parse_pods(text)
        assert not any(p.restarts or any(c.restart_count or c.last_reason for c in p.all_containers()) for p in pods)
        assert not [e for e in parse_events(text) if e.info.get("what") == "restart" or e.info.get("oom")]
        return
    pod = _pod(directory, file)
    if key == "pod":
        # a free-text label marks a fragment without metadata: the parser must not invent a name
        assert pod.key == (expected if "(" not in expected else "")
    elif key in ("creationTimestamp", "startTime", "pod_start_time"):
        assert {"creationTimestamp": pod.created, "startTime": pod.start_time,
                "pod_start_time": pod.start_time}[key] == parse_timestamp(expected)
    elif key == "conditions":
        assert {k: c.last_transition for k, c in pod.conditions.items()} == \
            {k: parse_timestamp(v) for k, v in expected.items()}
        assert all(c.status == "True" for c in pod.conditions.values())
    elif key == "containers":
        assert len(pod.containers) == len(expected)
        for got, label in zip(pod.containers, expected, strict=True):
            want = {"name": got.name, "image": got.image, "startedAt": got.started_at,
                    "restartCount": got.restart_count, "ready": got.ready}
            assert {k: want[k] for k in label} == \
                {k: parse_timestamp(v) if k == "startedAt" else v for k, v in label.items()}
    elif key == "phase":
        assert pod.phase == expected
    elif key == "has_PodReadyToStartContainers":
        assert ("PodReadyToStartContainers" in pod.conditions) is expected
    elif key == "node":
        assert f"{pod.node}/{pod.node_ip}" == expected
    elif key == "container_runtime":
        assert {c.runtime for c in pod.all_containers()} == {expected}
    elif key == "container_started":
        assert pod.containers[0].started_at == parse_timestamp(expected)
    elif key == "restarts_or_oom":
        (label,) = expected
        restarts, _, ago = label["restarts"].partition(" (")
        assert (pod.status_text, pod.restarts, pod.last_restart_age, pod.age) == (
            label["pod_status"], int(restarts), parse_age(ago.removesuffix(" ago)")), parse_age(label["age"]))
    else:
        raise AssertionError(f"unscored key {key}")


# ---------------------------------------------------------------------------------------------------
# Shapes the fixtures lack

POD_LIST = {
    "apiVersion": "v1", "kind": "List", "items": [{
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "vllm-0", "namespace": "llm", "uid": "u1", "creationTimestamp": "2025-06-02T10:58:30Z",
                     "deletionTimestamp": "2025-06-02T12:00:00Z"},
        "spec": {"nodeName": "gpu-node-7", "initContainers": [{"name": "modelcar", "image": "reg/m@sha256:1"}],
                 "containers": [{"name": "vllm", "image": "reg/vllm@sha256:2"}]},
        "status": {
            "phase": "Running", "startTime": "2025-06-02T11:00:00Z",
            "conditions": [
                {"type": "PodReadyToStartContainers", "status": "True", "lastTransitionTime": "2025-06-02T11:00:03Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2025-06-02T11:00:00Z"},
                {"type": "Ready", "status": "False", "lastTransitionTime": "2025-06-02T11:02:00Z",
                 "reason": "ContainersNotReady"}],
            "initContainerStatuses": [{"name": "modelcar", "image": "reg/m@sha256:1", "ready": True, "started": True,
                                       "restartCount": 0, "state": {"running": {"startedAt": "2025-06-02T11:00:40Z"}}}],
            "containerStatuses": [{
                "name": "vllm", "image": "reg/vllm@sha256:2", "imageID": "reg/vllm@sha256:2",
                "containerID": "containerd://abc", "ready": False, "started": False, "restartCount": 2,
                "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137,
                                             "startedAt": "2025-06-02T11:01:00Z",
                                             "finishedAt": "2025-06-02T11:01:50Z"}}}]}}]}


def test_list_with_sidecar_restarts_and_oom() -> None:
    (pod,) = parse_pods(json.dumps(POD_LIST))
    assert pod.key == "llm/vllm-0" and pod.node == "gpu-node-7" and pod.deleted is not None
    assert pod.transition("PodReadyToStartContainers") == parse_timestamp("2025-06-02T11:00:03Z")
    assert pod.transition("Ready") is None  # Ready is False: no time to report
    (init,) = pod.init_containers
    assert init.init and init.started_at == parse_timestamp("2025-06-02T11:00:40Z")
    (vllm,) = pod.containers
    assert (vllm.state, vllm.waiting_reason, vllm.restart_count) == ("waiting", "CrashLoopBackOff", 2)
    assert (vllm.last_reason, vllm.last_exit_code, vllm.runtime) == ("OOMKilled", 137, "containerd")
    assert pod.spec_images == {"modelcar": "reg/m@sha256:1", "vllm": "reg/vllm@sha256:2"}


def test_watch_events_and_bare_status_block() -> None:
    pod = POD_LIST["items"][0]
    assert parse_pods([{"type": "MODIFIED", "object": pod}])[0].name == "vllm-0"
    yaml_excerpt = """\
    status:
      conditions:
      - lastTransitionTime: "2025-06-02T11:03:10Z"
        status: "True"
        type: Ready
      containerStatuses:
      - name: vllm
        state:
          running:
            startedAt: "2025-06-02T11:00:41Z"
      phase: Runn"""
    (fragment,) = parse_pods(yaml_excerpt)
    assert fragment.source == "fragment" and fragment.name is None
    assert fragment.transition("Ready") == parse_timestamp("2025-06-02T11:03:10Z")
    assert fragment.containers[0].started_at == parse_timestamp("2025-06-02T11:00:41Z")


def test_describe_last_state_oom() -> None:
    text = """\
Name:             vllm-0
Namespace:        llm
Node:             gpu-node-7/10.0.0.7
Start Time:       Mon, 02 Jun 2025 11:00:00 +0000
Status:           Running
Containers:
  vllm:
    Container ID:   containerd://abc
    Image:          reg/vllm@sha256:2
    State:          Running
      Started:      Mon, 02 Jun 2025 11:02:00 +0000
    Last State:     Terminated
      Reason:       OOMKilled
      Exit Code:    137
      Started:      Mon, 02 Jun 2025 11:01:00 +0000
      Finished:     Mon, 02 Jun 2025 11:01:50 +0000
    Ready:          False
    Restart Count:  1
Conditions:
  Type                        Status
  PodReadyToStartContainers   True
  Ready                       False
"""
    (pod,) = parse_describe_pods(text)
    (vllm,) = pod.containers
    assert vllm.started_at == parse_timestamp("2025-06-02T11:02:00Z")
    assert (vllm.last_reason, vllm.last_exit_code, vllm.restart_count, vllm.ready) == ("OOMKilled", 137, 1, False)
    assert vllm.last_finished_at == parse_timestamp("2025-06-02T11:01:50Z")
    assert pod.conditions["Ready"].status == "False" and pod.transition("PodReadyToStartContainers") is None


def test_not_a_pod() -> None:
    assert parse_pods("just some words\n") == []
    assert parse_pods({"kind": "Node", "metadata": {"name": "n"}, "status": {"phase": "x"}}) == []
