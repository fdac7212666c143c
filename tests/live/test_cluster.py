"""The cluster layer against two API servers, the embedded one and a real kube-apiserver v1.35.4 (issue #12), over
real HTTP through the official client, reached as a user reaches GKE: `kubeconfig:<context>` with a profile that
allows the context. What a real server does is the specification; each test runs on both (`[embedded]`, `[real]`).

Covered: apply in dependency order (server-side apply, field manager `coldstart`) and read-back; idempotent
re-apply (unchanged, no resourceVersion moves); a conflict naming the other manager (409 unless forced); a dry run
that creates nothing; cleanup by run label and creation mark that deletes only this run's objects; a disallowed
context refused with zero requests; an object someone else made stopping the apply before any write; waits and
the recorder over watches; relisting after `410 Gone`; lists read in pages; `coldstart cleanup` from the CLI.

Pods: the real server has no scheduler or kubelets (tools/apiserver runs only the garbage-collector, namespace,
serviceaccount and root-CA controllers), and the embedded server runs here with its simulation's controllers
removed, so both are bare API servers. Where a test needs pods to progress, the test plays the kubelet, kwok-style
(tests/support/kwok.py): a Node with a Ready status, pods bound by `spec.nodeName`, their status written through the
`status` subresource and the kubelet's Events created, with the server's clock. That exercises exactly what the
library depends on (list + watch deliveries, conditions, container states, events by field selector) with the
real server's semantics, without pretending the oracle runs containers. What the simulated cluster adds (pods that
really become Ready from the manifests, live invariants, traps, no-polling budgets) is in test_cluster_simulated.py,
on the embedded cluster only.

`410 Gone` on demand: the real server's watch cache keeps at least 75 s of history (and grows up to 100k events
to keep it), so churning writes cannot expire a resourceVersion in a test's time. The `expiring_server` fixture
uses a second real server with the watch cache off and compacts its etcd, which is what a real cluster's
apiserver does every 5 minutes: a watch from a compacted revision gets the same `ERROR` event with a 410 Expired
Status ("The resourceVersion for the provided watch is too old.") that a client meets in production.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from kubernetes import client as k8s

from coldstart.cli import main
from coldstart.embedded.store.resources import RESOURCES
from coldstart.errors import Conflict, NotFound, OwnershipRefused, TargetRefused, WaitFailed, WatchExpired
from coldstart.kube.labels import CREATED_BY_RUN, MANAGED_BY, RUN_ID
from coldstart.levers.render import apply_order, flatten, object_name, render
from coldstart.live import cluster as cluster_module
from coldstart.live.cluster import Cluster
from coldstart.live.readback import read_back
from coldstart.live.recorder import Recorder, Recording
from coldstart.live.wait import Progress, pod_ready, wait_pods_ready
from coldstart.profiles import Profile, load_profile
from tests.support import kwok, rawapi
from tests.support.servers import Server

SERVINGS = ["deployment", "kserve"]
KINDS = {r.plural: r.kind for r in RESOURCES}
WARM_BUFFER = "coldstart-warm-buffer"


def _profile(server: Server, request: pytest.FixtureRequest, serving: str = "deployment") -> Profile:
    """The baseline profile in this test's namespace; the KServe form needs the upstream CRDs on the real server
    (the GKE profile's ComputeClass has no public CRD, so it is not applied to the real server here)."""
    if server.name == "real" and serving == "kserve":
        request.getfixturevalue("real_crds")
    return server.profile("baseline", {"runtime.serving": serving})


def _versions(conn: Cluster) -> dict[str, str]:
    return {object_name(o): o["metadata"]["resourceVersion"] for o in read_back(conn)}


def _writes(server: Server, mark: int) -> list[str]:
    return [f"{r.verb} {KINDS.get(r.resource, r.resource)}/{r.name}" for r in server.requests_since(mark) if r.write]


# -- apply, read back, re-apply, conflicts, dry run ---------------------------------------------------


@pytest.mark.parametrize("serving", SERVINGS)
def test_apply_creates_in_dependency_order_by_server_side_apply_and_reads_back(server, request, serving):
    """A real server creates an object on a server-side apply (PATCH `application/apply-patch+yaml`, 201) and
    records the field manager `coldstart` with operation `Apply` in managedFields; it checks no order itself, so
    the order is ours: PriorityClasses before the pods that name them, the PVC before its mount, the ServingRuntime
    before the InferenceService. Read-back finds exactly this run's objects by label, each with the creation mark."""
    profile = _profile(server, request, serving)
    docs = flatten(render(profile))
    with server.connect(profile) as conn:
        conn.ensure_namespace(profile.namespace)
        mark = server.mark()
        applied = conn.apply(docs)
        writes = [r for r in server.requests_since(mark) if r.write]
        mine = read_back(conn)

    ordered = [object_name(d) for d in apply_order(docs)]
    assert [(a.object, a.action, a.dry_run) for a in applied] == [(o, "created", False) for o in ordered]
    assert [f"{KINDS[w.resource]}/{w.name}" for w in writes] == [f"{d['kind']}/{d['metadata']['name']}"
                                                                  for d in apply_order(docs)]
    assert {(w.verb, w.query.get("fieldManager"), w.query.get("force"), w.query.get("dryRun")) for w in writes} == {
        ("patch", "coldstart", None, None)}  # server-side apply, never forced, never dry
    assert {object_name(o) for o in mine} == set(ordered)
    for obj in mine:
        meta = obj["metadata"]
        assert ("coldstart", "Apply") in {(m["manager"], m["operation"]) for m in meta["managedFields"]}
        assert meta["labels"][MANAGED_BY] == "coldstart" and meta["labels"][RUN_ID] == conn.run_id
        assert meta["annotations"][CREATED_BY_RUN] == conn.run_id


@pytest.mark.parametrize("serving", SERVINGS)
def test_a_second_apply_is_unchanged_and_moves_no_resource_version(server, request, serving):
    """A real server answers a server-side apply that changes nothing with 200 and the same resourceVersion (no
    write reaches etcd, no watch event fires): re-running a runbook is free and shows as `unchanged`.

    One exception, the real server's own: a PersistentVolumeClaim is stored with an empty status on create and
    read back with `phase: Pending` defaulted, and the first update of any kind (a no-op apply included) stores
    the defaulted status, so that claim's resourceVersion moves once, with nothing a client can see changed. The
    embedded server has no such step; from the third apply on, nothing moves on either."""
    profile = _profile(server, request, serving)
    docs = flatten(render(profile))
    with server.connect(profile) as conn:
        conn.ensure_namespace(profile.namespace)
        conn.apply(docs)
        first = _versions(conn)
        again = conn.apply(docs)
        second = _versions(conn)
        third = conn.apply(docs)
        last = _versions(conn)
    for round_ in (again, third):
        assert [(a.object, a.action, a.changes) for a in round_ if a.action != "unchanged"] == []
        assert len(round_) == len(docs)
    moved = {name for name in first if first[name] != second[name]}
    assert moved == ({n for n in first if n.startswith("PersistentVolumeClaim/")} if server.name == "real" else set())
    assert last == second


def test_a_field_another_manager_owns_is_a_conflict_naming_it_unless_forced(server, request):
    """A real server refuses an apply that would change a field another manager owns: 409 with a cause
    `{"reason": "FieldManagerConflict", "field": ".spec.replicas"}` and the message `Apply failed with 1 conflict:
    conflict with "keda-operator": .spec.replicas`, and writes nothing. That is how coldstart notices an
    autoscaler owning replicas instead of fighting it (and why such a 409 is never retried); with force the field
    changes hands."""
    profile = _profile(server, request)
    docs = flatten(render(profile))
    path = f"/apis/apps/v1/namespaces/{profile.namespace}/deployments/{WARM_BUFFER}"
    with server.connect(profile) as conn:
        conn.ensure_namespace(profile.namespace)
        conn.apply(docs)
        hands = server.hands()
        taken = rawapi.call(hands, "PATCH", path, {"fieldManager": "keda-operator", "force": True},
                            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": WARM_BUFFER},
                             "spec": {"replicas": 3}}, content_type=rawapi.APPLY)
        assert taken.ok, taken.body
        hands.close()
        mark = server.mark()
        with pytest.raises(Conflict) as err:
            conn.apply(docs)
        tries = [w for w in _writes(server, mark) if w == f"patch Deployment/{WARM_BUFFER}"]
        untouched = conn.get("apps/v1", "Deployment", WARM_BUFFER, profile.namespace)
        forced = conn.apply(docs, force=True)
        live = conn.get("apps/v1", "Deployment", WARM_BUFFER, profile.namespace)

    assert err.value.status == 409 and err.value.reason == "FieldManagerConflict"
    assert len(tries) == 1  # a conflict with a manager is not an optimistic-concurrency 409: never retried
    assert 'conflict with "keda-operator"' in str(err.value) and ".spec.replicas" in str(err.value)
    assert untouched["spec"]["replicas"] == 3
    changed = [(a.object, a.action, a.changes) for a in forced if a.action != "unchanged"]
    assert changed == [(f"Deployment/{profile.namespace}/{WARM_BUFFER}", "configured", ["spec.replicas"])]
    assert live["spec"]["replicas"] == profile.nodes.warm_buffer
    owners = {m["manager"]: json.dumps(m.get("fieldsV1")) for m in live["metadata"]["managedFields"]}
    assert '"f:replicas"' in owners["coldstart"] and '"f:replicas"' not in owners.get("keda-operator", "")


