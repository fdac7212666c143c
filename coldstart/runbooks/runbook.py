"""The runbook's one experiment shape, on any cluster: apply, let the warm buffer hold its nodes, scale the
served model from zero, record, judge, clean up.

Measuring a scale-from-zero (not a first apply) is what an SRE cares about: the question is how long a new
replica takes when traffic arrives, with the levers already in place. So the manifests go in with the
workload at zero replicas, the buffer and the image pre-pull get their nodes, and only then does the
recorder's clock matter: the replicas are created by the scale-up and timed from their own creation.
Each scenario on the embedded cluster gets a fresh cluster, so experiments never leak into each other.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from coldstart.errors import ColdstartError, WaitFailed
from coldstart.kube.labels import (
    COMPONENT,
    COMPONENT_BUFFER,
    COMPONENT_ENGINE,
    COMPONENT_PREPULL,
    component_of,
    selector,
)
from coldstart.levers import variants
from coldstart.levers.render import flatten, object_name, render
from coldstart.live.cluster import Applied, Cluster
from coldstart.live.ownership import refusal
from coldstart.live.readback import live_findings
from coldstart.live.recorder import Recorder, Recording
from coldstart.live.targets import new_run_id
from coldstart.live.wait import Progress, pod_ready, wait_for, wait_pods_ready
from coldstart.profiles import Profile, profile_with
from coldstart.runbooks.measure import Replica, replicas
from coldstart.timeline.build import Timeline
from coldstart.timeline.floor import Floor
from coldstart.timeline.inputs import timeline_from_texts
from coldstart.timeline.stats import Overrun, check_budgets, run_statistics
from coldstart.timeline.stats import thresholds_from_profile as thresholds
from coldstart.verify import Finding

if TYPE_CHECKING:  # the embedded cluster is imported where it is started (start-up cost)
    from coldstart.embedded.cluster import EmbeddedCluster

ENGINE = selector({COMPONENT: COMPONENT_ENGINE})
BUFFER = selector({COMPONENT: COMPONENT_BUFFER})
PREPULL = selector({COMPONENT: COMPONENT_PREPULL})
WAIT_FACTOR = 4.0  # a scenario may take this multiple of the profile's time-to-ready budget before it is cut


@dataclass
class Scenario:
    """One scale-from-zero: which profile, which manifests (default: the recommended render), what to expect."""

    name: str
    profile: Profile
    docs: list[dict[str, Any]] | None = None
    replicas: int | list[int] | None = None  # a list scales step by step, e.g. [1, 0, 1]: a second replica
    warm_up: bool = True
    expect_ready: bool = True
    timeout: float | None = None
    note: str = ""
    recommended: bool = False  # the recommended render: its live invariants count in the verdict
    expect_warm_up: bool = True  # False where the trap is that the buffer never gets a node
    phase: str = "time_to_ready"  # the phase the experiment's lever changes: its A/B table's headline

    def manifests(self) -> list[dict[str, Any]]:
        return self.docs if self.docs is not None else flatten(render(self.profile))

    def steps(self) -> list[int]:
        """Replica counts to scale through in order ([1] by default; [1, 0, 1] for a second replica)."""
        if isinstance(self.replicas, list):
            return self.replicas
        return [self.replicas if self.replicas is not None else max(1, self.profile.runtime.replicas)]


@dataclass
class Outcome:
    """What a scenario did: readiness, failure, the timeline and its statistics, live invariants."""

    scenario: Scenario
    run_id: str
    cluster: str
    ready: bool
    failure: str | None
    timeline: Timeline
    statistics: dict[str, dict[str, float]]
    overruns: list[Overrun]
    replicas: list[Replica] = field(default_factory=list)  # by position, each with its own floor
    findings: list[Finding] = field(default_factory=list)
    recording: Recording | None = None
    warm_up_failure: str | None = None
    truth: dict[tuple[str, str], Any] | None = None
    dry_run: bool = False

    @property
    def as_expected(self) -> bool:
        return self.dry_run or self.ready == self.scenario.expect_ready

    @property
    def time_to_ready(self) -> float | None:
        return self.statistics.get("time_to_ready", {}).get("P50")

    @property
    def first(self) -> Replica | None:
        """The scenario's first start (nothing of it cached yet)."""
        return self.replicas[0] if self.replicas else None

    @property
    def later(self) -> list[Replica]:
        """Starts after the first (a scale from zero with the node, images and caches the first one left)."""
        return self.replicas[1:]

    @property
    def floor(self) -> Floor | None:
        """The floor of the first start (each replica has its own: see `replicas`)."""
        return self.first.floor if self.first is not None else None


