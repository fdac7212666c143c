"""The per-pod cold-start timeline: created -> (scale-up / nominated / preempted a buffer pod) -> scheduled ->
images pulled -> container started -> weights loaded -> compiled / graphs captured -> engine ready -> Ready.

Pure code over parsed inputs (events, pod status, vLLM logs); no cluster access. Every point comes from a
server timestamp (event time, condition transition, container start, a log line's stamp) and phases are
measured between such points, never from when anyone looked. A phase that did not happen is absent, not
zero; phases that overlapped (a lazy image pull, a sidecar pulled in parallel) keep their own start and end.

Two clocks exist. Objects and logs give absolute times: positions are seconds since the pod's `t0`
(creationTimestamp, else the ReplicaSet's "Created pod" event, else the first event). kubectl tables give
only ages: positions are then seconds since the oldest event of the pod, and no absolute time is made up.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from coldstart.inputs.decode import gc_paused
from coldstart.timeline.model import ImagePull, PodTimeline, Reason, Span, Timeline
from coldstart.timeline.sanity import Sanity
from coldstart.timeline.sources.events import Event
from coldstart.timeline.sources.pods import PodStatus, merge_pods
from coldstart.timeline.sources.provisioning import CLAIM_KINDS, DECISIONS, node_provisioning
from coldstart.timeline.sources.vllm_model import Stamp, VllmLog

__all__ = ["REASONS", "ImagePull", "PodTimeline", "Reason", "Span", "Timeline", "build_timeline"]

REASONS = {"FailedScheduling", "NotTriggerScaleUp", "Preempted", "BackOff", "Failed", "Unhealthy", "Killing",
           "OOMKilling", "OOMKilled", "SystemOOM", "Evicted", "FailedMount", "FailedAttachVolume",
           "FailedCreatePodSandBox", "ErrImagePull",
           "Pending"}  # Pending: Kueue holding the workload (quota, a preemption under way)
_REASON_PREFIXES = ("Evicted",)  # Kueue's EvictedDueTo<Why>
_CREATED_POD = re.compile(r"Created pod: (\S+)")
_VLLM_NAMES = ("vllm", "kserve-container", "main", "server")
_LOG_PHASES = (("weights_load", ("model_load", "weights", "streamer")), ("compile", ("compile",)),
               ("graph_capture", ("graph_capture",)), ("engine_init", ("engine_init",)))


class _Clock:
    """Positions on one pod's axis: seconds since t0 (absolute) or since the oldest age (relative)."""

    def __init__(self, t0: datetime | None, t0_age: float | None):
        self.t0, self.t0_age = t0, t0_age

    def of(self, when: datetime | None = None, age: float | None = None) -> float | None:
        if self.t0 is not None and when is not None:
            return (when - self.t0).total_seconds()
        if self.t0 is None and self.t0_age is not None and age is not None:
            return self.t0_age - age
        return None

    def first(self, ev: Event) -> float | None:
        return self.of(ev.first, ev.first_age if ev.first_age is not None else ev.last_age)


def _vllm_container(pod: PodStatus | None, started: list[Event]) -> str | None:
    names = [c.name for c in pod.containers] if pod else []
    names += [n for n in (pod.spec_images if pod else {}) if n not in names]
    names += [e.container for e in started if e.container and e.container not in names]
    for wanted in _VLLM_NAMES:
        for name in names:
            if wanted in name.lower():
                return name
    return None


def _sort_events(events: Sequence[Event], pods: dict[str, PodStatus]) -> tuple[dict, dict, dict, dict, dict]:
    """One pass over all (100,000) events: per pod, ReplicaSet creations, preemptions by replica, per node, per
    NodeClaim."""
    by_pod: dict[str, list[Event]] = {}
    anonymous: list[Event] = []
    uid_to_name = {p.uid: name for name, p in pods.items() if p.uid}
    created: dict[str, datetime] = {}
    preemptions: dict[str, list[Event]] = {}
    node_events: dict[str, list[Event]] = {}
    claim_events: dict[str, list[Event]] = {}
    for ev in events:
        kind, name, reason = ev.kind, ev.name, ev.reason
        if kind == "Pod" and name:
            if (group := by_pod.get(name)) is None:
                by_pod[name] = group = []
            group.append(ev)
        elif not kind and not name:
            anonymous.append(ev)
        if reason == "SuccessfulCreate" and ev.first and (m := _CREATED_POD.search(ev.message)):
            created.setdefault(m.group(1), ev.first)
        elif reason == "Preempted":
            by = uid_to_name.get(ev.info.get("by_uid", "")) or ev.info.get("by", "").rpartition("/")[2]
            if by:
                preemptions.setdefault(by, []).append(ev)
        elif kind == "Node" and name:
            if (group := node_events.get(name)) is None:
                node_events[name] = group = []
            group.append(ev)
        elif kind in CLAIM_KINDS and name:
            claim_events.setdefault(name, []).append(ev)
    if anonymous:
        named = next((e.info["pod"] for e in anonymous if e.reason == "Scheduled" and e.info.get("pod")), None)
        if named is None and len(pods) == 1:
            named = next(iter(pods))
        by_pod.setdefault(named or "", []).extend(anonymous)
    return by_pod, created, preemptions, node_events, claim_events


