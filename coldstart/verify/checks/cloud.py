"""Invariants of the clouds' own accelerators and storage: SOCI on the EKS nodes the engine lands on, Artifact
Streaming on AKS (which streams pulls by tag only), and a compile cache on storage that can be shared the way it is
asked to be (EBS and Azure Disk are ReadWriteOnce)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from coldstart.kube.images import ImageRef, has_digest, is_acr_host
from coldstart.kube.podspec import volume_at
from coldstart.profiles.clouds import BUILT_IN_CLASSES, SOCI_LAZY_MODE, SOCI_MARKERS
from coldstart.verify.checks.karpenter import node_pool_of
from coldstart.verify.findings import Context, Finding, found, invariant
from coldstart.verify.workloads import Workload
from coldstart.vllm.launch import CACHE_DIR

__all__ = ["READ_WRITE_ONCE_ONLY"]

READ_WRITE_ONCE_ONLY = {"ebs.csi.aws.com", "ebs.csi.eks.amazonaws.com", "kubernetes.io/aws-ebs", "disk.csi.azure.com",
                        "kubernetes.io/azure-disk", "pd.csi.storage.gke.io", "kubernetes.io/gce-pd"}


def _node_class(ctx: Context, w: Workload, kind: str) -> tuple[str, dict[str, Any] | None]:
    """(what was looked for, the node class object) behind the NodePool the engine lands on."""
    name, pool = node_pool_of(ctx, w.node_selector)
    if pool is None:
        return (f"NodePool {name}" if name else "the engine's NodePool"), None
    ref = (((pool.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeClassRef") or {}
    doc = ctx.inv.find(kind, ref.get("name")) if ref.get("kind") == kind else None
    return f"{kind} {ref.get('name')}", doc.obj if doc is not None else None


@invariant("soci-enabled", "image_pull",
           "the profile counts on SOCI but the nodes pull the multi-GB vLLM image the slow way", "eks:soci")
def check_soci(ctx: Context) -> Iterator[Finding]:
    profile = ctx.profile
    assert profile is not None and profile.eks is not None
    lazy = profile.eks.soci.mode == "lazy"
    for w in ctx.workloads:
        what, node_class = _node_class(ctx, w, "EC2NodeClass")
        if node_class is None:
            yield found("soci-enabled", "n/a", w, None, f"{what} is not in this input (SOCI is set on its userData)")
            continue
        data = str((node_class.get("spec") or {}).get("userData") or "")
        if not any(marker in data for marker in SOCI_MARKERS):
            yield found("soci-enabled", "fail", w, None, f"{what}: userData does not turn SOCI on; add a nodeadm "
                        "NodeConfig with featureGates FastImagePull: true (AL2023), or [settings.container-runtime] "
                        'snapshotter = "soci" (Bottlerocket)')
        elif lazy and SOCI_LAZY_MODE not in data:
            yield found("soci-enabled", "fail", w, None, f"{what}: SOCI pulls in parallel but the profile asks for "
                        f"lazy loading; enable {SOCI_LAZY_MODE} in the soci-snapshotter config (images need a "
                        "SOCI v2 index: soci convert)")
        else:
            yield found("soci-enabled", "pass", w, None, f"{what} turns SOCI on "
                        f"({'lazy loading with SOCI v2 indexes' if lazy else 'parallel pull/unpack'})")


@invariant("artifact-streaming", "image_pull",
           "the profile counts on Artifact Streaming but the image is pulled whole: by digest, or onto nodes "
           "without it",
           "aks:artifact_streaming")
def check_artifact_streaming(ctx: Context) -> Iterator[Finding]:
    profile = ctx.profile
    assert profile is not None and profile.aks is not None
    for w, _pod, c in ctx.containers():
        if not c.launcher or not c.image:
            continue
        problems, notes = [], []
        if has_digest(c.image):
            problems.append(f"{c.image} is pulled by digest and Artifact Streaming streams pulls by tag only: "
                            f"reference the tag locked in ACR ({profile.vllm_image})")
        elif not is_acr_host(ImageRef.parse(c.image).host):
            problems.append(f"{c.image} is not in ACR; only ACR streams artifacts")
        if profile.karpenter is None:
            notes.append("the GPU pool's setting is outside the manifests: az aks nodepool update "
                         "--enable-artifact-streaming")
        else:
            what, node_class = _node_class(ctx, w, "AKSNodeClass")
            if node_class is None:
                notes.append(f"{what} is not in this input")
            elif ((node_class.get("spec") or {}).get("artifactStreaming") or {}).get("enabled") is not True:
                problems.append(f"{what} does not set artifactStreaming.enabled: true")
        if problems:
            yield found("artifact-streaming", "fail", w, c.name, "; ".join(problems))
        else:
            yield found("artifact-streaming", "pass", w, c.name, f"{c.image} by its locked tag on streaming nodes"
                        + (f" ({'; '.join(notes)})" if notes else ""))


def _provisioner(ctx: Context, class_name: str | None) -> str | None:
    """The provisioner of a StorageClass: in the input, or one the profile's cloud builds into every cluster."""
    doc = ctx.inv.find("StorageClass", class_name) if class_name else None
    if doc is not None:
        return str(doc.obj.get("provisioner") or "") or None
    cloud = ctx.profile.cloud if ctx.profile is not None else None
    return BUILT_IN_CLASSES.get(cloud or "", {}).get(class_name or "")


@invariant("cache-rwx-storage", "runtime",
           "a ReadWriteMany cache claim on block storage (EBS, Azure Disk, PD) never binds, and a ReadWriteOnce one "
           "cannot be attached by a second replica on another node")
def check_cache_storage(ctx: Context) -> Iterator[Finding]:
    replicas = ctx.profile.runtime.replicas if ctx.profile is not None else 1
    for w, pod, c in ctx.containers():
        if not c.launcher:
            continue
        _, volume = volume_at(pod.spec, c.spec, CACHE_DIR)
        claim_name = ((volume or {}).get("persistentVolumeClaim") or {}).get("claimName")
        claim = ctx.inv.find("PersistentVolumeClaim", claim_name, w.namespace) if claim_name else None
        if claim is None:
            yield found("cache-rwx-storage", "n/a", w, c.name, f"the cache claim {claim_name} is not in this input"
                        if claim_name else f"no PersistentVolumeClaim at {CACHE_DIR} (see cache-persistent)")
            continue
        spec = claim.obj.get("spec") or {}
        modes = set(spec.get("accessModes") or [])
        class_name = spec.get("storageClassName")
        provisioner = _provisioner(ctx, class_name)
        if provisioner is None:
            yield found("cache-rwx-storage", "n/a", w, c.name, f"StorageClass {class_name} is not in this input")
        elif "ReadWriteMany" in modes and provisioner in READ_WRITE_ONCE_ONLY:
            yield found("cache-rwx-storage", "fail", w, c.name, f"claim {claim_name} asks ReadWriteMany of "
                        f"{class_name} ({provisioner}), block storage that only attaches to one node: it never "
                        "binds; use a file class (EFS, Azure Files, Filestore)")
        elif "ReadWriteMany" not in modes and replicas > 1:
            yield found("cache-rwx-storage", "fail", w, c.name, f"claim {claim_name} is ReadWriteOnce but the profile "
                        f"runs {replicas} replicas: a second one on another node cannot attach it; use ReadWriteMany "
                        "on a file class")
        else:
            yield found("cache-rwx-storage", "pass", w, c.name, f"claim {claim_name}: {', '.join(sorted(modes))} on "
                        f"{class_name} ({provisioner})")