def printer(prefix: str = "") -> Callable[[Progress], None]:
    """A progress callback that prints a line when the count changes or every minute of cluster time; a wait that
    finds its work already done (scaled to zero at once, the buffer still in place) prints nothing."""
    last: dict[str, Any] = {"key": None, "at": -60.0}

    def show(p: Progress) -> None:
        key = (p.what, p.done)
        first_look = last["key"] is None or last["key"][0] != p.what
        if first_look and p.done >= p.total and p.elapsed < 1:
            return
        if key != last["key"] or p.elapsed - last["at"] >= 60:
            print(f"{prefix}{p.line()}", file=sys.stdout, flush=True)
            last.update(key=key, at=p.elapsed)

    return show


def _warm_up(cluster: Cluster, docs: list[dict[str, Any]], timeout: float, progress: Callable | None) -> None:
    """Wait until the buffer holds its nodes and the pre-pull has put the images on every node it runs on.

    Every node, not only the buffer's: once a scale-up has displaced a buffer pod, the autoscaler adds a node for
    it, and a replica scaled from zero goes to whichever node is free (no preemption needed), often that new one.
    Measured before its pre-pull finished, a "warm" start would wait behind it (serialized pulls)."""
    namespace = cluster.profile.namespace
    buffers = [d for d in docs if d["kind"] == "Deployment" and
               component_of(d) == COMPONENT_BUFFER]
    count = sum(d["spec"].get("replicas", 1) for d in buffers)
    if count == 0:
        return
    run = cluster.run_selector()
    pods = wait_pods_ready(cluster, namespace, f"{run},{BUFFER}", count, timeout=timeout,
                           what="warm buffer holding GPU nodes", progress=progress)
    if not any(d["kind"] == "DaemonSet" for d in docs):
        return
    held = {p["spec"].get("nodeName") for p in pods}

    def prepulled(objects: dict[str, dict]) -> tuple[int, int]:
        nodes = held | {p["spec"].get("nodeName") for p in objects.values()}
        ready = {p["spec"].get("nodeName") for p in objects.values() if pod_ready(p)}
        return len(nodes & ready), len(nodes)

    wait_for(cluster, "v1", "Pod", namespace, label_selector=f"{run},{PREPULL}", done=prepulled, timeout=timeout,
             what="images pre-pulled on the warm nodes", progress=progress)


def _wait_replicas(conn: Cluster, count: int, timeout: float, what: str, progress: Callable | None) -> None:
    selector = f"{conn.run_selector()},{ENGINE}"
    if count:
        wait_pods_ready(conn, conn.profile.namespace, selector, count, timeout=timeout, what=what, progress=progress)
    else:
        _wait_gone(conn, selector, timeout, "scaled to zero", progress)


def _wait_gone(conn: Cluster, selector: str, timeout: float, what: str, progress: Callable | None = None) -> None:
    """Wait until the selected pods have terminated, not just begun to (a live cluster gives them their grace
    period, and their GPUs are not free before)."""
    def gone(objects: dict[str, dict]) -> tuple[int, int]:
        return (1, 1) if not objects else (0, 1)

    wait_for(conn, "v1", "Pod", conn.profile.namespace, label_selector=selector, done=gone, timeout=timeout,
             what=what, progress=progress)


def _timeline(recording: Recording) -> Timeline:
    engine = [p for p in recording.pods
              if component_of(p) == COMPONENT_ENGINE]
    logs = [(f"{pod}.log", text) for pod, text in recording.logs.items() if text.strip()]
    # "the future" is after the cluster's own clock when the recording ended (virtual on the embedded cluster)
    now = datetime.fromtimestamp(recording.cluster_time, UTC) if recording.cluster_time else None
    return timeline_from_texts(events=[("recorded events", recording.events)] if recording.events else [],
                               pods=[("recorded pods", engine)] if engine else [], logs=logs, now=now)