def build_timeline(events: Sequence[Event], pods: Sequence[PodStatus], logs: Sequence[tuple[str, VllmLog]] = (),
                   *, now: datetime | None = None) -> Timeline:
    """Per-pod timelines from parsed events, pod statuses and (file, vLLM log) pairs. Times that cannot be trusted
    (in the future after `now`, before the pod existed, out of order) are left out and said so (see `sanity`)."""
    with gc_paused():
        return _build(events, pods, logs, Sanity(now))


def _build(events: Sequence[Event], pods: Sequence[PodStatus], logs: Sequence[tuple[str, VllmLog]],
           sanity: Sanity) -> Timeline:
    statuses = {p.name or "": p for p in merge_pods(list(pods))}
    by_pod, created, preemptions, node_events, claim_events = _sort_events(events, statuses)
    # given pod documents, those are the replicas (events about buffer or system pods only add marks);
    # with events alone, every pod they mention gets a timeline
    names = list(statuses) if statuses else list(by_pod)
    log_for = _associate_logs(names, logs)
    result = Timeline(logs=list(logs))
    for name in names:
        result.pods.append(_pod_timeline(name, statuses.get(name), by_pod.get(name, []), created.get(name),
                                         preemptions.get(name, []), (node_events, claim_events), log_for.get(name),
                                         sanity))
    result.warnings = sanity.warnings
    return result


def _associate_logs(names: list[str], logs: Sequence[tuple[str, VllmLog]]) -> dict[str, tuple[str, VllmLog]]:
    """A log belongs to the pod whose name its file name carries (with or without the namespace); a lone pod
    takes a lone log."""
    found: dict[str, tuple[str, VllmLog]] = {}
    short = {n.rpartition("/")[2]: n for n in names if n}
    known = set(names)
    for file, log in logs:
        stem = Path(file).name
        exact = stem.rsplit(".", 1)[0] if "." in stem else stem
        match = exact if exact in known else short.get(exact)
        if match is None:
            match = max((full for name, full in short.items() if name in stem), key=len, default=None)
        if match is None and len(short) == 1 and len(logs) == 1:
            match = next(iter(short.values()))
        if match is not None:
            found.setdefault(match, (file, log))
    return found


