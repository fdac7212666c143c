"""Benchmark: a 1,000-replica scale-out through the timeline parsers (prints figures; not a test).

Generates about 100,000 events as `kubectl get events -o json` prints them, the 1,000 pods as
`kubectl get pods -o json`, and 1,000 vLLM logs as `kubectl logs --timestamps` prints them; then times
parsing and the whole analysis (parse + timeline + statistics + timings document) and compares it with
plain `json.loads` of the same JSON. Aim: the whole analysis within 3x of json.loads.

    .venv/bin/python benchmarks/timeline.py [--pods 1000] [--repeat 3]

Each replica brings about 100 events, as a real scale-out does: its own (ReplicaSet create, FailedScheduling,
TriggeredScaleUp, Scheduled, two pulls with sizes, container starts, an aggregated startup-probe failure),
its preempted buffer pod's, its new node's, and the node's ten daemon pods'.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

from coldstart.inputs.decode import gc_paused
from coldstart.kube import times as kubetime
from coldstart.timeline.build import build_timeline
from coldstart.timeline.inputs import parse_events, timeline_from_texts
from coldstart.timeline.sources import events as events_module
from coldstart.timeline.sources.pods import parse_pods
from coldstart.timeline.sources.vllm_log import parse_vllm_log
from coldstart.timeline.timings import timings_document

T0 = datetime(2025, 6, 2, 10, 0, 0, tzinfo=UTC)
UID = "{:08x}-1f0a-4a55-9d1e-4c1b7a0f1e21"


def _ts(seconds: float, micro: bool = False) -> str:
    when = T0 + timedelta(seconds=seconds)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def _event(i: int, pod: str, reason: str, message: str, at: float, *, kind: str = "Pod", type_: str = "Normal",
           component: str = "kubelet", count: int = 1, last: float | None = None, new_style: bool = False,
           field_path: str | None = None, namespace: str = "llm") -> dict:
    ref = {"apiVersion": "v1", "kind": kind, "name": pod, "uid": UID.format(i), "resourceVersion": str(1000 + i)}
    if kind != "Node":
        ref["namespace"] = namespace
    if field_path:
        ref["fieldPath"] = field_path
    event = {"apiVersion": "v1", "kind": "Event", "involvedObject": ref, "reason": reason, "message": message,
             "type": type_, "metadata": {"name": f"{pod}.{int(at * 1e6):x}", "namespace": namespace,
                                         "creationTimestamp": _ts(at), "resourceVersion": str(5000 + i)}}
    if new_style:
        event.update(eventTime=_ts(at, micro=True), firstTimestamp=None, lastTimestamp=None, source={},
                     reportingComponent=component, reportingInstance=f"{component}-cp", action=reason)
    else:
        event.update(firstTimestamp=_ts(at), lastTimestamp=_ts(last if last is not None else at), count=count,
                     source={"component": component, "host": f"gpu-{i}"}, reportingComponent=component,
                     reportingInstance=f"gpu-{i}")
    return event


DAEMONS = ["nvidia-device-plugin", "gpu-feature-discovery", "dcgm-exporter", "kube-proxy", "node-problem-detector",
           "fluent-bit", "csi-node", "netd", "metadata-server", "ip-masq-agent"]
NODE_EVENTS = ["Starting", "InvalidDiskCapacity", "NodeHasSufficientMemory", "NodeHasNoDiskPressure",
               "NodeHasSufficientPID", "NodeAllocatableEnforced", "RegisteredNode", "NodeNotReady", "Synced",
               "NodeReady", "TaintManagerEviction"]


def _replica_events(rng: random.Random, i: int, image: str, modelcar: str) -> tuple[list[dict], dict]:
    """About 100 events for one replica's scale-out: its own, its buffer pod's, its new node's and daemons'."""
    name, node = f"vllm-{i:04d}", f"gpu-{i}"
    created = i * 0.05
    sched = created + rng.uniform(60, 150)  # waits for a new node
    pull0 = sched + 1
    car = pull0 + rng.uniform(10, 40)
    pulled = pull0 + rng.uniform(20, 90)
    started = max(car, pulled) + 1
    ready = started + rng.uniform(60, 150)
    vllm, sidecar = "spec.containers{vllm}", "spec.initContainers{modelcar}"
    ev = [
        _event(i, f"vllm-{i // 50}", "SuccessfulCreate", f"Created pod: {name}", created, kind="ReplicaSet",
               component="replicaset-controller"),
        _event(i, name, "FailedScheduling", f"0/{200 + i // 10} nodes are available: {200 + i // 10} Insufficient "
               "nvidia.com/gpu. preemption: 0/{0} nodes are available: {0} No preemption victims found for "
               "incoming pod.".format(200 + i // 10), created + 0.2, type_="Warning",
               component="default-scheduler", new_style=True),
        _event(i, name, "TriggeredScaleUp", f"pod triggered scale-up: [{{gpu-pool {i}->{i + 1} (max: 1200)}}]",
               created + 2, component="cluster-autoscaler"),
        _event(i, name, "Scheduled", f"Successfully assigned llm/{name} to {node}", sched,
               component="default-scheduler", new_style=True),
        _event(i, name, "Pulling", f'Pulling image "{modelcar}"', pull0, field_path=sidecar),
        _event(i, name, "Pulling", f'Pulling image "{image}"', pull0, field_path=vllm),
        _event(i, name, "Pulled", f'Successfully pulled image "{modelcar}" in {car - pull0:.3f}s ({car - pull0:.3f}s '
               "including waiting). Image size: 15231233024 bytes.", car, field_path=sidecar),
        _event(i, name, "Created", "Created container: modelcar", car, field_path=sidecar),
        _event(i, name, "Started", "Started container modelcar", car, field_path=sidecar),
        _event(i, name, "Pulled", f'Successfully pulled image "{image}" in {pulled - pull0:.3f}s '
               f"({pulled - pull0 + 0.4:.3f}s including waiting). Image size: 8400000000 bytes.", pulled,
               field_path=vllm),
        _event(i, name, "Created", "Created container: vllm", started - 0.5, field_path=vllm),
        _event(i, name, "Started", "Started container vllm", started, field_path=vllm),
        _event(i, name, "Unhealthy", 'Startup probe failed: Get "http://10.8.0.9:8000/health": dial tcp '
               "10.8.0.9:8000: connect: connection refused", started + 10, type_="Warning",
               count=int((ready - started) // 10), last=ready - 5, field_path=vllm),
    ]
    buffer = f"buffer-{i:04d}"
    ev += [_event(i, buffer, reason, message, created - 60 + k) for k, (reason, message) in enumerate([
        ("Scheduled", f"Successfully assigned llm/{buffer} to {node}"),
        ("Pulled", 'Container image "registry.k8s.io/pause:3.10" already present on machine'),
        ("Created", "Created container: pause"), ("Started", "Started container pause")])]
    ev += [_event(i, buffer, "Preempted", f"Preempted by pod {UID.format(i)} on node gpu-{i + 1}", created + 1,
                  component="default-scheduler"),
           _event(i, buffer, "Killing", "Stopping container pause", created + 1.1)]
    ev += [_event(i, node, reason, f"Node {node} status is now: {reason}", created + 50 + k, kind="Node")
           for k, reason in enumerate(NODE_EVENTS)]
    for d, daemon in enumerate(DAEMONS):
        pod, at = f"{daemon}-{i:05x}", created + 58 + d
        ev.append(_event(i, daemon, "SuccessfulCreate", f"Created pod: {pod}", at, kind="DaemonSet",
                         namespace="kube-system", component="daemonset-controller"))
        for k, (reason, message) in enumerate([
                ("Scheduled", f"Successfully assigned kube-system/{pod} to {node}"),
                ("Pulling", f'Pulling image "registry.k8s.io/{daemon}:v1"'),
                ("Pulled", f'Successfully pulled image "registry.k8s.io/{daemon}:v1" in 1.2s (1.2s including '
                           "waiting). Image size: 48123456 bytes."),
                ("Created", f"Created container: {daemon}"), ("Started", f"Started container {daemon}"),
                ("Unhealthy", "Readiness probe failed: HTTP probe failed with statuscode: 503")]):
            ev.append(_event(i, pod, reason, message, at + k, namespace="kube-system"))
    status = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": name, "namespace": "llm", "uid": UID.format(i), "creationTimestamp": _ts(created)},
        "spec": {"nodeName": node, "containers": [{"name": "vllm", "image": image}]},
        "status": {"phase": "Running", "startTime": _ts(sched), "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": _ts(sched)},
            {"type": "Initialized", "status": "True", "lastTransitionTime": _ts(car)},
            {"type": "ContainersReady", "status": "True", "lastTransitionTime": _ts(ready)},
            {"type": "Ready", "status": "True", "lastTransitionTime": _ts(ready)}],
            "containerStatuses": [{"name": "vllm", "image": image, "ready": True, "restartCount": 0,
                                   "started": True, "state": {"running": {"startedAt": _ts(started)}}}]}}
    return ev, status | {"_times": (started, ready)}


def generate(pods: int, per_pod: int = 100, seed: int = 7) -> tuple[str, str, dict[str, str]]:
    """(events JSON, pods JSON, {pod: log text}); per_pod is fixed by the realistic mix above (about 100)."""
    rng = random.Random(seed)
    events, pod_docs, logs = [], [], {}
    image = "registry.local:5000/vllm/vllm-openai@sha256:" + "9f" * 32
    modelcar = "registry.local:5000/models/qwen2.5-7b-instruct@sha256:" + "4b" * 32
    for i in range(pods):
        ev, status = _replica_events(rng, i, image, modelcar)
        started, ready = status.pop("_times")
        events.extend(ev)
        pod_docs.append(status)
        logs[status["metadata"]["name"]] = _log(rng, started, ready)
    return (json.dumps({"apiVersion": "v1", "kind": "List", "items": events}),
            json.dumps({"apiVersion": "v1", "kind": "List", "items": pod_docs}), logs)


def _log(rng: random.Random, started: float, ready: float) -> str:
    lines = []
    t = started + 8

    def add(message: str, proc: str = "(EngineCore_DP0 pid=271)", dt: float = 0.05) -> None:
        nonlocal t
        t += dt
        wall = (T0 + timedelta(seconds=t)).strftime("%m-%d %H:%M:%S")
        lines.append(f"{_ts(t, micro=True)} {proc} INFO {wall} [core.py:74] {message}")

    add("vLLM API server version 0.10.1", proc="(APIServer pid=1)")
    add("Initializing a V1 LLM engine (v0.10.1) with config: model='/mnt/models', load_format=runai_streamer, "
        "tensor_parallel_size=1, enforce_eager=False, device_config=cuda")
    for k in range(120):  # the bulk of a real log: routine lines nobody times
        add(f"Using cache directory entry {k} for vLLM's torch.compile", dt=0.01)
    w = rng.uniform(8, 20)
    add(f"[RunAI Streamer] Overall time to stream 14.2 GiB of all files to cpu: {w:.2f}s, "
        f"{14.2 / w * 1024:.1f} MiB/s", dt=w)
    add(f"Loading weights took {w + 0.3:.2f} seconds")
    add(f"Model loading took 14.25 GiB and {w + 1.1:.6f} seconds")
    c = rng.uniform(20, 40)
    add("Dynamo bytecode transform time: 7.51 s", dt=7.5)
    add(f"torch.compile takes {c:.2f} s in total", dt=c - 7.5)
    add("Available KV cache memory: 26.91 GiB")
    g = rng.uniform(5, 20)
    add(f"Graph capturing finished in {g:.0f} secs, took 0.45 GiB", dt=g)
    add(f"init engine (profile, create kv cache, warmup model) took {c + g + 5:.2f} seconds")
    t = max(t, ready - 5)
    add("Starting vLLM API server 0 on http://0.0.0.0:8000", proc="(APIServer pid=1)")
    lines.append(f"{_ts(t + 1, micro=True)} (APIServer pid=1) INFO:     Application startup complete.")
    return "\n".join(lines) + "\n"


def _cold() -> None:
    """Forget what earlier runs parsed, so every run pays for every timestamp and message as a real one does."""
    events_module._TIMES.clear()
    events_module._MEANINGS.clear()
    kubetime._parse_iso.cache_clear()


def _best(fn, repeat: int) -> tuple[float, object]:
    """Best of `repeat` cold runs in CPU seconds of this process (other load on the machine does not count)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        _cold()
        start = time.process_time()
        result = fn()
        best = min(best, time.process_time() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    events_json, pods_json, logs = generate(args.pods)
    n_events = len(json.loads(events_json)["items"])
    log_lines = sum(text.count("\n") for text in logs.values())
    print(f"data: {n_events} events ({len(events_json) / 1e6:.1f} MB JSON), {args.pods} pods "
          f"({len(pods_json) / 1e6:.1f} MB), {len(logs)} vLLM logs ({log_lines} lines)")

    t_loads_gc, _ = _best(lambda: (json.loads(events_json), json.loads(pods_json)), args.repeat)
    with gc_paused():  # the fair baseline: json.loads without the cyclic GC walking its millions of objects
        t_loads, _ = _best(lambda: (json.loads(events_json), json.loads(pods_json)), args.repeat)
    t_events, events = _best(lambda: parse_events(events_json), args.repeat)
    t_pods, pods = _best(lambda: parse_pods(pods_json), args.repeat)
    t_logs, parsed_logs = _best(lambda: [(f"{n}.log", parse_vllm_log(text, name=n)) for n, text in logs.items()],
                                args.repeat)
    t_build, timeline = _best(lambda: build_timeline(events, pods, parsed_logs), args.repeat)
    t_doc, doc = _best(lambda: timings_document(timeline), args.repeat)

    def whole() -> dict:
        tl = timeline_from_texts(events=[("events.json", events_json)], pods=[("pods.json", pods_json)],
                                 logs=[(f"{n}.log", text) for n, text in logs.items()])
        return timings_document(tl)

    t_whole, _ = _best(whole, args.repeat)
    t_json_only = t_events + t_pods + t_build + t_doc
    print(f"json.loads (events + pods)      {t_loads_gc * 1e3:8.1f} ms plain; {t_loads * 1e3:.1f} ms, GC paused")
    print(f"parse_events                    {t_events * 1e3:8.1f} ms  {n_events / t_events:,.0f} events/s")
    print(f"parse_pods                      {t_pods * 1e3:8.1f} ms")
    print(f"parse_vllm_log x {len(logs):<5}          {t_logs * 1e3:8.1f} ms  {log_lines / t_logs:,.0f} lines/s")
    print(f"build_timeline                  {t_build * 1e3:8.1f} ms")
    print(f"timings_document (statistics)   {t_doc * 1e3:8.1f} ms")
    print(f"whole analysis                  {t_whole * 1e3:8.1f} ms  (events, pods, logs, timeline, statistics)")
    print(f"ratio whole analysis / plain json.loads:          {t_whole / t_loads_gc:5.2f}x (aim <= 3x)")
    print(f"ratio whole analysis / json.loads, GC paused:     {t_whole / t_loads:5.2f}x (stricter)")
    print(f"ratio JSON part (no vLLM logs) / json.loads, GC paused: {t_json_only / t_loads:5.2f}x")
    ready = doc["statistics"].get("time_to_ready", {})
    print(f"check: {len(doc['pods'])} pods, time_to_ready P50 {ready.get('P50', 0):.1f}s "
          f"P99 {ready.get('P99', 0):.1f}s")


if __name__ == "__main__":
    main()
