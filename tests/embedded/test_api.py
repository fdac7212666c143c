"""The embedded API server through the OFFICIAL kubernetes client over real HTTP: discovery, CRUD, errors,
patch types, server-side apply, dry run, subresources and admission. Watches and logs: test_embedded_api_streams.
"""

from __future__ import annotations

import email.utils
import json

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.dynamic import DynamicClient

from coldstart.embedded.apiserver.discovery import AGGREGATED
from coldstart.embedded.apiserver.server import ApiServer
from coldstart.embedded.store.resources import resource_for
from coldstart.embedded.store.store import PodLogs, Store
from tests.conftest import FIXTURES, need


class FakeClock:
    def __init__(self, t: float = 1_750_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def env(tmp_path):
    clock, writes = FakeClock(), []
    store = Store(now=clock)
    with ApiServer(store, PodLogs(), on_client_write=lambda: writes.append(1)) as api:
        ac = client.ApiClient(client.Configuration(host=api.url))
        yield type("Env", (), {"api": api, "store": store, "clock": clock, "ac": ac, "writes": writes,
                               "v1": client.CoreV1Api(ac), "apps": client.AppsV1Api(ac),
                               "dyn": lambda: DynamicClient(ac, cache_file=str(tmp_path / "discovery.json"))})
        ac.close()


def pod(name: str, image: str = "vllm/vllm-openai:v0.8.5", **labels: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "vllm", "image": image}]}}


