"""The rendered profiles pass every invariant that applies to them, and each invariant fails on a minimally
broken variant of that render (one change, one failure)."""

from __future__ import annotations

import pytest

from coldstart.levers import variants
from coldstart.levers.render import engine_containers, flatten, render
from coldstart.profiles import load_profile, profile_with
from coldstart.verify import INVARIANTS, check_documents

BASE, GKE, EKS, AKS = (load_profile(name) for name in ("baseline", "gke", "eks", "aks"))
SHIPPED = {p.cloud: p for p in (BASE, GKE, EKS, AKS)}  # baseline's cloud is "generic"


def _status(docs, profile, invariant):
    statuses = {f.status for f in check_documents(docs, profile) if f.invariant == invariant}
    return "fail" if "fail" in statuses else "pass" if "pass" in statuses else "n/a"


def _env(docs, name, value=None):
    for container in engine_containers(docs):
        env = [e for e in container.get("env", []) if e["name"] != name]
        if value is not None:
            env.append({"name": name, "value": value})
        if "env" in container:
            container["env"] = env
    return docs


def _set(docs, kind, path, value):
    for doc in docs:
        if doc["kind"] == kind:
            node = doc
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
    return docs


def _engine(docs, fn):
    for container in engine_containers(docs):
        fn(container)
    return docs


@pytest.mark.parametrize("profile", [BASE, GKE, EKS, AKS], ids=["baseline", "gke", "eks", "aks"])
@pytest.mark.parametrize("serving", ["kserve", "deployment"])
def test_render_passes_every_applicable_invariant(profile, serving):
    findings = check_documents(flatten(render(profile, serving)), profile)
    assert [f for f in findings if f.status == "fail"] == []
    passed = {f.invariant for f in findings if f.status == "pass"}
    expected = {i for i, inv in INVARIANTS.items() if inv.applies(profile)}
    if profile is GKE:
        expected.discard("modelcar-digest")  # gke weights come from the Hyperdisk ML claim
    if profile is BASE:
        expected.discard("cache-rwx-storage")  # the portable baseline names a class no cloud of ours builds in
    assert passed == expected


def _drop_spot(docs, profile):
    for doc in docs:
        for req in doc["spec"]["template"]["spec"]["requirements"] if doc["kind"] == "NodePool" else []:
            if req["key"] == "karpenter.sh/capacity-type":
                req["values"] = ["on-demand"]
    return docs


def _buffer_without_do_not_disrupt(docs, profile):
    for doc in docs:
        if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "coldstart-warm-buffer":
            doc["spec"]["template"]["metadata"].pop("annotations")
    return docs


OTHER_REGION = "europe-west4-docker.pkg.dev/p/vllm/vllm-openai@sha256:" + "a" * 64
ECR_OTHER_REGION = "123456789012.dkr.ecr.us-west-2.amazonaws.com/vllm/vllm-openai@sha256:" + "a" * 64

# invariant -> (profile, how to break the recommended render or the profile, minimally)
BREAKERS = {
    "image-digest-pinned": (BASE, lambda d, p: variants.by_tag(d, policy="IfNotPresent")),
    "pull-policy-ifnotpresent": (BASE, lambda d, p: _engine(d, lambda c: c.update(imagePullPolicy="Always"))),
    "registry-in-region": (profile_with(GKE, {"image.vllm": OTHER_REGION}), None),
    "modelcar-digest": (BASE, lambda d, p: _set(d, "InferenceService", ["spec", "predictor", "model", "storageUri"],
                                                "oci://registry.local:5000/models/qwen2.5-7b-instruct:latest")),
    "hf-offline": (BASE, lambda d, p: _env(d, "HF_HUB_OFFLINE")),
    "runai-streamer": (profile_with(BASE, {"runtime.loader": "auto"}), None),
    "streamer-memory-bounded": (BASE, lambda d, p: _env(d, "RUNAI_STREAMER_MEMORY_LIMIT", "-1")),
    "shm-memory-16gi": (BASE, lambda d, p: _set(d, "ServingRuntime", ["spec", "volumes", 0, "emptyDir", "sizeLimit"],
                                                "64Mi")),
    "nccl-cumem-disabled": (profile_with(BASE, {"runtime.nccl_cumem_enable": 1}), None),
    "gpu-mem-util-range": (profile_with(BASE, {"runtime.gpu_memory_utilization": 0.9}), None),
    "enforce-eager-per-profile": (BASE, lambda d, p: _engine(d, lambda c: c.get("args", []).append("--enforce-eager"))),
    "cache-persistent": (BASE, lambda d, p: variants.with_cache_on_emptydir(d)),
    "memory-covers-shm": (BASE, lambda d, p: variants.with_memory_limit(d, "16Gi")),
    "startup-probe-budget": (BASE, lambda d, p: variants.with_startup_window(d, 30)),
    "warm-buffer": (profile_with(BASE, {"nodes.buffer_priority": -20}), None),
    "compute-class": (GKE, lambda d, p: [x for x in d if x["kind"] != "ComputeClass"]),
    "hyperdisk-ml": (GKE, lambda d, p: _set(d, "PersistentVolumeClaim", ["spec", "accessModes"], ["ReadWriteOnce"])),
    "karpenter-spot-fallback": (EKS, _drop_spot),
    "karpenter-do-not-disrupt": (AKS, _buffer_without_do_not_disrupt),
    "soci-enabled": (EKS, lambda d, p: [x for x in d if x["kind"] != "EC2NodeClass"] + [
        {**x, "spec": {k: v for k, v in x["spec"].items() if k != "userData"}}
        for x in d if x["kind"] == "EC2NodeClass"]),
    "artifact-streaming": (AKS, lambda d, p: _set(d, "AKSNodeClass", ["spec", "artifactStreaming", "enabled"], False)),
    # EBS is block storage: a ReadWriteMany claim on it never binds
    "cache-rwx-storage": (EKS, lambda d, p: _set(d, "PersistentVolumeClaim", ["spec", "storageClassName"], "gp3")),
}

