"""The KServe controller: InferenceService + ServingRuntime -> predictor Deployment, storage wiring, status."""

from __future__ import annotations

import yaml

from coldstart.embedded.controllers.objects import condition
from coldstart.embedded.controllers.plane import control_plane
from coldstart.kube.patch import strategic_merge
from coldstart.vllm.kserve import fill_placeholders
from tests.conftest import FIXTURES, need
from tests.support.sim_harness import GPU_TOLERATION, FakeKubelet, events, make_sim

ISVC = "serving.kserve.io/InferenceService"


def _sim(kubelet_delay=20.0):
    return make_sim("baseline", control_plane, lambda ctx: FakeKubelet(ctx, kubelet_delay))


def _runtime(name="vllm-runtime", cluster=False, fmt="vLLM"):
    kind = "ClusterServingRuntime" if cluster else "ServingRuntime"
    image = "registry.local:5000/vllm/vllm-openai:v0.11.0"
    return {"apiVersion": "serving.kserve.io/v1alpha1", "kind": kind,
            "metadata": {"name": name, **({} if cluster else {"namespace": "default"})},
            "spec": {"supportedModelFormats": [{"name": fmt, "autoSelect": True}],
                     "containers": [{"name": "kserve-container", "image": image,
                                     "args": ["--model=/mnt/models", "--served-model-name={{.Name}}"],
                                     "env": [{"name": "HF_HUB_OFFLINE", "value": "1"}],
                                     "resources": {"limits": {"cpu": "4", "memory": "16Gi"}}}]}}


def _isvc(name="qwen", uri="oci://registry.local:5000/models/qwen:1", runtime="vllm-runtime", **predictor):
    model = {"modelFormat": {"name": "vLLM"}, "storageUri": uri,
             "args": ["--max-model-len=8192"], "env": [{"name": "VLLM_LOGGING_LEVEL", "value": "DEBUG"}],
             "resources": {"limits": {"nvidia.com/gpu": "1", "memory": "40Gi"}}}
    if runtime:
        model["runtime"] = runtime
    return {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"predictor": {"model": model, "tolerations": [GPU_TOLERATION], **predictor}}}


def _template(ctx, name="qwen"):
    return ctx.store.get("apps/Deployment", "default", f"{name}-predictor")["spec"]["template"]


def _container(spec, name):
    return next(c for c in [*spec.get("containers", []), *spec.get("initContainers", [])] if c["name"] == name)


