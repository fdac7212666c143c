"""Lever 1, weight load: the weights arrive as a digest-pinned OCI modelcar (cached by the node like any
image), vLLM never talks to the Hugging Face Hub at start, and the Run:ai streamer reads the
safetensors concurrently with a bounded CPU buffer. On GKE with Hyperdisk ML the weights sit on a
read-only-many disk hydrated once, so no replica copies them at all; on EKS and AKS they may come from FSx for
Lustre, Mountpoint for S3 or the object store itself (`levers.weight_sources`).

This module also assembles the vLLM workload itself (KServe InferenceService + ServingRuntime, or a
plain Deployment for clusters without KServe), because that is where all four levers meet: the image
lever pins its image, the node lever places it, the runtime lever configures the engine.
"""

from __future__ import annotations

from typing import Any

from coldstart.kube.labels import COMPONENT, COMPONENT_ENGINE, INSTANCE
from coldstart.levers import image_pull, node_warmup, runtime, weight_sources
from coldstart.profiles import Profile
from coldstart.profiles.physics import weights_storage

MODEL_DIR = "/mnt/models"
RUNTIME_NAME = "vllm-coldstart"
HYPERDISK_CLASS = "hyperdisk-ml"
# KServe's modelcar wiring, reproduced for the Deployment form: the sidecar exposes the image's /models
# through the shared process namespace, the init container makes sure the image is on the node first.
MODELCAR_VOLUME, MODELCAR_MOUNT = "kserve-provision-location", "/mnt"
MODELCAR_LINK = ["sh", "-c", "ln -sf /proc/$$$$/root/models /mnt/ && sleep infinity"]


def weights_claim_name(profile: Profile) -> str:
    return f"{profile.model.served_name}-weights"


def uses_disk(profile: Profile) -> bool:
    """Weights from a read-only claim (Hyperdisk ML, FSx for Lustre, Mountpoint for S3) instead of the modelcar."""
    return weights_storage(profile) in weight_sources.CLAIM_SOURCES


def uses_modelcar(profile: Profile) -> bool:
    """Weights from the modelcar image (neither a claim nor the object store)."""
    return weights_storage(profile) == "disk"


def storage_uri(profile: Profile) -> str | None:
    """Where KServe finds the weights: the modelcar by digest, the read-only weights claim, or nowhere (vLLM streams
    them from the object store itself)."""
    if uses_disk(profile):
        return f"pvc://{weights_claim_name(profile)}/"
    if not uses_modelcar(profile):
        return None
    return f"oci://{profile.model.modelcar}"


def loader_args(profile: Profile) -> list[str]:
    """The model (the mounted weights, or the object store URI) and the loader; the object store needs the streamer."""
    uri = weight_sources.object_store_uri(profile)
    args = [uri or MODEL_DIR, f"--served-model-name={profile.model.served_name}", f"--port={runtime.PORT}"]
    if profile.runtime.loader == "runai_streamer" or uri:
        args.append("--load-format=runai_streamer")
    return args


def loader_env(profile: Profile) -> list[dict[str, str]]:
    """Offline Hub (no network at start) and a bounded streamer buffer (unbounded it takes ~40 GB)."""
    env = [{"name": "HF_HUB_OFFLINE", "value": "1"}, {"name": "TRANSFORMERS_OFFLINE", "value": "1"}]
    if profile.runtime.loader == "runai_streamer" or weight_sources.object_store_uri(profile):
        env += [{"name": "RUNAI_STREAMER_CONCURRENCY", "value": str(profile.runtime.streamer_concurrency)},
                {"name": "RUNAI_STREAMER_MEMORY_LIMIT", "value": str(profile.streamer_buffer_bytes)}]
    return env + weight_sources.env(profile)


def engine_container(profile: Profile, name: str = "vllm") -> dict[str, Any]:
    """The vLLM container with every lever's settings (image, loader, engine flags, volumes, probes)."""
    return {
        "name": name,
        **image_pull.pinned(profile.vllm_image),
        "command": ["vllm", "serve"],
        "args": loader_args(profile) + runtime.engine_args(profile),
        "env": loader_env(profile) + runtime.engine_env(profile),
        "ports": [{"name": "http", "containerPort": runtime.PORT, "protocol": "TCP"}],
        "resources": runtime.resources(profile),
        "volumeMounts": runtime.volume_mounts(),
        **runtime.probes(profile),
    }


def hyperdisk_storage_class(profile: Profile) -> dict[str, Any]:
    hd = profile.gke.hyperdisk_ml  # type: ignore[union-attr]
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": HYPERDISK_CLASS, "labels": profile.labels("weights")},
        "provisioner": "pd.csi.storage.gke.io",
        "parameters": {"type": "hyperdisk-ml", "provisioned-throughput-on-create": f"{hd.throughput_mib_per_s}Mi"},
        "allowVolumeExpansion": False,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "mountOptions": ["read_ahead_kb=4096"],
    }


