"""Profiles: one YAML file that describes a deployment, its levers, its budgets and its cluster's kinetics.

A profile is a shipped name (`baseline`, `gke` in `params/`) or a path to a user's own file that
`extends:` one. Loading merges the chain, then validates it into frozen pydantic objects; any problem
is reported as one `ProfileError` naming the file, the key path and what to write instead.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from coldstart.errors import ProfileError
from coldstart.kube.quantity import is_binary_quantity, to_bytes
from coldstart.profiles.phases import PHASE_NAMES

PARAMS_DIR = Path(__file__).resolve().parent / "params"

_DIGEST_REF = re.compile(r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+)"
                         r"(?::[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _digest_ref(value: str) -> str:
    if not _DIGEST_REF.match(value):
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
    name: str
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
        return {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": self.model.served_name,
                "app.kubernetes.io/component": component, "app.kubernetes.io/part-of": "coldstart"}

    def gke_feature(self, feature: str) -> bool:
        """True when the profile is GKE and the named accelerator is enabled."""
        if self.gke is None:
            return False
        return {"hyperdisk_ml": self.gke.hyperdisk_ml.enabled, "image_streaming": self.gke.image_streaming,
                "compute_class": self.gke.compute_class.enabled}[feature]


# ---------------------------------------------------------------------------------------------------
# Loading


def shipped_profiles() -> list[str]:
    """Names of the profiles in params/."""
    return sorted(p.stem for p in PARAMS_DIR.glob("*.yaml"))


def resolve_profile_path(ref: str | Path, relative_to: Path | None = None) -> Path:
    """A shipped name (`gke`) or a path; relative paths resolve against the extending file."""
    text = str(ref)
    if "/" not in text and not text.endswith((".yaml", ".yml")):
        path = PARAMS_DIR / f"{text}.yaml"
        if not path.exists():
            raise ProfileError(f"profile {text!r} not found: shipped profiles are "
                               f"{', '.join(shipped_profiles())}, or give a path to a .yaml file")
        return path
    path = Path(text).expanduser()
    if not path.is_absolute() and relative_to is not None:
        path = relative_to.parent / path
    if not path.exists():
        raise ProfileError(f"profile file {path} does not exist; check the path")
    return path.resolve()


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ProfileError(f"{path}{where}: not valid YAML ({problem}); fix the syntax") from None
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{path}: a profile is a YAML mapping of keys, got {type(data).__name__}")
    return data


# Free-form maps that a child profile replaces whole: a GKE node selector must not keep the baseline's labels.
_REPLACED_MAPS = {("gpu", "node_selector")}


def _merge(base: dict, override: dict, origin: dict[tuple, Path], path: Path, prefix: tuple = ()) -> dict:
    """Deep-merge override into base (maps merge, everything else replaces), recording each key's file."""
    merged = dict(base)
    for key, value in override.items():
        here = (*prefix, key)
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and here not in _REPLACED_MAPS:
            merged[key] = _merge(merged[key], value, origin, path, here)
        else:
            merged[key] = value
            for known in [k for k in origin if k[: len(here)] == here]:
                del origin[known]
        origin[here] = path
    return merged


def _load_chain(path: Path, origin: dict[tuple, Path], seen: tuple[Path, ...] = ()) -> dict:
    if path in seen:
        chain = " -> ".join(str(p) for p in (*seen, path))
        raise ProfileError(f"{path}: extends itself ({chain}); remove the cycle")
    data = _read_yaml(path)
    parent_ref = data.pop("extends", None)
    if parent_ref is None:
        return _merge({}, data, origin, path)
    if not isinstance(parent_ref, str):
        raise ProfileError(f"{path}: extends: must be a profile name or a path, got {parent_ref!r}")
    parent = _load_chain(resolve_profile_path(parent_ref, relative_to=path), origin, (*seen, path))
    return _merge(parent, data, origin, path)


def _describe(error: dict[str, Any], merged: dict, origin: dict[tuple, Path], fallback: Path) -> str:
    loc = tuple(error["loc"])
    key_path = ".".join(str(p) for p in loc)
    file = next((origin[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in origin), fallback)
    if error["type"] == "extra_forbidden":
        parent = merged
        for part in loc[:-1]:
            parent = parent.get(part, {}) if isinstance(parent, dict) else {}
        model = Profile
        for part in loc[:-1]:
            field = model.model_fields.get(str(part)) if hasattr(model, "model_fields") else None
            annotation = getattr(field, "annotation", None)
            model = next((a for a in getattr(annotation, "__args__", (annotation,))
                          if isinstance(a, type) and issubclass(a, BaseModel)), None)
            if model is None:
                break
        known = list(model.model_fields) if model is not None else []
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        return f"{file}: {key_path}: unknown key; remove it or fix the spelling ({hint})"
    if error["type"] == "missing":
        return f"{file}: {key_path}: required key is missing; add it (see params/baseline.yaml)"
    message = error["msg"].removeprefix("Value error, ")
    got = error.get("input")
    if error["type"] in {"value_error"} or got is None or isinstance(got, dict | list):
        return f"{file}: {key_path}: {message}"
    return f"{file}: {key_path}: {message}, got {got!r}"


def load_profile(ref: str | Path) -> Profile:
    """Load and validate a profile by shipped name or path; raise ProfileError naming file and key.

    A file that extends another but names no profile of its own is named after the file, so its runs are
    never filed (and compared) under the name of the profile it extends."""
    path = resolve_profile_path(ref)
    origin: dict[tuple, Path] = {}
    merged = _load_chain(path, origin)
    if origin.get(("name",)) != path:
        merged["name"] = path.stem
        origin[("name",)] = path
    try:
        return Profile.model_validate(merged)
    except ValidationError as exc:
        errors = exc.errors()
        first = _describe(errors[0], merged, origin, path)
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise ProfileError(first + more) from None


def profile_with(profile: Profile, changes: dict[str, Any]) -> Profile:
    """A validated copy with dotted-key changes (`{"runtime.gpu_memory_utilization": 0.9}`), for experiments."""
    data = profile.model_dump()
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ProfileError(f"profile {profile.name}: {dotted}: no such key to change")
            node = node[part]
        if leaf not in node:
            raise ProfileError(f"profile {profile.name}: {dotted}: no such key to change")
        node[leaf] = value
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        first = _describe(exc.errors()[0], data, {}, Path(f"profile {profile.name}"))
        raise ProfileError(first) from None
