"""Lever 2, image pull: every image by digest with `IfNotPresent`, from an in-region registry, with
zstd layers, and already on a GPU node before a replica needs it.

A digest makes `IfNotPresent` safe (the reference can never mean different bytes), so a warm node never
pulls again; a tag or `Always` sends every replica back to the registry. The pre-pull DaemonSet puts the
vLLM and modelcar images on every GPU node as soon as it boots, so the warm buffer's node is warm in the
image cache too.
"""

from __future__ import annotations

from typing import Any

from coldstart.kube.labels import COMPONENT, COMPONENT_PREPULL, INSTANCE
from coldstart.levers import node_warmup
from coldstart.profiles import Profile
from coldstart.profiles.physics import weights_storage

PREPULL_NAME = "coldstart-image-prepull"
# A no-op that exists in the vLLM image and in busybox-based modelcars: the container only has to start.
NOOP_COMMAND = ["/bin/sh", "-c", "true"]
SMALL = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}}


def pinned(ref: str) -> dict[str, str]:
    """Container image fields: the digest reference with the policy that lets a warm node reuse it."""
    return {"image": ref, "imagePullPolicy": "IfNotPresent"}


def images_to_prepull(profile: Profile) -> dict[str, str]:
    """Init-container name -> image for everything a replica pulls (the modelcar only when the weights come from it;
    the vLLM image by the reference the engine uses, so Artifact Streaming's tag is the one on the node)."""
    images = {"prepull-vllm": profile.vllm_image}
    if weights_storage(profile) == "disk":
        images["prepull-modelcar"] = profile.model.modelcar
    return images


def prepull_daemonset(profile: Profile) -> dict[str, Any]:
    """A DaemonSet on the GPU nodes whose init containers pull the images and exit; a pause container stays."""
    labels = profile.labels(COMPONENT_PREPULL)
    init = [{"name": name, **pinned(ref), "command": NOOP_COMMAND, "resources": SMALL}
            for name, ref in images_to_prepull(profile).items()]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": PREPULL_NAME, "namespace": profile.namespace, "labels": labels},
        "spec": {
            "selector": {"matchLabels": {COMPONENT: COMPONENT_PREPULL, INSTANCE: profile.model.served_name}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "100%"}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": node_warmup.node_selector(profile),
                    "tolerations": node_warmup.tolerations(profile),
                    "terminationGracePeriodSeconds": 0,
                    "initContainers": init,
                    "containers": [{"name": "pause", **pinned(profile.image.pause), "resources": SMALL}],
                },
            },
        },
    }


def manifests(profile: Profile) -> list[dict[str, Any]]:
    """The image lever's own resources (its pinning shows up in every other lever's containers)."""
    return [prepull_daemonset(profile)]
