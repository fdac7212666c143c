"""Server-side Tables (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`), what `kubectl get` prints: the
columns kube-apiserver's printers define for each kind (priority 1 = `-o wide` only), cells computed here.

Ages are computed against the cluster's clock, as the real server computes them against its own: `kubectl get`
shows the virtual ages of things (a pod that took ten cluster minutes to start is `10m` old), never a time in
the future. Kinds without a printer (custom resources) get NAME and AGE, as a CRD without printer columns does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coldstart.kube.times import parse_timestamp

TABLE_MEDIA = "as=Table"
Row = list[Any]


def wants_table(accept: str) -> bool:
    return TABLE_MEDIA in accept.replace(" ", "")


def human_duration(seconds: float) -> str:
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    years, days = hours // (24 * 365), (hours // 24) % 365
    return f"{years}y{days}d" if days and hours < 24 * 365 * 8 else f"{years}y"


def _age(stamp: Any, now: float) -> str:
    when = parse_timestamp(stamp)
    return "<unknown>" if when is None else human_duration(now - when.timestamp())


def _containers(obj: dict) -> list[dict]:
    spec = obj.get("spec") or {}
    template = (spec.get("template") or {}).get("spec") or {}
    return template.get("containers") or spec.get("containers") or []


def _names(obj: dict) -> str:
    return ",".join(c.get("name", "") for c in _containers(obj))


def _images(obj: dict) -> str:
    return ",".join(c.get("image", "") for c in _containers(obj))


def _selector(obj: dict) -> str:
    selector = (obj.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels") if "matchLabels" in selector or "matchExpressions" in selector else selector
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def _pod_status(pod: dict) -> tuple[str, int, int, int]:
    """(STATUS as kubectl shows it, ready containers, containers, restarts)."""
    status = pod.get("status") or {}
    reason = status.get("reason") or status.get("phase") or "Pending"
    statuses = status.get("containerStatuses") or []
    for n, cs in enumerate(status.get("initContainerStatuses") or []):
        state = cs.get("state") or {}
        if (state.get("terminated") or {}).get("exitCode") == 0 or cs.get("started") and "running" in state:
            continue
        waiting = (state.get("waiting") or {}).get("reason")
        total = len(status.get("initContainerStatuses") or [])
        reason = f"Init:{waiting}" if waiting and waiting != "PodInitializing" else f"Init:{n}/{total}"
        break
    else:
        for cs in reversed(statuses):
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
    if pod["metadata"].get("deletionTimestamp"):
        reason = "Terminating"
    ready = sum(1 for cs in statuses if cs.get("ready"))
    restarts = sum(int(cs.get("restartCount") or 0) for cs in statuses)
    total = len((pod.get("spec") or {}).get("containers") or [])
    return reason, ready, total, restarts


def _pod(pod: dict, now: float) -> Row:
    reason, ready, total, restarts = _pod_status(pod)
    status, spec = pod.get("status") or {}, pod.get("spec") or {}
    return [pod["metadata"]["name"], f"{ready}/{total}", reason, restarts, _age(pod["metadata"].get(
        "creationTimestamp"), now), status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>", "<none>"]


def _deployment(d: dict, now: float) -> Row:
    spec, status = d.get("spec") or {}, d.get("status") or {}
    return [d["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0),
            _age(d["metadata"].get("creationTimestamp"), now), _names(d), _images(d), _selector(d)]


def _replicaset(rs: dict, now: float) -> Row:
    spec, status = rs.get("spec") or {}, rs.get("status") or {}
    return [rs["metadata"]["name"], spec.get("replicas", 1), status.get("replicas", 0),
            status.get("readyReplicas", 0), _age(rs["metadata"].get("creationTimestamp"), now), _names(rs),
            _images(rs), _selector(rs)]


def _statefulset(s: dict, now: float) -> Row:
    spec, status = s.get("spec") or {}, s.get("status") or {}
    return [s["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            _age(s["metadata"].get("creationTimestamp"), now), _names(s), _images(s)]


def _daemonset(d: dict, now: float) -> Row:
    status = d.get("status") or {}
    node_selector = ((d.get("spec") or {}).get("template") or {}).get("spec", {}).get("nodeSelector") or {}
    return [d["metadata"]["name"], status.get("desiredNumberScheduled", 0), status.get("currentNumberScheduled", 0),
            status.get("numberReady", 0), status.get("updatedNumberScheduled", 0), status.get("numberAvailable", 0),
            ",".join(f"{k}={v}" for k, v in node_selector.items()) or "<none>",
            _age(d["metadata"].get("creationTimestamp"), now), _names(d), _images(d), _selector(d)]


def _node(n: dict, now: float) -> Row:
    status, spec = n.get("status") or {}, n.get("spec") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Ready" if ready and ready.get("status") == "True" else "NotReady"
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    labels = n["metadata"].get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/")) or ["<none>"]
    info = status.get("nodeInfo") or {}
    address = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    return [n["metadata"]["name"], state, ",".join(roles), _age(n["metadata"].get("creationTimestamp"), now),
            info.get("kubeletVersion", ""), address.get("InternalIP", "<none>"), address.get("ExternalIP", "<none>"),
            info.get("osImage", ""), info.get("kernelVersion", ""), info.get("containerRuntimeVersion", "")]


def _service(s: dict, now: float) -> Row:
    spec = s.get("spec") or {}
    ports = ",".join(f"{p.get('port')}{':' + str(p['nodePort']) if p.get('nodePort') else ''}/"
                     f"{p.get('protocol', 'TCP')}" for p in spec.get("ports") or []) or "<none>"
    return [s["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>", "<none>",
            ports, _age(s["metadata"].get("creationTimestamp"), now), _selector({"spec": {"selector": spec.get(
                "selector") or {}}})]


def _event(e: dict, now: float) -> Row:
    involved = e.get("involvedObject") or {}
    last = e.get("lastTimestamp") or (e.get("series") or {}).get("lastObservedTime") or e.get("eventTime")
    return [_age(last, now), e.get("type", ""), e.get("reason", ""),
            f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}", e.get("message", "")]


def _job(j: dict, now: float) -> Row:
    spec, status = j.get("spec") or {}, j.get("status") or {}
    conditions = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
    state = "Complete" if conditions.get("Complete") == "True" else "Failed" if conditions.get("Failed") == "True" \
        else "Suspended" if spec.get("suspend") else "Running"
    start, end = parse_timestamp(status.get("startTime")), parse_timestamp(status.get("completionTime"))
    duration = human_duration((end.timestamp() if end else now) - start.timestamp()) if start else ""
    return [j["metadata"]["name"], state, f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}", duration,
            _age(j["metadata"].get("creationTimestamp"), now), _names(j), _images(j), _selector(j)]


def _cronjob(c: dict, now: float) -> Row:
    spec, status = c.get("spec") or {}, c.get("status") or {}
    last = status.get("lastScheduleTime")
    return [c["metadata"]["name"], spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            str(bool(spec.get("suspend"))), len(status.get("active") or []), _age(last, now) if last else "<none>",
            _age(c["metadata"].get("creationTimestamp"), now)]


def _count(field: str) -> Callable[[dict, float], Row]:
    def row(obj: dict, now: float) -> Row:
        return [obj["metadata"]["name"], len(obj.get(field) or {}), _age(obj["metadata"].get("creationTimestamp"),
                                                                          now)]
    return row


def _namespace(ns: dict, now: float) -> Row:
    return [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", "Active"),
            _age(ns["metadata"].get("creationTimestamp"), now)]


def _pvc(p: dict, now: float) -> Row:
    spec, status = p.get("spec") or {}, p.get("status") or {}
    return [p["metadata"]["name"], status.get("phase", "Pending"), spec.get("volumeName", ""),
            (status.get("capacity") or {}).get("storage", ""), ",".join(_modes(status.get("accessModes"))),
            spec.get("storageClassName") or "<unset>", "<unset>", _age(p["metadata"].get("creationTimestamp"), now)]


def _modes(modes: Any) -> list[str]:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return [short.get(m, m) for m in modes or []]


def _name_age(obj: dict, now: float) -> Row:
    return [obj["metadata"]["name"], _age(obj["metadata"].get("creationTimestamp"), now)]


def _endpoints(e: dict, now: float) -> Row:
    addresses = [f"{a.get('ip')}:{p.get('port')}" for s in e.get("subsets") or [] for a in s.get("addresses") or []
                 for p in s.get("ports") or [{}]]
    shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [e["metadata"]["name"], shown or "<none>", _age(e["metadata"].get("creationTimestamp"), now)]


_COLUMNS: dict[str, tuple[list[str], list[str], Callable[[dict, float], Row]]] = {
    # kind: (columns, -o wide columns, row)
    "/Pod": (["Name", "Ready", "Status", "Restarts", "Age"], ["IP", "Node", "Nominated Node", "Readiness Gates"], _pod),
    "apps/Deployment": (["Name", "Ready", "Up-to-date", "Available", "Age"], ["Containers", "Images", "Selector"],
                        _deployment),
    "apps/ReplicaSet": (["Name", "Desired", "Current", "Ready", "Age"], ["Containers", "Images", "Selector"],
                        _replicaset),
    "apps/StatefulSet": (["Name", "Ready", "Age"], ["Containers", "Images"], _statefulset),
    "apps/DaemonSet": (["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"],
                       ["Containers", "Images", "Selector"], _daemonset),
    "/Node": (["Name", "Status", "Roles", "Age", "Version"], ["Internal-IP", "External-IP", "OS-Image",
                                                              "Kernel-Version", "Container-Runtime"], _node),
    "/Service": (["Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age"], ["Selector"], _service),
    "/Event": (["Last Seen", "Type", "Reason", "Object", "Message"], [], _event),
    "batch/Job": (["Name", "Status", "Completions", "Duration", "Age"], ["Containers", "Images", "Selector"], _job),
    "batch/CronJob": (["Name", "Schedule", "Timezone", "Suspend", "Active", "Last Schedule", "Age"], [], _cronjob),
    "/Namespace": (["Name", "Status", "Age"], [], _namespace),
    "/ConfigMap": (["Name", "Data", "Age"], [], _count("data")),
    "/Endpoints": (["Name", "Endpoints", "Age"], [], _endpoints),
    "/PersistentVolumeClaim": (["Name", "Status", "Volume", "Capacity", "Access Modes", "StorageClass",
                                "VolumeAttributesClass", "Age"], [], _pvc),
}


def table(key: str, objects: list[dict], now: float, metadata: dict | None = None,
          include: str = "Metadata") -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of `objects` of one kind (`include`: None, Metadata or Object per row)."""
    columns, wide, row = _COLUMNS.get(key, (["Name", "Age"], [], _name_age))
    definitions = [{"name": name, "type": "string" if name not in ("Restarts", "Desired", "Current") else "integer",
                    "format": "name" if name == "Name" else "", "description": name, "priority": 0}
                   for name in columns]
    definitions += [{"name": n, "type": "string", "format": "", "description": n, "priority": 1} for n in wide]
    rows = []
    for obj in objects:
        entry: dict[str, Any] = {"cells": row(obj, now)[:len(definitions)]}
        if include == "Object":
            entry["object"] = obj
        elif include != "None":
            entry["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                               "metadata": obj.get("metadata") or {}}
        rows.append(entry)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata or {},
            "columnDefinitions": definitions, "rows": rows}
