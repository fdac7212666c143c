"""Defaulting of built-in kinds, as kube-apiserver applies it when it decodes a request.

Only the fields the library and the simulation read, and always the real default values: a manifest that
relies on a default behaves here as it does on GKE (e.g. `:latest` images are pulled `Always`). Custom
resources get no defaulting here (the real server only applies their CRD schema defaults).
"""

from __future__ import annotations

import base64
from typing import Any

from coldstart.kube.images import default_pull_policy

PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
_WORKLOADS = {"apps/Deployment", "apps/ReplicaSet", "apps/StatefulSet", "apps/DaemonSet", "batch/Job"}
NOT_READY_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
]


def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in PROBE_DEFAULTS.items():
        probe.setdefault(key, value)
    if isinstance(probe.get("httpGet"), dict):
        probe["httpGet"].setdefault("scheme", "HTTP")
        probe["httpGet"].setdefault("path", "/")


def _container(c: Any) -> None:
    if not isinstance(c, dict):
        return
    if isinstance(c.get("image"), str) and "imagePullPolicy" not in c:
        c["imagePullPolicy"] = default_pull_policy(c["image"])
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    resources = c.setdefault("resources", {})
    if isinstance(resources, dict) and isinstance(resources.get("limits"), dict):
        requests = resources.setdefault("requests", {})
        for name, value in resources["limits"].items():
            requests.setdefault(name, value)  # requests default to limits
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        ref = ((env or {}).get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(probe))


def pod_spec(spec: Any) -> None:
    """Defaults of a PodSpec (pods and workload templates alike)."""
    if not isinstance(spec, dict):
        return
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for field in ("containers", "initContainers"):
        for c in spec.get(field) or []:
            _container(c)
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict):
            continue
        for source in ("configMap", "secret", "projected", "downwardAPI"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 420)
        if isinstance(volume.get("hostPath"), dict):
            volume["hostPath"].setdefault("type", "")


def _template(obj: dict) -> None:
    template = (obj.get("spec") or {}).get("template")
    if isinstance(template, dict):
        template.setdefault("metadata", {})
        pod_spec(template.get("spec"))


def _workload(key: str, obj: dict) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    if key in ("apps/Deployment", "apps/ReplicaSet", "apps/StatefulSet"):
        spec.setdefault("replicas", 1)
    if key != "batch/Job":
        spec.setdefault("revisionHistoryLimit", 10)
    if key == "apps/Deployment":
        spec.setdefault("progressDeadlineSeconds", 600)
        strategy = spec.setdefault("strategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", "25%")
            rolling.setdefault("maxSurge", "25%")
    elif key == "apps/StatefulSet":
        spec.setdefault("podManagementPolicy", "OrderedReady")
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            strategy.setdefault("rollingUpdate", {}).setdefault("partition", 0)
        policy = spec.setdefault("persistentVolumeClaimRetentionPolicy", {})
        policy.setdefault("whenDeleted", "Retain")
        policy.setdefault("whenScaled", "Retain")
    elif key == "apps/DaemonSet":
        strategy = spec.setdefault("updateStrategy", {})
        strategy.setdefault("type", "RollingUpdate")
        if strategy["type"] == "RollingUpdate":
            rolling = strategy.setdefault("rollingUpdate", {})
            rolling.setdefault("maxUnavailable", 1)
            rolling.setdefault("maxSurge", 0)
    elif key == "batch/Job":
        if "completions" not in spec and "parallelism" not in spec:
            spec["completions"] = 1
        spec.setdefault("parallelism", 1)
        spec.setdefault("backoffLimit", 6)
        spec.setdefault("completionMode", "NonIndexed")
        spec.setdefault("suspend", False)
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _template(obj)


def _service(spec: Any) -> None:
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))


def apply_defaults(key: str, obj: dict) -> None:
    """Set the defaults the real API server sets for this kind (in place); unknown kinds are left alone."""
    if key == "/Pod":
        pod_spec(obj.get("spec"))
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("enableServiceLinks", True)
            spec.setdefault("serviceAccountName", spec.get("serviceAccount") or "default")
            spec.setdefault("serviceAccount", spec["serviceAccountName"])
            tolerations = spec.setdefault("tolerations", [])
            if isinstance(tolerations, list):
                for default in NOT_READY_TOLERATIONS:
                    if not any(isinstance(t, dict) and t.get("key") == default["key"] for t in tolerations):
                        tolerations.append(dict(default))
    elif key in _WORKLOADS:
        _workload(key, obj)
    elif key == "/Service":
        _service(obj.get("spec"))
    elif key == "/Namespace":
        obj.setdefault("metadata", {}).setdefault("labels", {})["kubernetes.io/metadata.name"] = \
            obj["metadata"].get("name", "")
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    elif key == "/PersistentVolumeClaim":
        spec = obj.get("spec")
        if isinstance(spec, dict):
            spec.setdefault("volumeMode", "Filesystem")
    elif key == "/Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)  # write-only: merged into data, base64-encoded
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for name, value in string_data.items():
                data[name] = base64.b64encode(str(value).encode()).decode()
    elif key == "scheduling.k8s.io/PriorityClass":
        obj.setdefault("preemptionPolicy", "PreemptLowerPriority")
    elif key == "storage.k8s.io/StorageClass":
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")
