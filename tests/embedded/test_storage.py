"""Claims, volumes, snapshots and namespaces; StatefulSets and their per-ordinal claims."""

from __future__ import annotations

from coldstart.embedded.controllers.objects import condition
from coldstart.embedded.controllers.plane import control_plane
from tests.support.sim_harness import FakeKubelet, deployment, events, make_sim

PVC = "/PersistentVolumeClaim"


def _sim(profile="gke"):
    return make_sim(profile, control_plane, lambda ctx: FakeKubelet(ctx, 5))


def _class(name, mode="Immediate", provisioner="pd.csi.storage.gke.io", default=False, **params):
    sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": name},
          "provisioner": provisioner, "volumeBindingMode": mode, "reclaimPolicy": "Delete",
          "parameters": params or {"type": "pd-balanced"}}
    if default:
        sc["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    return sc


def _claim(name, cls: str | None = "balanced", size="50Gi", source=None, mode="ReadWriteOnce"):
    spec = {"accessModes": [mode], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    if source:
        spec["dataSource"] = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": source}
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


def _with_claim(body, claim):
    spec = body["spec"]["template"]["spec"]
    spec["volumes"] = [{"name": "cache", "persistentVolumeClaim": {"claimName": claim}}]
    spec["containers"][0]["volumeMounts"] = [{"name": "cache", "mountPath": "/root/.cache"}]
    return body


def test_namespaces_become_active():
    ctx, sim = _sim()
    ctx.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "coldstart"}})
    sim.run_for(1)
    assert ctx.store.get("/Namespace", "", "coldstart")["status"] == {"phase": "Active"}


def test_immediate_claim_is_provisioned_and_bound_with_the_real_events():
    ctx, sim = _sim()
    ctx.store.create(_class("hdml", type="hyperdisk-ml"))
    ctx.store.create(_claim("weights", "hdml", "100Gi", mode="ReadOnlyMany"))
    sim.run_for(1)
    claim = ctx.store.get(PVC, "default", "weights")
    assert claim["status"] == {"phase": "Bound", "accessModes": ["ReadOnlyMany"], "capacity": {"storage": "100Gi"}}
    pv = ctx.store.get("/PersistentVolume", "", claim["spec"]["volumeName"])
    assert pv["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"
    assert pv["spec"]["csi"]["driver"] == "pd.csi.storage.gke.io" and pv["spec"]["storageClassName"] == "hdml"
    assert pv["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"] and pv["status"]["phase"] == "Bound"
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
        {"key": "topology.gke.io/zone", "operator": "In", "values": ["us-central1-a"]}]
    assert claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    reasons = [e["reason"] for e in events(ctx.store, name="weights")]
    assert reasons == ["ExternalProvisioning", "Provisioning", "ProvisioningSucceeded"]
    (ok,) = events(ctx.store, "ProvisioningSucceeded", "weights")
    assert ok["message"] == f"Successfully provisioned volume {pv['metadata']['name']}"
    assert ok["source"]["component"].startswith("pd.csi.storage.gke.io_")
    ctx.store.delete(PVC, "default", "weights")
    sim.run_for(1)
    assert ctx.store.get("/PersistentVolume", "", pv["metadata"]["name"]) is None  # reclaimPolicy Delete


def test_default_class_fills_the_claim_and_missing_class_blocks_scheduling_until_it_exists():
    ctx, sim = _sim()
    ctx.store.create(_class("standard-rwo", default=True))
    ctx.store.create(_claim("plain", cls=None))
    ctx.store.create(_claim("cache", cls="standard-rwx", mode="ReadWriteMany"))
    ctx.store.create(_with_claim(deployment("web"), "cache"))
    sim.run_for(2)
    plain = ctx.store.get(PVC, "default", "plain")
    assert plain["spec"]["storageClassName"] == "standard-rwo" and plain["status"]["phase"] == "Bound"
    (failed,) = events(ctx.store, "ProvisioningFailed", "cache")
    assert failed["message"] == 'storageclass.storage.k8s.io "standard-rwx" not found'
    (pod,) = ctx.store.list("/Pod", "default")[0]
    assert events(ctx.store, "FailedScheduling", pod["metadata"]["name"])[0]["message"] == (
        "0/1 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")
    ctx.store.create(_class("standard-rwx", provisioner="filestore.csi.storage.gke.io", tier="standard"))
    sim.run_for(15)
    assert ctx.store.get(PVC, "default", "cache")["status"]["phase"] == "Bound"
    assert ctx.store.get("/Pod", "default", pod["metadata"]["name"])["spec"]["nodeName"] == "system-0"


def test_wait_for_first_consumer_binds_where_the_pod_lands():
    ctx, sim = _sim()
    ctx.store.create(_class("balanced", mode="WaitForFirstConsumer"))
    ctx.store.create(_claim("cache"))
    sim.run_for(1)
    assert (ctx.store.get(PVC, "default", "cache").get("status") or {}).get("phase") != "Bound"
    (waiting,) = events(ctx.store, "WaitForFirstConsumer", "cache")
    assert waiting["message"] == "waiting for first consumer to be created before binding"
    ctx.store.create(_with_claim(deployment("web"), "cache"))
    sim.run_for(1)
    claim = ctx.store.get(PVC, "default", "cache")
    assert claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == "system-0"
    assert claim["status"]["phase"] == "Bound"
    (pod,) = ctx.store.list("/Pod", "default")[0]
    assert pod["spec"]["nodeName"] == "system-0"


