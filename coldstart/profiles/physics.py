"""The physics every layer shares: how many seconds a pull, a weight load and an engine start take for a
profile's kinetics. The floor in the reports, the lever builders' estimates and the embedded cluster's
simulation all call these functions, so an expectation and a simulated run can never use two formulas.

Rates come from `profile.kinetics` (each default carries its public source in params/baseline.yaml; the cloud
accelerators' defaults in the Kinetics field descriptions, and each cloud's own figures beside them in params/eks.yaml
and params/aks.yaml).
"""

from __future__ import annotations

import re
from typing import Literal

from coldstart.profiles.model import Kinetics, Profile

__all__ = [
    "GEO_REDIRECTING", "STREAMING_REFERENCE_BYTES", "Storage", "engine_start_seconds", "image_transfer_seconds",
    "loader_gib_per_s", "pull_floor_seconds", "pull_seconds", "registry_in_region", "registry_region",
    "storage_gib_per_s", "streaming_start_seconds", "unpack_seconds", "weight_gib_per_s", "weight_seconds",
    "weights_storage",
]

Storage = Literal["disk", "hyperdisk_ml", "fsx_lustre", "mountpoint_s3", "object_store"]
GEO_REDIRECTING = {"registry.k8s.io"}  # sends every pull to a mirror in the puller's own region
STREAMER_FORMATS = ("runai_streamer", "runai_streamer_sharded")
# ECR names its region in the host: <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
_ECR = re.compile(r"^\d{12}\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_ACR = re.compile(r"^[a-z0-9]{5,50}\.azurecr\.(?:io|cn|us)$")


def registry_region(host: str) -> str | None:
    """The region a registry host names for itself (ECR: `123.dkr.ecr.us-east-1.amazonaws.com`), else None."""
    match = _ECR.match(host.lower().split(":", 1)[0])
    return match.group("region") if match else None


def registry_in_region(host: str, profile: Profile) -> bool:
    """Is a registry host in the profile's region? An ECR host is exactly where its name says, whatever the profile
    lists. An ACR name (`x.azurecr.io`) carries no region: only the profile's own registry counts, and only when the
    profile says it is (geo-replicated) in the cluster's region. Otherwise: the profile's registry, a host named for
    the region (`us-central1-docker.pkg.dev`, `x.eastus.geo.azurecr.io`), or a geo-redirecting registry."""
    host, region = host.lower(), profile.region.lower()
    name = host.split(":", 1)[0]
    ecr_region = registry_region(name)
    if ecr_region is not None:
        return ecr_region == region
    if _ACR.match(name):
        return (name == profile.registry.host.lower() and profile.aks is not None
                and region in {r.lower() for r in profile.aks.acr_regions})
    labels = name.split(".")
    return (host in GEO_REDIRECTING or host == profile.registry.host.lower()
            or any(label == region or label.startswith(region + "-") for label in labels))


def image_transfer_seconds(kinetics: Kinetics, compressed_bytes: float, compression: str,
                           *, in_region: bool = True, parallel: bool = False) -> float:
    """Compressed bytes over the registry link plus decompression (none for stored layers, e.g. modelcars). With SOCI
    parallel pull/unpack each layer arrives in concurrent chunks (kinetics.soci_parallel_mb_per_s in region) and
    is unpacked while it arrives: the slower of the two, not their sum."""
    bandwidth = kinetics.registry_mb_per_s if in_region else kinetics.cross_region_mb_per_s
    unpack = unpack_seconds(kinetics, compressed_bytes, compression)
    if parallel:
        bandwidth *= kinetics.soci_parallel_mb_per_s / kinetics.registry_mb_per_s
        return max(compressed_bytes / (bandwidth * 1e6), unpack)
    return compressed_bytes / (bandwidth * 1e6) + unpack


def pull_seconds(profile: Profile, *, compression: str | None = None, in_region: bool = True) -> float:
    """Expected seconds to pull and unpack the profile's vLLM image on a cold node (SOCI parallel when it is on)."""
    return image_transfer_seconds(profile.kinetics, profile.image.compressed_bytes,
                                  compression or profile.image.compression, in_region=in_region,
                                  parallel=profile.feature("eks:soci_parallel"))


def pull_floor_seconds(profile: Profile, compressed_bytes: float, compression: str, *, streamed: bool = False) -> float:
    """The least a cold pull of an image can take on the profile's nodes: the transfer and the unpacking overlapped
    (the larger of the two), at SOCI's parallel rate where the profile turns it on, or the lazy-loading start where
    the pull streamed (or the profile's nodes lazily load: Image Streaming, SOCI lazy, Artifact Streaming)."""
    k = profile.kinetics
    rate = k.soci_parallel_mb_per_s if profile.feature("eks:soci_parallel") else k.registry_mb_per_s
    full = max(compressed_bytes / (max(rate, k.registry_mb_per_s) * 1e6), unpack_seconds(k, compressed_bytes,
                                                                                          compression))
    if streamed or profile.lazy_image_loading:
        return min(full, streaming_start_seconds(k, compressed_bytes))
    return full


STREAMING_REFERENCE_BYTES = 5e9  # lazy loading starts a 5 GB image in kinetics.image_streaming_start_seconds


def streaming_start_seconds(kinetics: Kinetics, compressed_bytes: float) -> float:
    """Lazy image loading (GKE Image Streaming, SOCI lazy loading, AKS Artifact Streaming) starts a container before
    the image is whole: the seconds scale with the image's size from the profile's figure for a 5 GB image."""
    return kinetics.image_streaming_start_seconds * compressed_bytes / STREAMING_REFERENCE_BYTES


def unpack_seconds(kinetics: Kinetics, compressed_bytes: float, compression: str) -> float:
    """Decompressing the layers (none for stored layers, e.g. a modelcar's)."""
    rate = {"gzip": kinetics.gzip_decompress_mb_per_s, "zstd": kinetics.zstd_decompress_mb_per_s}.get(compression)
    return compressed_bytes / (rate * 1e6) if rate else 0.0


def weights_storage(profile: Profile) -> Storage:
    """Where the profile's weights are read from: a Hyperdisk ML claim (GKE), FSx for Lustre or Mountpoint for S3
    (EKS), the object store itself through the Run:ai streamer (S3 on EKS, Blob on AKS), or the node's disk (the
    modelcar)."""
    if profile.gke_feature("hyperdisk_ml"):
        return "hyperdisk_ml"
    if profile.feature("eks:fsx_lustre"):
        return "fsx_lustre"
    if profile.feature("eks:mountpoint_s3"):
        return "mountpoint_s3"
    if profile.feature("eks:s3_streamer") or profile.feature("aks:blob_streamer"):
        return "object_store"
    return "disk"


def storage_gib_per_s(kinetics: Kinetics, storage: str) -> float:
    """Read rate of the storage that holds the weights."""
    return {"hyperdisk_ml": kinetics.hyperdisk_ml_gib_per_s, "hyperdisk-ml": kinetics.hyperdisk_ml_gib_per_s,
            "fsx_lustre": kinetics.fsx_lustre_gib_per_s, "mountpoint_s3": kinetics.mountpoint_s3_gib_per_s,
            "object_store": kinetics.object_store_gib_per_s}.get(storage, kinetics.disk_gib_per_s)


def loader_gib_per_s(kinetics: Kinetics, load_format: str, concurrency: int) -> float:
    """What the loader can take: the Run:ai streamer scales with its concurrency, vLLM's default loader does not."""
    if load_format.startswith(STREAMER_FORMATS):
        return max(1, concurrency) * kinetics.streamer_gib_per_s_per_stream
    return kinetics.loader_gib_per_s


def weight_gib_per_s(storage_rate: float, loader_rate: float) -> float:
    """The weights arrive at the slower of the storage and the loader."""
    return min(storage_rate, loader_rate)


def weight_seconds(profile: Profile, *, loader: str | None = None, storage: str | None = None) -> float:
    """Expected seconds to read the profile's weights: bytes over the slower of the storage and the loader."""
    kin, rt = profile.kinetics, profile.runtime
    rate = weight_gib_per_s(storage_gib_per_s(kin, storage or weights_storage(profile)),
                            loader_gib_per_s(kin, loader or rt.loader, rt.streamer_concurrency))
    return profile.model.weight_bytes / 2**30 / rate


def engine_start_seconds(kinetics: Kinetics) -> float:
    """The engine's work that no lever removes: imports, profiling, KV cache allocation, the API server's start."""
    return kinetics.engine_base_seconds + kinetics.api_server_seconds
