"""Weight-load lever: modelcar by digest, offline Hub, bounded Run:ai streamer; Hyperdisk ML on GKE."""

from __future__ import annotations

from coldstart.levers import weight_load
from coldstart.profiles import load_profile, profile_with


def _env(container):
    return {e["name"]: e["value"] for e in container["env"]}


def test_kserve_form_takes_weights_from_the_modelcar_by_digest():
    p = load_profile("baseline")
    isvc = weight_load.inference_service(p)
    model = isvc["spec"]["predictor"]["model"]
    assert model["storageUri"] == f"oci://{p.model.modelcar}" and "@sha256:" in model["storageUri"]
    assert model["runtime"] == weight_load.RUNTIME_NAME
    runtime = weight_load.serving_runtime(p)
    container = runtime["spec"]["containers"][0]
    assert container["name"] == "kserve-container" and container["args"][0] == weight_load.MODEL_DIR


def test_engine_is_offline_and_streams_with_a_bounded_buffer():
    p = load_profile("baseline")
    container = weight_load.engine_container(p)
    env = _env(container)
    assert env["HF_HUB_OFFLINE"] == env["TRANSFORMERS_OFFLINE"] == "1"
    assert "--load-format=runai_streamer" in container["args"]
    assert int(env["RUNAI_STREAMER_MEMORY_LIMIT"]) == 4 * 2**30
    assert env["RUNAI_STREAMER_CONCURRENCY"] == "16"


def test_default_loader_has_no_streamer_settings():
    p = profile_with(load_profile("baseline"), {"runtime.loader": "auto"})
    container = weight_load.engine_container(p)
    assert not any(a.startswith("--load-format") for a in container["args"])
    assert "RUNAI_STREAMER_MEMORY_LIMIT" not in _env(container)


def test_gke_hyperdisk_ml_serves_weights_from_a_read_only_many_claim():
    p = load_profile("gke")
    docs = weight_load.manifests(p)
    sc, pvc = docs[0], docs[1]
    assert sc["provisioner"] == "pd.csi.storage.gke.io" and sc["parameters"]["type"] == "hyperdisk-ml"
    assert pvc["spec"]["accessModes"] == ["ReadOnlyMany"] and pvc["spec"]["storageClassName"] == sc["metadata"]["name"]
    assert pvc["spec"]["dataSource"]["kind"] == "VolumeSnapshot"
    assert docs[-1]["spec"]["predictor"]["model"]["storageUri"] == f"pvc://{pvc['metadata']['name']}/"
    deployment = weight_load.deployment(p)
    mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "weights", "mountPath": weight_load.MODEL_DIR, "readOnly": True} in mounts


def test_deployment_form_wires_the_modelcar_like_kserve():
    p = load_profile("baseline")
    pod = weight_load.deployment(p)["spec"]["template"]["spec"]
    assert pod["shareProcessNamespace"] is True
    assert [c["name"] for c in pod["initContainers"]] == ["modelcar-init"]
    sidecar = pod["containers"][1]
    assert sidecar["image"] == p.model.modelcar and sidecar["imagePullPolicy"] == "IfNotPresent"
