"""Image-pull lever: digests with IfNotPresent everywhere, and a pre-pull DaemonSet on the GPU nodes."""

from __future__ import annotations

from coldstart.levers import image_pull
from coldstart.levers.render import flatten, render
from coldstart.profiles import load_profile


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