def test_real_modelcar_manifest_becomes_a_predictor_with_the_modelcar_sidecar():
    manifest = need(FIXTURES / "manifests" / "rhoai-api-docs-modelcar-granite-vllm.yaml")
    ctx, sim = _sim()
    for doc in yaml.safe_load_all(manifest.read_text()):
        ctx.store.create(doc)
    sim.run_for(1)
    deploy = ctx.store.get("apps/Deployment", "default", "granite-predictor")
    isvc = ctx.store.get(ISVC, "default", "granite")
    assert deploy["metadata"]["ownerReferences"][0]["uid"] == isvc["metadata"]["uid"]
    assert deploy["spec"]["selector"] == {"matchLabels": {"app": "isvc.granite-predictor"}}
    template = deploy["spec"]["template"]
    assert template["metadata"]["labels"]["serving.kserve.io/inferenceservice"] == "granite"
    assert template["metadata"]["labels"]["component"] == "predictor"
    spec = template["spec"]
    image = "registry.redhat.io/rhelai1/modelcar-granite-3-1-8b-lab-v2:1.5"
    assert spec["shareProcessNamespace"] is True
    main, car, init = (_container(spec, n) for n in ("kserve-container", "modelcar", "modelcar-init"))
    assert [c["name"] for c in spec["containers"]] == ["kserve-container", "modelcar"]
    assert car["image"] == image == init["image"]
    assert car["args"][-1] == "ln -sf /proc/$$$$/root/models /mnt/models && sleep infinity"
    assert init["args"][-1].startswith(f"echo 'Pre-fetching modelcar {image}: '")
    assert {"name": "kserve-provision-location", "mountPath": "/mnt"} in main["volumeMounts"]
    assert {"name": "MODEL_INIT_MODE", "value": "async"} in main["env"]
    # runtime container merged with the model's: args appended, placeholder filled, resources from the model
    assert main["args"] == ["--port=8080", "--model=/mnt/models", "--served-model-name=granite", "--max-model-len=4096"]
    assert main["resources"]["limits"]["nvidia.com/gpu"] == "1" and main["image"] == "quay.io/modh/vllm:rhoai-2.20-cuda"
    assert {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "2Gi"}} in spec["volumes"]
    assert spec["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert template["metadata"]["annotations"]["internal.serving.kserve.io/storage-initializer-sourceuri"] == \
        "oci://" + image
    service = ctx.store.get("/Service", "default", "granite-predictor")
    assert service["spec"]["selector"] == {"app": "isvc.granite-predictor"}
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    (pod,) = ctx.store.list("/Pod", "default")[0]
    assert [c["name"] for c in pod["spec"]["initContainers"]] == ["modelcar-init"]


def test_status_follows_the_predictor_deployment_to_ready_with_url():
    ctx, sim = _sim()
    ctx.store.create(_runtime())
    ctx.store.create(_isvc())
    sim.run_for(1)
    isvc = ctx.store.get(ISVC, "default", "qwen")
    pred = condition(isvc, "PredictorReady")
    assert (pred["status"], pred["reason"], pred["message"]) == (
        "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
    assert condition(isvc, "IngressReady")["reason"] == "Predictor ingress not created"
    assert condition(isvc, "Ready")["status"] == "False" and "url" not in isvc["status"]
    assert isvc["status"]["servingRuntimeName"] == "vllm-runtime"
    sim.run_until_idle(limit=3600)
    isvc = ctx.store.get(ISVC, "default", "qwen")
    assert [c["type"] for c in isvc["status"]["conditions"]] == ["IngressReady", "PredictorReady", "Ready"]
    assert all(c["status"] == "True" and c["lastTransitionTime"] for c in isvc["status"]["conditions"])
    assert isvc["status"]["url"] == "http://qwen-default.example.com"
    assert isvc["status"]["address"]["url"] == "http://qwen-predictor.default.svc.cluster.local"
    assert isvc["status"]["modelStatus"]["transitionStatus"] == "UpToDate"
    deploy = ctx.store.get("apps/Deployment", "default", "qwen-predictor")
    assert condition(isvc, "PredictorReady")["lastTransitionTime"] == \
        condition(deploy, "Available")["lastTransitionTime"]
    main = _container(_template(ctx)["spec"], "kserve-container")
    assert main["args"] == ["--model=/mnt/models", "--served-model-name=qwen", "--max-model-len=8192"]
    assert main["env"][0] == {"name": "HF_HUB_OFFLINE", "value": "1"} and len(main["env"]) == 3
    assert main["resources"]["limits"] == {"cpu": "4", "memory": "40Gi", "nvidia.com/gpu": "1"}


def test_pvc_storage_is_mounted_read_only_at_mnt_models():
    ctx, sim = _sim()
    ctx.store.create(_runtime())
    ctx.store.create(_isvc(uri="pvc://weights/qwen2.5-7b"))
    sim.run_for(1)
    spec = _template(ctx)["spec"]
    assert {"name": "kserve-pvc-source", "persistentVolumeClaim": {"claimName": "weights"}} in spec["volumes"]
    assert {"name": "kserve-pvc-source", "mountPath": "/mnt/models", "readOnly": True, "subPath": "qwen2.5-7b"} in \
        _container(spec, "kserve-container")["volumeMounts"]
    assert "initContainers" not in spec and "shareProcessNamespace" not in spec


def test_hub_storage_downloads_with_a_storage_initializer_and_runtime_auto_selection():
    manifest = need(FIXTURES / "manifests" / "kserve-website-hf-runtime-vllm-llama3-8b.yaml")
    ctx, sim = _sim()
    ctx.store.create(_runtime("kserve-huggingfaceserver", cluster=True, fmt="huggingface"))
    ctx.store.create(yaml.safe_load(manifest.read_text()))
    sim.run_for(1)
    isvc = ctx.store.get(ISVC, "default", "llama3-8b")
    assert isvc["status"]["clusterServingRuntimeName"] == "kserve-huggingfaceserver"
    spec = _template(ctx, "llama3-8b")["spec"]
    init = _container(spec, "storage-initializer")
    assert init["args"] == ["hf://meta-llama/meta-llama-3-8b-instruct", "/mnt/models"]
    assert {"name": "kserve-provision-location", "mountPath": "/mnt/models"} in init["volumeMounts"]
    assert {"name": "kserve-provision-location", "mountPath": "/mnt/models", "readOnly": True} in \
        _container(spec, "kserve-container")["volumeMounts"]
    assert {"name": "kserve-provision-location", "emptyDir": {}} in spec["volumes"]


def test_min_replicas_zero_scales_to_zero_and_missing_runtime_is_reported():
    ctx, sim = _sim()
    ctx.store.create(_runtime())
    ctx.store.create(_isvc(minReplicas=0))
    ctx.store.create(_isvc("orphan", runtime="no-such-runtime"))
    sim.run_for(5)
    assert ctx.store.get("apps/Deployment", "default", "qwen-predictor")["spec"]["replicas"] == 0
    assert not [p for p in ctx.store.list("/Pod", "default")[0] if p["metadata"]["name"].startswith("qwen")]
    orphan = ctx.store.get(ISVC, "default", "orphan")
    assert orphan["status"]["modelStatus"]["lastFailureInfo"] == {
        "reason": "RuntimeNotRecognized", "message": "Waiting for runtime to become available"}
    assert ctx.store.get("apps/Deployment", "default", "orphan-predictor") is None
    assert events(ctx.store, "InternalError", "orphan")[0]["type"] == "Warning"


def test_deleting_the_inference_service_collects_everything_it_made():
    ctx, sim = _sim()
    ctx.store.create(_runtime())
    ctx.store.create(_isvc())
    sim.run_for(5)
    assert ctx.store.list("/Pod", "default")[0]
    ctx.store.delete(ISVC, "default", "qwen")
    sim.run_for(5)
    assert ctx.store.get("apps/Deployment", "default", "qwen-predictor") is None
    assert ctx.store.get("/Service", "default", "qwen-predictor") is None
    assert ctx.store.list("apps/ReplicaSet", "default")[0] == [] and ctx.store.list("/Pod", "default")[0] == []


def test_changing_the_runtime_rolls_the_predictor():
    ctx, sim = _sim()
    ctx.store.create(_runtime())
    ctx.store.create(_isvc())
    sim.run_until_idle(limit=3600)
    ctx.store.mutate("serving.kserve.io/ServingRuntime", "default", "vllm-runtime",
                     lambda r: r["spec"]["containers"][0].update(image="registry.local:5000/vllm/vllm-openai:v0.12.0"))
    sim.run_for(1)
    assert _container(_template(ctx)["spec"], "kserve-container")["image"].endswith(":v0.12.0")
    assert len(ctx.store.list("apps/ReplicaSet", "default")[0]) == 2


def test_merge_and_placeholder_helpers():
    base = {"env": [{"name": "A", "value": "1"}], "resources": {"limits": {"cpu": "1"}}, "command": ["a"]}
    patch = {"env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}],
             "resources": {"limits": {"memory": "1Gi"}}, "command": ["b"]}
    assert strategic_merge(base, patch) == {"env": [{"name": "A", "value": "2"}, {"name": "B", "value": "3"}],
                                            "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}, "command": ["b"]}
    isvc = {"metadata": {"name": "m", "namespace": "ns", "labels": {"team": "a"}, "annotations": {"x/y": "z"}}}
    assert fill_placeholders(["{{.Name}}", "{{ .Namespace }}", "{{.Labels.team}}", '{{index .Annotations "x/y"}}'],
                             isvc["metadata"]) == ["m", "ns", "a", "z"]


def test_custom_predictor_containers_need_no_runtime():
    ctx, sim = _sim()
    ctx.store.create({"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
                      "metadata": {"name": "custom", "namespace": "default"},
                      "spec": {"predictor": {"minReplicas": 1, "containers": [
                          {"name": "kserve-container", "image": "registry.local:5000/vllm/vllm-openai:v0.11.0",
                           "args": ["--model", "/mnt/models"],
                           "env": [{"name": "STORAGE_URI", "value": "pvc://weights/qwen"}]}]}}})
    sim.run_for(1)
    spec = _template(ctx, "custom")["spec"]
    assert [c["name"] for c in spec["containers"]] == ["kserve-container"]
    assert {"name": "kserve-pvc-source", "persistentVolumeClaim": {"claimName": "weights"}} in spec["volumes"]
    assert "servingRuntimeName" not in ctx.store.get(ISVC, "default", "custom")["status"]
