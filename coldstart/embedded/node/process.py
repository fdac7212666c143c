"""What runs inside a simulated container: a plan of timed steps (log lines, what the process answers on its
ports, how much memory it holds, ground-truth marks) ending in an exit or running forever.

The kubelet executes plans without knowing what they are; the vLLM engine builds its plan in
`coldstart.embedded.engine.vllm`, every other container (pause, the modelcar sidecar, `sh -c true` pre-pull init
containers, a storage initializer) gets a generic one here. The container's argv and environment are resolved
here the way the kubelet does it: env values from literals, fieldRefs, ConfigMaps and Secrets, and `$(VAR)`
expansion in env, command and args (`$$` escapes).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from coldstart.embedded.node.volumes import Mount
from coldstart.embedded.store.store import Store
from coldstart.kube.podspec import expand_refs
from coldstart.kube.quantity import to_bytes

FOREVER_WORDS = ("sleep infinity", "infinity", "tail -f", "sleep 1e9", "wait")


@dataclass(frozen=True)
class Health:
    """What the process answers: the ports it listens on and the HTTP status it returns there."""

    ports: frozenset[int] = frozenset()
    status: int = 200


@dataclass
class Step:
    """Something that happens `at` seconds after the container started."""

    at: float
    lines: list[str] = field(default_factory=list)
    health: Health | None = None
    memory: int | None = None  # bytes charged to the container's cgroup from here on (RSS + tmpfs pages)
    marks: list[tuple[str, float, float]] = field(default_factory=list)  # ground truth, offsets from start
    effect: Callable[[], None] | None = None  # e.g. a cache written to a volume


@dataclass
class Plan:
    """A process's life from its start: steps in time order, then an exit (or none: it runs until killed)."""

    steps: list[Step]
    exit_at: float | None = None
    exit_code: int = 0
    exit_reason: str | None = None  # Completed / Error by exit code unless set (OOMKilled)
    engine: bool = False  # the vLLM engine (its marks are the pod's phases)
    ready_mark_from: float | None = None  # offset where api_ready starts (the API server is up)


@dataclass
class ContainerEnv:
    """Everything the pod gives a process: argv, env, mounts, devices, limits and where it runs."""

    pod: dict
    container: dict
    node: dict
    argv: list[str]
    env: dict[str, str]
    mounts: list[Mount]
    shm_bytes: int
    memory_limit: int | None
    gpus: int
    started_at: float
    restart_count: int
    pod_ip: str
    init: bool = False
    image_digest: str | None = None
    image_lazy_until: float | None = None  # image streaming: reads from the image are remote until then
    modelcar_lazy_until: float | None = None  # same, for a modelcar image in the pod (weights at /mnt/models)
    modelcar: bool = False  # the pod carries a KServe modelcar (weights on the node's disk at /mnt/models)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pod_uid(self) -> str:
        return self.pod["metadata"].get("uid", "")


def as_int(value: Any, default: int) -> int:
    """A manifest number (`"2"`, `2`, `"2.0"`); the default when it is not one (e.g. an unexpanded `$(TP)`)."""
    try:
        return int(float(str(value)))
    except (TypeError, ValueError):
        return default


def as_float(value: Any, default: float) -> float:
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return default


def as_bytes(value: Any) -> int | None:
    """A memory quantity in bytes, None when absent or malformed."""
    try:
        return to_bytes(value) if value not in (None, "") else None
    except ValueError:
        return None


def _field_ref(path: str, pod: dict, node: dict, pod_ip: str) -> str | None:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    values = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace"),
              "metadata.uid": meta.get("uid"), "spec.nodeName": spec.get("nodeName"),
              "spec.serviceAccountName": spec.get("serviceAccountName"), "status.podIP": pod_ip,
              "status.hostIP": _node_ip(node)}
    m = re.match(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2))
    return values.get(path)


def _node_ip(node: dict) -> str:
    for address in (node.get("status") or {}).get("addresses") or []:
        if address.get("type") == "InternalIP":
            return address.get("address", "")
    return ""


def _b64(raw: str) -> str:
    try:
        return base64.b64decode(raw).decode(errors="replace")
    except (ValueError, TypeError):
        return str(raw)


def _keyed(store: Store, kind: str, ns: str, ref: dict) -> str | None:
    obj = store.get(kind, ns, ref.get("name", "")) or {}
    key = ref.get("key", "")
    if kind == "/Secret":
        if key in (obj.get("stringData") or {}):
            return obj["stringData"][key]
        raw = (obj.get("data") or {}).get(key)
        return _b64(raw) if raw else None
    return (obj.get("data") or {}).get(key)


