"""Diagnose a vLLM deployment that already runs: what the cluster holds, where its starts spent their time, and
what to change first, each fix tied to the seconds it costs in this cluster's own timeline.

Read-only by construction: only get, list, watch and pods/log requests (`coldstart rbac --diagnose` prints the
Role). The engine workloads in scope are found from their pods up the owner chain (ReplicaSet, Deployment,
StatefulSet, LeaderWorkerSet, InferenceService); every invariant runs on what the cluster really holds, static
and live; the timeline of their recent starts is rebuilt from events, pod status (previous container states
included) and the vLLM logs (current and previous), with the same phases and floor as the rollout.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coldstart.errors import Forbidden, InputError, NotFound
from coldstart.kube.images import is_pause_image
from coldstart.kube.kinds import api_version
from coldstart.kube.labels import COMPONENT, COMPONENT_ENGINE, INSTANCE
from coldstart.levers import variants
from coldstart.live.cluster import Cluster
from coldstart.live.recorder import Recorder
from coldstart.live.wait import pod_ready, wait_for
from coldstart.profiles import Profile
from coldstart.runbooks.measure import Replica, replicas
from coldstart.runbooks.verdict import FIXES
from coldstart.timeline.inputs import timeline_from_texts
from coldstart.timeline.model import Timeline
from coldstart.timeline.sources.vllm_log import parse_vllm_log
from coldstart.verify import Finding, check_documents
from coldstart.verify.findings import Status
from coldstart.vllm.launch import container_launches

__all__ = ["Diagnosis", "Fix", "deploy_demo", "diagnose", "rank_fixes", "run"]

# Kinds read in the namespace (the owner chain and what the checks join), then cluster-wide ones.
NAMESPACED = ("Pod", "ReplicaSet", "Deployment", "StatefulSet", "LeaderWorkerSet", "InferenceService",
              "ServingRuntime", "ConfigMap", "PersistentVolumeClaim")
CLUSTER_WIDE = ("PriorityClass", "StorageClass", "ClusterServingRuntime", "ComputeClass")
# invariant -> (the phase whose seconds it costs, what to do, the lever runbook that proves the fix)
COSTS: dict[str, tuple[str, str, str]] = {
    "image-digest-pinned": ("image_pull", "pin every image by digest with imagePullPolicy: IfNotPresent", "image_pull"),
    "pull-policy-ifnotpresent": ("image_pull", "set imagePullPolicy: IfNotPresent (and pin by digest)", "image_pull"),
    "registry-in-region": ("image_pull", "mirror the images to a registry in the cluster's region", "image_pull"),
    "modelcar-digest": ("weights_load", "ship the weights as a digest-pinned OCI modelcar", "weight_load"),
    "hf-offline": ("weights_load", "set HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1", "weight_load"),
    "runai-streamer": ("weights_load", "load with --load-format=runai_streamer", "weight_load"),
    "warm-buffer": ("scheduling", "keep a warm buffer of pause pods at priority -10..-1", "node_warmup"),
    "cache-persistent": ("compile", "keep /root/.cache on a PersistentVolumeClaim", "runtime"),
}
FAILURE_FIXES = {"shm-memory-16gi": "nccl", "nccl-cumem-disabled": "nccl", "gpu-mem-util-range": "cuda_oom",
                 "memory-covers-shm": "OOMKilled", "startup-probe-budget": "timeout"}


@dataclass
class Fix:
    """One thing to change, with the seconds it cost in this cluster's recent starts."""

    invariant: str
    seconds: float | None  # None: it broke starts outright (ranked first)
    evidence: str
    change: str
    runbook: str

    def line(self) -> str:
        cost = ("broke starts" if self.seconds is None else f"{self.seconds:.0f} s" if self.seconds
                else "a risk (cost nothing in these starts)")
        return f"{self.evidence}: {cost} -> {self.change} (prove it: coldstart run {self.runbook})"


@dataclass
class Diagnosis:
    namespace: str
    workloads: list[str]
    findings: list[Finding]
    timeline: Timeline
    replicas: list[Replica]
    fixes: list[Fix]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "workloads": self.workloads,
                "fixes": [{"invariant": f.invariant, "seconds": f.seconds, "evidence": f.evidence,
                           "change": f.change, "runbook": f.runbook} for f in self.fixes],
                "findings": [f.__dict__ for f in self.findings],
                "starts": [{"pod": r.pod.pod, "position": r.position, "time_to_ready": r.time_to_ready,
                            "floor": r.floor.to_json()} for r in self.replicas],
                "notes": self.notes}


