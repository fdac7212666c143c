"""Image-pull lever: digests with IfNotPresent everywhere, and a pre-pull DaemonSet on the GPU nodes."""

from __future__ import annotations

from coldstart.levers import image_pull
from coldstart.levers.render import flatten, render
from coldstart.profiles import load_profile, physics, profile_with


def _containers(doc):
    spec = doc.get("spec", {})
    pods = [spec.get("template", {}).get("spec", {}), spec]
    for pod in pods:
        yield from pod.get("initContainers", []) + pod.get("containers", [])


def test_every_rendered_image_is_pinned_by_digest_with_ifnotpresent():
    for name in ("baseline", "gke"):
        for doc in flatten(render(load_profile(name))):
            for c in _containers(doc):
                assert "@sha256:" in c["image"], (doc["kind"], c["name"])
                assert c["imagePullPolicy"] == "IfNotPresent", (doc["kind"], c["name"])


def test_prepull_daemonset_pulls_vllm_and_modelcar_on_gpu_nodes():
    p = load_profile("baseline")
    ds = image_pull.prepull_daemonset(p)
    pod = ds["spec"]["template"]["spec"]
    assert [c["image"] for c in pod["initContainers"]] == [p.image.vllm, p.model.modelcar]
    assert all(c["command"] == image_pull.NOOP_COMMAND for c in pod["initContainers"])
    assert pod["nodeSelector"] == p.gpu.node_selector
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_no_modelcar_prepull_when_weights_are_on_hyperdisk():
    ds = image_pull.prepull_daemonset(load_profile("gke"))
    assert [c["name"] for c in ds["spec"]["template"]["spec"]["initContainers"]] == ["prepull-vllm"]


def test_gke_images_come_from_the_regional_registry():
    p = load_profile("gke")
    assert p.image.vllm.startswith(f"{p.region}-docker.pkg.dev/")
    assert p.model.modelcar.startswith(f"{p.region}-docker.pkg.dev/")


def test_pull_seconds_zstd_beats_gzip_and_cross_region_is_slower():
    p = load_profile("baseline")
    zstd = physics.pull_seconds(p, compression="zstd")
    gzip = physics.pull_seconds(p, compression="gzip")
    assert zstd < gzip
    size_mb = p.image.compressed_bytes / 1e6
    assert zstd == size_mb / p.kinetics.registry_mb_per_s + size_mb / p.kinetics.zstd_decompress_mb_per_s
    assert physics.pull_seconds(p, in_region=False) > zstd
    smaller = profile_with(p, {"image.compressed_bytes": p.image.compressed_bytes // 2})
    assert physics.pull_seconds(smaller) < zstd


def test_registry_in_region_is_one_rule_for_the_checker_and_the_simulation():
    gke = load_profile("gke")
    assert physics.registry_in_region("us-central1-docker.pkg.dev", gke)
    assert physics.registry_in_region("123.dkr.ecr.us-central1.amazonaws.com", gke)
    assert physics.registry_in_region("registry.k8s.io", gke)  # redirects to a regional mirror
    assert not physics.registry_in_region("us-central10-docker.pkg.dev", gke)  # a prefix is not a region
    assert not physics.registry_in_region("docker.io", gke)
    base = load_profile("baseline")
    assert physics.registry_in_region(base.registry.host, base)