def _pod_timeline(name: str, pod: PodStatus | None, events: list[Event], rs_created: datetime | None,
                  preemptions: list[Event], nodes: tuple[dict[str, list[Event]], dict[str, list[Event]]],
                  log: tuple[str, VllmLog] | None, sanity: Sanity) -> PodTimeline:
    node_events, claim_events = nodes
    key = pod.key if pod and pod.key else (f"{events[0].namespace}/{name}" if events and events[0].namespace
                                           else name)
    tl = PodTimeline(pod=key or "(unnamed pod)", node=pod.node if pod else None)
    events, preemptions = sanity.events(tl, events), sanity.events(tl, preemptions)
    created = sanity.plausible(tl, pod.created, "creationTimestamp") if pod is not None else None
    rs_created = sanity.plausible(tl, rs_created, "the ReplicaSet's 'Created pod' event")
    by_reason: dict[str, list[Event]] = {}
    for ev in events:  # one pass; every later question is a dict lookup
        by_reason.setdefault(ev.reason, []).append(ev)
    if created is not None:
        tl.t0, tl.t0_source = created, "creationTimestamp"
    elif rs_created is not None:
        tl.t0, tl.t0_source = rs_created, "ReplicaSet 'Created pod' event"
    elif absolute := [e.first for e in events if e.first is not None]:
        tl.t0, tl.t0_source = min(absolute), "first event"
    ages = [] if tl.t0 is not None else [a for e in events for a in (e.first_age, e.last_age) if a is not None]
    if tl.t0 is None and ages:
        tl.clock, tl.t0_source = "relative", "oldest event age (kubectl table)"
    clock = _Clock(tl.t0, max(ages) if tl.t0 is None and ages else None)
    if tl.t0 is None and not ages and pod is not None and pod.start_time is not None:
        clock = _Clock(pod.start_time, None)
        tl.t0, tl.t0_source = pod.start_time, "status.startTime"
    marks = tl.marks
    if tl.t0_source in ("creationTimestamp", "ReplicaSet 'Created pod' event"):
        marks["created"] = 0.0
    for reason, mark in (("Nominated", "nominated"), ("Scheduled", "scheduled")):
        at = clock.first(by_reason[reason][0]) if reason in by_reason else None
        if at is not None:
            marks[mark] = at
    if preemptions:
        at = min((p for p in (clock.of(e.first) for e in preemptions) if p is not None), default=None)
        if at is not None:
            marks["preempted_buffer"] = at
    if pod is not None and (at := clock.of(pod.transition("PodScheduled"))) is not None:
        marks["scheduled"] = at
    if tl.node is None:
        tl.node = next((e.info["node"] for e in by_reason.get("Scheduled", []) if e.info.get("node")), None)
    tl.victim = "Preempted" in by_reason
    if not DECISIONS.isdisjoint(by_reason):  # scale_up and node marks, the same whichever provisioner ran
        provisioning = node_provisioning(events, claim_events, node_events, tl.node)
        for mark, ev in (provisioning.events or {}).items() if provisioning is not None else ():
            if (at := clock.first(ev)) is not None:
                marks[mark] = at
    _pulls(tl, by_reason, clock, node_events.get(tl.node or "", []))
    container = _vllm_container(pod, by_reason.get("Started", []))
    started = [e for e in by_reason.get("Started", []) if container is None or e.container == container]
    started_at = max((s for s in (clock.first(e) for e in started) if s is not None), default=None)
    if started_at is None and pod is not None:
        status = next((c for c in pod.containers if c.name == container), pod.containers[0] if pod.containers else None)
        if status is not None and status.restart_count == 0:
            started_at = clock.of(status.started_at)
    if started_at is not None:
        marks["started"] = started_at
    if pod is not None and (at := clock.of(pod.transition("Ready"))) is not None:
        marks["ready"] = at
    if log is not None:
        tl.log = log[0]
        _log_marks(tl, log[1], clock, pod)
    sanity.positions(tl)
    if "ready" in marks and (marks.get("created") == 0.0 or tl.t0_source == "first event"):
        tl.time_to_ready_seconds = marks["ready"]
    _phases(tl, container)
    sanity.spans(tl)
    _reasons(tl, pod, by_reason, clock, node_events.get(tl.node or "", []), log[1] if log else None)
    return tl


def _pulls(tl: PodTimeline, by_reason: dict[str, list[Event]], clock: _Clock, node_events: list[Event]) -> None:
    streamed = {e.info.get("image") for e in node_events if e.reason == "ImageStreaming"}
    pulling: dict[str, float | None] = {}
    for ev in [*by_reason.get("Pulling", ()), *by_reason.get("pulling", ())]:
        if ev.info.get("image"):
            pulling.setdefault(ev.info["image"], clock.first(ev))
    for ev in [*by_reason.get("Pulled", ()), *by_reason.get("pulled", ())]:
        if not ev.info.get("image"):
            continue
        info = ev.info
        pull = ImagePull(image=info["image"], container=ev.container, seconds=info.get("seconds"),
                         seconds_including_waiting=info.get("seconds_including_waiting"), bytes=info.get("bytes"),
                         cached=bool(info.get("cached")), streaming=info["image"] in streamed, end=clock.first(ev))
        if not pull.cached:
            pull.start = pulling.get(pull.image)
            took = pull.seconds_including_waiting or pull.seconds
            if pull.start is None and pull.end is not None and took is not None:
                pull.start = pull.end - took
        tl.image_pulls.append(pull)


def _log_marks(tl: PodTimeline, log: VllmLog, clock: _Clock, pod: PodStatus | None) -> None:
    """Place the log's phases on the pod's axis (absolute clocks only)."""
    if clock.t0 is None:
        tl.notes.append("vLLM log phases not placed: the pod has only relative (kubectl age) times")
        return
    shift = timedelta(0)
    first = log.marks.get("first_line")
    if first is not None and first.at is None and "started" in tl.marks:
        anchor = clock.t0 + timedelta(seconds=tl.marks["started"])
        resolved = first.resolve(clock.t0.year)
        if resolved is not None:
            hours = round((resolved - anchor).total_seconds() / 3600)
            if hours:
                shift = timedelta(hours=hours)
                tl.notes.append(f"vLLM wall clock read as UTC{hours:+d}h (aligned to the container start)")

    year = clock.t0.year

    def place(stamp: Stamp | None) -> float | None:
        when = stamp.resolve(year) if stamp is not None else None
        return clock.of(when - shift) if when is not None else None

    for phase, names in _LOG_PHASES:
        timing = next((t for n in names if (t := log.timing(n)) is not None), None)
        if timing is not None and (end := place(timing.stamp)) is not None:
            tl.phases[phase] = Span(end - _log_seconds(phase, timing.seconds, log), end)
            tl.marks[{"weights_load": "weights_loaded", "compile": "compiled", "graph_capture": "graphs_captured",
                      "engine_init": "engine_ready"}[phase]] = end
    up = log.marks.get("api_server") or log.marks.get("ready")  # api_ready: the API server starting -> Ready
    if up is not None and (at := place(up)) is not None:
        tl.marks["api_server"] = at
    if "failure" in log.marks and (at := place(log.marks["failure"])) is not None:
        tl.marks["vllm_failure"] = at