def test_a_dry_run_creates_nothing_and_reports_what_would_change(server, request):
    """A real server runs a `dryRun=All` request through admission and validation and answers as if it had
    written, but stores nothing and moves no resourceVersion: the plan of a runbook is the server's own answer."""
    profile = _profile(server, request)
    docs = flatten(render(profile))
    with server.connect(profile) as conn:
        conn.ensure_namespace(profile.namespace)
        mark = server.mark()
        planned = conn.apply(docs, dry_run=True)
        dry_writes = [r for r in server.requests_since(mark) if r.write]
        nothing = read_back(conn)

        conn.apply(docs)
        edited = json.loads(json.dumps(docs))
        buffer = next(d for d in edited if d["kind"] == "Deployment" and d["metadata"]["name"] == WARM_BUFFER)
        buffer["spec"]["replicas"] = 3
        before = _versions(conn)
        replanned = conn.apply(edited, dry_run=True)
        after = _versions(conn)
        live = conn.get("apps/v1", "Deployment", WARM_BUFFER, profile.namespace)

    assert {(a.action, a.dry_run) for a in planned} == {("created", True)} and len(planned) == len(docs)
    assert len(dry_writes) == len(docs) and all(r.query.get("dryRun") == "All" for r in dry_writes)
    assert nothing == []
    changed = [(a.object, a.action, a.changes) for a in replanned if a.action != "unchanged"]
    assert changed == [(f"Deployment/{profile.namespace}/{WARM_BUFFER}", "configured", ["spec.replicas"])]
    assert all(a.dry_run for a in replanned) and after == before
    assert live["spec"]["replicas"] == profile.nodes.warm_buffer


