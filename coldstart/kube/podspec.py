"""Small pure readers of Kubernetes pod specs, shared by the workload finder, the checks and the live path.

Which volume backs a path in a container, what a probe tolerates, what a pod asks of the scheduler, where an
object keeps its pod templates: answered from the plain dicts alone, the same for a file and for an object read
back from a cluster.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from coldstart.kube.quantity import parse_quantity, to_bytes

_ACCELERATOR = re.compile(r"gpu|tpu|neuron|habana|gaudi|/mig-|accelerator|amd\.com|xilinx", re.IGNORECASE)
DEFAULT_SHM_MOUNT = "/dev/shm"
_ENV_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_refs(text: str, env: Mapping[str, str | None]) -> str:
    """Kubernetes `$(VAR)` expansion in command, args and env values: a defined variable is replaced, `$$` escapes
    a `$`, anything else stays as written (as the kubelet does)."""
    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        value = env.get(match.group(1))
        return match.group(0) if value is None else value
    return _ENV_REF.sub(sub, text)


# ---------------------------------------------------------------------------------------------------
# Pod-level helpers


def _norm(path: str) -> str:
    return "/" + path.strip("/") if path.strip("/") else "/"


def volume_at(pod: dict[str, Any], container: dict[str, Any], path: str) -> tuple[str | None, dict[str, Any] | None]:
    """(mountPath, volume) of the deepest mount covering `path` in this container, or (None, None)."""
    target = _norm(path)
    best: tuple[str | None, dict[str, Any] | None] = (None, None)
    volumes = {v.get("name"): v for v in pod.get("volumes") or [] if isinstance(v, dict)}
    for mount in container.get("volumeMounts") or []:
        if not isinstance(mount, dict) or not mount.get("mountPath"):
            continue
        mpath = _norm(str(mount["mountPath"]))
        if (target == mpath or target.startswith(mpath.rstrip("/") + "/")) and (
                best[0] is None or len(mpath) > len(best[0])):
            volume = dict(volumes.get(mount.get("name")) or {"name": mount.get("name")})
            if mount.get("readOnly"):
                volume["_mountReadOnly"] = True
            best = (mpath, volume)
    return best


def shm_volume(pod: dict[str, Any], container: dict[str, Any]) -> dict[str, Any] | None:
    """The volume mounted exactly at /dev/shm in this container (None: the runtime's 64Mi default applies)."""
    volumes = {v.get("name"): v for v in pod.get("volumes") or [] if isinstance(v, dict)}
    for mount in container.get("volumeMounts") or []:
        if isinstance(mount, dict) and _norm(str(mount.get("mountPath") or "")) == DEFAULT_SHM_MOUNT:
            return volumes.get(mount.get("name")) or {"name": mount.get("name")}
    return None


def shm_size_limit(volume: dict[str, Any] | None) -> int | None:
    """sizeLimit in bytes of a Memory-backed emptyDir; None when not Memory-backed or unbounded."""
    empty_dir = (volume or {}).get("emptyDir")
    if not isinstance(empty_dir, dict) or empty_dir.get("medium") != "Memory" or not empty_dir.get("sizeLimit"):
        return None
    try:
        return to_bytes(empty_dir["sizeLimit"])
    except ValueError:
        return None


def mounts_under(pod: dict[str, Any], container: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Mounts strictly below `path` (a PVC at /root/.cache/huggingface is under /root/.cache)."""
    base = _norm(path).rstrip("/") + "/"
    volumes = {v.get("name"): v for v in pod.get("volumes") or [] if isinstance(v, dict)}
    return [(_norm(str(m["mountPath"])), volumes.get(m.get("name")) or {"name": m.get("name")})
            for m in container.get("volumeMounts") or []
            if isinstance(m, dict) and m.get("mountPath") and _norm(str(m["mountPath"])).startswith(base)]


def memory_limit(container: dict[str, Any]) -> int | None:
    """Container memory limit in bytes (None when unset or unparseable)."""
    limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
    try:
        return None if limit is None else to_bytes(limit)
    except ValueError:
        return None


def accelerators(containers: Sequence[dict[str, Any]]) -> dict[str, Decimal]:
    """GPU/TPU-like extended resources a pod asks for (limits, else requests), summed over containers."""
    total: dict[str, Decimal] = {}
    for c in containers:
        res = c.get("resources") or {}
        merged = {**(res.get("requests") or {}), **(res.get("limits") or {})}
        for name, qty in merged.items():
            if "/" in str(name) and _ACCELERATOR.search(str(name)):
                try:
                    total[str(name)] = total.get(str(name), Decimal(0)) + parse_quantity(qty)
                except ValueError:
                    continue
    return total


def probe_window(probe: dict[str, Any]) -> int:
    """Seconds a probe tolerates failure from container start: initialDelay + failureThreshold x period."""
    def num(key: str, default: int) -> int:
        try:
            return int(probe.get(key, default) or default) if key != "initialDelaySeconds" else int(probe.get(key) or 0)
        except (TypeError, ValueError):
            return default
    return num("initialDelaySeconds", 0) + num("failureThreshold", 3) * num("periodSeconds", 10)


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Does one toleration match a taint, as the scheduler's TaintToleration plugin decides: the effect (when set)
    and key (when set) must match, then `Exists` matches any value and `Equal` (the default) the taint's value."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    if toleration.get("operator", "Equal") == "Exists":
        return True
    return bool(toleration.get("key")) and (toleration.get("value") or "") == (taint.get("value") or "")


def pod_templates(obj: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(role, pod spec) for every pod template an object embeds; [] for objects without one."""
    kind = obj.get("kind")
    spec: dict[str, Any] = obj["spec"] if isinstance(obj.get("spec"), dict) else {}
    def at(node: Any, *keys: str) -> dict[str, Any] | None:
        for key in keys:
            node = node.get(key) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else None
    if kind == "Pod":
        return [(None, spec)]
    if kind == "CronJob":
        job = at(spec, "jobTemplate", "spec", "template", "spec")
        return [(None, job)] if job else []
    if kind == "LeaderWorkerSet":
        lwt = at(spec, "leaderWorkerTemplate") or {}
        leader, worker = at(lwt, "leaderTemplate", "spec"), at(lwt, "workerTemplate", "spec")
        return [(r, p) for r, p in (("leader", leader), ("worker", worker)) if p]
    if kind in ("RayCluster", "RayService", "RayJob"):
        cluster = at(spec, "rayClusterConfig") or at(spec, "rayClusterSpec") or spec
        found: list[tuple[str | None, dict[str, Any] | None]] = [
            ("head", at(cluster, "headGroupSpec", "template", "spec"))]
        for group in cluster.get("workerGroupSpecs") or []:
            found.append((str(group.get("groupName") or "workers"), at(group, "template", "spec")))
        return [(r, p) for r, p in found if p]
    template = at(spec, "template", "spec")
    return [(None, template)] if template and isinstance(template.get("containers"), list) else []


# ---------------------------------------------------------------------------------------------------
# Shape: the fields the checker reads, with the types Kubernetes would insist on

_MAPS = {
    "metadata", "spec", "template", "resources", "requests", "limits", "nodeSelector", "emptyDir",
    "persistentVolumeClaim", "configMap", "secret", "configMapRef", "secretRef", "configMapKeyRef", "secretKeyRef",
    "valueFrom", "startupProbe", "livenessProbe", "readinessProbe", "leaderWorkerTemplate", "leaderTemplate",
    "workerTemplate", "headGroupSpec", "rayClusterConfig", "rayClusterSpec", "predictor", "modelFormat",
    "extraPodSpec", "mainContainer", "sharedMemory", "compilationCache", "pvc", "jobTemplate", "parameters",
    "data", "stringData", "rayStartParams", "labels", "annotations", "prefill", "worker",
}
_LISTS_OF_MAPS = {
    "containers", "initContainers", "volumes", "volumeMounts", "env", "envFrom", "tolerations", "workerGroupSpecs",
    "volumeClaimTemplates", "supportedModelFormats", "priorities", "ownerReferences", "envs", "items",
}
_LISTS_OF_STRINGS = {"command", "args", "accessModes"}
_STRINGS = {"name", "namespace", "image", "imagePullPolicy", "mountPath", "claimName", "priorityClassName",
            "storageUri", "storageClassName", "medium", "runtime", "kind", "apiVersion", "key"}


_intern = sys.intern


def sanitize(value: Any) -> Any:
    """A copy where the fields the checks read have their Kubernetes types; a field of the wrong type is dropped.

    Kubernetes would reject such an object; the checker treats the field as absent instead of failing on it.
    YAML aliases may share or nest nodes: each node is cleaned once and a cycle is cut.
    """
    return _clean(value, {}, set())


def _clean(value: Any, done: dict[int, tuple[Any, Any]], active: set[int]) -> Any:
    if not isinstance(value, dict | list):
        return value
    if id(value) in done:  # the memo keeps `value` alive, so its id cannot be reused by another object
        return done[id(value)][1]
    if id(value) in active:
        return None
    active.add(id(value))
    if isinstance(value, list):
        result: Any = [_clean(item, done, active) for item in value]
    else:
        result = {}
        for k, v in value.items():
            k = _intern(str(k))  # one object per key name across thousands of objects, not one per occurrence
            if k in _MAPS and not isinstance(v, dict):
                continue
            if k in _LISTS_OF_MAPS:
                if k == "env" and isinstance(v, dict):  # KubeAI's Model spells env as a map
                    result[k] = {str(ek): ev for ek, ev in v.items() if not isinstance(ev, dict | list)}
                    continue
                if not isinstance(v, list):
                    continue
                v = [item for item in v if isinstance(item, dict)]
            elif k in _LISTS_OF_STRINGS:
                if isinstance(v, str | int | float) and not isinstance(v, bool) and k != "accessModes":
                    v = [v]
                if not isinstance(v, list):
                    continue
                v = [str(item) for item in v if item is not None and not isinstance(item, dict | list)]
            elif k in _STRINGS and v is not None:
                if isinstance(v, dict | list):
                    continue
                v = str(v)
            result[k] = _clean(v, done, active)
    active.discard(id(value))
    done[id(value)] = (value, result)
    return result
