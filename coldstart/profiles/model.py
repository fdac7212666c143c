"""The profile model: one frozen, validated description of a deployment, its levers, budgets and kinetics.

Every field says what it means and which values are accepted; `coldstart.profiles.loading` reads YAML files
into it and turns a validation error into one line naming the file and the key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from coldstart.errors import ProfileError
from coldstart.kube import labels
from coldstart.kube.images import ImageRef
from coldstart.kube.quantity import to_bytes
from coldstart.profiles.clouds import CLOUD_FEATURES, Aks, Eks, KarpenterPool
from coldstart.profiles.fields import BinaryQuantity, DigestRef, DnsLabel
from coldstart.profiles.fields import Strict as _Strict
from coldstart.profiles.phases import PHASE_NAMES


class Clusters(_Strict):
    """Which live clusters this profile may touch; the embedded cluster is always allowed."""

    allowed_contexts: list[str] = Field(default_factory=list)
    allow_in_cluster: bool = False


class Registry(_Strict):
    host: str = Field(min_length=1, description="in-region registry host, e.g. us-central1-docker.pkg.dev")


class Model(_Strict):
    name: str = Field(min_length=1, description="Hugging Face repo id, e.g. Qwen/Qwen2.5-7B-Instruct")
    served_name: DnsLabel
    modelcar: DigestRef
    weight_bytes: int = Field(gt=0)
    tensor_parallel_size: int = Field(ge=1, le=64)
    max_model_len: int = Field(gt=0)


class Images(_Strict):
    vllm: DigestRef
    compressed_bytes: int = Field(gt=0, description="vLLM image size as pulled (sum of compressed layers)")
    compression: Literal["zstd", "gzip"]
    pause: DigestRef


class Toleration(_Strict):
    key: str
    operator: Literal["Exists", "Equal"] = "Exists"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class Gpu(_Strict):
    resource: str = Field(min_length=1, description="extended resource name, e.g. nvidia.com/gpu")
    type: str = Field(min_length=1, description="accelerator type, e.g. nvidia-l4")
    count: int = Field(ge=1, le=16, description="GPUs per vLLM pod")
    memory_gib: float = Field(gt=0, description="memory of one GPU")
    node_selector: dict[str, str] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)


class Nodes(_Strict):
    warm_buffer: int = Field(ge=0, le=100, description="pause-pod replicas holding warm GPU nodes")
    buffer_priority: int = Field(ge=-1_000_000, le=1_000_000)
    workload_priority: int = Field(ge=-1_000_000, le=1_000_000_000)
    machine_type: str
    gpus_per_node: int = Field(ge=1, le=16)
    node_memory: BinaryQuantity
    node_cpu: int = Field(ge=1)
    max_nodes: int = Field(ge=1)


class Runtime(_Strict):
    replicas: int = Field(ge=0, le=1000)
    serving: Literal["kserve", "deployment"]
    loader: Literal["runai_streamer", "auto"]
    shm_size: BinaryQuantity
    gpu_memory_utilization: float = Field(gt=0, le=1)
    enforce_eager: bool
    optimization_level: int | None = Field(default=None, ge=0, le=3)
    engine_rss: BinaryQuantity
    memory_headroom: BinaryQuantity
    cpu: int = Field(ge=1)
    streamer_concurrency: int = Field(ge=1, le=256)
    streamer_memory_limit: BinaryQuantity
    cache_size: BinaryQuantity
    cache_storage_class: str = Field(min_length=1)
    cache_access_mode: Literal["ReadWriteMany", "ReadWriteOnce"]
    startup_probe_period_seconds: int = Field(ge=1, le=60)
    nccl_cumem_enable: Literal[0, 1] = 0


class HyperdiskMl(_Strict):
    enabled: bool
    size: BinaryQuantity
    throughput_mib_per_s: int = Field(ge=400, le=1_200_000)
    snapshot: str = Field(min_length=1, description="VolumeSnapshot holding the hydrated weights")


class ComputeClass(_Strict):
    enabled: bool
    name: DnsLabel
    spot_first: bool
    when_unsatisfiable: Literal["ScaleUpAnyway", "DoNotScaleUp"]


class Gke(_Strict):
    hyperdisk_ml: HyperdiskMl
    image_streaming: bool
    compute_class: ComputeClass


class Budgets(_Strict):
    time_to_ready_seconds: float = Field(gt=0)
    phases: dict[Literal[PHASE_NAMES], float] = Field(default_factory=dict)  # type: ignore[valid-type]


class Kinetics(_Strict):
    """How fast the simulated cluster is; defaults grounded in public figures (see params/baseline.yaml)."""

    node_boot_seconds: float = Field(ge=0)
    driver_install_seconds: float = Field(ge=0)
    preemption_seconds: float = Field(ge=0)
    registry_mb_per_s: float = Field(gt=0)
    cross_region_mb_per_s: float = Field(gt=0)
    gzip_decompress_mb_per_s: float = Field(gt=0)
    zstd_decompress_mb_per_s: float = Field(gt=0)
    image_streaming_start_seconds: float = Field(ge=0)
    disk_gib_per_s: float = Field(gt=0, description="balanced persistent disk read")
    hyperdisk_ml_gib_per_s: float = Field(gt=0)
    loader_gib_per_s: float = Field(gt=0, description="vLLM's default safetensors loader")
    streamer_gib_per_s_per_stream: float = Field(gt=0)
    container_start_seconds: float = Field(ge=0)
    engine_base_seconds: float = Field(ge=0, description="irreducible engine init: imports, profiling, KV")
    compile_cold_seconds: float = Field(ge=0)
    compile_warm_seconds: float = Field(ge=0)
    graph_capture_seconds: float = Field(ge=0)
    api_server_seconds: float = Field(ge=0)
    spot_available: bool
    spot_stockout_seconds: float = Field(default=15, ge=0, description="a Spot request to its stock-out answer: GKE's "
                                         "TriggeredScaleUp to FailedScaleUp, Karpenter's NodeClaim to its "
                                         "InsufficientCapacityError")
    jitter: float = Field(ge=0, le=0.5, description="relative random spread of every duration")
    # Node side (kubelet, registry, vLLM process); defaults so older profile files stay valid.
    volume_attach_seconds: float = Field(default=6.0, ge=0, description="PD/Hyperdisk CSI attach to a node")
    tag_repush_minutes: float = Field(default=5.0, gt=0, description="how often a mutable image tag moves")
    engine_rss_gib: float = Field(default=8.0, gt=0, description="CPU memory of vLLM's API server + engine, TP=1")
    hf_hub_mb_per_s: float = Field(default=100.0, gt=0, description="Hugging Face Hub download rate")
    hf_hub_check_seconds: float = Field(default=3.0, ge=0, description="Hub round trips when not offline")
    # Cloud accelerators (EKS, AKS); the defaults only matter where a profile turns the accelerator on, and each
    # cites its public figure (the eks/aks params refine them per cloud).
    soci_parallel_mb_per_s: float = Field(default=400.0, gt=0, description="SOCI parallel pull: concurrent chunked "
                                          "downloads, unpacked while they arrive; Grab measured a 60% cut in "
                                          "fresh-node pulls (https://engineering.grab.com/docker-lazy-loading): "
                                          "160 MB/s / 0.4")
    provisioner_batch_seconds: float = Field(default=1.0, ge=0, description="Karpenter's batch window before it "
                                             "creates NodeClaims for pending pods: BATCH_IDLE_DURATION 1 s "
                                             "(https://karpenter.sh/docs/reference/settings/)")
    instance_launch_seconds: float = Field(default=3.0, ge=0, description="a NodeClaim created until the cloud "
                                           "launched its instance (NodeClaim Launched); same minute as Nominated in "
                                           "https://github.com/aws/aws-cdk/pull/33373")
    fsx_lustre_gib_per_s: float = Field(default=2.0, gt=0, description="FSx for Lustre read, one client: 1000 MB/s "
                                        "per TiB on PERSISTENT_2 (https://docs.aws.amazon.com/fsx/latest/"
                                        "LustreGuide/performance.html), 2 TiB")
    mountpoint_s3_gib_per_s: float = Field(default=1.5, gt=0, description="Mountpoint for S3 sequential read, one "
                                           "client (https://github.com/awslabs/mountpoint-s3/blob/main/doc/"
                                           "BENCHMARKING.md)")
    object_store_gib_per_s: float = Field(default=2.0, gt=0, description="S3 or Azure Blob read by the Run:ai "
                                          "streamer, one client: ~15 GB in ~5 s at concurrency 32 "
                                          "(https://developer.nvidia.com/blog/reducing-cold-start-latency-for-llm-"
                                          "inference-with-nvidia-runai-model-streamer/), bounded by the NIC")


class Profile(_Strict):
    name: DnsLabel  # names the output folder: a DNS-1123 label, so it can never climb out of --out
    description: str = ""
    cloud: Literal["generic", "gke", "eks", "aks"]
    region: str = Field(min_length=1)
    namespace: DnsLabel
    seed: int
    clusters: Clusters = Field(default_factory=Clusters)
    registry: Registry
    model: Model
    image: Images
    gpu: Gpu
    nodes: Nodes
    runtime: Runtime
    gke: Gke | None = None
    eks: Eks | None = None
    aks: Aks | None = None
    budgets: Budgets
    kinetics: Kinetics

    @model_validator(mode="after")
    def _one_cloud(self) -> Profile:
        for cloud in ("gke", "eks", "aks"):
            if getattr(self, cloud) is not None and self.cloud != cloud:
                raise ValueError(f"a {cloud}: section needs cloud: {cloud} (this profile says cloud: {self.cloud}); "
                                 f"remove the section or set cloud: {cloud}")
        return self

    @property
    def streamer_buffer_bytes(self) -> int:
        """CPU memory the Run:ai streamer may hold; zero with the default loader."""
        return to_bytes(self.runtime.streamer_memory_limit) if self.runtime.loader == "runai_streamer" else 0

    @property
    def memory_limit_bytes(self) -> int:
        """Container memory limit: /dev/shm pages + engine RSS + streamer buffer + headroom."""
        rt = self.runtime
        return (to_bytes(rt.shm_size) + to_bytes(rt.engine_rss) + self.streamer_buffer_bytes
                + to_bytes(rt.memory_headroom))

    def labels(self, component: str) -> dict[str, str]:
        """Labels every object rendered for this profile carries, so selectors and cleanup can find them."""
        return {labels.NAME: "vllm", labels.INSTANCE: self.model.served_name, labels.COMPONENT: component,
                labels.PART_OF: "coldstart"}

    def feature(self, spec: str) -> bool:
        """Is `<cloud>:<feature>` on (`gke:image_streaming`, `eks:soci`, `aks:artifact_streaming`, ...)? False on
        any other cloud; an unknown name raises."""
        cloud, _, name = spec.partition(":")
        if name not in CLOUD_FEATURES.get(cloud, ()):
            raise ProfileError(f"{spec!r} is not a cloud feature; known: "
                               + ", ".join(f"{c}:{f}" for c, names in CLOUD_FEATURES.items() for f in names))
        if cloud == "gke":
            return self.gke_feature(name)
        section = self.eks if cloud == "eks" else self.aks
        return section is not None and section.feature(name)

    @property
    def vllm_image(self) -> str:
        """The vLLM image reference the engine and the pre-pull use: by digest, or by its locked ACR tag where Artifact
        Streaming is on (it streams pulls by tag only; the lock makes the tag as immutable as a digest)."""
        if self.aks is not None and self.aks.artifact_streaming.enabled:
            return f"{ImageRef.parse(self.image.vllm).name}:{self.aks.artifact_streaming.tag}"
        return self.image.vllm

    @property
    def locked_tags(self) -> frozenset[str]:
        """Image references by a tag the registry will not move (an ACR tag with write-enabled false)."""
        return frozenset({self.vllm_image}) if self.vllm_image != self.image.vllm else frozenset()

    @property
    def karpenter(self) -> KarpenterPool | None:
        """The Karpenter NodePool the GPU nodes come from (EKS, or AKS node auto-provisioning), if enabled."""
        section = self.eks or self.aks
        return section.karpenter if section is not None and section.karpenter.enabled else None

    @property
    def lazy_image_loading(self) -> bool:
        """Does a GPU node start the vLLM container before its image is whole (GKE Image Streaming, SOCI lazy
        loading, AKS Artifact Streaming)?"""
        return (self.gke_feature("image_streaming") or self.feature("eks:soci_lazy")
                or self.feature("aks:artifact_streaming"))

    def gke_feature(self, feature: str) -> bool:
        """True when the profile is GKE and the named accelerator is enabled."""
        if self.gke is None:
            return False
        return {"hyperdisk_ml": self.gke.hyperdisk_ml.enabled, "image_streaming": self.gke.image_streaming,
                "compute_class": self.gke.compute_class.enabled}[feature]