# -- whose objects: cleanup, refusals --------------------------------------------------------------------


def test_cleanup_deletes_only_this_runs_objects(server, request):
    """A real server deletes what it is asked to; choosing is ours. Cleanup lists by the run's label and deletes an
    object only when it also carries this run's creation mark: a person's objects, another run's, and one that
    merely copies our labels all survive, and the namespace stays (it holds other people's objects too)."""
    profile = _profile(server, request)
    ns = profile.namespace
    with server.connect(profile) as conn:
        conn.ensure_namespace(ns)
        applied = conn.apply(flatten(render(profile)))
        hands = server.hands()
        core, apps = k8s.CoreV1Api(hands), k8s.AppsV1Api(hands)
        core.create_namespaced_config_map(ns, {"metadata": {"name": "by-hand"}, "data": {"a": "1"}})
        core.create_namespaced_config_map(ns, {"metadata": {"name": "copied-labels", "labels": {
            MANAGED_BY: "coldstart", RUN_ID: conn.run_id}}})  # the labels without the creation mark
        apps.create_namespaced_deployment(ns, {
            "metadata": {"name": "by-hand", "labels": {MANAGED_BY: "someone-else"}},
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "by-hand"}},
                     "template": {"metadata": {"labels": {"app": "by-hand"}},
                                  "spec": {"containers": [{"name": "c", "image": profile.image.pause}]}}}})
        with server.connect(profile, run_id="aaaa0004") as other:
            other.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other-run"}, "data": {}}])
        mark = server.mark()
        deleted = conn.delete_run()
        deletes = [w for w in _writes(server, mark) if w.startswith("delete")]
        survivors = {(kind, name): conn.get(version, kind, name, ns) for kind, version, name in (
            ("ConfigMap", "v1", "by-hand"), ("ConfigMap", "v1", "copied-labels"), ("Deployment", "apps/v1", "by-hand"),
            ("ConfigMap", "v1", "other-run"))}
        namespace = conn.get("v1", "Namespace", ns)
        hands.close()

    assert {a.object for a in applied} <= set(deleted)
    assert sorted(deletes) == sorted(f"delete {d.split('/')[0]}/{d.split('/')[-1]}" for d in deleted)
    for key, survivor in survivors.items():
        assert survivor is not None and not survivor["metadata"].get("deletionTimestamp"), key
    assert survivors[("ConfigMap", "other-run")]["metadata"]["labels"][RUN_ID] == "aaaa0004"
    assert namespace is not None and not namespace["metadata"].get("deletionTimestamp")