# More one-change variants of the clouds' traps: name -> (invariant, profile rendered, breaker, profile judging)
CLOUD_BREAKERS = {
    "ecr-in-another-region": ("registry-in-region", profile_with(EKS, {"image.vllm": ECR_OTHER_REGION}), None, EKS),
    "acr-without-replica-in-region": ("registry-in-region", AKS, None,
                                      profile_with(AKS, {"aks.acr_regions": ["westus"]})),
    "nodepool-allows-non-gpu-family": ("karpenter-spot-fallback", EKS, lambda d, p: _set(
        d, "NodePool", ["spec", "template", "spec", "requirements"],
        [{"key": "karpenter.sh/capacity-type", "operator": "In", "values": ["spot", "on-demand"]},
         {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["m7i", "g6"]}]), EKS),
    "nodepool-without-capacity-type": ("karpenter-spot-fallback", AKS, lambda d, p: _set(
        d, "NodePool", ["spec", "template", "spec", "requirements"],
        [{"key": "karpenter.azure.com/sku-family", "operator": "In", "values": ["NC"]}]), AKS),
    "engine-can-be-consolidated": ("karpenter-do-not-disrupt", EKS, lambda d, p: _set(
        d, "InferenceService", ["spec", "predictor", "annotations"], {}), EKS),
    "soci-parallel-where-lazy-asked": ("soci-enabled", EKS, None, profile_with(EKS, {"eks.soci.mode": "lazy"})),
    "artifact-streaming-pulled-by-digest": ("artifact-streaming", profile_with(AKS, {
        "aks.artifact_streaming.enabled": False}), None, AKS),
    "cache-rwo-with-two-replicas": ("cache-rwx-storage", AKS, lambda d, p: _set(
        _set(d, "PersistentVolumeClaim", ["spec", "accessModes"], ["ReadWriteOnce"]),
        "PersistentVolumeClaim", ["spec", "storageClassName"], "managed-csi"),
        profile_with(AKS, {"runtime.replicas": 2})),
}


def test_every_invariant_has_a_breaker():
    assert set(BREAKERS) == set(INVARIANTS)


@pytest.mark.parametrize("invariant", sorted(BREAKERS))
def test_each_invariant_fails_on_a_minimally_broken_variant(invariant):
    profile, breaker = BREAKERS[invariant]
    judge = SHIPPED[profile.cloud]  # the profile the SRE meant; the render may differ from it
    docs = flatten(render(profile))
    if breaker is not None:
        docs = breaker(docs, profile)
    assert _status(flatten(render(judge)), judge, invariant) in ("pass", "n/a")
    assert _status(docs, judge, invariant) == "fail", [
        (f.status, f.message) for f in check_documents(docs, judge) if f.invariant == invariant]
    others = {f.invariant for f in check_documents(docs, judge) if f.status == "fail"}
    assert others <= {invariant, "image-digest-pinned", "pull-policy-ifnotpresent", "modelcar-digest"}, others


@pytest.mark.parametrize("name", sorted(CLOUD_BREAKERS))
def test_each_cloud_trap_fails_its_invariant(name):
    invariant, profile, breaker, judge = CLOUD_BREAKERS[name]
    docs = flatten(render(profile))
    if breaker is not None:
        docs = breaker(docs, profile)
    assert _status(docs, judge, invariant) == "fail", [
        (f.status, f.message) for f in check_documents(docs, judge) if f.invariant == invariant]
    others = {f.invariant for f in check_documents(docs, judge) if f.status == "fail"}
    assert others <= {invariant, "image-digest-pinned", "runai-streamer"}, others


@pytest.mark.parametrize("profile", [EKS, AKS], ids=["eks", "aks"])
def test_cloud_invariants_are_na_elsewhere(profile):
    other = AKS if profile is EKS else EKS
    findings = check_documents(flatten(render(other)), profile)
    own = {"eks": "soci-enabled", "aks": "artifact-streaming"}
    assert {f.status for f in findings if f.invariant == own[other.cloud]} == {"n/a"}
