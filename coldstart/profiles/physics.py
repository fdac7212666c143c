"""The physics every layer shares: how many seconds a pull, a weight load and an engine start take for a
profile's kinetics. The floor in the reports, the lever builders' estimates and the embedded cluster's
simulation all call these functions, so an expectation and a simulated run can never use two formulas.

Rates come from `profile.kinetics` (each default carries its public source in params/baseline.yaml).
"""

from __future__ import annotations

from typing import Literal

from coldstart.profiles.model import Kinetics, Profile

__all__ = [
    "GEO_REDIRECTING", "STREAMING_REFERENCE_BYTES", "Storage", "engine_start_seconds", "image_transfer_seconds",
    "loader_gib_per_s", "pull_seconds", "registry_in_region", "storage_gib_per_s", "streaming_start_seconds",
    "unpack_seconds", "weight_gib_per_s", "weight_seconds", "weights_storage",
]

Storage = Literal["disk", "hyperdisk_ml"]
GEO_REDIRECTING = {"registry.k8s.io"}  # sends every pull to a mirror in the puller's own region
STREAMER_FORMATS = ("runai_streamer", "runai_streamer_sharded")


def registry_in_region(host: str, profile: Profile) -> bool:
    """Is a registry host in the profile's region: its own registry, a host named for the region
    (`us-central1-docker.pkg.dev`, `123.dkr.ecr.us-east-1.amazonaws.com`), or a geo-redirecting registry?"""
    host, region = host.lower(), profile.region.lower()
    labels = host.split(":", 1)[0].split(".")
    return (host in GEO_REDIRECTING or host == profile.registry.host.lower()
            or any(label == region or label.startswith(region + "-") for label in labels))


def image_transfer_seconds(kinetics: Kinetics, compressed_bytes: float, compression: str,
                           *, in_region: bool = True) -> float:
    """Compressed bytes over the registry link plus decompression (none for stored layers, e.g. modelcars)."""
    bandwidth = kinetics.registry_mb_per_s if in_region else kinetics.cross_region_mb_per_s
    return compressed_bytes / (bandwidth * 1e6) + unpack_seconds(kinetics, compressed_bytes, compression)


def pull_seconds(profile: Profile, *, compression: str | None = None, in_region: bool = True) -> float:
    """Expected seconds to pull and unpack the profile's vLLM image on a cold node."""
    return image_transfer_seconds(profile.kinetics, profile.image.compressed_bytes,
                                  compression or profile.image.compression, in_region=in_region)


STREAMING_REFERENCE_BYTES = 5e9  # image streaming starts a 5 GB image in kinetics.image_streaming_start_seconds


def streaming_start_seconds(kinetics: Kinetics, compressed_bytes: float) -> float:
    """Lazy image loading (GKE Image Streaming and its kin) starts a container before the image is whole: the
    seconds scale with the image's size from the profile's figure for a 5 GB image."""
    return kinetics.image_streaming_start_seconds * compressed_bytes / STREAMING_REFERENCE_BYTES


def unpack_seconds(kinetics: Kinetics, compressed_bytes: float, compression: str) -> float:
    """Decompressing the layers (none for stored layers, e.g. a modelcar's)."""
    rate = {"gzip": kinetics.gzip_decompress_mb_per_s, "zstd": kinetics.zstd_decompress_mb_per_s}.get(compression)
    return compressed_bytes / (rate * 1e6) if rate else 0.0


def weights_storage(profile: Profile) -> Storage:
    """Where the profile's weights are read from: a Hyperdisk ML claim (GKE) or the node's disk (the modelcar)."""
    return "hyperdisk_ml" if profile.gke_feature("hyperdisk_ml") else "disk"


def storage_gib_per_s(kinetics: Kinetics, storage: str) -> float:
    """Read rate of the storage that holds the weights."""
    return kinetics.hyperdisk_ml_gib_per_s if storage in ("hyperdisk_ml", "hyperdisk-ml") else kinetics.disk_gib_per_s


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