def test_a_context_the_profile_does_not_allow_is_refused_before_any_request(server):
    """Refusal happens before the client exists: the server (a real one's audit log) sees zero requests. The
    same context, once the profile allows it, does reach this server, so the silence is the refusal's."""
    mark = server.mark()
    with pytest.raises(TargetRefused, match="allowed_contexts") as err:
        Cluster.connect(f"kubeconfig:{server.context}", profile=load_profile("baseline"))
    assert err.value.exit_code == 2 and server.requests_since(mark) == []

    with server.connect(server.profile()) as conn:
        assert conn.get("v1", "Namespace", "default") is not None
    assert [r.resource for r in server.requests_since(mark) if r.resource] == ["namespaces"]


def test_an_object_someone_else_made_stops_the_apply_before_any_write(server, request):
    """A person made a PVC and a PriorityClass with the names the render uses. The real server would let a
    server-side apply take them over silently (a new manager simply joins managedFields), so the check is ours:
    every object is read first and the apply stops before its first write, naming both. Adopted explicitly, the
    run applies over them without marking them, and its cleanup leaves them in place."""
    profile = _profile(server, request)
    docs = flatten(render(profile))
    names = {("PersistentVolumeClaim", f"{profile.model.served_name}-cache"), ("PriorityClass", "coldstart-workload")}
    theirs = [json.loads(json.dumps(d)) for d in docs if (d["kind"], d["metadata"]["name"]) in names]
    server.namespace_ready()  # a namespace that is someone else's as well: it is used, never changed
    hands = server.hands()
    uids = {}
    for doc in theirs:
        doc["metadata"]["labels"] = {"owner": "human"}
        path = (f"/api/v1/namespaces/{profile.namespace}/persistentvolumeclaims" if doc["kind"] != "PriorityClass"
                else "/apis/scheduling.k8s.io/v1/priorityclasses")
        made = rawapi.call(hands, "POST", path, body=doc)
        assert made.status == 201, made.body
        uids[doc["kind"]] = made.body["metadata"]["uid"]
    hands.close()

    with server.connect(profile) as conn:
        mark = server.mark()
        with pytest.raises(OwnershipRefused) as err:
            conn.apply(docs)
        refused_writes = _writes(server, mark)
        adopted = conn.apply(docs, adopt=True)
        conn.delete_run()
        after = {kind: conn.get(version, kind, name, profile.namespace if kind != "PriorityClass" else None)
                 for kind, version, name in (("PersistentVolumeClaim", "v1", f"{profile.model.served_name}-cache"),
                                             ("PriorityClass", "scheduling.k8s.io/v1", "coldstart-workload"))}
        namespace = conn.get("v1", "Namespace", profile.namespace)

    message = str(err.value)
    assert f"PersistentVolumeClaim/{profile.namespace}/{profile.model.served_name}-cache" in message
    assert "PriorityClass/coldstart-workload" in message and err.value.exit_code == 2
    assert refused_writes == []
    assert {a.action for a in adopted if a.object.startswith(("PersistentVolumeClaim", "PriorityClass/coldstart-w"))
            } <= {"adopted", "unchanged"}
    for kind, obj in after.items():
        assert obj is not None and obj["metadata"]["uid"] == uids[kind] and not obj["metadata"].get("deletionTimestamp")
        assert obj["metadata"]["labels"]["owner"] == "human" and RUN_ID not in obj["metadata"]["labels"]
        assert CREATED_BY_RUN not in (obj["metadata"].get("annotations") or {})
    assert MANAGED_BY not in (namespace["metadata"].get("labels") or {})


