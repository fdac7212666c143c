"""The profile model: one frozen, validated description of a deployment, its levers, budgets and kinetics.

Every field says what it means and which values are accepted; `coldstart.profiles.loading` reads YAML files
into it and turns a validation error into one line naming the file and the key.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from coldstart.kube import labels
from coldstart.kube.images import is_pinned_reference
from coldstart.kube.quantity import is_binary_quantity, to_bytes
from coldstart.profiles.phases import PHASE_NAMES

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _digest_ref(value: str) -> str:
    if not is_pinned_reference(value):
        raise ValueError(f"{value!r} is not pinned by digest; write registry/repo@sha256:<64 hex> "
                         "(a tag alone lets the image change under you and defeats IfNotPresent)")
    return value


def _binary_quantity(value: str) -> str:
    if not is_binary_quantity(value):
        raise ValueError(f"{value!r} is not a binary Kubernetes quantity; write it like 16Gi "
                         "(Ki/Mi/Gi/Ti, whole numbers; 16GB is not a Kubernetes size)")
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value) or len(value) > 63:
        raise ValueError(f"{value!r} is not a DNS label; write lowercase letters, digits and '-'")
    return value


DigestRef = Annotated[str, AfterValidator(_digest_ref)]
BinaryQuantity = Annotated[str, AfterValidator(_binary_quantity)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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
    spot_stockout_seconds: float = Field(default=15, ge=0, description="TriggeredScaleUp to GKE's FailedScaleUp "
                                         "when a Spot scale-up hits a stock-out")
    jitter: float = Field(ge=0, le=0.5, description="relative random spread of every duration")
    # Node side (kubelet, registry, vLLM process); defaults so older profile files stay valid.
    volume_attach_seconds: float = Field(default=6.0, ge=0, description="PD/Hyperdisk CSI attach to a node")
    tag_repush_minutes: float = Field(default=5.0, gt=0, description="how often a mutable image tag moves")
    engine_rss_gib: float = Field(default=8.0, gt=0, description="CPU memory of vLLM's API server + engine, TP=1")
    hf_hub_mb_per_s: float = Field(default=100.0, gt=0, description="Hugging Face Hub download rate")
    hf_hub_check_seconds: float = Field(default=3.0, ge=0, description="Hub round trips when not offline")


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
    budgets: Budgets
    kinetics: Kinetics

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

    def gke_feature(self, feature: str) -> bool:
        """True when the profile is GKE and the named accelerator is enabled."""
        if self.gke is None:
            return False
        return {"hyperdisk_ml": self.gke.hyperdisk_ml.enabled, "image_streaming": self.gke.image_streaming,
                "compute_class": self.gke.compute_class.enabled}[feature]
