"""The timeline as a person reads it in a terminal: a waterfall per pod, then the vLLM figures.

    pod llm/vllm-0  node gpu-node-7  t0 2025-06-02T10:58:30Z (creationTimestamp)  ready after 4m32s
      phase            start      end    took  0s                                         272s
      scheduling        0.0s    90.0s   1m30s  |################                            |
      image_pull       91.0s   150.0s   59.0s  |                ##########                  |
"""

from __future__ import annotations

from coldstart.kube.times import format_seconds, to_iso
from coldstart.profiles.phases import PHASE_NAMES
from coldstart.timeline import timings
from coldstart.timeline.build import PodTimeline, Timeline
from coldstart.timeline.sources.vllm_model import VllmLog
from coldstart.timeline.stats import run_statistics

BAR = 44


def _bar(start: float, end: float, lo: float, hi: float) -> str:
    scale = BAR / (hi - lo) if hi > lo else 0.0
    a = int(round((start - lo) * scale))
    b = max(a + 1, int(round((end - lo) * scale)))
    a, b = max(0, min(a, BAR - 1)), max(1, min(b, BAR))
    return "|" + " " * a + "#" * (b - a) + " " * (BAR - b) + "|"


def _pos(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _pod(pod: PodTimeline) -> list[str]:
    head = f"pod {pod.pod}"
    if pod.node:
        head += f"  node {pod.node}"
    if pod.clock == "absolute" and pod.t0 is not None:
        head += f"  t0 {to_iso(pod.t0)} ({pod.t0_source})"
    else:
        head += f"  t0 = {pod.t0_source or 'unknown'}; kubectl ages only, no absolute times"
    if pod.time_to_ready_seconds is not None:
        head += f"  ready after {format_seconds(pod.time_to_ready_seconds)}"
    if pod.victim:
        head += "  [preempted buffer pod]"
    lines = [head]
    spans = [(name, pod.phases[name]) for name in PHASE_NAMES if name in pod.phases]
    points = [p for _, s in spans for p in (s.start, s.end)] + list(pod.marks.values())
    lo, hi = (min(points), max(points)) if points else (0.0, 0.0)
    if spans:
        axis = f"{_pos(lo):<{BAR // 2}}{_pos(hi):>{BAR - BAR // 2 + 2}}"
        lines.append(f"  {'phase':<16}{'start':>8} {'end':>8} {'took':>7}  {axis}")
        for name, span in spans:
            lines.append(f"  {name:<16}{_pos(span.start):>8} {_pos(span.end):>8} {format_seconds(span.seconds):>7}  "
                         f"{_bar(span.start, span.end, lo, hi)}")
    else:
        lines.append("  no phase could be measured from this input")
    if pod.marks:
        order = sorted(pod.marks.items(), key=lambda kv: kv[1])
        lines.append("  marks: " + ", ".join(f"{name} {_pos(at)}" for name, at in order))
    for pull in pod.image_pulls:
        if pull.cached:
            detail = "already present (cached)"
        else:
            detail = format_seconds(pull.seconds) if pull.seconds is not None else "duration not reported"
            if pull.seconds_including_waiting is not None:
                detail += f" ({format_seconds(pull.seconds_including_waiting)} incl. waiting)"
            if pull.bytes:
                detail += f", {pull.bytes / 1e9:.2f} GB"
            if pull.mb_per_s:
                detail += f", {pull.mb_per_s:.0f} MB/s"
        if pull.streaming:
            detail += ", image streaming"
        lines.append(f"  image {pull.image}: {detail}")
    for reason in pod.reasons:
        count = f" (x{reason.count})" if reason.count > 1 else ""
        lines.append(f"  ! {_pos(reason.at):>8} {reason.reason}{count}: {reason.message[:160]}")
    lines.extend(f"  note: {note}" for note in pod.notes)
    return lines


def _vllm(file: str, log: VllmLog) -> list[str]:
    figures: list[tuple[str, object]] = [("version", log.version), ("engine", log.engine)]
    figures.append(("weights", format_seconds(log.weights_seconds) if log.weights_seconds is not None else None))
    if log.model_load_gib is not None:
        took = f" in {format_seconds(log.model_load_seconds)}" if log.model_load_seconds is not None else ""
        figures.append(("model", f"{log.model_load_gib:g} {log.model_load_unit}{took}"))
    if log.streamer_gib_per_s is not None and log.streamer_bytes is not None:  # the parser sets both at once
        figures.append(("streamer", f"{log.streamer_bytes / 2**30:.1f} GiB in {format_seconds(log.streamer_seconds)}"
                                    f" = {log.streamer_gib_per_s:.2f} GiB/s"))
    if log.compile_seconds is not None:
        cache = {True: "cache hit", False: "cache miss", None: "cache unknown"}[log.compile_cache_hit]
        figures.append(("compile", f"{format_seconds(log.compile_seconds)} ({cache})"))
    if log.graph_capture_seconds is not None:
        gib = f", {log.graph_capture_gib:g} GiB" if log.graph_capture_gib is not None else ""
        figures.append(("graphs", f"{format_seconds(log.graph_capture_seconds)}{gib}"))
    figures.append(("KV cache", f"{log.kv_cache_gib:g} GiB" if log.kv_cache_gib is not None else None))
    figures.append(("engine init", format_seconds(log.engine_init_seconds) if log.engine_init_seconds else None))
    figures.append(("eager", log.enforce_eager))
    figures.append(("TP", log.tensor_parallel_size))
    figures.append(("load format", log.load_format))
    state = "ready" if log.ready else ("API server started" if log.api_server_started else
                                       ("not ready" if log.ready is False else "readiness not in log"))
    shown = "  ".join(f"{k} {v}" for k, v in figures if v is not None)
    lines = [f"vLLM {file}: {state}", *(["  " + shown] if shown else [])]
    if log.failure:  # the kind, when (the evidence line's own time, if it has one), and the line itself
        stamp = log.marks.get("failure")
        when = stamp.text() if stamp is not None else None
        lines.append(f"  failure: {log.failure}" + (f" at {when}" if when else ""))
        lines.append(f"  evidence: {(log.failure_line or '').strip()[:400]}")
    return lines


def render(timeline: Timeline) -> str:
    """Waterfalls, then a statistics block when there are several replicas, then each vLLM log's figures."""
    out: list[str] = []
    for pod in timeline.pods:
        out.extend(_pod(pod))
        out.append("")
    stats = run_statistics(timeline.pods)
    if len([p for p in timeline.pods if not p.victim]) > 1 and stats:
        out.append(f"{'across replicas':<16}{'n':>5}{'P50':>9}{'P95':>9}{'P99':>9}{'max':>9}{'mean':>9}")
        for name, s in stats.items():
            if s["count"]:
                out.append(f"{name:<16}{s['count']:>5}" + "".join(
                    f"{format_seconds(s[m]):>9}" for m in ("P50", "P95", "P99", "max", "mean")))
        out.append("")
    for file, log in timeline.logs:
        out.extend(_vllm(file, log))
        out.append("")
    return "\n".join(out).rstrip() + "\n" if out else "nothing to show\n"


def format_timeline(result: Timeline, fmt: str = "table") -> str:
    """JSON (the timings document, see timings.schema.json) or the terminal waterfall."""
    if fmt == "json":
        return timings.dumps(timings.timings_document(result))
    return render(result)