# -- waits and the recorder, the kubelet played through the API ------------------------------------------


def _kubelet_on_progress(server: Server, namespace: str, pods: list[str], after_lists: int = 1,
                         **status) -> Callable[[Progress], None]:
    """A progress callback that, right after the wait's n-th list, writes each pod's status as its kubelet would:
    whatever the wait sees next can only come over the watch it opens from that list."""
    calls = []

    def progress(_: Progress) -> None:
        calls.append(True)
        if len(calls) == after_lists:
            hands = server.hands()
            for name in pods:
                kwok.set_status(hands, namespace, name, **status)
            hands.close()
    return progress


def _pods_on_a_node(server: Server, namespace: str, labels: dict[str, str], count: int) -> list[str]:
    server.namespace_ready()
    hands = server.hands()
    kwok.add_node(hands, "kwok-0")
    names = [f"engine-{i}" for i in range(count)]
    for name in names:
        made = rawapi.call(hands, "POST", f"/api/v1/namespaces/{namespace}/pods",
                           body=kwok.pod(name, "kwok-0", labels))
        assert made.status == 201, made.body
    hands.close()
    return names


def test_a_wait_lists_once_then_watches_until_the_kubelet_reports_ready(server):
    """On a real server a list returns a resourceVersion from which a watch delivers every later change in order,
    ending at the server-side timeoutSeconds. The wait is one list and one watch from that version: the pods turn
    Ready after the list, so only the watch can have told it."""
    profile = server.profile()
    with server.connect(profile) as conn:
        selector = f"{RUN_ID}={conn.run_id}"
        pods = _pods_on_a_node(server, profile.namespace, {RUN_ID: conn.run_id}, 2)
        mark = server.mark()
        ready = wait_pods_ready(conn, profile.namespace, selector, 2, timeout=600,
                                progress=_kubelet_on_progress(server, profile.namespace, pods))
        reads = [r for r in server.requests_since(mark) if r.resource == "pods" and r.verb in ("list", "watch")]

    assert sorted(p["metadata"]["name"] for p in ready) == pods and all(pod_ready(p) for p in ready)
    assert [r.verb for r in reads] == ["list", "watch"]
    assert reads[1].query["labelSelector"] == selector and reads[1].query["resourceVersion"]
    assert reads[1].query["allowWatchBookmarks"] == "true" and 0 < int(reads[1].query["timeoutSeconds"]) <= 600


def test_a_wait_fails_fast_on_crash_loop_back_off_with_the_kubelets_reason(server):
    """A pod whose container is in CrashLoopBackOff will not become Ready by waiting; the wait ends at once and
    names the kubelet's own event, found by the field selector `involvedObject.name` that a real server indexes
    for Events."""
    profile = server.profile()
    with server.connect(profile) as conn:
        (pod,) = _pods_on_a_node(server, profile.namespace, {RUN_ID: conn.run_id}, 1)
        hands = server.hands()
        kwok.event(hands, profile.namespace, pod, "BackOff", "Back-off restarting failed container vllm", "kwok-0",
                   "Warning")
        hands.close()
        with pytest.raises(WaitFailed, match=r"CrashLoopBackOff.*\(BackOff: Back-off restarting failed container"):
            wait_pods_ready(conn, profile.namespace, f"{RUN_ID}={conn.run_id}", 1, timeout=600,
                            progress=_kubelet_on_progress(server, profile.namespace, [pod], waiting=(
                                "CrashLoopBackOff"), restarts=3, last={"reason": "Error", "exitCode": 1}))


