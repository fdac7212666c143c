"""The cluster layer on the embedded cluster with its simulation running, over real HTTP through the official
client: what needs pods that really become Ready from the manifests, which only the simulated cluster (scheduler,
autoscaler, KServe controller, kubelets, vLLM) provides. Apply, wait, live invariants and cleanup of the shipped
renders; re-apply, dry run and cleanup after the cluster has run them (controllers have written status); no
polling; relisting after `410 Gone` during a real rollout; live invariants catching what an admission webhook
changed. The same API behaviour against a real kube-apiserver as well: test_cluster.py.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.errors import WatchExpired
from coldstart.kube.labels import MANAGED_BY, RUN_ID
from coldstart.levers.render import flatten, object_name, render
from coldstart.live.cluster import Cluster, Target
from coldstart.live.ownership import stamped
from coldstart.live.readback import live_findings, read_back
from coldstart.live.recorder import Recorder, Recording
from coldstart.live.wait import pod_ready, wait_pods_ready
from coldstart.profiles import Profile, load_profile, profile_with
from coldstart.runbooks import runbook
from coldstart.verify import check_documents
from tests.conftest import use_kubeconfig

ENGINE = "app.kubernetes.io/component=engine"
BUFFER = "app.kubernetes.io/component=warm-buffer"
FORMS = [("baseline", "kserve"), ("baseline", "deployment"), ("gke", "kserve"), ("gke", "deployment")]


def _profile(name: str, serving: str = "kserve") -> Profile:
    return profile_with(load_profile(name), {"runtime.serving": serving})


def _timeout(profile: Profile) -> float:
    return runbook.WAIT_FACTOR * profile.budgets.time_to_ready_seconds


def _wait_ready(conn: Cluster) -> list[dict]:
    """Engine replicas Ready, and the warm buffer back on a node of its own (the engine preempted it)."""
    profile, run = conn.profile, f"{RUN_ID}={conn.run_id}"
    engines = wait_pods_ready(conn, profile.namespace, f"{run},{ENGINE}", profile.runtime.replicas,
                              timeout=_timeout(profile), what="engine ready")
    if profile.nodes.warm_buffer:
        wait_pods_ready(conn, profile.namespace, f"{run},{BUFFER}", profile.nodes.warm_buffer,
                        timeout=_timeout(profile), what="warm buffer holding a node")
    return engines


def _other_client(embedded: EmbeddedCluster, profile: Profile, run_id: str) -> Cluster:
    """A second connection to the same embedded cluster (closing it leaves the cluster running)."""
    return Cluster(k8s.ApiClient(k8s.Configuration(host=embedded.url)), Target("embedded"), profile, run_id)


def _versions(conn: Cluster) -> dict[str, str]:
    return {f"{o['kind']}/{o['metadata']['name']}": o["metadata"]["resourceVersion"] for o in read_back(conn)}


@contextlib.contextmanager
def _applied(profile: Profile, **embedded_options) -> Iterator[tuple[Cluster, list[dict], list]]:
    embedded = EmbeddedCluster(profile, **embedded_options).start()
    with Cluster.connect("embedded", profile=profile, embedded=embedded) as conn:
        conn.ensure_namespace(profile.namespace)
        docs = flatten(render(profile))
        yield conn, docs, conn.apply(docs)


# -- 1. apply, wait, live invariants, cleanup -------------------------------------------------------


@pytest.mark.parametrize(("name", "serving"), FORMS)
def test_render_applies_becomes_ready_passes_live_invariants_and_cleans_up(name, serving):
    profile = _profile(name, serving)
    with _applied(profile) as (conn, docs, applied):
        ours = {object_name(d) for d in docs}
        assert {a.action for a in applied} == {"created"} and not any(a.dry_run for a in applied)
        assert {a.object for a in applied} == ours
        assert (f"InferenceService/{profile.namespace}/qwen2-5-7b" in ours) == (serving == "kserve")

        mine = [o for o in read_back(conn) if object_name(o) in ours]
        assert len(mine) == len(ours)
        for obj in mine:  # server-side apply by our field manager, with both labels
            assert ("coldstart", "Apply") in {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
            assert obj["metadata"]["labels"][MANAGED_BY] == "coldstart"
            assert obj["metadata"]["labels"][RUN_ID] == conn.run_id

        engines = _wait_ready(conn)
        assert len(engines) == profile.runtime.replicas
        pods, _, _ = conn.list("v1", "Pod", profile.namespace)
        assert pods and all(p["metadata"]["labels"][RUN_ID] == conn.run_id for p in pods)  # templates labelled

        findings, _ = live_findings(conn)
        assert [f for f in findings if f.status == "fail"] == []
        assert {f.invariant for f in findings if f.status == "pass"} >= {"buffer-below-workload", "warm-buffer-running"}

        labelled = {object_name(o) for o in read_back(conn)}  # ours, and what KServe made from ours
        deleted = conn.delete_run()
        assert {a.object for a in applied} <= set(deleted) <= labelled
        assert [o for o in read_back(conn) if not o["metadata"].get("deletionTimestamp")] == []


# -- idempotent re-apply and dry run ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "serving"), FORMS)
def test_second_apply_is_unchanged_and_moves_no_resource_version(name, serving):
    profile = _profile(name, serving)
    with _applied(profile) as (conn, docs, _):
        _wait_ready(conn)
        conn.embedded.simulation.stop()  # controllers paused: only our own requests could move a version now
        before = _versions(conn)
        again = conn.apply(docs)
        assert [(a.object, a.action, a.changes) for a in again if a.action != "unchanged"] == []
        assert len(again) == len(docs)
        assert _versions(conn) == before


def test_dry_run_creates_nothing_and_reports_what_would_change():
    profile = _profile("baseline")
    embedded = EmbeddedCluster(profile).start()
    with Cluster.connect("embedded", profile=profile, embedded=embedded) as conn:
        conn.ensure_namespace(profile.namespace)
        docs = flatten(render(profile))
        planned = conn.apply(docs, dry_run=True)
        assert {(a.action, a.dry_run) for a in planned} == {("created", True)} and len(planned) == len(docs)
        assert read_back(conn) == []

        conn.apply(docs)
        _wait_ready(conn)
        conn.embedded.simulation.stop()
        edited = json.loads(json.dumps(docs))
        buffer = next(d for d in edited if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("warm-buffer"))
        buffer["spec"]["replicas"] = 3
        before = _versions(conn)
        planned = conn.apply(edited, dry_run=True)
        changed = [(a.object, a.action, a.changes) for a in planned if a.action != "unchanged"]
        assert changed == [(f"Deployment/{profile.namespace}/coldstart-warm-buffer", "configured", ["spec.replicas"])]
        assert all(a.dry_run for a in planned)
        assert _versions(conn) == before
        live = conn.get("apps/v1", "Deployment", "coldstart-warm-buffer", profile.namespace)
        assert live["spec"]["replicas"] == profile.nodes.warm_buffer


def test_cleanup_deletes_only_this_runs_objects():
    profile = _profile("baseline")
    with _applied(profile) as (conn, _, applied):
        ns = profile.namespace
        hand = k8s.ApiClient(k8s.Configuration(host=conn.embedded.url))
        k8s.CoreV1Api(hand).create_namespaced_config_map(ns, {"metadata": {"name": "by-hand"}, "data": {"a": "1"}})
        k8s.AppsV1Api(hand).create_namespaced_deployment(ns, {
            "metadata": {"name": "by-hand", "labels": {MANAGED_BY: "someone-else"}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "by-hand"}},
                     "template": {"metadata": {"labels": {"app": "by-hand"}},
                                  "spec": {"containers": [{"name": "c", "image": profile.image.pause}]}}}})
        other = _other_client(conn.embedded, profile, "aaaa0004")
        other.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other-run"}, "data": {}}])
        _wait_ready(conn)

        deleted = conn.delete_run()
        assert {a.object for a in applied} <= set(deleted)
        assert not [d for d in deleted if "by-hand" in d or "other-run" in d]
        for kind, api_version, name in (("ConfigMap", "v1", "by-hand"), ("Deployment", "apps/v1", "by-hand"),
                                        ("ConfigMap", "v1", "other-run")):
            survivor = conn.get(api_version, kind, name, ns)
            assert survivor is not None and not survivor["metadata"].get("deletionTimestamp"), f"{kind}/{name}"
        assert other.get("v1", "ConfigMap", "other-run", ns)["metadata"]["labels"][RUN_ID] == "aaaa0004"
        assert conn.get("v1", "Namespace", ns) is not None  # a namespace holds other people's objects too
        other.api_client.close()
        hand.close()


# -- 3. no polling -----------------------------------------------------------------------------------


def _slower(profile: Profile, factor: float) -> Profile:
    """Every duration of the simulated cluster `factor` times longer (rates divided), budgets to match."""
    changes = {}
    for key, value in profile.kinetics.model_dump().items():
        if isinstance(value, float) and key.endswith("_seconds"):
            changes[f"kinetics.{key}"] = value * factor
        elif isinstance(value, float) and "_per_s" in key:
            changes[f"kinetics.{key}"] = value / factor
    changes["budgets.time_to_ready_seconds"] = profile.budgets.time_to_ready_seconds * factor
    changes["runtime.startup_probe_period_seconds"] = int(profile.runtime.startup_probe_period_seconds * factor)
    return profile_with(profile, changes)


def test_a_rollout_watches_instead_of_polling():
    """Bound: a pod is named by at most 2 requests (its engine log, and its previous run's log if it restarted;
    its events are listed by field selector, which names no pod in the path); buffer and pre-pull pods by
    none. The total does not grow with cluster time: the same rollout 5x slower in virtual time costs the
    same requests (+-3: a watch renewed), and 4 more replicas cost about their 4 logs."""
    profile = _profile("baseline")
    outcomes = {}
    for label, prof, replicas in (("fast", profile, 1), ("five", profile, 5), ("slow", _slower(profile, 5), 1)):
        with EmbeddedCluster(prof) as embedded:
            outcome = runbook.run(runbook.Scenario(label, prof, replicas=replicas), embedded=embedded)
        assert outcome.ready, outcome.failure
        outcomes[label] = (outcome, embedded.api)

    for label, (outcome, api) in outcomes.items():
        engine_pods = {p["metadata"]["name"] for p in outcome.recording.pods
                       if p["metadata"]["labels"].get("app.kubernetes.io/component") == "engine"}
        named = {name: n for (key, _, name), n in api.requests_per_object().items() if key == "/Pod"}
        assert set(named) == engine_pods and len(engine_pods) == outcome.scenario.steps()[0], label
        assert max(named.values()) <= 2, (label, named)
        pod_reads = [r for r in api.requests if r.key == "/Pod" and r.name is None]
        assert len(pod_reads) <= 12, (label, [(r.verb, r.query.get("labelSelector")) for r in pod_reads])

    (fast, fast_api), (slow, slow_api), (_, five_api) = outcomes["fast"], outcomes["slow"], outcomes["five"]
    assert slow.time_to_ready >= 4 * fast.time_to_ready  # cluster seconds, from server timestamps
    assert abs(len(slow_api.requests) - len(fast_api.requests)) <= 3
    assert 0 <= len(five_api.requests) - len(fast_api.requests) <= 4 + 3


# -- 4. 410 Gone -------------------------------------------------------------------------------------


class _Churned(Cluster):
    """Right after its first list for each named (kind, label selector), another client writes that kind
    2 x history + 1 times, so the server no longer holds the list's resourceVersion: the watch that
    follows gets `410 Gone`."""

    def __init__(self, *args, churn: set[tuple[str, str | None]], history: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.pending, self.history, self.stale = set(churn), history, {}

    def list(self, api_version, kind, namespace=None, *, label_selector=None, field_selector=None):
        items, rv, now = super().list(api_version, kind, namespace, label_selector=label_selector,
                                      field_selector=field_selector)
        if (kind, label_selector) in self.pending:
            self.pending.discard((kind, label_selector))
            self.stale[(kind, label_selector)] = rv
            v1 = k8s.CoreV1Api(self.api_client)
            for i in range(2 * self.history + 1):
                if kind == "Event":
                    v1.create_namespaced_event("default", {
                        "metadata": {"generateName": "churn-"}, "reason": "Churn", "message": str(i), "type": "Normal",
                        "involvedObject": {"kind": "ConfigMap", "name": "churn", "namespace": "default"}})
                else:
                    v1.patch_namespaced_pod("churn", "default", {"metadata": {"annotations": {"churn": str(i)}}})
        return items, rv, now


def test_wait_and_recorder_relist_after_410_gone_and_miss_nothing():
    history = 20
    profile = _profile("baseline")
    embedded = EmbeddedCluster(profile, history=history).start()
    run = "gone410"
    recorder_pods, engine = f"{RUN_ID}={run}", f"{RUN_ID}={run},{ENGINE}"
    conn = _Churned(k8s.ApiClient(k8s.Configuration(host=embedded.url)), Target("embedded"), profile, run, embedded,
                    churn={("Event", None), ("Pod", recorder_pods), ("Pod", engine)}, history=history)
    with conn:
        k8s.CoreV1Api(conn.api_client).create_namespaced_pod("default", {  # gated: no scheduler touches it
            "metadata": {"name": "churn"}, "spec": {"schedulingGates": [{"name": "example.com/hold"}],
                                                    "containers": [{"name": "c", "image": profile.image.pause}]}})
        conn.ensure_namespace(profile.namespace)
        recorder = Recorder(conn, profile.namespace, label_selector=recorder_pods)
        conn.apply(flatten(render(profile)))
        ready = wait_pods_ready(conn, profile.namespace, engine, 1, timeout=_timeout(profile))
        live = _seen_live(recorder, ready[0]["metadata"]["name"])  # by the watches, before stop() lists again
        recording = recorder.stop()

        assert conn.pending == set()  # every churn happened
        for (kind, selector), rv in conn.stale.items():  # and the server really had moved past each version
            with pytest.raises(WatchExpired):
                list(conn.watch("v1", kind, profile.namespace, resource_version=rv, timeout=5,
                                label_selector=selector))
        watches = [r.query["resourceVersion"] for r in embedded.api.requests
                   if r.verb == "watch" and r.key == "/Pod" and r.query.get("labelSelector") == engine]
        assert watches[0] == conn.stale[("Pod", engine)] and len(watches) >= 2  # the wait relisted and watched on
        assert [p["metadata"]["name"] for p in ready] and all(pod_ready(p) for p in ready)

        assert recording.interruptions >= 2  # both streams relisted
        events, _, _ = conn.list("v1", "Event", profile.namespace)
        assert {e["metadata"]["uid"] for e in events} <= {e["metadata"]["uid"] for e in recording.events}
        pods, _, _ = conn.list("v1", "Pod", profile.namespace, label_selector=recorder_pods)
        recorded = {p["metadata"]["name"]: p for p in recording.pods}
        assert {p["metadata"]["name"] for p in pods} <= set(recorded)
        assert all(pod_ready(recorded[p["metadata"]["name"]]) for p in ready)
        assert any(e["reason"] == "Started" for e in recording.events)
        assert pod_ready(live.pods[0]) and {e["involvedObject"]["name"] for e in live.events} >= {live.pods[0][
            "metadata"]["name"]}
        embedded.check()


def _seen_live(recorder: Recorder, pod: str, patience: float = 10.0) -> Recording:
    """The recorder's view once its watches have delivered `pod` Ready (they may trail the wait a moment)."""
    def mine(seen: Recording) -> list[dict]:
        return [p for p in seen.pods if p["metadata"]["name"] == pod and pod_ready(p)]
    seen = recorder.wait_until(lambda recording: bool(mine(recording)), patience)
    return Recording(seen.events, mine(seen) or seen.pods)