def test_claim_from_a_snapshot_waits_for_the_snapshot_to_be_ready():
    ctx, sim = _sim()
    ctx.store.create(_class("hdml", type="hyperdisk-ml"))
    ctx.store.create(_claim("weights", "hdml", "100Gi", source="qwen-weights", mode="ReadOnlyMany"))
    sim.run_for(1)
    assert (ctx.store.get(PVC, "default", "weights").get("status") or {}).get("phase") != "Bound"
    assert "snapshot qwen-weights not found" in events(ctx.store, "ProvisioningFailed", "weights")[0]["message"]
    ctx.store.create(_claim("hydrated", "hdml", "120Gi"))
    ctx.store.create({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                      "metadata": {"name": "qwen-weights", "namespace": "default"},
                      "spec": {"source": {"persistentVolumeClaimName": "hydrated"}}})
    sim.run_for(1)
    snap = ctx.store.get("snapshot.storage.k8s.io/VolumeSnapshot", "default", "qwen-weights")
    assert snap["status"]["readyToUse"] is True and snap["status"]["restoreSize"] == "120Gi"
    claim = ctx.store.get(PVC, "default", "weights")
    assert claim["status"]["phase"] == "Bound" and claim["status"]["capacity"] == {"storage": "120Gi"}


def _statefulset(name="cache", replicas=2, policy="OrderedReady"):
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, "namespace": "default"},
            "spec": {"replicas": replicas, "serviceName": name, "podManagementPolicy": policy,
                     "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "registry.local:5000/c:1",
                                                           "volumeMounts": [{"name": "data", "mountPath": "/d"}]}]}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "rwo",
                                                        "resources": {"requests": {"storage": "10Gi"}}}}]}}


def test_statefulset_creates_ordinals_in_order_with_their_claims():
    ctx, sim = _sim()
    ctx.store.create(_class("rwo"))
    ctx.store.create(_statefulset())
    sim.run_for(1)
    assert [p["metadata"]["name"] for p in ctx.store.list("/Pod", "default")[0]] == ["cache-0"]
    sim.run_until_idle(limit=600)
    pods = {p["metadata"]["name"]: p for p in ctx.store.list("/Pod", "default")[0]}
    assert sorted(pods) == ["cache-0", "cache-1"]
    assert pods["cache-1"]["spec"]["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName":
                                                                                           "data-cache-1"}}]
    assert pods["cache-1"]["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"] == "cache-1"
    assert pods["cache-1"]["spec"]["hostname"] == "cache-1" and pods["cache-1"]["spec"]["subdomain"] == "cache"
    created = pods["cache-1"]["metadata"]["creationTimestamp"]
    ready0 = condition(pods["cache-0"], "Ready")["lastTransitionTime"]
    assert created >= ready0  # OrderedReady: cache-1 only after cache-0 is Ready
    assert ctx.store.get(PVC, "default", "data-cache-1")["status"]["phase"] == "Bound"
    messages = [e["message"] for e in events(ctx.store, "SuccessfulCreate", "cache")]
    assert "create Claim data-cache-0 Pod cache-0 in StatefulSet cache success" in messages
    assert "create Pod cache-1 in StatefulSet cache successful" in messages
    status = ctx.store.get("apps/StatefulSet", "default", "cache")["status"]
    assert status["replicas"] == status["readyReplicas"] == status["updatedReplicas"] == 2
    assert status["currentRevision"] == status["updateRevision"]
    # a deleted pod comes back under the same name; claims outlive the set
    uid = pods["cache-1"]["metadata"]["uid"]
    ctx.store.delete("/Pod", "default", "cache-1")
    sim.run_for(1)
    again = ctx.store.get("/Pod", "default", "cache-1")
    assert again is not None and again["metadata"]["uid"] != uid
    ctx.store.delete("apps/StatefulSet", "default", "cache")
    sim.run_for(1)
    assert ctx.store.list("/Pod", "default")[0] == []
    assert ctx.store.get(PVC, "default", "data-cache-0") is not None


def test_statefulset_scale_down_removes_the_highest_ordinal():
    ctx, sim = _sim()
    ctx.store.create(_class("rwo"))
    ctx.store.create(_statefulset(replicas=3, policy="Parallel"))
    sim.run_until_idle(limit=600)
    ctx.store.mutate("apps/StatefulSet", "default", "cache", lambda s: s["spec"].update(replicas=1))
    sim.run_until_idle(limit=600)
    assert [p["metadata"]["name"] for p in ctx.store.list("/Pod", "default")[0]] == ["cache-0"]
    deleted = [e["message"] for e in events(ctx.store, "SuccessfulDelete", "cache")]
    assert deleted == ["delete Pod cache-2 in StatefulSet cache successful",
                       "delete Pod cache-1 in StatefulSet cache successful"]
