"""Pod specs found by meaning inside any object, whatever its kind and wherever it nests them.

An operator coldstart has never seen (a StormService role, a Crossplane-wrapped Deployment, an in-house CRD) still
holds the containers its pods will run: a mapping with a `containers` list, or a lone container (an `image` beside
`command`/`args`/`env`) such as an operator's "main container" override. Each is read as a pod spec, named after
the role the path to it spells (`roles[name: prefill]` -> `prefill`), so `engine_pod` can judge whether it runs
vLLM. What the unknown controller adds to the pod (a /dev/shm, env, probes) cannot be known: the workload carries a
note saying so instead of the checks answering n/a.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["PLAIN_KINDS", "POD_FIELDS", "embedded_pod_specs", "unknown_operator_note"]

# Kinds whose controller copies the pod template as written (nothing an engine depends on is added).
PLAIN_KINDS = {"Pod", "Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Job", "CronJob", "ReplicationController",
               "PodTemplate", "LeaderWorkerSet"}
# Fields that never hold the pod an operator runs: the object's own bookkeeping, and containers that are not the
# workload's (init, ephemeral).
_SKIP = {"metadata", "status", "initContainers", "ephemeralContainers", "managedFields"}
# PodSpec fields an operator may carry next to a container it holds (a KServe predictor, a lone main container).
POD_FIELDS = ("volumes", "nodeSelector", "tolerations", "affinity", "priorityClassName", "imagePullSecrets",
               "hostIPC", "hostNetwork", "runtimeClassName", "schedulerName", "serviceAccountName", "securityContext",
               "initContainers", "topologySpreadConstraints", "dnsPolicy", "shareProcessNamespace")
# Path words that say "here is a pod" rather than which pod: dropped from role names.
_STRUCTURAL = {"spec", "template", "podtemplate", "podspec", "extrapodspec", "pod", "workload", "workloadtemplate",
               "maincontainer", "container", "containers", "overrides", "podtemplatespec", "forprovider", "manifest"}
_MAX_DEPTH = 24
_NAMED = "\0"  # marks a path word that is a list item's own name


def unknown_operator_note(kind: str, api_version: str) -> str:
    """Why a finding on an unknown kind may miss something: its controller's defaults are not in the input."""
    group = api_version.split("/", 1)[0] if "/" in api_version else "core"
    return (f"{kind} ({group}) is not an operator coldstart knows: judged on the containers it declares; "
            "defaults its controller may add (a /dev/shm volume, env, probes) are unknown")


def embedded_pod_specs(obj: dict[str, Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """(role, pod spec) for every pod spec or lone container an object holds outside its metadata and status.

    A lone container becomes a pod of that one container, with the pod-level fields (volumes, nodeSelector, ...)
    of the mapping that holds it. Roles are None when the object holds a single pod."""
    found: list[tuple[list[str], dict[str, Any]]] = []
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", *_SKIP)}
    _walk(body, [], found, 0)
    if len(found) <= 1:
        return [(None, pod) for _, pod in found]
    return list(zip(_role_names([labels for labels, _ in found]), (pod for _, pod in found), strict=True))


def _walk(node: Any, labels: list[str], found: list[tuple[list[str], dict[str, Any]]], depth: int) -> None:
    if depth > _MAX_DEPTH:
        return
    if isinstance(node, list):
        for i, item in enumerate(node):
            name = item.get("name") or item.get("groupName") if isinstance(item, dict) else None
            _walk(item, [*labels[:-1], _NAMED + name] if isinstance(name, str) and labels else [*labels, str(i)],
                  found, depth + 1)
        return
    if not isinstance(node, dict):
        return
    containers = node.get("containers")
    if isinstance(containers, list) and any(isinstance(c, dict) for c in containers):
        found.append((labels, node))
        return
    for key, value in node.items():
        if key in _SKIP or not isinstance(value, dict | list):
            continue
        if isinstance(value, dict) and _is_container(value):
            pod = {k: node[k] for k in POD_FIELDS if k in node}
            found.append(([*labels, str(key)], {**pod, "containers": [{"name": str(key), **value}]}))
            continue
        _walk(value, [*labels, str(key)], found, depth + 1)


def _is_container(node: dict[str, Any]) -> bool:
    """A container spec: an image with what a container is run with (a pod spec holds `containers` instead)."""
    return isinstance(node.get("image"), str) and "containers" not in node and any(
        k in node for k in ("command", "args", "env", "envFrom", "resources", "ports", "volumeMounts", "name"))


def _role_names(paths: list[list[str]]) -> list[str]:
    """The names of the list items that hold the pods (`roles[name: prefill]` -> `prefill`) when they tell the pods
    apart, else the shortest distinct tail of meaningful path words (`services/decode/extraPodSpec` -> `decode`)."""
    named = [[w[len(_NAMED):] for w in path if w.startswith(_NAMED)] for path in paths]
    if all(named) and len({n[-1] for n in named}) == len(named):
        return [n[-1] for n in named]
    cleaned = [[_word(w.removeprefix(_NAMED)) for w in path
                if _word(w.removeprefix(_NAMED)).lower() not in _STRUCTURAL] or [str(i)]
               for i, path in enumerate(paths)]
    for take in range(1, max(len(c) for c in cleaned) + 1):
        names = ["/".join(c[-take:]) for c in cleaned]
        if len(set(names)) == len(names):
            return names
    return [f"{'/'.join(c)}#{i + 1}" for i, c in enumerate(cleaned)]


def _word(label: str) -> str:
    """`leaderTemplate` -> `leader`, `workerSpec` -> `worker`: a role, not the field that holds it."""
    return re.sub(r"(?<=[a-z])(Template|Spec|PodSpec)$", "", label)