# -- 5. what an admission webhook changed -----------------------------------------------------------


def _engine_containers(obj: dict) -> list[dict]:
    kind, spec = obj.get("kind"), obj.get("spec") or {}
    containers = {"ServingRuntime": lambda: spec["containers"],
                  "Deployment": lambda: spec["template"]["spec"]["containers"],
                  "InferenceService": lambda: [spec["predictor"]["model"]]}.get(kind, lambda: [])()
    engine = (obj.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/component") == "engine"
    return [c for c in containers if engine and c.get("name") in (None, "kserve-container", "vllm")]


def always_pull(obj: dict, operation: str) -> dict:
    for container in _engine_containers(obj):
        if "image" in container:
            container["imagePullPolicy"] = "Always"
    return obj


def lower_memory(obj: dict, operation: str) -> dict:
    for container in _engine_containers(obj):
        resources = container.setdefault("resources", {})
        resources.setdefault("limits", {})["memory"] = "8Gi"
        resources.setdefault("requests", {})["memory"] = "8Gi"
    return obj


@pytest.mark.parametrize(("serving", "webhook", "invariant"), [
    ("kserve", always_pull, "pull-policy-ifnotpresent"),  # rewrites the ServingRuntime's container
    ("deployment", always_pull, "pull-policy-ifnotpresent"),
    ("kserve", lower_memory, "memory-covers-shm"),  # the InferenceService's resources override the runtime's
    ("deployment", lower_memory, "memory-covers-shm"),
])
def test_live_invariants_catch_what_an_admission_webhook_changed(serving, webhook, invariant):
    profile = _profile("baseline", serving)
    with _applied(profile, mutators=[webhook]) as (conn, docs, _):
        static = [f for f in check_documents(docs, profile) if f.status == "fail"]
        assert static == []  # the render itself is fine
        findings, objects = live_findings(conn)
        caught = [f for f in findings if f.invariant == invariant and f.status == "fail"]
        assert caught and all(f.file == "(cluster)" for f in caught)
        assert {f.object for f in caught} <= {f"{o['kind']}/{profile.namespace}/{o['metadata']['name']}"
                                              for o in objects}


def test_every_pod_template_carries_the_run_label():
    """LeaderWorkerSet leader and worker pods (and CronJob pods) are found by the run's selector too."""
    lws = {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "metadata": {"name": "l"},
           "spec": {"leaderWorkerTemplate": {"leaderTemplate": {"spec": {}}, "workerTemplate": {"spec": {}}}}}
    cron = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"jobTemplate": {"spec": {"template": {"spec": {}}}}}}
    labelled = stamped(lws, "r1", "absent")["spec"]["leaderWorkerTemplate"]
    assert labelled["leaderTemplate"]["metadata"]["labels"][RUN_ID] == "r1"
    assert labelled["workerTemplate"]["metadata"]["labels"][RUN_ID] == "r1"
    cron_labels = stamped(cron, "r1", "absent")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert cron_labels[RUN_ID] == "r1"
    assert lws["metadata"] == {"name": "l"}  # the caller's document is not touched


def test_a_named_kubeconfig_context_runs_the_whole_scenario(tmp_path, monkeypatch):
    """The live-cluster path end to end: an embedded cluster reached only through a kubeconfig context the
    profile allows, exactly as a GKE context would be (no in-process shortcuts: no ground truth, no request
    log), including waiting for the run's pods to terminate before returning."""
    profile = profile_with(load_profile("baseline"), {"clusters.allowed_contexts": ["sim"]})
    with EmbeddedCluster(profile) as embedded:
        use_kubeconfig(monkeypatch, tmp_path, "sim", embedded.url)
        outcome = runbook.run(runbook.Scenario("live path", profile), "kubeconfig:sim")
        leftover, _ = embedded.store.list("/Pod", profile.namespace, f"{RUN_ID}={outcome.run_id}")
    assert outcome.ready and outcome.truth is None
    assert outcome.timeline.pods and outcome.time_to_ready
    assert leftover == []  # cleaned up and waited for before the next scenario could start
