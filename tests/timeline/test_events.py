"""Events: every real fixture against its labels, plus real-format snippets for shapes the fixtures lack."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from coldstart.kube.times import parse_age, parse_go_duration, parse_timestamp
from coldstart.timeline.inputs import parse_events
from coldstart.timeline.sources.event_tables import parse_event_tables
from coldstart.timeline.sources.events import Event, event_from_object, failed_scheduling, order_events
from tests.conftest import FIXTURES, need

EVENT_DIR = FIXTURES / "k8s_events"
EVENT_KEYS = {"images", "pulls", "reasons_in_order", "failed_scheduling_messages", "autoscaler", "probe_failures",
              "failed_scheduling_count", "first_pod_event_timestamp", "started_timestamp"}
POD_KEYS = {"restarts_or_oom", "pod_start_time", "node", "container_runtime", "container_started"}  # test_pod_status


def _files() -> list[str]:
    return sorted(p.name.removesuffix(".meta.json") for p in EVENT_DIR.glob("*.meta.json")) if EVENT_DIR.exists() \
        else []


def _cases() -> list:
    if not EVENT_DIR.exists():
        return [pytest.param(None, None, id="fixtures-missing")]
    return [pytest.param(f, k, id=f"{f}:{k}") for f in _files()
            for k in json.loads((EVENT_DIR / f"{f}.meta.json").read_text())["labels"] if k in EVENT_KEYS]


def _uncut(text: str) -> str:
    return text.removesuffix(" (cut)")


def _count_over(label: str | int) -> tuple[int, float | None]:
    if isinstance(label, int):
        return label, None
    count, _, over = label.removeprefix("x").partition(" over ")
    return int(count), parse_age(over)


_cache: dict[str, list[Event]] = {}


def _events(file: str) -> list[Event]:
    if file not in _cache:
        _cache[file] = parse_events((EVENT_DIR / file).read_text())
    return _cache[file]


def test_every_label_key_is_scored_somewhere() -> None:
    need(EVENT_DIR)
    for file in _files():
        labels = json.loads((EVENT_DIR / f"{file}.meta.json").read_text())["labels"]
        assert set(labels) <= EVENT_KEYS | POD_KEYS, (file, set(labels) - EVENT_KEYS - POD_KEYS)


@pytest.mark.parametrize(("file", "key"), _cases())
def test_fixture_label(file: str | None, key: str | None) -> None:
    need(EVENT_DIR)
    expected = json.loads((EVENT_DIR / f"{file}.meta.json").read_text())["labels"][key]
    events = _events(file)
    if key == "reasons_in_order":
        assert [e.reason for e in events] == expected
    elif key == "images":
        images: list[str] = []
        for e in events:
            if e.info.get("image") and e.info["image"] not in images:
                images.append(e.info["image"])
        assert images == expected
    elif key == "pulls":
        pulls = [e.info for e in events if e.reason == "Pulled"]
        assert len(pulls) == len(expected)
        for info, label in zip(pulls, expected, strict=True):
            assert info["image"] == label["image"]
            assert info.get("seconds") == pytest.approx(label["pull_seconds"]) if label["pull_seconds"] is not None \
                else info.get("seconds") is None
            for ours, theirs in (("seconds_literal", "pull_duration_literal"),
                                 ("including_waiting_literal", "including_waiting_literal"),
                                 ("seconds_including_waiting", "pull_seconds_including_waiting"),
                                 ("bytes", "image_bytes")):
                if theirs in label:
                    assert info.get(ours) == label[theirs]
            if "already present" in label.get("note", ""):
                assert info["cached"] is True
    elif key == "failed_scheduling_messages":
        assert [e.message for e in events if e.reason == "FailedScheduling"] == [_uncut(m) for m in expected]
    elif key == "failed_scheduling_count":
        (event,) = [e for e in events if e.reason == "FailedScheduling"]
        assert (event.count, event.first_age) == _count_over(expected)
    elif key == "autoscaler":
        got = [{"reason": e.reason, "group": g["group"], "from_size": g["from"], "to_size": g["to"], "max": g["max"],
                "age": e.last_age} for e in events if e.reason in ("TriggeredScaleUp", "NotTriggerScaleUp")
               for g in e.info.get("groups", [])]
        assert got == [{**label, "age": parse_age(label["age"])} for label in expected]
    elif key == "probe_failures":
        probes = [e for e in events if e.reason == "Unhealthy"]
        assert len(probes) == len(expected)
        for event, label in zip(probes, expected, strict=True):
            assert f"{event.info['probe']} probe" == label["kind"]
            assert event.info["detail"] == _uncut(label["message"])
            count, over = _count_over(label["count"])
            assert event.count == count
            if over is not None:
                assert event.first_age == over
    elif key == "first_pod_event_timestamp":
        assert next(e.first for e in events if e.kind == "Pod") == parse_timestamp(expected)
    elif key == "started_timestamp":
        assert next(e.first for e in events if e.reason == "Started") == parse_timestamp(expected)
    else:
        raise AssertionError(f"unscored key {key}")


# ---------------------------------------------------------------------------------------------------
# Shapes and messages the fixtures lack

EVENTS_K8S_IO_LIST = {
    "apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "events.k8s.io/v1", "kind": "Event",
         "metadata": {"name": "vllm-0.17d", "namespace": "llm", "creationTimestamp": "2025-06-02T11:00:01Z"},
         "eventTime": "2025-06-02T11:00:00.512345Z", "reportingController": "default-scheduler",
         "reportingInstance": "default-scheduler-cp-1", "action": "Binding", "reason": "Scheduled",
         "regarding": {"kind": "Pod", "namespace": "llm", "name": "vllm-0",
                       "uid": "0c4d7b4e-1f0a-4a55-9d1e-4c1b7a0f1e21"},
         "note": "Successfully assigned llm/vllm-0 to gpu-node-7", "type": "Normal"},
        {"apiVersion": "events.k8s.io/v1", "kind": "Event",
         "metadata": {"name": "vllm-0.18a", "namespace": "llm"},
         "eventTime": "2025-06-02T10:59:00.000000Z", "series": {"count": 4, "lastObservedTime":
                                                                "2025-06-02T10:59:45.250000Z"},
         "reportingController": "default-scheduler", "reason": "FailedScheduling", "type": "Warning",
         "regarding": {"kind": "Pod", "namespace": "llm", "name": "vllm-0"},
         "note": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: "
                 "3 No preemption victims found for incoming pod.",
         "deprecatedSource": {"component": "default-scheduler"}},
    ]}


def test_events_k8s_io_v1_list() -> None:
    events = parse_events(json.dumps(EVENTS_K8S_IO_LIST))
    assert [e.reason for e in events] == ["FailedScheduling", "Scheduled"]  # by last observation
    failed, scheduled = events
    assert failed.count == 4 and failed.first == datetime(2025, 6, 2, 10, 59, tzinfo=UTC)
    assert failed.last == datetime(2025, 6, 2, 10, 59, 45, 250000, tzinfo=UTC)
    assert failed.info["reasons"] == {"Insufficient nvidia.com/gpu": 3}
    assert failed.info["preemption_reasons"] == {"No preemption victims found for incoming pod": 3}
    assert scheduled.component == "default-scheduler" and scheduled.object == "llm/vllm-0"
    assert scheduled.first == datetime(2025, 6, 2, 11, 0, 0, 512345, tzinfo=UTC)
    assert scheduled.info["node"] == "gpu-node-7"


def test_watch_stream_and_decoded_dicts() -> None:
    obj = {"kind": "Event", "reason": "Pulling", "message": 'Pulling image "vllm/vllm-openai:v0.10.1"',
           "involvedObject": {"kind": "Pod", "name": "p", "namespace": "n", "fieldPath": "spec.containers{vllm}"},
           "firstTimestamp": None, "lastTimestamp": None, "eventTime": "2025-06-02T11:00:02.000001Z", "source": {},
           "reportingComponent": "kubelet", "type": "Normal"}
    stream = json.dumps({"type": "ADDED", "object": obj}) + "\n" + json.dumps({"type": "MODIFIED", "object": obj})
    events = parse_events(stream)
    assert len(events) == 2 and events[0].component == "kubelet" and events[0].container == "vllm"
    assert parse_events([{"type": "ADDED", "object": obj}, obj])[1].info == {"image": "vllm/vllm-openai:v0.10.1"}
    assert event_from_object({"kind": "Pod", "metadata": {}}) is None


def test_get_events_default_wide_and_all_namespaces() -> None:
    default = parse_event_tables("""\
