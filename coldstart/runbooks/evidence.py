"""Evidence per lever: the numbers that show a lever working, read from what the cluster and vLLM wrote (weights
loaded per second, each image pull, how each replica got its node, the compile cache, why a trap failed).
Replicas are named by position (the 1st start, later starts), never by pod name."""

from __future__ import annotations

from collections.abc import Sequence

from IPython.display import HTML, display

from coldstart.profiles.physics import weight_seconds
from coldstart.runbooks import figures
from coldstart.runbooks.runbook import Outcome
from coldstart.runbooks.tables import show, table
from coldstart.runbooks.verdict import root_cause
from coldstart.timeline.sources.provisioning import CLUSTER_AUTOSCALER_MARKS, KARPENTER_MARKS, PROVISIONING_MARKS

__all__ = ["compile_cache", "failures", "pulls", "scheduling", "weights"]


def weights(outcomes: Sequence[Outcome]) -> None:
    """Weight loading: seconds and GiB/s per scenario, against the storage and loader's expected time."""
    rows, values = [], []
    for o in outcomes:
        for r in o.replicas:
            label, log = r.label, r.log
            secs = log.model_load_seconds if log else None
            gib = log.model_load_gib if log else None
            rate = log.streamer_gib_per_s or (gib / secs if gib and secs else None) if log else None
            expected = weight_seconds(o.scenario.profile)
            rows.append((o.scenario.name, label, f"{secs:.1f}" if secs else "-", f"{gib:.1f}" if gib else "-",
                         f"{rate:.2f}" if rate else "-", f"{expected:.1f}"))
            values.append((f"{o.scenario.name} ({label})", rate))
    display(HTML(table(["scenario", "replica", "load s", "GiB", "GiB/s", "floor s (bytes / rate)"], rows)))
    show(figures.bars(values, title="Weight loading rate", xlabel="GiB/s read into the GPU"))


def pulls(outcomes: Sequence[Outcome]) -> None:
    """Every image pull per replica: seconds (and including waiting), bytes, MB/s, or found on the node."""
    rows, values = [], []
    for o in outcomes:
        for r in o.replicas:
            label, pod = r.label, r.pod
            for pull in pod.image_pulls:
                image = pull.image.rsplit("/", 1)[-1][:48]
                mbs = pull.mb_per_s
                rows.append((o.scenario.name, label, image, "already present" if pull.cached else
                             f"{pull.seconds:.1f}" if pull.seconds is not None else "-",
                             f"{pull.seconds_including_waiting:.1f}" if pull.seconds_including_waiting else "-",
                             f"{pull.bytes / 1e9:.2f} GB" if pull.bytes else "-", f"{mbs:.0f}" if mbs else "-"))
                if not pull.cached and pull.bytes and pull.bytes > 1e8:
                    values.append((f"{o.scenario.name}, {label}: {image[:24]}", mbs))
    display(HTML(table(["scenario", "replica", "image", "pull s", "incl. waiting s", "size", "MB/s"], rows)))
    if values:
        show(figures.bars(values, title="Image pull rate (transfer and unpack)", xlabel="MB/s"))


_SCHEDULING_MARKS = {"preempted_buffer": "preempted a buffer pod", "nominated": "nominated to a new node"}


def _provisioning_marks(karpenter: bool) -> dict[str, str]:
    """Node marks named by the event that shows each (the reader's own tables), e.g. Karpenter's NodeClaim
    `Launched`, so the reader can find them in `kubectl get events`."""
    table = KARPENTER_MARKS if karpenter else CLUSTER_AUTOSCALER_MARKS
    first: dict[str, str] = {}
    for reason, mark in table.items():
        first.setdefault(mark, reason)
    claim = "NodeClaim " if karpenter else "node "
    return {mark: (f"{claim}{first[mark]}" if mark != "scale_up" else f"{first[mark]} (scale-up)")
            for mark in PROVISIONING_MARKS if mark in first}


def scheduling(outcomes: Sequence[Outcome]) -> None:
    """How each replica got its node: preempting a buffer pod, a new node, a Spot fallback."""
    rows = []
    for o in outcomes:
        named = {**_SCHEDULING_MARKS, **_provisioning_marks(o.scenario.profile.karpenter is not None)}
        for r in o.replicas:
            label, pod = r.label, r.pod
            span = pod.phases.get("scheduling")
            marks = ", ".join(f"{text} at {pod.marks[k]:.0f}s" for k, text in named.items() if k in pod.marks) or "-"
            rows.append((o.scenario.name, label, f"{span.seconds:.1f}" if span else "-", pod.node or "-", marks,
                         "; ".join(f"{r.reason} x{r.count}" for r in pod.reasons) or "-"))
    display(HTML(table(["scenario", "replica", "scheduling s", "node", "what happened", "delays"], rows)))


def compile_cache(outcomes: Sequence[Outcome]) -> None:
    """torch.compile and CUDA graphs per replica: seconds, and whether the compile cache was hit."""
    rows = []
    for o in outcomes:
        for r in o.replicas:
            label, pod = r.label, r.pod
            log = r.log
            if log is None:
                continue
            hit = {True: "hit", False: "miss", None: "-"}[log.compile_cache_hit]
            rows.append((o.scenario.name, label, f"{log.compile_seconds:.1f}" if log.compile_seconds else "-", hit,
                         f"{log.graph_capture_seconds:.0f}" if log.graph_capture_seconds else "-",
                         "yes" if log.enforce_eager else "no",
                         f"{pod.time_to_ready_seconds:.0f}" if pod.time_to_ready_seconds else "-"))
    display(HTML(table(["scenario", "replica", "compile s", "cache", "graphs s", "eager", "to /health s"], rows)))


def failures(outcomes: Sequence[Outcome]) -> None:
    """For each scenario that failed: why, and the evidence a real cluster shows (reasons, vLLM's failure)."""
    rows = []
    for o in outcomes:
        if o.ready:
            continue
        evidence = []
        for replica in o.replicas:
            evidence += [f"{r.reason}: {r.message[:90]}" for r in replica.pod.reasons[:3]]
            if replica.log is not None and replica.log.failure:
                evidence.append(f"vLLM {replica.log.failure}: {(replica.log.failure_line or '')[:110]}")
        rows.append((o.scenario.name, "on purpose" if not o.scenario.expect_ready else "UNEXPECTED",
                     root_cause(o) if o.failure else "-", " | ".join(evidence) or "-"))
    if rows:
        display(HTML(table(["scenario", "trap", "what the wait saw", "events and logs"], rows)))


