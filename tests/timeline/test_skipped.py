"""Wrong-typed fields in events and pods: the object (or the one entry) is skipped and counted, never a crash, and
the timeline says so in its warnings."""

from __future__ import annotations

import copy
import json

import pytest

from coldstart.errors import InputError
from coldstart.timeline.inputs import parse_events, timeline_from_texts
from coldstart.timeline.sources.pods import parse_pods
from coldstart.timeline.sources.skipped import Skipped

EVENT = {"apiVersion": "v1", "kind": "Event", "reason": "Pulled", "type": "Normal", "count": 1,
         "message": 'Successfully pulled image "vllm/vllm-openai:v0.10.1" in 1.5s',
         "involvedObject": {"kind": "Pod", "name": "vllm-0", "namespace": "llm", "fieldPath": "spec.containers{vllm}"},
         "source": {"component": "kubelet", "host": "gpu-1"},
         "firstTimestamp": "2025-06-02T10:00:05Z", "lastTimestamp": "2025-06-02T10:00:06Z",
         "metadata": {"name": "vllm-0.1", "namespace": "llm", "creationTimestamp": "2025-06-02T10:00:05Z"}}
POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "vllm-0", "namespace": "llm", "creationTimestamp": "2025-06-02T10:00:00Z"},
       "spec": {"nodeName": "gpu-1", "containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.10.1"}]},
       "status": {"phase": "Running", "startTime": "2025-06-02T10:00:02Z",
                  "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-06-02T10:04:00Z"}],
                  "containerStatuses": [{"name": "vllm", "restartCount": 0, "ready": True,
                                         "state": {"running": {"startedAt": "2025-06-02T10:01:00Z"}}}]}}

WRONG_EVENTS = [  # 19 wrong-typed fields, falsy ones included
    ("count", "x"), ("count", 1.5), ("count", True), ("firstTimestamp", 5), ("firstTimestamp", []),
    ("firstTimestamp", "yesterday"), ("lastTimestamp", {}), ("involvedObject", []), ("involvedObject", "x"),
    ("reason", {}), ("reason", 5), ("message", [1]), ("message", {}), ("type", []), ("source", "x"),
    ("source", []), ("series", "x"), ("series", {"count": "x"}), ("eventTime", 5),
]


@pytest.mark.parametrize(("field", "value"), WRONG_EVENTS, ids=[f"{f}={v!r}" for f, v in WRONG_EVENTS])
@pytest.mark.parametrize("shape", ["list", "stream", "yaml-objects"])
def test_a_wrong_typed_event_is_skipped_and_counted(field: str, value: object, shape: str) -> None:
    bad = {**EVENT, field: value}
    if field == "eventTime":
        bad.pop("firstTimestamp")
    items = [EVENT, bad, EVENT]
    text = {"list": json.dumps({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items}),
            "stream": "\n".join(json.dumps(i) for i in items), "yaml-objects": items}[shape]
    skipped = Skipped("events.json")
    events = parse_events(text, skipped)  # type: ignore[arg-type]
    assert len(events) == 2 and skipped.counts == {"events": 1}
    (warning,) = skipped.warnings()
    assert warning.startswith("skipped 1 event with wrong-typed fields (first: events.json item 2: ")
    assert field in warning


WRONG_PODS = [("status", [], "pods"), ("status", "x", "pods"), ("spec", "x", "pods"), ("metadata", "x", "pods"),
              ("metadata", [], "pods"), ("status.conditions", "x", "pods"), ("status.containerStatuses", "x", "pods"),
              ("metadata.name", 5, "pods"), ("status.phase", {}, "pods"), ("status.startTime", [], "pods"),
              ("metadata.creationTimestamp", "soon", "pods"), ("status.containerStatuses", [{"state": "x"}],
                                                                "container statuses"),
              ("status.containerStatuses", [{"restartCount": "x"}], "container statuses"),
              ("status.containerStatuses", [{"lastState": {"terminated": "x"}}], "container statuses"),
              ("status.conditions", [{"type": {}}], "conditions"), ("spec.containers", [{"name": []}], "containers")]


@pytest.mark.parametrize(("path", "value", "what"), WRONG_PODS, ids=[f"{p}={v!r}" for p, v, _ in WRONG_PODS])
def test_a_wrong_typed_pod_field_skips_the_pod_or_the_entry(path: str, value: object, what: str) -> None:
    pod = copy.deepcopy(POD)
    node = pod
    *parents, leaf = path.split(".")
    for part in parents:
        node = node[part]
    node[leaf] = value
    skipped = Skipped("pods.json")
    pods = parse_pods(json.dumps({"kind": "List", "items": [POD, pod]}), skipped)
    assert skipped.counts == {what: 1}
    assert len(pods) == (1 if what == "pods" else 2)


def test_timeline_carries_the_warnings_and_an_input_with_only_bad_objects_is_bad_input() -> None:
    events = json.dumps({"kind": "List", "items": [EVENT, {**EVENT, "count": "x"}, {**EVENT, "reason": {}}]})
    pods = json.dumps({**POD, "status": {**POD["status"], "containerStatuses": [{"state": "x"}]}})
    timeline = timeline_from_texts(events=[("events.json", events)], pods=[("pod.json", pods)])
    assert timeline.warnings[:2] == [
        "skipped 2 events with wrong-typed fields (first: events.json item 2: count is 'x' (an integer is expected))",
        "skipped 1 container status with wrong-typed fields (first: pod.json: status.containerStatuses[0].state is "
        "'x' (a mapping is expected))"]
    assert [p.pod for p in timeline.pods] == ["llm/vllm-0"]
    with pytest.raises(InputError, match=r"no events/pods/vLLM lines recognised in only.json \(skipped 1 event"):
        timeline_from_texts(events=[("only.json", json.dumps({**EVENT, "count": "x"}))])
