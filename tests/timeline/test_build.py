"""Timeline assembly, run statistics (kube-burner quantiles, budgets, floor, compare), timings.json and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from coldstart.cli import main
from coldstart.errors import InputError
from coldstart.profiles import load_profile
from coldstart.timeline.build import PodTimeline, Span, build_timeline
from coldstart.timeline.floor import EngineAsk, replica_floor
from coldstart.timeline.history import EMBEDDED_BAND, LIVE_BAND, compare_replicas, differs, noise_band
from coldstart.timeline.inputs import parse_events, timeline_from_files, timeline_from_texts
from coldstart.timeline.sources.pods import parse_pods
from coldstart.timeline.sources.vllm_log import parse_vllm_log
from coldstart.timeline.stats import (
    Threshold,
    check_budgets,
    percentile,
    run_statistics,
    summarize,
    thresholds_from_profile,
)
from coldstart.timeline.timings import (
    read_timings,
    replica_json,
    timings_document,
    validation_errors,
    write_timings,
)
from tests.conftest import FIXTURES, need

T0 = datetime(2025, 6, 2, 10, 58, 30, tzinfo=UTC)
UID = "0c4d7b4e-1f0a-4a55-9d1e-4c1b7a0f1e21"


def _at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _event(reason: str, message: str, at: float, *, pod: str = "vllm-0", type_: str = "Normal", count: int = 1,
           last: float | None = None, component: str = "kubelet", field_path: str | None = None) -> dict:
    ref = {"kind": "Pod", "namespace": "llm", "name": pod}
    if field_path:
        ref["fieldPath"] = field_path
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{pod}.{reason}", "namespace": "llm"},
            "involvedObject": ref, "reason": reason, "message": message, "type": type_,
            "firstTimestamp": _at(at), "lastTimestamp": _at(last if last is not None else at), "count": count,
            "source": {"component": component}}


def _pod(name: str = "vllm-0", uid: str = UID, ready: float | None = 280, started: float = 131,
         scheduled: float = 90) -> dict:
    conditions = [{"type": "PodScheduled", "status": "True", "lastTransitionTime": _at(scheduled)}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": "True", "lastTransitionTime": _at(ready)})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "llm", "uid": uid, "creationTimestamp": _at(0)},
            "spec": {"nodeName": "gpu-node-7", "containers": [{"name": "vllm", "image": "reg/vllm:1"}]},
            "status": {"phase": "Running", "conditions": conditions,
                       "containerStatuses": [{"name": "vllm", "image": "reg/vllm:1", "ready": ready is not None,
                                              "restartCount": 0,
                                              "state": {"running": {"startedAt": _at(started)}}}]}}


EVENTS = [
    _event("FailedScheduling", "0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are "
           "available: 3 No preemption victims found for incoming pod.", 1, type_="Warning", count=2, last=40,
           component="default-scheduler"),
    _event("TriggeredScaleUp", "pod triggered scale-up: [{gpu-pool 0->1 (max: 4)}]", 5, component="cluster-autoscaler"),
    _event("Preempted", f"Preempted by pod {UID} on node gpu-node-7", 80, pod="buffer-0",
           component="default-scheduler"),
    _event("Scheduled", "Successfully assigned llm/vllm-0 to gpu-node-7", 90, component="default-scheduler"),
    _event("Pulling", 'Pulling image "reg/models/qwen:1"', 91, field_path="spec.initContainers{modelcar}"),
    _event("Pulling", 'Pulling image "reg/vllm:1"', 91, field_path="spec.containers{vllm}"),
    _event("Pulled", 'Successfully pulled image "reg/models/qwen:1" in 29s (29s including waiting). Image size: '
           "15231233024 bytes.", 120, field_path="spec.initContainers{modelcar}"),
    _event("Pulled", 'Successfully pulled image "reg/vllm:1" in 38.5s (39s including waiting). Image size: '
           "8400000000 bytes.", 130, field_path="spec.containers{vllm}"),
    _event("Created", "Created container: vllm", 130, field_path="spec.containers{vllm}"),
    _event("Started", "Started container vllm", 131, field_path="spec.containers{vllm}"),
    _event("Unhealthy", 'Startup probe failed: Get "http://10.0.0.9:8000/health": connection refused', 150,
           type_="Warning", count=9, last=240, field_path="spec.containers{vllm}"),
]

LOG = "\n".join(f"{_at(t)} {line}" for t, line in [
    (135, "(APIServer pid=1) INFO 06-02 11:00:45 [api_server.py:1805] vLLM API server version 0.10.1"),
    (155, "(EngineCore_DP0 pid=271) INFO 06-02 11:01:05 [default_loader.py:267] Loading weights took 12.60 seconds"),
    (200, "(EngineCore_DP0 pid=271) INFO 06-02 11:01:50 [monitor.py:34] torch.compile takes 30.00 s in total"),
    (230, "(EngineCore_DP0 pid=271) INFO 06-02 11:02:20 [gpu_model_runner.py:2567] Graph capturing finished in 20 "
          "secs, took 0.45 GiB"),
    (240, "(EngineCore_DP0 pid=271) INFO 06-02 11:02:30 [core.py:216] init engine (profile, create kv cache, warmup "
          "model) took 80.00 seconds"),
    (245, "(APIServer pid=1) INFO:     Application startup complete."),
])


def _timeline():
    return build_timeline(parse_events(json.dumps({"kind": "List", "items": EVENTS})), parse_pods(_pod()),
                          [("logs/vllm-0.log", parse_vllm_log(LOG))])


def test_full_replica_timeline() -> None:
    timeline = _timeline()
    pod = next(p for p in timeline.pods if p.pod == "llm/vllm-0")
    assert pod.t0 == T0 and pod.t0_source == "creationTimestamp" and pod.clock == "absolute"
    assert {k: round(v, 3) for k, v in pod.marks.items()} == {
        "created": 0, "scale_up": 5, "preempted_buffer": 80, "scheduled": 90, "started": 131, "ready": 280,
        "weights_loaded": 155, "compiled": 200, "graphs_captured": 230, "engine_ready": 240, "api_server": 245}
    phases = {name: (round(s.start, 3), round(s.end, 3)) for name, s in pod.phases.items()}
    assert phases == {"scheduling": (0, 90), "image_pull": (91, 130), "container_start": (130, 131),
                      "weights_load": (142.4, 155), "compile": (170, 200), "graph_capture": (210, 230),
                      "engine_init": (160, 240), "api_ready": (245, 280)}
    assert pod.time_to_ready_seconds == 280
    modelcar, vllm = pod.image_pulls
    assert (modelcar.container, modelcar.start, modelcar.end) == ("modelcar", 91, 120)  # in parallel with vllm
    assert vllm.mb_per_s == pytest.approx(8400 / 38.5) and not vllm.cached
    assert [r.reason for r in pod.reasons] == ["FailedScheduling", "Unhealthy"]
    assert pod.reasons[1].count == 9 and pod.log == "logs/vllm-0.log"
    assert [p.pod for p in timeline.pods] == ["llm/vllm-0"]  # pod documents name the replicas


def test_events_alone_give_every_pod_and_buffer_victims_stay_out_of_statistics() -> None:
    pause = [_event("Pulled", 'Container image "registry.k8s.io/pause:3.10" already present on machine', 11,
                    pod="buffer-0"),
             _event("Started", "Started container pause", 12, pod="buffer-0")]
    timeline = build_timeline(parse_events([*EVENTS, *pause]), [])
    buffer = next(p for p in timeline.pods if p.pod == "llm/buffer-0")
    assert buffer.victim and {p.pod for p in timeline.pods} == {"llm/vllm-0", "llm/buffer-0"}
    assert "container_start" in buffer.phases
    assert run_statistics(timeline.pods)["container_start"]["count"] == 1  # the buffer pod is not a replica
    vllm = next(p for p in timeline.pods if p.pod == "llm/vllm-0")
    assert vllm.t0_source == "first event" and "scheduling" not in vllm.phases  # creation unknown: absent


def test_cached_images_leave_image_pull_absent() -> None:
    events = [_event("Scheduled", "Successfully assigned llm/vllm-0 to n", 2),
              _event("Pulled", 'Container image "reg/vllm:1" already present on machine', 3,
                     field_path="spec.containers{vllm}"),
              _event("Started", "Started container vllm", 4, field_path="spec.containers{vllm}")]
    (pod,) = build_timeline(parse_events(events), parse_pods(_pod(scheduled=2, started=4, ready=None))).pods
    assert "image_pull" not in pod.phases and pod.phases["container_start"].seconds == 1
    assert pod.image_pulls[0].cached and pod.time_to_ready_seconds is None and "api_ready" not in pod.phases


def test_wall_clock_log_in_another_zone_is_aligned_to_the_container_start() -> None:
    log = parse_vllm_log("INFO 06-02 04:00:45 [api_server.py:1805] vLLM API server version 0.10.1\n"
                         "INFO 06-02 04:01:05 [default_loader.py:267] Loading weights took 12.60 seconds\n")
    (pod,) = build_timeline([], parse_pods(_pod()), [("vllm-0.log", log)]).pods  # container started 11:00:41 UTC
    assert pod.phases["weights_load"].end == pytest.approx(155)
    assert any("UTC-7h" in n for n in pod.notes)


def test_relative_tables_make_relative_timelines() -> None:
    need(FIXTURES / "k8s_events")
    timeline = timeline_from_files(events=[str(FIXTURES / "k8s_events" / "aibrix_1054_startup_probe_events.txt")])
    (pod,) = timeline.pods
    assert pod.clock == "relative" and pod.t0 is None and pod.time_to_ready_seconds is None
    assert (pod.phases["image_pull"].start, pod.phases["image_pull"].end) == (331 - 323, 331 - 19)
    assert "scheduling" not in pod.phases  # creation time is not in the table: absent, not zero
    assert pod.image_pulls[0].seconds == pytest.approx(287.129)


# ---------------------------------------------------------------------------------------------------
# Statistics


def test_percentile_is_kube_burners() -> None:
    assert percentile(range(1, 11), 50) == 5  # whole index: that element
    assert percentile(range(1, 11), 95) == 9.5  # otherwise the mean of the two around it
    assert percentile(range(1, 101), 99) == 99
    assert percentile([3, 1, 2], 50) == 1.5  # not the textbook median: kube-burner's method
    assert percentile([7.0], 99) == 7.0
    assert summarize([10, 20, 30, 40]) == {"count": 4, "P50": 20, "P95": 35, "P99": 35, "max": 40, "mean": 25}


def _replicas(ready: list[float], image: list[float]) -> list[PodTimeline]:
    return [PodTimeline(pod=f"p{i}", phases={"image_pull": Span(0, im)}, time_to_ready_seconds=r)
            for i, (r, im) in enumerate(zip(ready, image, strict=True))]


def test_budget_overruns_are_named() -> None:
    profile = load_profile("baseline")  # time_to_ready 180, image_pull 60
    stats = run_statistics(_replicas([100, 120, 190, 200], [30, 40, 50, 90]))
    thresholds = thresholds_from_profile(profile)
    assert Threshold("time_to_ready", "P99", 180.0) in thresholds
    overruns = {(o.phase, o.metric): o for o in check_budgets(stats, thresholds)}
    assert set(overruns) == {("time_to_ready", "P95"), ("time_to_ready", "P99"), ("time_to_ready", "max"),
                             ("image_pull", "P95"), ("image_pull", "P99"), ("image_pull", "max")}
    worst = overruns[("time_to_ready", "max")]
    assert (worst.value, worst.over_seconds, round(worst.over_percent, 1)) == (200, 20, 11.1)
    assert "by 20.0s" in worst.describe()


def _replica(label: str, ttr: float | None, **phases: float) -> dict:
    return {"label": label, "time_to_ready_seconds": ttr, "phases": phases}


def test_history_compares_position_with_position_one_row_per_phase() -> None:
    before = [_replica("1st start", 100.0, image_pull=60.0, compile=30.0), _replica("warm start", 40.0, compile=2.0)]
    after = [_replica("1st start", 70.0, image_pull=30.0, compile=30.004), _replica("warm start", 40.0, compile=2.0,
                                                                                      weights_load=5.0)]
    rows = compare_replicas(before, after, EMBEDDED_BAND)
    assert [r.phase for r in rows] == ["image_pull", "weights_load", "compile", "time_to_ready"]  # each phase once
    by = {r.phase: r.cells for r in rows}
    assert by["image_pull"]["1st start"].verdict == "improved" and by["image_pull"]["1st start"].delta == -30
    assert "warm start" not in by["image_pull"]  # neither run pulled on the warm start: no cell, not "unchanged"
    assert by["compile"]["1st start"].verdict == "unchanged"  # 4 ms is inside the embedded band
    assert by["weights_load"]["warm start"].verdict == "added"
    assert by["time_to_ready"]["warm start"].verdict == "unchanged"
    # a live cluster's whole-second timestamps: 1.5 s is noise there, not on the embedded cluster
    assert compare_replicas([_replica("1st start", 100.0)], [_replica("1st start", 101.5)], LIVE_BAND)[0] \
        .cells["1st start"].verdict == "unchanged"
    assert compare_replicas([_replica("1st start", 100.0)], [_replica("1st start", 101.5)], EMBEDDED_BAND)[0] \
        .cells["1st start"].verdict == "regressed"
    assert compare_replicas([_replica("1st start", 100.0)], [_replica("1st start", 101.0)], EMBEDDED_BAND)[0] \
        .cells["1st start"].verdict == "unchanged"  # a whole-second timestamp, not a change
    assert noise_band("embedded") is EMBEDDED_BAND and noise_band("kubeconfig:prod") is LIVE_BAND


def test_history_compares_only_the_same_question() -> None:
    me = {"runbook": "rollout", "profile": "baseline", "cluster": "embedded", "scenario": "recommended",
          "steps": [1, 0, 1]}
    assert differs({**me, "ready": True}, me) is None
    assert differs({**me, "runbook": "runtime"}, me) == "runbook 'runtime' is not 'rollout'"
    assert differs({**me, "steps": [2, 0, 2]}, me).startswith("steps")
    assert differs({**me, "cluster": "kubeconfig:gke"}, me).startswith("cluster")
    assert differs({**me, "ready": False}, me) == "it never became ready"


# ---------------------------------------------------------------------------------------------------
# timings.json and the CLI


def test_timings_round_trip_with_profile(tmp_path) -> None:
    profile = load_profile("baseline")
    timeline = _timeline()
    pod = next(p for p in timeline.pods if p.pod == "llm/vllm-0")
    replica = replica_json(1, "1st start", pod, replica_floor(profile, pod, timeline.logs[0][1], EngineAsk()))
    path = write_timings(tmp_path / "run" / "timings.json", timeline, profile=profile, run_id="r1",
                         runbook="rollout", scenario="recommended", steps=[1], replicas=[replica])
    doc = read_timings(path)
    assert doc["schema_version"] == 2 and doc["profile"] == "baseline" and doc["run_id"] == "r1"
    assert (doc["runbook"], doc["scenario"], doc["steps"]) == ("rollout", "recommended", [1])
    assert doc["replicas"][0]["phases"]["weights_load"] == 12.6 and doc["replicas"][0]["time_to_ready_seconds"] == 280
    assert 0 < doc["replicas"][0]["floor"]["total_seconds"] < 280 and doc["floor"] == doc["replicas"][0]["floor"]
    assert doc["statistics"]["time_to_ready"]["P50"] == 280
    assert [o["metric"] for o in doc["budgets"]["overruns"] if o["phase"] == "time_to_ready"] == \
        ["P50", "P95", "P99", "max"]
    assert doc["efficiency"] == pytest.approx(doc["floor"]["total_seconds"] / 280, abs=1e-5)
    vllm = doc["vllm"][0]
    assert (vllm["weights_seconds"], vllm["ready"], vllm["compile_cache_hit"]) == (12.6, True, None)


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such timings file"),
    ("{not json", "not a timings JSON file"),
    (json.dumps({"schema_version": 1}), "schema_version 1 is not supported"),
    (json.dumps({"schema_version": 3}), "schema_version 3 is not supported"),
    (json.dumps({"schema_version": 2, "pods": [], "vllm": [], "statistics": {"warmup": {"count": 1}}}),
     "statistics"),
])
def test_read_timings_rejects_bad_files(tmp_path, content: str | None, message: str) -> None:
    path = tmp_path / "timings.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message):
        read_timings(path)


def test_document_validates_and_schema_catches_zero_phases() -> None:
    doc = timings_document(_timeline())
    assert validation_errors(doc) == []
    doc["pods"][0]["phases"]["warmup"] = {"start": 0, "end": 1, "seconds": 1}
    assert validation_errors(doc)


def test_cli_json_and_errors(tmp_path, capsys) -> None:
    events = tmp_path / "events.json"
    events.write_text(json.dumps({"kind": "List", "items": EVENTS}))
    pod = tmp_path / "pod.yaml"
    pod.write_text(json.dumps(_pod()))
    log = tmp_path / "vllm-0.log"
    log.write_text(LOG)
    assert main(["timeline", "--events", str(events), "--pods", str(pod), "--log", str(log), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert validation_errors(doc) == []
    (vllm_pod,) = [p for p in doc["pods"] if p["pod"] == "llm/vllm-0"]
    assert vllm_pod["phases"]["api_ready"] == {"start": 245, "end": 280, "seconds": 35}
    assert main(["timeline", "--events", str(events), "--pods", str(pod), "--log", str(log)]) == 0
    table = capsys.readouterr().out
    assert "pod llm/vllm-0" in table and "weights_load" in table and "ready after 4m40s" in table
    empty = tmp_path / "empty.log"
    empty.write_text("nothing to see\n")
    assert main(["timeline", "--log", str(empty)]) == 2
    assert f"no events/pods/vLLM lines recognised in {empty}" in capsys.readouterr().err
    assert main(["timeline", "--events", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert "missing.json: no such file" in err and "Traceback" not in err


def test_every_fixture_goes_through_the_cli(capsys) -> None:
    need(FIXTURES)
    for path in sorted((FIXTURES / "k8s_events").glob("*[!n]")) + sorted((FIXTURES / "pod_status").glob("*[!n]")):
        assert main(["timeline", "--events", str(path), "--format", "json"]) == 0, path
        assert validation_errors(json.loads(capsys.readouterr().out)) == [], path
    for path in sorted((FIXTURES / "vllm_logs").glob("*.log")):
        assert main(["timeline", "--log", str(path), "--format", "json"]) == 0, path
        assert validation_errors(json.loads(capsys.readouterr().out)) == [], path


def test_decoded_objects_and_text_as_inputs() -> None:
    """The live recorder will hand over watch events, pod dicts and pods/log text rather than files."""
    watch = [{"type": "ADDED", "object": e} for e in EVENTS]
    timeline = timeline_from_texts(events=[("watch", watch)], pods=[("pod", _pod())], logs=[("vllm-0", LOG)])
    (pod,) = timeline.pods
    assert pod.phases["api_ready"].seconds == 35 and pod.log == "vllm-0"
    with pytest.raises(InputError, match="no events/pods/vLLM lines recognised in watch"):
        timeline_from_texts(events=[("watch", [{"type": "ADDED", "object": {"kind": "ConfigMap"}}])])
