"""The EKS and AKS renders: a Karpenter NodePool the engine and its buffer land on, SOCI in the node class, the
weights from each source the profile may ask for, and the cache on storage every replica can share; each variant
passes every invariant that applies to it."""

from __future__ import annotations

import pytest

from coldstart.levers.render import engine_containers, flatten, render
from coldstart.profiles import load_profile, profile_with
from coldstart.verify import check_documents

EKS, AKS = load_profile("eks"), load_profile("aks")
WEIGHT_SOURCES = [("eks", "modelcar"), ("eks", "fsx_lustre"), ("eks", "mountpoint_s3"), ("eks", "s3"),
                  ("aks", "modelcar"), ("aks", "blob")]


def _kinds(docs):
    return [d["kind"] for d in docs]


@pytest.mark.parametrize(("cloud", "source"), WEIGHT_SOURCES)
def test_each_weight_source_renders_and_passes_its_invariants(cloud, source):
    profile = profile_with(load_profile(cloud), {f"{cloud}.weights.source": source})
    docs = flatten(render(profile, "deployment"))
    fails = [(f.invariant, f.message) for f in check_documents(docs, profile) if f.status == "fail"]
    assert fails == []
    (engine,) = [c for c in engine_containers(docs) if c["name"] == "vllm"]
    model = engine["args"][0]
    pod = next(d for d in docs if d["kind"] == "Deployment" and "vllm" in d["metadata"]["name"])["spec"]["template"]
    if source in ("s3", "blob"):  # the streamer reads the object store itself, as the identity allowed to
        assert model.startswith(("s3://", "az://")) and "--load-format=runai_streamer" in engine["args"]
        assert pod["spec"]["serviceAccountName"] in {d["metadata"]["name"] for d in docs if d["kind"] ==
                                                      "ServiceAccount"}
        assert "modelcar" not in str(pod)
    elif source in ("fsx_lustre", "mountpoint_s3"):  # a static read-only-many volume, bound by name
        volume = next(d for d in docs if d["kind"] == "PersistentVolume")
        claim = next(d for d in docs if d["kind"] == "PersistentVolumeClaim" and d["spec"].get("volumeName"))
        assert volume["spec"]["accessModes"] == claim["spec"]["accessModes"] == ["ReadOnlyMany"]
        assert claim["spec"]["volumeName"] == volume["metadata"]["name"]
        assert volume["spec"]["csi"]["driver"] == {"fsx_lustre": "fsx.csi.aws.com",
                                                   "mountpoint_s3": "s3.csi.aws.com"}[source]
        assert model == "/mnt/models"
    else:
        assert model == "/mnt/models" and "modelcar" in str(pod)


@pytest.mark.parametrize("profile", [EKS, AKS], ids=["eks", "aks"])
def test_the_engine_and_its_buffer_select_the_nodepool_and_cannot_be_consolidated(profile):
    docs = flatten(render(profile))
    pool = next(d for d in docs if d["kind"] == "NodePool")
    node_class = next(d for d in docs if d["kind"] in ("EC2NodeClass", "AKSNodeClass"))
    assert pool["spec"]["template"]["spec"]["nodeClassRef"] == {"group": node_class["apiVersion"].split("/")[0],
                                                                "kind": node_class["kind"],
                                                                "name": node_class["metadata"]["name"]}
    assert _kinds(docs).index(node_class["kind"]) < _kinds(docs).index("NodePool") < _kinds(docs).index("Deployment")
    buffer = next(d for d in docs if d["metadata"]["name"] == "coldstart-warm-buffer")
    isvc = next(d for d in docs if d["kind"] == "InferenceService")
    for selector in (buffer["spec"]["template"]["spec"]["nodeSelector"], isvc["spec"]["predictor"]["nodeSelector"]):
        assert selector["karpenter.sh/nodepool"] == pool["metadata"]["name"]
    assert buffer["spec"]["template"]["metadata"]["annotations"] == {"karpenter.sh/do-not-disrupt": "true"}
    assert isvc["spec"]["predictor"]["annotations"] == {"karpenter.sh/do-not-disrupt": "true"}


def test_soci_modes_and_their_absence_in_the_ec2nodeclass():
    def user_data(profile):
        return next(d for d in flatten(render(profile)) if d["kind"] == "EC2NodeClass")["spec"].get("userData")

    parallel, lazy = user_data(EKS), user_data(profile_with(EKS, {"eks.soci.mode": "lazy"}))
    assert "FastImagePull: true" in parallel and "soci_v2" not in parallel
    assert "FastImagePull: true" in lazy and "[pull_modes.soci_v2]" in lazy
    assert user_data(profile_with(EKS, {"eks.soci.enabled": False})) is None


def test_the_compile_cache_is_shared_storage_on_both_clouds():
    eks_docs, aks_docs = flatten(render(EKS)), flatten(render(AKS))
    efs = next(d for d in eks_docs if d["kind"] == "StorageClass")
    assert efs["provisioner"] == "efs.csi.aws.com" and efs["metadata"]["name"] == EKS.runtime.cache_storage_class
    for docs, profile in ((eks_docs, EKS), (aks_docs, AKS)):
        claim = next(d for d in docs if d["kind"] == "PersistentVolumeClaim" and "cache" in d["metadata"]["name"])
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        assert claim["spec"]["storageClassName"] == profile.runtime.cache_storage_class
    assert not [d for d in aks_docs if d["kind"] == "StorageClass"]  # azurefile-csi-premium is built in