def _list(cluster: Cluster, kind: str, namespace: str | None, notes: list[str], *,
          label_selector: str | None = None) -> list[dict[str, Any]]:
    try:
        items, _, _ = cluster.list(api_version(kind), kind, namespace, label_selector=label_selector)
    except NotFound:
        return []  # not served here (no KServe, not GKE)
    except Forbidden:
        notes.append(f"not allowed to list {kind}: judged without it (see coldstart rbac --diagnose)")
        return []
    return items


def _is_engine(pod: dict[str, Any]) -> bool:
    containers = (pod.get("spec") or {}).get("containers") or []
    return any(ln.launcher for c in containers for ln in container_launches(c, {}))


def _top_owner(obj: dict[str, Any], by_uid: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Follow ownerReferences up (Pod -> ReplicaSet -> Deployment -> InferenceService)."""
    seen = set()
    while True:
        owner = next((o for o in (obj.get("metadata") or {}).get("ownerReferences") or []
                      if o.get("controller", True) and o.get("uid") in by_uid), None)
        if owner is None or owner["uid"] in seen:
            return obj
        seen.add(owner["uid"])
        obj = by_uid[owner["uid"]]


def _ref(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')}/{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else \
        f"{obj.get('kind')}/{meta.get('name')}"


def diagnose(cluster: Cluster, namespace: str, *, selector: str | None = None, workload: str | None = None,
             watch_seconds: float = 0.0, on_progress: Callable[[str], None] | None = None) -> Diagnosis:
    """Read the namespace (only reads), judge it and rank what to change (see the module docstring)."""
    notes: list[str] = []
    watched_events: list[dict[str, Any]] = []
    if watch_seconds > 0:  # record the next scale-ups as they happen (events expire after about an hour)
        recorder = Recorder(cluster, namespace, label_selector=selector)
        recorder.wait_until(lambda _: False, watch_seconds)
        recording = recorder.stop(logs_for=None)
        watched_events = recording.events
        notes.append(f"watched {namespace} for {watch_seconds:.0f} s: {len(recording.pods)} pod(s), "
                     f"{len(recording.events)} event(s)")
    objects = {kind: _list(cluster, kind, namespace, notes) for kind in NAMESPACED}
    objects.update({kind: _list(cluster, kind, None, notes) for kind in CLUSTER_WIDE})
    events = {e["metadata"].get("uid"): e for e in [*watched_events, *_list(cluster, "Event", namespace, notes)]}
    nodes = _list(cluster, "Node", None, notes)
    by_uid = {o["metadata"]["uid"]: o for items in objects.values() for o in items if o["metadata"].get("uid")}
    # the server applies the selector (any selector syntax); the buffer check below still sees every pod
    pods = _list(cluster, "Pod", namespace, notes, label_selector=selector) if selector else objects["Pod"]
    engine_pods = [p for p in pods if _is_engine(p)]
    owners = {_ref(_top_owner(p, by_uid)): _top_owner(p, by_uid) for p in engine_pods}
    if workload:
        kind, _, name = workload.partition("/")
        owners = {ref: o for ref, o in owners.items() if o.get("kind") == kind and o["metadata"]["name"] == name}
        if not owners:
            raise InputError(f"--workload {workload}: no vLLM pods of it in namespace {namespace} (write KIND/NAME, "
                             "e.g. Deployment/vllm or InferenceService/llama)")
        engine_pods = [p for p in engine_pods if _ref(_top_owner(p, by_uid)) in owners]
    buffers = [d for d in objects["Deployment"]
               if all(is_pause_image(c.get("image")) for c in d["spec"]["template"]["spec"].get("containers") or [])]
    supporting = [o for kind in ("ConfigMap", "PersistentVolumeClaim", "ServingRuntime", "PriorityClass",
                                 "StorageClass", "ClusterServingRuntime", "ComputeClass") for o in objects[kind]]
    judged = list(owners.values()) + buffers + supporting
    findings = check_documents(judged, cluster.profile, source=f"{namespace} on {cluster.target}") if owners else []
    findings += _live(cluster.profile, buffers, pods=objects["Pod"], nodes=nodes)
    logs = _logs(cluster, namespace, engine_pods, notes)
    timeline = timeline_from_texts(events=[("events", list(events.values()))] if events else [],
                                   pods=[("pods", engine_pods)] if engine_pods else [],
                                   logs=[(f"{name}.log", text) for name, text in logs.items() if text.strip()])
    starts = replicas(cluster.profile, judged, timeline)
    previous = {name: parse_vllm_log(text) for name, text in _logs(cluster, namespace, engine_pods, notes,
                                                                    previous=True).items()}
    pod_owner = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": _ref(_top_owner(p, by_uid))
                 for p in engine_pods}
    fixes = rank_fixes(findings, starts, previous, pod_owner)
    if on_progress is not None:
        on_progress(f"diagnosed {len(owners)} workload(s), {len(engine_pods)} engine pod(s)")
    return Diagnosis(namespace, sorted(owners), findings, timeline, starts, fixes, notes)


def _live(profile: Any, buffers: list[dict[str, Any]], *, pods: list[dict[str, Any]],
          nodes: list[dict[str, Any]]) -> list[Finding]:
    """What only a running cluster can answer: are the buffer's pods Running on GPU nodes."""
    out = []
    gpu_nodes = {n["metadata"]["name"] for n in nodes
                 if all((n["metadata"].get("labels") or {}).get(k) == v for k, v in profile.gpu.node_selector.items())}
    for buffer in buffers:
        match = buffer["spec"].get("selector", {}).get("matchLabels") or {}
        mine = [p for p in pods if all((p["metadata"].get("labels") or {}).get(k) == v for k, v in match.items())]
        running = [p for p in mine if (p.get("status") or {}).get("phase") == "Running"
                   and p["spec"].get("nodeName") in gpu_nodes]
        want = int(buffer["spec"].get("replicas") or 0)
        status: Status = "pass" if want and len(running) >= want else "fail"
        out.append(Finding("warm-buffer-running", status, "(cluster)", _ref(buffer), None,
                           f"{len(running)}/{want} buffer pods Running on GPU nodes"))
    return out


def _logs(cluster: Cluster, namespace: str, pods: list[dict[str, Any]], notes: list[str], *,
          previous: bool = False) -> dict[str, str]:
    """The vLLM container's log of each engine pod (the previous container's, when it restarted)."""
    out = {}
    for pod in pods:
        name = pod["metadata"]["name"]
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        engine = next((c["name"] for c in pod["spec"]["containers"]
                       if any(ln.launcher for ln in container_launches(c, {}))), None)
        if engine is None or not statuses:
            continue
        if previous and not any(s.get("name") == engine and s.get("restartCount") for s in statuses):
            continue
        try:
            out[name] = cluster.pod_logs(name, namespace, engine, previous=previous)
        except (NotFound, Forbidden) as exc:
            notes.append(f"no {'previous ' if previous else ''}log of {name}: {exc}")
    return out


def rank_fixes(findings: list[Finding], starts: list[Replica], previous: dict[str, Any],
               owners: dict[str, str] | None = None) -> list[Fix]:
    """Failing invariants ranked by what they cost in the cluster's own starts: what broke a start of the same
    workload first (its vLLM log or the kubelet shows the failure the invariant prevents), then the most seconds
    (a phase's seconds summed over the starts of that workload that paid them), then the risks that cost nothing
    in these starts. `owners` maps a pod (namespace/name) to its workload (Kind/namespace/name)."""
    owners = owners or {}
    fixes: dict[str, Fix] = {}

    def mine(workload: str) -> list[Replica]:
        return [r for r in starts if owners.get(r.pod.pod, workload) == workload]

    def broke(workload: str, kind: str) -> bool:
        for r in mine(workload):
            name = r.pod.pod.rpartition("/")[2]
            logs = [log for log in (r.log, previous.get(name)) if log is not None]
            if kind != "timeout" and any(log.failure == kind for log in logs):  # a vLLM `timeout` is a rendezvous
                return True  # (Gloo, handshake) that never completed, not the startup probe's budget
            if kind == "OOMKilled" and any(x.reason == "OOMKilled" for x in r.pod.reasons):
                return True
            if kind == "timeout" and any("probe, will be restarted" in x.message for x in r.pod.reasons):
                return True  # the kubelet killed a start its probe gave up on
        return False

    failing: dict[str, list[Finding]] = {}
    for f in findings:
        if f.status == "fail" and f.object not in {g.object for g in failing.get(f.invariant, [])}:
            failing.setdefault(f.invariant, []).append(f)
    for invariant, found in failing.items():
        where = ", ".join(f.object for f in found)
        if invariant in COSTS:
            phase, change, runbook = COSTS[invariant]
            own = [r for f in found for r in mine(f.object)]
            paid = [r.phase(phase) or 0.0 for r in own if (r.phase(phase) or 0.0) > 0]
            evidence = f"{invariant} on {where} ({phase.replace('_', ' ')} in {len(paid)} of {len(own)} starts)"
            fixes[invariant] = Fix(invariant, sum(paid), evidence, change, runbook)
        elif invariant in FAILURE_FIXES:
            kind = FAILURE_FIXES[invariant]
            evidence = f"{invariant} on {where}: {found[0].message}"
            hit = any(broke(f.object, kind) for f in found)
            fixes[invariant] = Fix(invariant, None if hit else 0.0, evidence, FIXES.get(kind, found[0].message),
                                   "runtime")
    return sorted(fixes.values(), key=lambda x: (x.seconds is not None, -(x.seconds or 0.0)))


def deploy_demo(cluster: Cluster, profile: Profile) -> list[str]:
    """On the embedded cluster, what a newcomer diagnoses: the naive deployment (vLLM's own example) and a copy
    at GPU memory utilization 0.92, then given the virtual time to start, pull, download and fail. Returns what
    was deployed. (Only the embedded cluster: a diagnosis of a live cluster never writes.)"""
    if cluster.embedded is None:
        raise InputError("the diagnose demo deploys only to the embedded cluster; a live cluster is only read")
    (naive,) = variants.naive(profile)
    naive["spec"]["replicas"] = 1
    greedy = copy.deepcopy(naive)
    labels = {**greedy["metadata"]["labels"], INSTANCE: "greedy"}
    greedy["metadata"].update(name="greedy", labels=labels)
    greedy["spec"]["template"]["metadata"]["labels"] = labels
    greedy["spec"]["selector"]["matchLabels"] = {COMPONENT: COMPONENT_ENGINE, INSTANCE: "greedy"}
    args = greedy["spec"]["template"]["spec"]["containers"][0]["args"]
    args[:] = [a if not a.startswith("--gpu-memory-utilization") else "--gpu-memory-utilization=0.92" for a in args]
    cluster.ensure_namespace(profile.namespace)
    cluster.apply([naive, greedy])

    def settled(pods: dict[str, dict[str, Any]]) -> tuple[int, int]:
        ready = any(pod_ready(p) for p in pods.values())
        restarted = any(s.get("restartCount") for p in pods.values()
                        for s in (p.get("status") or {}).get("containerStatuses") or [])
        return (1 if ready and restarted else 0), 1

    wait_for(cluster, "v1", "Pod", profile.namespace, label_selector=None, done=settled, timeout=3600,
             what="the demo deployments starting")
    return [_ref(naive), _ref(greedy)]


def run(profile: Profile, cluster: str, namespace: str, *, selector: str = "", workload: str = "",
        watch_seconds: float = 0.0, demo: bool = True) -> Diagnosis:
    """The diagnose runbook's one call: connect (a live target must be allowed by the profile), on the embedded
    cluster deploy the demo first (an embedded cluster starts empty), then diagnose."""
    with Cluster.connect(cluster, profile=profile) as conn:
        notes = []
        if conn.embedded is not None and demo:
            notes.append("embedded cluster: deployed the demo (naive, and a copy at utilization 0.92) to diagnose: "
                         + ", ".join(deploy_demo(conn, profile)))
        result = diagnose(conn, namespace or profile.namespace, selector=selector or None, workload=workload or None,
                          watch_seconds=watch_seconds)
    result.notes[:0] = notes
    return result