def deployment(name: str = "vllm", replicas: int | None = None) -> dict:
    spec = {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai:v0.8.5"}]}}}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def status_of(exc: ApiException) -> dict:
    return json.loads(exc.body)


# -- discovery -----------------------------------------------------------------------------------------


def test_version_and_dynamic_discovery_of_every_served_kind(env):
    assert client.VersionApi(env.ac).get_code().git_version.startswith("v1.")
    dyn = env.dyn()
    for r in env.api.kinds.served():  # per profile: ComputeClass only on GKE
        found = dyn.resources.get(api_version=r.api_version, kind=r.kind)
        assert (found.name, found.namespaced) == (r.plural, r.namespaced)
        assert set(found.subresources) == set(r.subresources)
    assert dyn.resources.get(api_version="v1", kind="Pod").subresources["log"].verbs == ["get"]


def test_aggregated_discovery_when_the_client_asks_for_it(env):
    response = env.ac.rest_client.request("GET", env.api.url + "/apis",
                                          headers={"Accept": AGGREGATED + ",application/json"})
    doc = json.loads(response.read())
    assert doc["kind"] == "APIGroupDiscoveryList"
    apps = next(i for i in doc["items"] if i["metadata"]["name"] == "apps")
    deploy = next(r for r in apps["versions"][0]["resources"] if r["resource"] == "deployments")
    assert {s["subresource"] for s in deploy["subresources"]} == {"status", "scale"}


# -- CRUD, namespaces, selectors, errors ---------------------------------------------------------------------


def test_create_get_list_replace_delete_with_resource_versions(env):
    created = env.v1.create_namespaced_pod("default", pod("a", app="vllm"))
    assert created.metadata.uid and created.metadata.generation == 1
    got = env.v1.read_namespaced_pod("a", "default")
    assert got.metadata.resource_version == created.metadata.resource_version
    listed = env.v1.list_namespaced_pod("default")
    assert [p.metadata.name for p in listed.items] == ["a"]
    assert int(listed.metadata.resource_version) >= int(created.metadata.resource_version)
    raw_items = json.loads(env.v1.list_namespaced_pod("default", _preload_content=False).read())["items"]
    assert "kind" not in raw_items[0] and "apiVersion" not in raw_items[0]  # as kube-apiserver sends them

    got.metadata.labels["tier"] = "gpu"
    replaced = env.v1.replace_namespaced_pod("a", "default", got)
    assert int(replaced.metadata.resource_version) > int(got.metadata.resource_version)
    with pytest.raises(ApiException) as stale:
        env.v1.replace_namespaced_pod("a", "default", got)  # still carries the old resourceVersion
    assert stale.value.status == 409 and status_of(stale.value)["reason"] == "Conflict"

    deleted = env.v1.delete_namespaced_pod("a", "default")
    assert deleted.metadata.name == "a"  # pods answer with the object ...
    env.apps.create_namespaced_deployment("default", deployment())
    answer = env.apps.delete_namespaced_deployment("vllm", "default", propagation_policy="Background")
    assert answer["kind"] == "Status" and answer["status"] == "Success"  # ... deployments with a Status
    env.apps.create_namespaced_deployment("default", deployment())
    waiting = env.apps.delete_namespaced_deployment("vllm", "default", propagation_policy="Foreground")
    assert waiting["kind"] == "Deployment" and waiting["metadata"]["finalizers"] == ["foregroundDeletion"]
    with pytest.raises(ApiException) as gone:
        env.v1.read_namespaced_pod("a", "default")
    body = status_of(gone.value)
    assert gone.value.status == 404 and body["reason"] == "NotFound"
    assert body["message"] == 'pods "a" not found' and body["details"] == {"name": "a", "kind": "pods"}


def test_identical_update_keeps_the_resource_version(env):
    created = env.v1.create_namespaced_pod("default", pod("a"))
    again = env.v1.replace_namespaced_pod("a", "default", env.v1.read_namespaced_pod("a", "default"))
    assert again.metadata.resource_version == created.metadata.resource_version
    assert env.store.changes(int(created.metadata.resource_version), "/Pod") == []


def test_namespaces_must_exist_and_system_ones_do(env):
    names = {n.metadata.name for n in env.v1.list_namespace().items}
    assert {"default", "kube-system"} <= names
    with pytest.raises(ApiException) as missing:
        env.v1.create_namespaced_pod("nope", pod("a"))
    assert missing.value.status == 404 and status_of(missing.value)["message"] == 'namespaces "nope" not found'
    ns = env.v1.create_namespace({"metadata": {"name": "llm"}})
    assert ns.status.phase == "Active" and ns.metadata.labels["kubernetes.io/metadata.name"] == "llm"
    assert env.v1.create_namespaced_pod("llm", pod("a")).metadata.namespace == "llm"
    with pytest.raises(ApiException) as exists:
        env.v1.create_namespaced_pod("llm", pod("a"))
    assert exists.value.status == 409 and status_of(exists.value)["reason"] == "AlreadyExists"


def test_label_and_field_selectors(env):
    env.v1.create_namespaced_pod("default", pod("a", app="vllm", tier="gpu"))
    env.v1.create_namespaced_pod("default", pod("b", app="vllm"))
    env.v1.create_namespaced_pod("kube-system", pod("c", app="dns"))
    names = lambda items: sorted(p.metadata.name for p in items)  # noqa: E731
    assert names(env.v1.list_pod_for_all_namespaces(label_selector="app=vllm,!tier").items) == ["b"]
    assert names(env.v1.list_pod_for_all_namespaces(label_selector="app in (vllm,dns)").items) == ["a", "b", "c"]
    assert names(env.v1.list_pod_for_all_namespaces(field_selector="metadata.namespace!=default").items) == ["c"]
    assert names(env.v1.list_namespaced_pod("default", field_selector="status.phase=Pending").items) == ["a", "b"]
    with pytest.raises(ApiException) as unsupported:
        env.v1.list_namespaced_pod("default", field_selector="spec.containers=x")
    assert unsupported.value.status == 400
    assert "field label not supported: spec.containers" in status_of(unsupported.value)["message"]
    with pytest.raises(ApiException) as bad:
        env.v1.list_namespaced_pod("default", label_selector="app in vllm")
    assert bad.value.status == 400 and status_of(bad.value)["reason"] == "BadRequest"


def test_list_pages_with_limit_and_continue(env):
    for i in range(5):
        env.v1.create_namespaced_pod("default", pod(f"p{i}"))
    first = env.v1.list_namespaced_pod("default", limit=2)
    assert [p.metadata.name for p in first.items] == ["p0", "p1"] and first.metadata.remaining_item_count == 3
    rest = env.v1.list_namespaced_pod("default", limit=10, _continue=first.metadata._continue)
    assert [p.metadata.name for p in rest.items] == ["p2", "p3", "p4"] and not rest.metadata._continue


def test_unknown_paths_and_verbs(env):
    dyn = env.dyn()
    with pytest.raises(ApiException) as unknown:
        dyn.request("get", "/apis/ray.io/v1/namespaces/default/rayservices")
    assert unknown.value.status == 404
    with pytest.raises(ApiException) as verb:
        dyn.request("post", "/api/v1/namespaces/default/pods/a/log", body={})
    assert verb.value.status == 405 and status_of(verb.value)["reason"] == "MethodNotAllowed"
    broken = env.ac.rest_client.request("POST", env.api.url + "/api/v1/namespaces/default/pods",
                                        headers={"Content-Type": "application/json"}, body="{not json")
    assert broken.status == 400 and json.loads(broken.read())["reason"] == "BadRequest"


def test_date_header_is_cluster_time_and_audit_id_is_set(env):
    env.clock.t = 1_800_000_000.0
    _, code, headers = env.v1.list_namespace_with_http_info()
    assert code == 200 and headers["Date"] == email.utils.formatdate(1_800_000_000.0, usegmt=True)
    assert headers["Audit-Id"] and headers["Content-Type"] == "application/json"


def test_request_log_counts_and_client_write_hook(env):
    env.v1.create_namespaced_pod("default", pod("a"))
    env.v1.read_namespaced_pod("a", "default")
    env.v1.read_namespaced_pod("a", "default")
    env.v1.patch_namespaced_pod("a", "default", {"metadata": {"labels": {"x": "y"}}})
    assert env.api.count(key="/Pod", name="a", verb="get") == 2
    assert env.api.requests_per_object()[("/Pod", "default", "a")] == 4
    assert len(env.writes) == 2  # create + patch
    record = next(r for r in env.api.requests if r.verb == "patch")
    assert (record.method, record.namespace, record.status) == ("PATCH", "default", 200)


# -- patch types ---------------------------------------------------------------------------------------------


def test_merge_strategic_and_json_patches(env):
    env.apps.create_namespaced_deployment("default", deployment())
    merged = env.apps.patch_namespaced_deployment(
        "vllm", "default", {"metadata": {"labels": {"a": "1", "b": "2"}}},
        _content_type="application/merge-patch+json")
    assert merged.metadata.labels == {"a": "1", "b": "2"}
    merged = env.apps.patch_namespaced_deployment("vllm", "default", {"metadata": {"labels": {"a": None}}},
                                                  _content_type="application/merge-patch+json")
    assert merged.metadata.labels == {"b": "2"}
    # strategic: the sidecar is added and the vllm container keeps its image while gaining env
    strategic = env.apps.patch_namespaced_deployment("vllm", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "vllm", "env": [{"name": "HF_HOME", "value": "/cache"}]},
                       {"name": "proxy", "image": "envoyproxy/envoy:v1.30.0"}]}}}})
    containers = {c.name: c for c in strategic.spec.template.spec.containers}
    assert containers["vllm"].image == "vllm/vllm-openai:v0.8.5" and containers["vllm"].env[0].value == "/cache"
    assert containers["proxy"].image_pull_policy == "IfNotPresent"
    deleted = env.apps.patch_namespaced_deployment("vllm", "default", {"spec": {"template": {"spec": {
        "containers": [{"name": "proxy", "$patch": "delete"}]}}}})
    assert [c.name for c in deleted.spec.template.spec.containers] == ["vllm"]
    ops = [{"op": "replace", "path": "/spec/replicas", "value": 4},
           {"op": "add", "path": "/metadata/annotations", "value": {"x/y": "z"}}]
    patched = env.apps.patch_namespaced_deployment("vllm", "default", ops)
    assert patched.spec.replicas == 4 and patched.metadata.annotations == {"x/y": "z"}
    with pytest.raises(ApiException) as failed_test:
        env.apps.patch_namespaced_deployment("vllm", "default", [{"op": "test", "path": "/spec/replicas", "value": 9}])
    assert failed_test.value.status == 422