def resolve_env(store: Store, pod: dict, container: dict, node: dict, pod_ip: str) -> dict[str, str]:
    """The container's environment: envFrom first, then env in order, each value `$(VAR)`-expanded."""
    ns = pod["metadata"].get("namespace", "default")
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        prefix = source.get("prefix", "")
        for kind, key in (("/ConfigMap", "configMapRef"), ("/Secret", "secretRef")):
            if key in source:
                obj = store.get(kind, ns, source[key].get("name", "")) or {}
                data = dict(obj.get("data") or {})
                if kind == "/Secret":
                    data = {k: _b64(v) for k, v in data.items()}
                    data.update(obj.get("stringData") or {})
                env.update({prefix + k: str(v) for k, v in data.items()})
    for item in container.get("env") or []:
        name = item.get("name")
        if not name:
            continue
        if "value" in item:
            env[name] = expand_refs(str(item.get("value") or ""), env)
            continue
        source = item.get("valueFrom") or {}
        value = None
        if "fieldRef" in source:
            value = _field_ref(source["fieldRef"].get("fieldPath", ""), pod, node, pod_ip)
        elif "secretKeyRef" in source:
            value = _keyed(store, "/Secret", ns, source["secretKeyRef"])
        elif "configMapKeyRef" in source:
            value = _keyed(store, "/ConfigMap", ns, source["configMapKeyRef"])
        elif "resourceFieldRef" in source:
            value = "1"
        if value is not None:
            env[name] = value
    return env


def argv_of(container: dict, env: dict[str, str]) -> list[str]:
    """command + args after `$(VAR)` expansion (an empty list means the image's entrypoint with no args)."""
    return [expand_refs(str(a), env) for a in (container.get("command") or []) + (container.get("args") or [])]


def generic_plan(env: ContainerEnv) -> Plan:
    """Any container that is not the engine: init containers finish, long-running ones serve their ports.

    A storage initializer downloads the model into its emptyDir at the Hub rate first."""
    text = " ".join(env.argv).lower()
    image = env.container.get("image", "").lower()
    ports = frozenset(as_int(p.get("containerPort"), 0) for p in env.container.get("ports") or [])
    idle = any(word in text for word in FOREVER_WORDS) or "pause" in image  # sleep/pause hold < 1 MiB
    echoed = [a or b for a, b in re.findall(r"echo\s+'([^']*)'|echo\s+\"([^\"]*)\"", " ".join(env.argv))]
    echoed += re.findall(r"echo\s+([^'\";&|]+?)\s*(?:;|&&|$)", " ".join(env.argv))
    up = Step(0.5, echoed, health=Health(ports), memory=2**20 if idle else 64 * 2**20)
    if "storage-initializer" in image:
        seconds = env.extra.get("download_seconds", 30.0)
        uri = next((a for a in env.argv if "://" in a), "")
        lines = [f"INFO:root:Initializing, args: src_uri [{uri}] dest_path[ [/mnt/models]",
                 "INFO:root:Copying contents of the model to local"]
        return Plan([Step(0.2, lines), Step(seconds, ["INFO:root:Successfully copied into /mnt/models"])],
                    exit_at=seconds + 0.3)
    forever = any(word in text for word in FOREVER_WORDS) or "pause" in image
    if env.init and not forever and env.container.get("restartPolicy") != "Always":
        echoed = re.findall(r"echo\s+'([^']*)'|echo\s+\"([^\"]*)\"", " ".join(env.argv))
        lines = [a or b for a, b in echoed]
        return Plan([Step(0.1, lines)], exit_at=0.2)
    done = re.fullmatch(r"\s*(?:/bin/)?(?:sh|bash)\s+-c\s+(true|false|:|exit\s+(\d+))\s*", text)
    if done:
        code = int(done.group(2)) if done.group(2) else (1 if done.group(1) == "false" else 0)
        return Plan([Step(0.1)], exit_at=0.1, exit_code=code)
    return Plan([up])


def enforce_memory(plan: Plan, limit: int | None) -> Plan:
    """The cgroup limit: the first step whose memory exceeds it is where the kernel kills the process."""
    if limit is None:
        return plan
    for i, step in enumerate(plan.steps):
        if step.memory is not None and step.memory > limit:
            return Plan(plan.steps[:i], exit_at=step.at, exit_code=137, exit_reason="OOMKilled", engine=plan.engine)
    return plan