def plan(profile: Profile, cluster: str = "embedded", docs: list[dict[str, Any]] | None = None,
         run_id: str | None = None, *, adopt: bool = False) -> list[Applied]:
    """What applying would change, from the server's own dry run (`dryRun=All`); nothing is changed.

    In a namespace that does not exist yet every namespaced object is reported as to be created (the API
    server cannot dry-run into a missing namespace). An object that exists and was not created by coldstart is
    shown as refused (the run would stop before any write) unless `adopt` is set."""
    docs = docs if docs is not None else flatten(render(profile))
    with Cluster.connect(cluster, profile=profile, run_id=run_id or new_run_id()) as conn:
        if conn.get("v1", "Namespace", profile.namespace) is not None:
            foreign = set(conn.foreign(docs))
            planned = conn.apply(docs, dry_run=True, adopt=True)
            if adopt:
                return planned
            return [dataclasses.replace(a, action="refused: exists, not created by coldstart (see adopt)")
                    if a.object in foreign else a for a in planned]
        scoped = [d for d in docs if conn.namespace_for(d["apiVersion"], d["kind"]) is None]
        pending = [Applied(object_name({**d, "metadata": {**d["metadata"], "namespace": profile.namespace}}),
                           "created", True, ["namespace does not exist yet"]) for d in docs if d not in scoped]
        return conn.apply(scoped, dry_run=True) + pending


def _applier(conn: Cluster, adopt: bool) -> Callable[[list[dict[str, Any]]], None]:
    """Apply a step's manifests, sending only the objects that differ from what this run last applied: a scale
    step changes the engine workload's replicas and nothing else (three requests instead of twenty)."""
    last: dict[tuple[str, str], dict[str, Any]] = {}

    def apply(docs: list[dict[str, Any]]) -> None:
        changed = [d for d in docs if last.get((d["apiVersion"], object_name(d))) != d]
        if changed:
            conn.apply(changed, adopt=adopt)
        last.update(((d["apiVersion"], object_name(d)), d) for d in changed)

    return apply


def _scale_from_zero(conn: Cluster, scenario: Scenario, docs: list[dict[str, Any]], timeout: float,
                     progress: Callable | None,
                     adopt: bool = False) -> tuple[list[Finding], str | None, str | None, Recording]:
    """Record from before the first apply; apply at zero, warm up, read the live invariants, then take the
    replicas through the scenario's steps. Returns (live findings, warm-up failure, failure, recording)."""
    warm_failure = failure = None
    foreign = [] if adopt else conn.foreign(docs)  # refused before the first write, the namespace included
    if foreign:
        raise refusal(foreign)
    conn.ensure_namespace(conn.profile.namespace)
    recorder = Recorder(conn, conn.profile.namespace, label_selector=conn.run_selector())
    try:
        applied = _applier(conn, adopt)
        applied(variants.with_replicas(docs, 0))
        if scenario.warm_up:
            try:
                _warm_up(conn, docs, timeout, progress)
            except WaitFailed as exc:
                warm_failure = str(exc)
        # what the cluster holds once applied and warm, before the scale-up takes a buffer pod's node
        findings, _ = live_findings(conn, {d["kind"] for d in docs})
        current, started = 0, False
        try:
            for count in scenario.steps():
                again = bool(count and started and not current)  # from zero again, after an earlier start
                if count < current:
                    recorder.collect_logs()  # a scale-down deletes the pods and their logs
                elif again and scenario.warm_up and warm_failure is None:
                    # The first start displaced a buffer pod; its replacement (and the node the autoscaler adds
                    # for it) settle within minutes. Scaling up at once measures that passing moment, not the
                    # scale from zero an SRE lives with: wait for the steady state.
                    try:
                        _warm_up(conn, docs, timeout, progress)
                    except WaitFailed as exc:
                        warm_failure = f"before scaling from zero again: {exc}"
                current, started = count, started or count > 0
                applied(variants.with_replicas(docs, count))
                what = f"{scenario.name}: {count} replica(s) ready" + (" again, from zero" if again else "")
                _wait_replicas(conn, count, timeout, what, progress)
        except WaitFailed as exc:
            failure = str(exc)
    finally:
        recording = recorder.stop()
    return findings, warm_failure, failure, recording