def test_custom_resources_refuse_strategic_merge_and_accept_merge_patch(env):
    isvc = {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": "llama"},
            "spec": {"predictor": {"model": {"modelFormat": {"name": "huggingface"}}}}}
    custom = client.CustomObjectsApi(env.ac)
    custom.create_namespaced_custom_object("serving.kserve.io", "v1beta1", "default", "inferenceservices", isvc)
    patched = custom.patch_namespaced_custom_object("serving.kserve.io", "v1beta1", "default", "inferenceservices",
                                                    "llama", {"spec": {"predictor": {"minReplicas": 1}}})
    assert patched["spec"]["predictor"]["minReplicas"] == 1
    listed = custom.list_namespaced_custom_object("serving.kserve.io", "v1beta1", "default", "inferenceservices")
    assert listed["items"][0]["kind"] == "InferenceService"  # custom resource lists keep their items' kind
    resource = env.dyn().resources.get(api_version="serving.kserve.io/v1beta1", kind="InferenceService")
    with pytest.raises(ApiException) as refused:
        env.dyn().patch(resource, {"metadata": {"name": "llama", "labels": {"a": "b"}}}, namespace="default")
    assert refused.value.status == 415


# -- server-side apply ---------------------------------------------------------------------------------------


def _apply(env, body, manager="coldstart", **kwargs):
    dyn = env.dyn()
    r = dyn.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    return dyn.server_side_apply(r, body=body, namespace="default", field_manager=manager, **kwargs)