LAST SEEN   TYPE      REASON             OBJECT                       MESSAGE
2m3s        Normal    Scheduled          pod/vllm-7d9f-abcde          Successfully assigned llm/vllm-7d9f-abcde to gpu-1
<unknown>   Normal    Pulling            pod/vllm-7d9f-abcde          Pulling image "vllm/vllm-openai:v0.10.1"
3m (x4 over 10m)   Warning   BackOff     pod/vllm-7d9f-abcde          Back-off restarting failed container vllm in pod vllm-7d9f-abcde_llm(1f0)
""")  # noqa: E501
    assert [(e.reason, e.kind, e.name, e.last_age, e.first_age, e.count) for e in default] == [
        ("Scheduled", "Pod", "vllm-7d9f-abcde", 123, 123, 1),
        ("Pulling", "Pod", "vllm-7d9f-abcde", None, None, 1),
        ("BackOff", "Pod", "vllm-7d9f-abcde", 180, 600, 4)]
    assert default[2].info == {"what": "restart", "container": "vllm"}
    wide = parse_event_tables("""\
NAMESPACE   LAST SEEN   TYPE     REASON    OBJECT            SUBOBJECT                SOURCE                 MESSAGE                                      FIRST SEEN   COUNT   NAME
llm         45s         Normal   Pulled    pod/vllm-0        spec.containers{vllm}    kubelet, gpu-node-1    Successfully pulled image "vllm/vllm-openai:v0.10.1" in 1m2.5s (1m3s including waiting). Image size: 9123456789 bytes.   45s   1   vllm-0.1822
llm         47s         Normal   Scheduled pod/vllm-0                                 default-scheduler      Successfully assigned llm/vllm-0 to gpu-node-1   2m   1   vllm-0.1821
""")  # noqa: E501
    pulled, scheduled = wide
    assert (pulled.namespace, pulled.field_path, pulled.component, pulled.host) == \
        ("llm", "spec.containers{vllm}", "kubelet", "gpu-node-1")
    assert pulled.info["seconds"] == 62.5 and pulled.info["seconds_including_waiting"] == 63
    assert pulled.info["bytes"] == 9123456789 and pulled.count == 1
    assert (scheduled.field_path, scheduled.component, scheduled.first_age, scheduled.last_age) == \
        ("", "default-scheduler", 120, 47)
    assert order_events(wide)[0].reason == "Scheduled"  # older last-seen first


def test_describe_old_tab_separated_form() -> None:
    text = (
        "Events:\n"
        "  FirstSeen\tLastSeen\tCount\tFrom\t\t\tSubObjectPath\t\tType\t\tReason\t\tMessage\n"
        "  ---------\t--------\t-----\t----\t\t\t-------------\t\t--------\t------\t\t-------\n"
        "  54s\t\t54s\t\t1\t{default-scheduler }\t\t\t\tNormal\t\tScheduled\tSuccessfully assigned "
        "nginx-deployment-1006230814-6winp to kubernetes-node-wul5\n"
        "  54s\t\t54s\t\t1\t{kubelet kubernetes-node-wul5}\tspec.containers{nginx}\tNormal\t\tPulling\t\t"
        'pulling image "nginx"\n'
        "  53s\t\t53s\t\t1\t{kubelet kubernetes-node-wul5}\tspec.containers{nginx}\tNormal\t\tPulled\t\t"
        'Successfully pulled image "nginx"\n')
    events = parse_events(text)
    assert [e.reason for e in events] == ["Scheduled", "Pulling", "Pulled"]
    assert events[1].info == {"image": "nginx"} and events[1].host == "kubernetes-node-wul5"
    assert events[1].container == "nginx" and events[0].component == "default-scheduler"
    assert events[0].info["node"] == "kubernetes-node-wul5" and "namespace" not in events[0].info


def test_describe_x_over_without_last_age() -> None:
    (event,) = parse_event_tables("  Warning  Unhealthy  x3 over 2m  kubelet  Readiness probe failed: HTTP probe "
                                  "failed with statuscode: 503\n")
    assert (event.count, event.first_age, event.last_age) == (3, 120, None)
    assert event.info == {"probe": "Readiness", "detail": "HTTP probe failed with statuscode: 503"}


@pytest.mark.parametrize(("text", "seconds"), [
    ("1m2.5s", 62.5), ("450ms", 0.45), ("4m47.129s", 287.129), ("1.146417389s", 1.146417389), ("2h3m", 7380),
    ("1h0m0.5s", 3600.5), ("800us", 0.0008), ("0s", 0.0), ("12", None), ("1x", None), ("", None)])
def test_go_durations(text: str, seconds: float | None) -> None:
    assert parse_go_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def _info(reason: str, message: str) -> dict:
    return event_from_object({"kind": "Event", "reason": reason, "message": message, "involvedObject": {}}).info


def test_kubelet_messages() -> None:
    assert _info("Pulled", 'Successfully pulled image "r/v:1" in 3.2s (5.1s including waiting)') == {
        "image": "r/v:1", "cached": False, "seconds_literal": "3.2s", "seconds": 3.2,
        "including_waiting_literal": "5.1s", "seconds_including_waiting": 5.1}
    assert _info("Pulled", 'Container image "r/v:1" already present on machine and can be accessed by the pod') \
        == {"image": "r/v:1", "cached": True}
    assert _info("Failed", 'Failed to pull image "r/v:2": rpc error: code = NotFound desc = not found') == {
        "what": "pull", "image": "r/v:2", "error": "rpc error: code = NotFound desc = not found"}
    assert _info("Failed", "Error: ImagePullBackOff") == {"what": "pull", "error": "ImagePullBackOff"}
    assert _info("BackOff", 'Back-off pulling image "r/v:2"') == {"what": "pull", "image": "r/v:2"}
    assert _info("Created", "Created container: vllm") == {"container": "vllm"}
    assert _info("Killing", "Stopping container vllm") == {"container": "vllm"}
    assert _info("Unhealthy", 'Startup probe failed: Get "http://10.0.0.5:8000/health": context deadline exceeded')[
        "probe"] == "Startup"
    assert _info("OOMKilling", "Memory cgroup out of memory: Killed process 4242 (python3) total-vm:98765432kB") == {
        "oom": True, "pid": "4242", "process": "python3"}


def test_scheduler_autoscaler_and_karpenter_messages() -> None:
    assert _info("Preempted", "Preempted by pod 0c4d7b4e-1f0a-4a55-9d1e-4c1b7a0f1e21 on node gpu-node-7") == {
        "by_uid": "0c4d7b4e-1f0a-4a55-9d1e-4c1b7a0f1e21", "node": "gpu-node-7"}
    assert _info("Preempted", "Preempted by llm/vllm-3 on node gpu-node-7") == {"by": "llm/vllm-3",
                                                                                 "node": "gpu-node-7"}
    assert _info("TriggeredScaleUp", "pod triggered scale-up: [{gpu-pool 0->1 (max: 3)} {spot 2->4 (max: 10)}]") == {
        "groups": [{"group": "gpu-pool", "from": 0, "to": 1, "max": 3},
                   {"group": "spot", "from": 2, "to": 4, "max": 10}]}
    assert _info("NotTriggerScaleUp", "pod didn't trigger scale-up: 1 max node group size reached, 2 node(s) didn't "
                 "match Pod's node affinity/selector") == {"reasons": {
                     "max node group size reached": 1, "node(s) didn't match Pod's node affinity/selector": 2}}
    assert _info("Nominated", "Pod should schedule on: nodeclaim/default-x7k2p") == {
        "target_kind": "nodeclaim", "target": "default-x7k2p"}
    assert _info("Nominated", "Pod should schedule on: node/ip-10-0-1-5.ec2.internal")["target"] == \
        "ip-10-0-1-5.ec2.internal"
    assert _info("ImageStreaming", "Image us-docker.pkg.dev/p/r/vllm:1 is backed by image streaming.") == {
        "streaming": True, "image": "us-docker.pkg.dev/p/r/vllm:1"}
    assert failed_scheduling("no nodes available to schedule pods") == {
        "detail": "no nodes available to schedule pods"}


def test_tables_and_objects_are_not_mixed_in_order() -> None:
    aged = Event(reason="A", last_age=5.0)
    timed = Event(reason="B", last=datetime(2025, 1, 1, tzinfo=UTC))
    assert [e.reason for e in order_events([aged, timed])] == ["A", "B"]  # incomparable: input order kept


def test_plain_text_is_not_events() -> None:
    assert parse_events("hello world\nnothing here\n") == []
