"""Times a timeline can trust: future dates, events far from the rest or before the pod, and events out of order
never make a phase, a time to Ready or a quantile negative; each exclusion is a note and a warning."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from coldstart.timeline.build import build_timeline
from coldstart.timeline.inputs import parse_events, timeline_from_texts
from coldstart.timeline.sources.pods import parse_pods
from coldstart.timeline.stats import run_statistics

NOW = datetime(2025, 6, 3, tzinfo=UTC)


def _event(pod: str, reason: str, at: str, message: str = "", **extra: object) -> dict:
    return {"kind": "Event", "reason": reason, "message": message, "firstTimestamp": at, "lastTimestamp": at,
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": "llm", **extra}}


def _pod(name: str, created: str, ready: str | None = None) -> dict:
    conditions = [{"type": "Ready", "status": "True", "lastTransitionTime": ready}] if ready else []
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "llm",
                                                            "creationTimestamp": created},
            "status": {"phase": "Running", "conditions": conditions}}


def _build(events: list[dict], pods: list[dict]):
    return build_timeline(parse_events(events), parse_pods(pods), now=NOW)


def test_events_in_the_future_are_left_out() -> None:
    events = [_event("a", "Scheduled", "2025-06-02T10:01:00Z", "Successfully assigned llm/a to n"),
              _event("a", "Scheduled", "2099-01-01T00:00:00Z", "Successfully assigned llm/a to n")]
    timeline = _build(events, [_pod("a", "2025-06-02T10:00:00Z", "2025-06-02T10:05:00Z")])
    (pod,) = timeline.pods
    assert pod.phases["scheduling"].seconds == 60 and pod.time_to_ready_seconds == 300
    assert timeline.warnings == ["pod llm/a: 1 event left out of the phases: dated in the future (first: Scheduled "
                                 "at 2099-01-01T00:00:00Z)"]
    assert pod.notes == [timeline.warnings[0].removeprefix("pod llm/a: ")]


def test_a_pod_created_in_the_future_and_marks_after_now() -> None:
    timeline = _build([], [_pod("a", "2099-06-02T10:00:00Z", "2099-06-02T10:05:00Z")])
    (pod,) = timeline.pods
    assert pod.time_to_ready_seconds is None and "ready" not in pod.marks
    assert any("creationTimestamp 2099-06-02T10:00:00Z left out: it is in the future" in w for w in timeline.warnings)


def test_events_out_of_order_never_make_a_negative_phase_or_quantile() -> None:
    pods, events = [], []
    for i in range(4):
        name = f"vllm-{i}"
        pods.append(_pod(name, "2025-06-02T10:01:00Z", "2025-06-02T10:00:30Z" if i == 0 else "2025-06-02T10:05:00Z"))
        scheduled = "2025-06-02T10:00:05Z" if i < 2 else "2025-06-02T10:02:00Z"  # before creation: out of order
        events.append(_event(name, "Scheduled", scheduled, f"Successfully assigned llm/{name} to n{i}"))
    timeline = _build(events, pods)
    stats = run_statistics(timeline.pods)
    assert all(v >= 0 for s in stats.values() for k, v in s.items() if k != "count")
    assert stats["scheduling"]["count"] == 2 and stats["scheduling"]["P50"] == 60
    assert stats["time_to_ready"]["count"] == 3
    assert any("phase scheduling left out: it would end 55.0s before it starts" in w for w in timeline.warnings)
    assert any("time to Ready left out: Ready is 30.0s before t0" in w for w in timeline.warnings)
    for pod in timeline.pods:
        assert all(span.seconds >= 0 for span in pod.phases.values())


def test_events_far_from_the_rest_and_before_the_pod_are_left_out() -> None:
    events = [_event("a", "Scheduled", "2025-06-02T10:01:00Z", "Successfully assigned llm/a to n"),
              _event("a", "Pulling", "2025-06-02T10:01:01Z", 'Pulling image "x"'),
              _event("a", "Pulled", "2025-06-02T10:01:31Z", 'Successfully pulled image "x" in 30s', fieldPath="x"),
              _event("a", "Pulling", "2015-01-01T00:00:00Z", 'Pulling image "y"'),
              _event("a", "Pulled", "2025-06-02T09:00:00Z", 'Successfully pulled image "z" in 1s')]
    timeline = _build(events, [_pod("a", "2025-06-02T10:00:00Z")])
    (pod,) = timeline.pods
    assert pod.phases["image_pull"].seconds == 30
    assert any("more than 30 days from the pod's other events (first: Pulling at 2015-01-01" in w
               for w in timeline.warnings)
    assert any("image pull of z left out of the phases: at -3601.0s, before the pod was created" in w
               for w in timeline.warnings)


def test_json_output_keeps_the_notes() -> None:
    events = json.dumps({"kind": "List", "items": [_event("a", "Scheduled", "2099-01-01T00:00:00Z", "x")]})
    timeline = timeline_from_texts(events=[("e.json", events)], pods=[("p.json", json.dumps(_pod(
        "a", "2025-06-02T10:00:00Z")))])
    from coldstart.timeline.timings import timings_document, validation_errors

    doc = timings_document(timeline)
    assert validation_errors(doc) == [] and doc["pods"][0]["notes"]


def test_the_cli_says_what_it_left_out_on_stderr(tmp_path, capsys) -> None:
    """`coldstart timeline` prints each exclusion as a warning on stderr, so a JSON consumer on stdout sees it too."""
    from coldstart.cli import main

    events = [_event("a", "Scheduled", "2025-06-02T10:01:00Z", "Successfully assigned llm/a to n"),
              _event("a", "Pulling", "2025-06-02T10:03:00Z", 'Pulling image "vllm"'),
              _event("a", "Pulled", "2025-06-02T10:02:00Z", 'Successfully pulled image "vllm" in 1s'),
              _event("a", "Started", "2099-01-01T00:00:00Z", "Started container vllm")]
    (tmp_path / "e.json").write_text(json.dumps({"kind": "List", "items": events}))
    assert main(["timeline", "--events", str(tmp_path / "e.json"), "--format", "json"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert any("dated in the future (first: Started at 2099-01-01T00:00:00Z)" in line for line in err), err
    assert any("before it starts (events out of order)" in line for line in err), err
    assert all(line.startswith("coldstart: warning: pod llm/a: ") for line in err), err


def test_a_recording_is_judged_by_its_cluster_clock_not_the_wall_clock() -> None:
    """A cluster whose clock read 2020-01-01 when the recording ended cannot have written an event in 2021, though
    the wall clock would take it; a recording with no cluster time falls back to the wall clock."""
    from coldstart.live.recorder import Recording
    from coldstart.runbooks.runbook import _timeline

    events = [_event("a", "Scheduled", "2020-01-01T00:00:00Z", "Successfully assigned llm/a to n"),
              _event("a", "Pulled", "2021-01-01T00:00:00Z", 'Successfully pulled image "vllm" in 1s')]
    ended = datetime(2020, 1, 1, 0, 10, tzinfo=UTC).timestamp()
    judged = _timeline(Recording(events=events, cluster_time=ended))
    assert any("dated in the future (first: Pulled at 2021-01-01T00:00:00Z)" in w for w in judged.warnings)
    assert not any("future" in w for w in _timeline(Recording(events=events)).warnings)