def _owners(obj) -> dict[str, tuple[str, dict]]:
    return {m["manager"]: (m["operation"], m["fieldsV1"]) for m in obj["metadata"]["managedFields"]}


def test_server_side_apply_create_reapply_remove_and_keep_others(env):
    body = deployment(replicas=2)
    body["metadata"]["labels"] = {"team": "llm", "tier": "gpu"}
    created = _apply(env, body).to_dict()
    assert created["spec"]["replicas"] == 2 and created["spec"]["strategy"]["type"] == "RollingUpdate"
    operation, fields = _owners(created)["coldstart"]
    assert operation == "Apply" and fields["f:spec"]["f:replicas"] == {}
    assert _apply(env, body).metadata.resourceVersion == created["metadata"]["resourceVersion"]  # idempotent
    # another manager adds a label; then coldstart stops applying `tier`: tier goes, the other label stays
    _apply(env, {"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "vllm", "labels": {"owner": "platform"}}}, manager="platform")
    del body["metadata"]["labels"]["tier"]
    after = _apply(env, body).to_dict()
    assert after["metadata"]["labels"] == {"team": "llm", "owner": "platform"}
    assert "f:tier" not in _owners(after)["coldstart"][1]["f:metadata"]["f:labels"]
    with pytest.raises(ApiException) as no_manager:
        env.dyn().server_side_apply(env.dyn().resources.get(api_version="apps/v1", kind="Deployment"),
                                    body=body, namespace="default")
    assert no_manager.value.status == 422  # PatchOptions invalid: fieldManager required, as kube-apiserver


def test_server_side_apply_conflict_and_force(env):
    _apply(env, deployment(replicas=2))
    with pytest.raises(ApiException) as conflict:
        _apply(env, deployment(replicas=5), manager="autoscaler")
    status = status_of(conflict.value)
    assert conflict.value.status == 409 and status["reason"] == "Conflict"
    assert status["message"] == 'Apply failed with 1 conflict: conflict with "coldstart": .spec.replicas'
    assert status["details"]["causes"][0] == {"reason": "FieldManagerConflict", "message": 'conflict with "coldstart"',
                                              "field": ".spec.replicas"}
    same = _apply(env, deployment(replicas=2), manager="autoscaler")  # same value: shared ownership, no conflict
    assert same.spec.replicas == 2
    forced = _apply(env, deployment(replicas=5), manager="autoscaler", force_conflicts=True).to_dict()
    assert forced["spec"]["replicas"] == 5
    assert "f:replicas" not in _owners(forced)["coldstart"][1]["f:spec"]
    # a plain update by someone else takes the field too; coldstart re-applying its old value now conflicts
    env.apps.patch_namespaced_deployment("vllm", "default", {"spec": {"replicas": 7}}, field_manager="kubectl-edit")
    with pytest.raises(ApiException):
        _apply(env, deployment(replicas=5), manager="autoscaler")


# -- dry run, status, scale, binding, deletion with finalizers ------------------------------------------------


def test_dry_run_validates_and_stores_nothing(env):
    would = env.v1.create_namespaced_pod("default", pod("a"), dry_run="All")
    assert would.metadata.uid and would.spec.containers[0].image_pull_policy == "IfNotPresent"
    assert env.store.get("/Pod", "default", "a") is None
    with pytest.raises(ApiException) as invalid:
        env.v1.create_namespaced_pod("default", pod("Bad_Name"), dry_run="All")
    assert invalid.value.status == 422
    env.v1.create_namespaced_pod("default", pod("a"))
    rv = env.store.resource_version
    env.v1.patch_namespaced_pod("a", "default", {"metadata": {"labels": {"x": "y"}}}, dry_run="All")
    env.v1.delete_namespaced_pod("a", "default", dry_run="All")
    assert env.store.resource_version == rv and "x" not in (env.store.get("/Pod", "default", "a")["metadata"]
                                                            .get("labels") or {})


def test_status_subresource_changes_only_status(env):
    env.v1.create_namespaced_pod("default", pod("a"))
    current = env.v1.read_namespaced_pod("a", "default")
    current.status.phase = "Running"
    current.spec.active_deadline_seconds = 5  # ignored through /status
    updated = env.v1.replace_namespaced_pod_status("a", "default", current)
    assert updated.status.phase == "Running" and updated.spec.active_deadline_seconds is None
    main = env.v1.patch_namespaced_pod("a", "default", {"status": {"phase": "Failed"},
                                                        "metadata": {"labels": {"x": "y"}}})
    assert main.status.phase == "Running" and main.metadata.labels == {"x": "y"}  # status ignored on main
    custom = client.CustomObjectsApi(env.ac)
    custom.create_namespaced_custom_object("leaderworkerset.x-k8s.io", "v1", "default", "leaderworkersets",
                                           {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet",
                                            "metadata": {"name": "lws"}, "spec": {"replicas": 1},
                                            "status": {"readyReplicas": 9}})
    lws = custom.patch_namespaced_custom_object_status("leaderworkerset.x-k8s.io", "v1", "default",
                                                       "leaderworkersets", "lws", {"status": {"readyReplicas": 1}})
    assert lws["status"] == {"readyReplicas": 1}  # the create's status was dropped, the patch landed


def test_scale_subresource(env):
    env.apps.create_namespaced_deployment("default", deployment(replicas=1))
    scale = env.apps.read_namespaced_deployment_scale("vllm", "default")
    assert (scale.spec.replicas, scale.status.selector) == (1, "app=vllm")
    scaled = env.apps.patch_namespaced_deployment_scale("vllm", "default", {"spec": {"replicas": 3}})
    assert scaled.spec.replicas == 3 and env.apps.read_namespaced_deployment("vllm", "default").spec.replicas == 3
    with pytest.raises(ApiException) as negative:
        env.apps.patch_namespaced_deployment_scale("vllm", "default", {"spec": {"replicas": -1}})
    assert negative.value.status == 422


def test_binding_sets_the_node_once(env):
    env.v1.create_namespaced_pod("default", pod("a"))
    binding = {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "a"},
               "target": {"apiVersion": "v1", "kind": "Node", "name": "gpu-node-1"}}
    # like kube-apiserver, the answer is a Status, which the client cannot read as V1Binding (a known client
    # bug, kubernetes-client/python#825): callers pass _preload_content=False
    answer = env.v1.create_namespaced_pod_binding("a", "default", binding, _preload_content=False)
    assert answer.status == 201 and json.loads(answer.read())["status"] == "Success"
    bound = env.v1.read_namespaced_pod("a", "default")
    assert bound.spec.node_name == "gpu-node-1"
    assert [(c.type, c.status) for c in bound.status.conditions] == [("PodScheduled", "True")]
    with pytest.raises(ApiException) as twice:
        env.v1.create_namespaced_pod_binding("a", "default", binding, _preload_content=False)
    assert twice.value.status == 409


def test_finalizers_hold_deletion_until_removed(env):
    cm = {"metadata": {"name": "c", "finalizers": ["example.com/keep"]}, "data": {"k": "v"}}
    env.v1.create_namespaced_config_map("default", cm)
    marked = env.v1.delete_namespaced_config_map("c", "default")
    assert marked["metadata"]["deletionTimestamp"]
    assert env.store.get("/ConfigMap", "default", "c") is not None
    env.v1.patch_namespaced_config_map("c", "default", {"metadata": {"finalizers": None}},
                                       _content_type="application/merge-patch+json")
    assert env.store.get("/ConfigMap", "default", "c") is None


# -- admission ---------------------------------------------------------------------------------------------


def test_pod_defaults_priority_and_qos(env):
    sched = client.SchedulingV1Api(env.ac)
    sched.create_priority_class({"metadata": {"name": "llm-high"}, "value": 100000})
    spec = {"priorityClassName": "llm-high",
            "containers": [{"name": "vllm", "image": "vllm/vllm-openai:latest",
                            "resources": {"limits": {"cpu": "4", "memory": "16Gi"}},
                            "startupProbe": {"httpGet": {"path": "/health", "port": 8000}}},
                           {"name": "side", "image": "busybox@sha256:" + "a" * 64}]}
    created = env.v1.create_namespaced_pod("default", {"metadata": {"name": "p"}, "spec": spec})
    vllm, side = created.spec.containers
    assert (vllm.image_pull_policy, side.image_pull_policy) == ("Always", "IfNotPresent")
    assert vllm.resources.requests == {"cpu": "4", "memory": "16Gi"}  # requests default to limits
    probe = vllm.startup_probe
    assert (probe.timeout_seconds, probe.period_seconds, probe.success_threshold, probe.failure_threshold) == (
        1, 10, 1, 3)
    assert (created.spec.restart_policy, created.spec.dns_policy, created.spec.scheduler_name) == (
        "Always", "ClusterFirst", "default-scheduler")
    assert created.spec.termination_grace_period_seconds == 30 and vllm.termination_message_path
    assert created.spec.priority == 100000 and created.status.phase == "Pending"
    assert created.status.qos_class == "Burstable"  # `side` has no limits
    with pytest.raises(ApiException) as missing:
        env.v1.create_namespaced_pod("default", {"metadata": {"name": "q"},
                                                 "spec": {**spec, "priorityClassName": "nope"}})
    assert missing.value.status == 403
    assert status_of(missing.value)["message"] == 'pods "q" is forbidden: no PriorityClass with name nope was found'
    sched.create_priority_class({"metadata": {"name": "fallback"}, "value": 7, "globalDefault": True})
    plain = env.v1.create_namespaced_pod("default", pod("r"))
    assert (plain.spec.priority, plain.spec.priority_class_name, plain.status.qos_class) == (
        7, "fallback", "BestEffort")


def test_deployment_defaults_and_validation(env):
    created = env.apps.create_namespaced_deployment("default", deployment())
    assert created.spec.replicas == 1 and created.spec.revision_history_limit == 10
    assert created.spec.progress_deadline_seconds == 600
    assert created.spec.strategy.rolling_update.max_surge == "25%"
    assert created.spec.template.spec.containers[0].image_pull_policy == "IfNotPresent"
    broken = deployment("other")
    broken["spec"]["template"]["metadata"]["labels"] = {"app": "different"}
    broken["spec"]["template"]["spec"]["containers"] = []
    with pytest.raises(ApiException) as invalid:
        env.apps.create_namespaced_deployment("default", broken)
    status = status_of(invalid.value)
    assert invalid.value.status == 422 and status["reason"] == "Invalid"
    assert {c["field"] for c in status["details"]["causes"]} == {"spec.template.spec.containers",
                                                                 "spec.template.metadata.labels"}
    assert status["message"].startswith('Deployment.apps "other" is invalid: [')


def test_mutators_play_a_mutating_webhook(tmp_path):
    def webhook(obj, operation):
        if obj["kind"] == "Pod" and operation == "CREATE":
            for c in obj["spec"]["containers"]:
                c["imagePullPolicy"] = "Always"
                c.setdefault("resources", {}).setdefault("limits", {})["memory"] = "8Gi"
        return obj

    store = Store()
    with ApiServer(store, PodLogs(), mutators=[webhook]) as api:
        v1 = client.CoreV1Api(client.ApiClient(client.Configuration(host=api.url)))
        created = v1.create_namespaced_pod("default", pod("a"))
    assert created.spec.containers[0].image_pull_policy == "Always"
    assert created.spec.containers[0].resources.limits == {"memory": "8Gi"}
    assert created.spec.containers[0].resources.requests == {"memory": "8Gi"}  # defaulting ran after the webhook


def test_real_manifests_are_accepted_and_defaulted(env):
    folder = need(FIXTURES / "manifests")
    dyn, served = env.dyn(), 0
    for path in sorted(folder.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or resource_for(doc["apiVersion"], doc["kind"]) is None:
                continue  # e.g. RayService: not installed here, as on a cluster without KubeRay
            namespace = doc["metadata"].get("namespace", "default")
            if env.store.get("/Namespace", "", namespace) is None:
                env.v1.create_namespace({"metadata": {"name": namespace}})
            resource = dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
            created = dyn.create(resource, body=doc, namespace=namespace).to_dict()
            served += 1
            template = (created.get("spec") or {}).get("template") or {}
            for c in (template.get("spec") or {}).get("containers") or []:
                if doc["kind"] == "Deployment":
                    assert c["imagePullPolicy"] in ("Always", "IfNotPresent"), path.name
            if doc["kind"] == "Secret":
                assert "stringData" not in created and created["data"], path.name
    assert served >= 8


def test_deletecollection_eviction_and_a_failing_webhook_is_a_500(tmp_path):
    def webhook(obj, operation):
        if obj["metadata"]["name"] == "boom":
            raise RuntimeError("webhook crashed")

    with ApiServer(Store(), PodLogs(), mutators=[webhook]) as api:
        v1 = client.CoreV1Api(client.ApiClient(client.Configuration(host=api.url)))
        for name, group in (("a", "1"), ("b", "1"), ("c", "2")):
            v1.create_namespaced_pod("default", pod(name, g=group))
        v1.delete_collection_namespaced_pod("default", label_selector="g=1")
        assert [p.metadata.name for p in v1.list_namespaced_pod("default").items] == ["c"]
        eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "c"}}
        answer = v1.create_namespaced_pod_eviction("c", "default", eviction, _preload_content=False)
        assert answer.status == 201 and v1.list_namespaced_pod("default").items == []
        with pytest.raises(ApiException) as crashed:
            v1.create_namespaced_pod("default", pod("boom"))
        assert crashed.value.status == 500 and status_of(crashed.value)["reason"] == "InternalError"


def test_apply_accepts_a_yaml_body(env):
    dyn = env.dyn()
    cms = dyn.resources.get(api_version="v1", kind="ConfigMap")
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  model: llama\n"
    applied = dyn.server_side_apply(cms, body=text, name="cm", namespace="default", field_manager="coldstart")
    assert applied.data.model == "llama" and applied.metadata.managedFields[0].operation == "Apply"