def weights_claim(profile: Profile) -> dict[str, Any]:
    """ReadOnlyMany, restored from the snapshot of a disk hydrated once from the modelcar."""
    hd = profile.gke.hyperdisk_ml  # type: ignore[union-attr]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": weights_claim_name(profile), "namespace": profile.namespace,
                     "labels": profile.labels("weights")},
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": HYPERDISK_CLASS,
            "resources": {"requests": {"storage": hd.size}},
            "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": hd.snapshot},
        },
    }


def serving_runtime(profile: Profile) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": RUNTIME_NAME, "namespace": profile.namespace, "labels": profile.labels(COMPONENT_ENGINE)},
        "spec": {
            "supportedModelFormats": [{"name": "vllm", "autoSelect": True}],
            "multiModel": False,
            "containers": [engine_container(profile, name="kserve-container")],
            "volumes": runtime.volumes(profile),
        },
    }


def inference_service(profile: Profile) -> dict[str, Any]:
    container = engine_container(profile)
    predictor: dict[str, Any] = {
        "minReplicas": profile.runtime.replicas,
        "maxReplicas": max(profile.runtime.replicas, 1),
        **node_warmup.placement(profile),
        "model": {"modelFormat": {"name": "vllm"}, "runtime": RUNTIME_NAME, "storageUri": storage_uri(profile),
                  "resources": container["resources"]},
    }
    model = predictor["model"]
    if model["storageUri"] is None:
        del model["storageUri"]
    annotations = node_warmup.pod_metadata(profile, {}).get("annotations")
    if annotations:
        predictor["annotations"] = annotations
    if weight_sources.service_account(profile) is not None:
        predictor["serviceAccountName"] = weight_sources.service_account_name(profile)
    if weight_sources.pod_labels(profile):
        predictor["labels"] = weight_sources.pod_labels(profile)
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": profile.model.served_name, "namespace": profile.namespace,
                     "labels": profile.labels(COMPONENT_ENGINE),
                     "annotations": {"serving.kserve.io/deploymentMode": "RawDeployment"}},
        "spec": {"predictor": predictor},
    }


def deployment(profile: Profile) -> dict[str, Any]:
    """The same engine as a plain Deployment, with KServe's modelcar wiring (or the weights claim) inline."""
    labels = profile.labels(COMPONENT_ENGINE)
    container = engine_container(profile)
    pod: dict[str, Any] = {**node_warmup.placement(profile), "volumes": runtime.volumes(profile)}
    if weight_sources.service_account(profile) is not None:
        pod["serviceAccountName"] = weight_sources.service_account_name(profile)
    if uses_disk(profile):
        pod["volumes"].append({"name": "weights", "persistentVolumeClaim": {
            "claimName": weights_claim_name(profile), "readOnly": True}})
        container["volumeMounts"].append({"name": "weights", "mountPath": MODEL_DIR, "readOnly": True})
    elif uses_modelcar(profile):  # (from the object store, vLLM streams the weights itself: nothing to mount)
        modelcar = image_pull.pinned(profile.model.modelcar)
        mount = {"name": MODELCAR_VOLUME, "mountPath": MODELCAR_MOUNT}
        pod["shareProcessNamespace"] = True
        pod["volumes"].append({"name": MODELCAR_VOLUME, "emptyDir": {}})
        pod["initContainers"] = [{"name": "modelcar-init", **modelcar, "command": image_pull.NOOP_COMMAND,
                                  "resources": image_pull.SMALL}]
        container["volumeMounts"].append(mount)
        sidecar = {"name": "modelcar", **modelcar, "args": MODELCAR_LINK, "volumeMounts": [mount],
                   "resources": image_pull.SMALL}
        pod["containers"] = [container, sidecar]
    pod.setdefault("containers", [container])
    pod["terminationGracePeriodSeconds"] = 30
    selector = {COMPONENT: COMPONENT_ENGINE, INSTANCE: profile.model.served_name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{profile.model.served_name}-vllm", "namespace": profile.namespace, "labels": labels},
        "spec": {"replicas": profile.runtime.replicas, "selector": {"matchLabels": selector},
                 "strategy": {"type": "Recreate"},
                 "template": {"metadata": node_warmup.pod_metadata(profile, {**labels,
                                                                             **weight_sources.pod_labels(profile)}),
                              "spec": pod}},
    }


def manifests(profile: Profile, serving: str | None = None) -> list[dict[str, Any]]:
    """Weights storage (Hyperdisk ML, FSx for Lustre or Mountpoint for S3; the object store's reader identity) then
    the workload, in apply order."""
    docs: list[dict[str, Any]] = []
    if profile.gke_feature("hyperdisk_ml"):
        docs += [hyperdisk_storage_class(profile), weights_claim(profile)]
    docs += weight_sources.claim_docs(profile, weights_claim_name(profile))
    account = weight_sources.service_account(profile)
    if account is not None:
        docs.append(account)
    if (serving or profile.runtime.serving) == "kserve":
        docs += [serving_runtime(profile), inference_service(profile)]
    else:
        docs.append(deployment(profile))
    return docs