def test_the_recorder_keeps_every_pod_and_event_its_watches_delivered(server):
    """A real server's watch sends ADDED, MODIFIED and DELETED for each change after the list's version. The
    recorder keeps the last state of every pod (one deleted meanwhile included: no later list could show it) and
    every kubelet Event, without a single interruption."""
    profile = server.profile()
    ns = profile.namespace
    with server.connect(profile) as conn:
        labels = {RUN_ID: conn.run_id}
        server.namespace_ready()
        recorder = Recorder(conn, ns, label_selector=f"{RUN_ID}={conn.run_id}")
        hands = server.hands()
        kwok.add_node(hands, "kwok-0")
        for name in ("engine-0", "engine-1"):
            rawapi.call(hands, "POST", f"/api/v1/namespaces/{ns}/pods", body=kwok.pod(name, "kwok-0", labels))
            for reason in ("Pulled", "Created", "Started"):
                kwok.event(hands, ns, name, reason, f"{reason} container vllm", "kwok-0")
            kwok.set_status(hands, ns, name)
        gone = rawapi.call(hands, "DELETE", f"/api/v1/namespaces/{ns}/pods/engine-1", {"gracePeriodSeconds": 0})
        assert gone.ok, gone.body
        hands.close()

        def everything(seen: Recording) -> bool:
            ready = {p["metadata"]["name"] for p in seen.pods if pod_ready(p)}
            return ready == {"engine-0", "engine-1"} and len(seen.events) >= 6
        live = recorder.wait_until(everything, timeout=30)
        recording = recorder.stop(logs_for=None)
        still_there, _, _ = conn.list("v1", "Pod", ns)

    assert everything(live), (sorted(p["metadata"]["name"] for p in live.pods), len(live.events))
    assert [p["metadata"]["name"] for p in still_there] == ["engine-0"]
    assert {p["metadata"]["name"] for p in recording.pods} == {"engine-0", "engine-1"}
    reasons = sorted((e["involvedObject"]["name"], e["reason"]) for e in recording.events)
    assert reasons == sorted((p, r) for p in ("engine-0", "engine-1") for r in ("Pulled", "Created", "Started"))
    assert recording.interruptions == 0


class _Expiring(Cluster):
    """Right after its first list for each named (kind, label selector), the server's history moves past the list's
    resourceVersion (server.expire()), so the watch that follows gets `410 Gone`."""

    server: Server
    pending: set[tuple[str, str | None]]
    stale: dict[tuple[str, str | None], str]

    def list(self, api_version, kind, namespace=None, *, label_selector=None, field_selector=None):
        items, rv, now = super().list(api_version, kind, namespace, label_selector=label_selector,
                                      field_selector=field_selector)
        if (kind, label_selector) in self.pending:
            self.pending.discard((kind, label_selector))
            self.stale[(kind, label_selector)] = rv
            self.server.expire()
        return items, rv, now


def test_wait_and_recorder_relist_after_410_gone_and_miss_nothing(expiring_server):
    """A watch from a resourceVersion the server no longer keeps is answered 200 with one `ERROR` event carrying a
    410 Expired Status, then the stream ends. The wait and the recorder relist and watch on from the new list, and
    nothing is lost: the pod turned Ready while the history was being cut, and it is seen Ready."""
    server = expiring_server
    profile = server.profile()
    ns = profile.namespace
    with server.connect(profile, cls=_Expiring) as conn:
        run, engine = f"{RUN_ID}={conn.run_id}", f"{RUN_ID}={conn.run_id},app.kubernetes.io/component=engine"
        conn.server, conn.stale = server, {}
        conn.pending = {("Event", None), ("Pod", run), ("Pod", engine)}
        (pod,) = _pods_on_a_node(server, ns, {RUN_ID: conn.run_id, "app.kubernetes.io/component": "engine"}, 1)
        recorder = Recorder(conn, ns, label_selector=run)
        mark = server.mark()
        hands = server.hands()
        kwok.event(hands, ns, pod, "Started", "Started container vllm", "kwok-0")
        hands.close()
        ready = wait_pods_ready(conn, ns, engine, 1, timeout=600,  # Ready after the relist that follows the 410
                                progress=_kubelet_on_progress(server, ns, [pod], after_lists=2))
        reads = [(r.verb, r.query.get("resourceVersion")) for r in server.requests_since(mark)
                 if r.verb in ("list", "watch") and r.resource == "pods" and r.query.get("labelSelector") == engine]
        live = recorder.wait_until(lambda seen: any(pod_ready(p) for p in seen.pods) and len(seen.events) >= 1, 30)
        recording = recorder.stop(logs_for=None)
        for (kind, selector), rv in conn.stale.items():  # the server really had moved past each version
            with pytest.raises(WatchExpired):
                list(conn.watch("v1", kind, ns, resource_version=rv, timeout=5, label_selector=selector))

    assert conn.pending == set()
    stale = conn.stale[("Pod", engine)]
    assert [verb for verb, _ in reads] == ["list", "watch", "list", "watch"]  # 410: relisted, then watched on
    assert reads[1] == ("watch", stale) and reads[3][1] not in (None, stale)
    assert [p["metadata"]["name"] for p in ready] == [pod] and pod_ready(ready[0])
    assert recording.interruptions >= 2  # both of the recorder's streams relisted
    assert any(pod_ready(p) for p in live.pods) and [e["reason"] for e in live.events] == ["Started"]
    assert [p["metadata"]["name"] for p in recording.pods] == [pod]


