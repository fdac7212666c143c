"""Experiment variants: each changes exactly its lever or trap on a copy of the recommended render."""

from __future__ import annotations

from coldstart.kube.quantity import to_bytes
from coldstart.levers import variants
from coldstart.levers.render import engine_containers, flatten, render
from coldstart.profiles import load_profile

BASE = load_profile("baseline")


def _docs(serving="kserve"):
    return flatten(render(BASE, serving))


def test_by_tag_replaces_every_digest_and_sets_the_policy():
    docs = _docs()
    changed = variants.by_tag(docs)
    images = [c["image"] for c in variants._containers(changed)]
    assert images and all("@sha256:" not in i and i.endswith(":" + variants.NAIVE_TAG) for i in images)
    assert {c["imagePullPolicy"] for c in variants._containers(changed)} == {"Always"}
    isvc = next(d for d in changed if d["kind"] == "InferenceService")
    assert isvc["spec"]["predictor"]["model"]["storageUri"].endswith(":" + variants.NAIVE_TAG)
    assert all("@sha256:" in c["image"] for c in variants._containers(docs))  # the original is untouched


def test_without_shm_removes_volume_and_mount_in_both_forms():
    for serving in ("kserve", "deployment"):
        changed = variants.without_shm(_docs(serving))
        for container in engine_containers(changed):
            assert all(m["mountPath"] != "/dev/shm" for m in container.get("volumeMounts", []))
        text = str(changed)
        assert "'medium': 'Memory'" not in text


def test_memory_limit_and_startup_window_and_cache_variants():
    docs = _docs("deployment")
    low = variants.with_memory_limit(docs, "20Gi")
    assert {to_bytes(c["resources"]["limits"]["memory"]) for c in engine_containers(low)} == {20 * 2**30}
    short = variants.with_startup_window(docs, 30)
    probe = engine_containers(short)[0]["startupProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] == 30
    nocache = variants.with_cache_on_emptydir(docs)
    engine = next(d for d in nocache if d["metadata"]["name"].endswith("-vllm"))
    cache = next(v for v in engine["spec"]["template"]["spec"]["volumes"] if v["name"] == "cache")
    assert cache == {"name": "cache", "emptyDir": {}}


def test_without_prepull_drops_only_the_daemonset():
    docs = _docs()
    kinds = [d["kind"] for d in variants.without_prepull(docs)]
    assert "DaemonSet" not in kinds and len(kinds) == len(docs) - 1


def test_tensor_parallel_grows_gpus_and_nodes():
    p = variants.tensor_parallel(BASE, 2)
    assert (p.model.tensor_parallel_size, p.gpu.count, p.nodes.gpus_per_node) == (2, 2, 2)


def test_naive_deployment_has_every_lever_off():
    p = variants.naive_profile(BASE)
    assert p.image.compression == "gzip" and p.runtime.loader == "auto" and p.nodes.warm_buffer == 0
    (deploy,) = variants.naive(p)
    pod = deploy["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert ":" in container["image"] and "@sha256" not in container["image"]
    assert "volumes" not in pod and "priorityClassName" not in pod and "startupProbe" not in container
    assert "env" not in container and container["args"][0] == BASE.model.name


def test_with_replicas_scales_only_the_engine():
    for serving in ("kserve", "deployment"):
        docs = variants.with_replicas(_docs(serving), 0)
        engine = [d for d in docs if d["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "engine"
                  and d["kind"] in ("InferenceService", "Deployment")]
        assert len(engine) == 1
        spec = engine[0]["spec"]
        assert spec.get("replicas", spec.get("predictor", {}).get("minReplicas")) == 0
        buffer = next(d for d in docs if d["metadata"]["name"] == "coldstart-warm-buffer")
        assert buffer["spec"]["replicas"] == BASE.nodes.warm_buffer
    isvc = next(d for d in variants.with_replicas(_docs(), 3) if d["kind"] == "InferenceService")
    assert isvc["spec"]["predictor"]["minReplicas"] == 3 and isvc["spec"]["predictor"]["maxReplicas"] == 3