def _log_seconds(phase: str, seconds: float, log: VllmLog) -> float:
    """How long a logged phase took. On a compile-cache hit vLLM's `torch.compile takes X s in total` counts
    only the Dynamo transform, not loading the compiled graphs, so the phase is the two together."""
    if phase == "compile" and log.compile_cache_hit:
        loaded = log.extras.get("compiled_graph_cache_load_seconds")
        dynamo = log.extras.get("dynamo_bytecode_transform_seconds", seconds)
        if loaded is not None:
            return max(seconds, dynamo + loaded)
    return seconds


def _phases(tl: PodTimeline, container: str | None = None) -> None:
    marks, phases = tl.marks, tl.phases
    if "created" in marks and "scheduled" in marks:
        phases["scheduling"] = Span(marks["created"], marks["scheduled"])
    pulled = [(p.start, p.end) for p in tl.image_pulls if not p.cached and p.start is not None and p.end is not None]
    if pulled:
        phases["image_pull"] = Span(min(start for start, _ in pulled), max(end for _, end in pulled))
    started = marks.get("started")
    # the engine's own image when the events say which container pulled what (sidecars start later)
    own = [p for p in tl.image_pulls if container is not None and p.container == container] or tl.image_pulls
    ready_images = [p.end for p in own if p.end is not None and (started is None or p.end <= started)]
    if started is not None and ready_images:
        phases["container_start"] = Span(max(ready_images), started)
    if "api_server" in marks and "ready" in marks:
        phases["api_ready"] = Span(marks["api_server"], marks["ready"])


_SIGNALS = {6: "SIGABRT", 7: "SIGBUS", 9: "SIGKILL", 11: "SIGSEGV", 15: "SIGTERM"}


def _exit_meaning(code: int, reason: str) -> str:
    """What an exit code above 128 says: the signal (128+n) and, for SIGKILL, whether the kernel's OOM killer
    sent it (the kubelet then says OOMKilled) or something else did (a failed liveness probe, the end of the
    grace period, a kill from outside)."""
    signal = _SIGNALS.get(code - 128) if code > 128 else None
    if signal is None:
        return ""
    if signal == "SIGKILL" and reason != "OOMKilled":
        return f" (128+9 = {signal}, not an OOM kill: the kubelet would say OOMKilled; a failed liveness probe, " \
               "the end of the grace period or a kill from outside)"
    if signal == "SIGBUS":
        return f" (128+7 = {signal}: often a full /dev/shm)"
    return f" (128+{code - 128} = {signal})"


def _reasons(tl: PodTimeline, pod: PodStatus | None, by_reason: dict[str, list[Event]], clock: _Clock,
             node_events: list[Event], log: VllmLog | None) -> None:
    out = tl.reasons
    picked = [ev for reason, evs in by_reason.items() if reason in REASONS or reason.startswith(_REASON_PREFIXES)
              for ev in evs]
    for ev in [*picked, *[e for e in node_events if e.info.get("oom")]]:
        out.append(Reason(ev.reason, ev.message, clock.first(ev), ev.count))
    for cs in pod.all_containers() if pod else []:
        if cs.last_reason:
            code = f", exit code {cs.last_exit_code}{_exit_meaning(cs.last_exit_code, cs.last_reason)}" \
                if cs.last_exit_code is not None else ""
            out.append(Reason(cs.last_reason, f"container {cs.name} last terminated: {cs.last_reason}{code}",
                              clock.of(cs.last_finished_at), 1, "pod status"))
        if cs.restart_count:
            out.append(Reason("Restarted", f"container {cs.name} restarted {cs.restart_count} time(s)",
                              clock.of(cs.started_at), cs.restart_count, "pod status"))
        if cs.waiting_reason and cs.waiting_reason not in ("ContainerCreating", "PodInitializing"):
            out.append(Reason(cs.waiting_reason, f"container {cs.name} waiting: {cs.waiting_reason}", None, 1,
                              "pod status"))
    if pod is not None and pod.restarts:
        out.append(Reason(pod.status_text or "Restarted", f"{pod.restarts} restart(s) (kubectl get pods)", None,
                          pod.restarts, "pod table"))
    if log is not None and log.failure:
        out.append(Reason(f"vllm:{log.failure}", log.failure_line or "", tl.marks.get("vllm_failure"), 1, "vllm log"))
    out.sort(key=lambda r: (r.at is None, r.at if r.at is not None else 0.0))