def test_the_log_of_a_missing_pod_is_not_found(server):
    """A real server answers a log request for a pod that does not exist with 404 and a JSON Status, but only to a
    client that accepts JSON: to `Accept: text/plain` alone it answers 406 Not Acceptable, which hid the NotFound."""
    profile = server.profile()
    server.namespace_ready()
    with server.connect(profile) as conn, pytest.raises(NotFound, match=r'pods "nope" not found'):
        conn.pod_logs("nope", profile.namespace, "vllm")


# -- lists, the command line ---------------------------------------------------------------------------------


def test_lists_are_read_in_pages_and_every_item_arrives(server, monkeypatch):
    """A real server answers `limit=N` with N items and a `continue` token until the last page (which has none),
    all pages from one consistent snapshot; the list follows the tokens and returns every item once. The page size
    is made 5 here (500 in use, as kubectl) so 17 objects take four pages."""
    monkeypatch.setattr(cluster_module, "LIST_PAGE", 5)
    profile = server.profile()
    server.namespace_ready()
    hands = server.hands()
    for i in range(17):
        k8s.CoreV1Api(hands).create_namespaced_config_map(profile.namespace, {
            "metadata": {"name": f"cm-{i:02d}", "labels": {"batch": "pages"}}})
    hands.close()
    with server.connect(profile) as conn:
        mark = server.mark()
        items, rv, now = conn.list("v1", "ConfigMap", profile.namespace, label_selector="batch=pages")
        pages = [r for r in server.requests_since(mark) if r.verb == "list"]
    assert sorted(i["metadata"]["name"] for i in items) == [f"cm-{i:02d}" for i in range(17)]
    assert all(i["kind"] == "ConfigMap" and i["apiVersion"] == "v1" for i in items) and rv and now
    assert [p.query["limit"] for p in pages] == ["5"] * 4
    assert ["continue" in p.query for p in pages] == [False, True, True, True]


def test_cli_cleanup_deletes_one_runs_leftovers_and_nothing_else(server, request, tmp_path, capsys):
    """`coldstart cleanup RUN_ID` for a run that was kept (or broke off), as a user runs it against a cluster:
    only that run's objects go; another run's and an unlabelled object stay; a context the profile does not allow
    is refused with exit 2."""
    profile = _profile(server, request, "kserve")
    profile_file = tmp_path / "live.yaml"
    profile_file.write_text(f"extends: baseline\nnamespace: {profile.namespace}\n"
                            f"clusters: {{allowed_contexts: [{server.context}]}}\n")
    target = f"kubeconfig:{server.context}"
    docs = flatten(render(profile))
    with server.connect(profile, run_id="aaaa0001") as conn:
        conn.ensure_namespace(profile.namespace)
        conn.apply(docs)
    with server.connect(profile, run_id="aaaa0002") as conn:
        conn.apply([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "theirs"}}])
    hands = server.hands()
    k8s.CoreV1Api(hands).create_namespaced_config_map(profile.namespace, {"metadata": {"name": "unlabelled"}})
    hands.close()
    assert main(["cleanup", "aaaa0001", "--profile", str(profile_file), "--cluster", target]) == 0
    with server.connect(profile, run_id="aaaa0003") as conn:
        ours = read_back(conn, {d["kind"] for d in docs})
        config_maps, _, _ = conn.list("v1", "ConfigMap", profile.namespace)
    assert f"deleted InferenceService/{profile.namespace}/{profile.model.served_name}" in capsys.readouterr().out
    assert [o for o in ours if o["metadata"]["labels"].get(RUN_ID) == "aaaa0001"
            and not o["metadata"].get("deletionTimestamp")] == []
    assert {c["metadata"]["name"] for c in config_maps} >= {"theirs", "unlabelled"}
    assert main(["cleanup", "aaaa0001", "--cluster", target]) == 2  # baseline itself does not allow it