def run(scenario: Scenario, cluster: str = "embedded", *, progress: Callable[[Progress], None] | None = None,
        run_id: str | None = None, keep: bool = False, embedded: EmbeddedCluster | None = None,
        adopt: bool = False) -> Outcome:
    """Apply the scenario's manifests, warm up, scale the model from zero, record and judge; clean up after
    (only what this run created: adopted objects stay, see coldstart.live.ownership)."""
    profile = scenario.profile
    timeout = scenario.timeout or WAIT_FACTOR * profile.budgets.time_to_ready_seconds
    docs = scenario.manifests()
    kinds = {d["kind"] for d in docs}
    # `embedded`: a cluster the caller started and keeps (to read its clock or request log); else a fresh one
    with Cluster.connect(cluster, profile=profile, run_id=run_id or new_run_id(), embedded=embedded) as conn:
        try:
            findings, warm_failure, failure, recording = _scale_from_zero(conn, scenario, docs, timeout, progress,
                                                                        adopt)
            if conn.embedded is not None:
                conn.embedded.check()
            truth = dict(conn.embedded.truth) if conn.embedded is not None else None
        except BaseException:
            if not keep:  # a live cluster keeps nothing of a run that broke off; the first error is the story
                with contextlib.suppress(ColdstartError):
                    conn.delete_run(kinds=kinds)
            raise
        if not keep:
            conn.delete_run(kinds=kinds)
            if conn.embedded is None:  # a live cluster: the next scenario must not meet this one's pods
                _wait_gone(conn, conn.run_selector(), timeout, "the run's pods terminated")
    timeline = _timeline(recording)
    stats = run_statistics(timeline.pods)
    return Outcome(scenario, conn.run_id, cluster, failure is None, failure, timeline, stats,
                   check_budgets(stats, thresholds(profile)), replicas(profile, docs, timeline, scenario.steps()[0]),
                   findings, recording,
                   warm_failure, truth)


def rollout(profile: Profile, cluster: str = "embedded", *, replicas: int = 1, apply: bool = True,
            timeout: float | None = None, run_id: str | None = None,
            progress: Callable[[Progress], None] | None = None, adopt: bool = False) -> Outcome:
    """The rollout's main scenario asks two questions: the recommended render scaled from zero for the first
    time ever (nothing cached), then scaled to zero and from zero again with the node, images and compile cache
    warm (the event an SRE lives with). With apply=False nothing runs: the plan shows what would change."""
    scenario = Scenario("recommended", profile, replicas=[replicas, 0, replicas], timeout=timeout or None,
                        recommended=True, note="first start ever, then a scale from zero with caches warm")
    if apply:
        return run(scenario, cluster, progress=progress, run_id=run_id or None, adopt=adopt)
    return Outcome(scenario, run_id or "dry-run", cluster, False, None, Timeline(), {}, [], dry_run=True)


def first(outcomes: list[Outcome]) -> Outcome | None:
    """The first scenario's outcome (the recommended one in every experiment), None when nothing ran."""
    return outcomes[0] if outcomes else None


def compare(scenarios: list[Scenario], cluster: str = "embedded", *, apply: bool = True, enabled: bool = True,
            timeout: float | None = None, progress: Callable[[Progress], None] | None = None,
            run_id: str | None = None, adopt: bool = False) -> list[Outcome]:
    """Run scenarios one after another (each on its own fresh embedded cluster); `timeout` (0: none given) for
    those that set none. Nothing runs with apply=False (a dry run shows its plan instead) or enabled=False (an
    experiment switched off by a parameter): the list is empty. Every scenario carries the runbook's `run_id`,
    so `coldstart cleanup <run id>` finds whatever a broken-off run left, whichever scenario it was in."""
    if not (apply and enabled):
        return []
    run_id = run_id or new_run_id()
    return [run(dataclasses.replace(s, timeout=s.timeout or timeout or None), cluster, progress=progress,
                run_id=run_id, adopt=adopt) for s in scenarios]


def with_namespace(profile: Profile, namespace: str | None) -> Profile:
    """The profile with the runbook's namespace parameter applied (validated; empty keeps the profile's)."""
    return profile_with(profile, {"namespace": namespace}) if namespace else profile
