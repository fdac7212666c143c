"""The runbook's verdict: first on the page, coloured, and for a failure the root cause with the fix.

A failing replica is explained from what the cluster and vLLM wrote: the vLLM log's failure (NCCL and its
/dev/shm, CUDA out of memory, a crash), the kubelet's reasons (OOMKilled, an image pull that failed), or a wait
that never ended. The reader gets the cause and what to change, not a traceback.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from IPython.display import HTML, display

from coldstart.errors import RunbookFailed
from coldstart.runbooks.runbook import Outcome
from coldstart.timeline.sources.vllm_log import parse_vllm_log
from coldstart.verify import Finding

__all__ = ["FIXES", "root_cause", "verdict", "verdict_slot", "verdict_html"]

_handle = None
# The fix for each kind of failure, as a reader would act on it.
FIXES = {
    "nccl": "mount an emptyDir with medium: Memory and sizeLimit: 16Gi at /dev/shm (the runtime's 64Mi default "
            "cannot hold NCCL's segments), and set NCCL_CUMEM_ENABLE=0",
    "cuda_oom": "set --gpu-memory-utilization between 0.6 and 0.8: above it, CUDA graph capture runs out of GPU "
                "memory (or shrink --max-model-len)",
    "OOMKilled": "raise the container memory limit above /dev/shm + engine RSS + the streamer buffer, or bound "
                 "the Run:ai streamer (RUNAI_STREAMER_MEMORY_LIMIT)",
    "image": "check the image reference and the registry's credentials (pin it by digest, in the region)",
    "crash": "read the evidence line: vLLM stopped while starting",
    "killed": "the process got SIGKILL without an OOMKilled reason: a probe that killed a slow start (lengthen the "
              "startup probe) or a node under memory pressure (raise the memory request to the limit)",
    "timeout": "vLLM's workers did not meet in time (NCCL/Gloo rendezvous or the engine core handshake): check that "
               "every rank started, /dev/shm and NCCL_CUMEM_ENABLE=0, and the pod network between ranks",
    "wait": "the replica never became ready within the wait: look at the slow phase in the waterfall, or raise "
            "the startup probe's window if the start was healthy but slow",
    "scheduling": "no node could take the replica: check the GPU request, node selector and tolerations, and the "
                  "node pool's limits",
}
_IMAGE_REASONS = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull")


def root_cause(outcome: Outcome) -> str:
    """Why a scenario's replica failed, from the vLLM log first, then the kubelet, then the wait; with the fix."""
    previous = outcome.recording.previous_logs if outcome.recording is not None else {}
    for pod in (p for p in outcome.timeline.pods if not p.victim):
        name = pod.pod.rpartition("/")[2]
        logs = [lg for file, lg in outcome.timeline.logs if file.rsplit("/", 1)[-1].startswith(name)]
        if name in previous:  # a container that restarted: its first start's log holds why it died
            logs.append(parse_vllm_log(previous[name], name=f"{name} (previous)"))
        log = next((lg for lg in logs if lg.failure and lg.failure != "shutdown"), None)
        if log is not None and log.failure:
            line = (log.failure_line or "").strip()
            kind = log.failure if log.failure in FIXES else "crash"
            return f"vLLM {log.failure}: {line[:160]} -> fix: {FIXES[kind]}"
        for reason in pod.reasons:
            if reason.reason == "OOMKilled" or "OOMKill" in reason.reason:
                return f"kubelet: OOMKilled ({reason.message[:120]}) -> fix: {FIXES['OOMKilled']}"
            if reason.reason in _IMAGE_REASONS:
                return f"kubelet: {reason.reason} ({reason.message[:120]}) -> fix: {FIXES['image']}"
            if reason.reason in ("FailedScheduling", "NotTriggerScaleUp", "FailedScaleUp"):
                return f"{reason.reason}: {reason.message[:140]} -> fix: {FIXES['scheduling']}"
    if outcome.failure and "timed out" in outcome.failure:
        return f"{outcome.failure} -> fix: {FIXES['wait']}"
    return outcome.failure or "the replica did not become ready"


def verdict_slot() -> None:
    """Reserve the place at the top of the report where `verdict` writes its summary."""
    global _handle
    _handle = display(HTML(verdict_html(None, [])), display_id=True)


def verdict_html(passed: bool | None, reasons: Sequence[str], note: str = "") -> str:
    """The verdict block: green PASS, red FAIL with its reasons, grey while pending."""
    if passed is None:
        colour, title = "#757575", "Verdict pending: the runbook has not finished."
    elif passed:
        colour, title = "#1b5e20", "Verdict: PASS."
    else:
        colour, title = "#b71c1c", "Verdict: FAIL."
    items = "".join(f"<li>{html.escape(r)}</li>" for r in reasons)
    body = (f"<ul style='margin:0.3em 0 0 1.2em'>{items}</ul>" if items else "") + (
        f"<p style='margin:0.3em 0 0'>{html.escape(note)}</p>" if note else "")
    return (f"<div class='coldstart-verdict' style='border-left:6px solid {colour};padding:0.5em 0.8em;"
            f"margin:0.5em 0;background:{colour}12'><strong style='color:{colour};font-size:1.2em'>{title}</strong> "
            f"{body}</div>")


def verdict(findings: Sequence[Finding], outcomes: Sequence[Outcome], budgets: Sequence[Outcome]) -> None:
    """One verdict (see report.verdict for what counts); raises RunbookFailed when it fails, so the run exits 1.
    `coldstart run` keeps the report clean of the exception: the verdict block says it all."""
    every = list(outcomes) + [b for b in budgets if b not in outcomes]
    live = [f for o in every if o.scenario.recommended for f in o.findings]
    failing = {(f.invariant, f.object, f.container): f for f in [*findings, *live] if f.status == "fail"}
    reasons = [f"invariant {f.invariant} fails on {f.object}: {f.message}" for f in failing.values()]
    for o in every:
        if not o.as_expected:
            reasons.append(f"scenario '{o.scenario.name}': " + (root_cause(o) if o.failure else
                                                              "became ready although it runs a trap on purpose"))
        if o.warm_up_failure and o.scenario.expect_warm_up:
            reasons.append(f"scenario '{o.scenario.name}': warm-up failed: {o.warm_up_failure}")
    for o in budgets:
        if not o.ready and o.scenario.expect_ready:
            reasons.append(f"budget of '{o.scenario.name}': never ready, so time to ready is over its budget of "
                           f"{o.scenario.profile.budgets.time_to_ready_seconds:g}s")
        reasons += [f"budget of '{o.scenario.name}': {ov.describe()}" for ov in o.overruns]
    on_purpose = [o.scenario.name for o in outcomes if not o.scenario.expect_ready]
    note = (f"Traps run on purpose (expected to fail): {', '.join(on_purpose)}." if on_purpose and not reasons
            else "")
    if not reasons:
        ran = ("Every invariant holds and every scenario behaved as expected." if every else
               "Every invariant holds; no scenario ran (apply = False: nothing was applied or measured).")
        note = f"{ran} {note}".strip()
    block = verdict_html(not reasons, reasons, note)
    if _handle is not None:
        _handle.update(HTML(block))
    display(HTML(block))
    if reasons:
        more = f" (and {len(reasons) - 1} more: see the report)" if len(reasons) > 1 else ""
        raise RunbookFailed(f"verdict FAIL: {reasons[0]}{more}")
