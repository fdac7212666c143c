"""Playing the kubelet through the API, as kwok does: a Node object with a Ready status, pods bound to it by
`spec.nodeName`, and their status and events written the way a kubelet writes them (status subresource, one
Event per happening, timestamps from the API server's clock). Neither test server runs a kubelet, so this is
how pods progress there; everything goes over HTTP through the official client.
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime
from typing import Any

from kubernetes import client as k8s

from tests.support import rawapi

KWOK_TAINT = {"key": "kwok.x-k8s.io/node", "value": "fake", "effect": "NoSchedule"}
PAUSE = "registry.k8s.io/pause:3.10"


def server_time(api: k8s.ApiClient) -> str:
    """The API server's clock (its `Date` header) as RFC 3339: the kubelet's timestamps agree with the server's
    (the embedded cluster's clock is virtual)."""
    reply = rawapi.call(api, "GET", "/version")
    return parsedate_to_datetime(reply.headers["date"]).strftime("%Y-%m-%dT%H:%M:%SZ")


def add_node(api: k8s.ApiClient, name: str) -> dict[str, Any]:
    """A Ready node with kwok's taint and annotation (so no real workload would land on it by accident)."""
    made = rawapi.call(api, "POST", "/api/v1/nodes", body={
        "metadata": {"name": name, "labels": {"type": "kwok", "kubernetes.io/hostname": name},
                     "annotations": {"kwok.x-k8s.io/node": "fake"}},
        "spec": {"taints": [KWOK_TAINT]}})
    assert made.status == 201, made.body
    now = server_time(api)
    status = {"status": {
        "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
        "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
        "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                        "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
                        "lastTransitionTime": now}],
        "addresses": [{"type": "InternalIP", "address": "10.0.0.10"}, {"type": "Hostname", "address": name}]}}
    patched = rawapi.call(api, "PATCH", f"/api/v1/nodes/{name}/status", body=status, content_type=rawapi.MERGE)
    assert patched.ok, patched.body
    body: dict[str, Any] = patched.body
    return body


def pod(name: str, node: str, labels: dict[str, str]) -> dict[str, Any]:
    """A pod already bound to `node` (no scheduler needed), tolerating kwok's taint."""
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node, "tolerations": [{**KWOK_TAINT, "operator": "Equal"}],
                     "containers": [{"name": "vllm", "image": PAUSE}]}}


def _conditions(now: str, ready: bool) -> list[dict[str, Any]]:
    value = "True" if ready else "False"
    return [{"type": t, "status": v, "lastProbeTime": None, "lastTransitionTime": now}
            for t, v in (("PodReadyToStartContainers", "True"), ("Initialized", "True"), ("Ready", value),
                         ("ContainersReady", value), ("PodScheduled", "True"))]


def set_status(api: k8s.ApiClient, namespace: str, name: str, *, ready: bool = True,
               waiting: str | None = None, restarts: int = 0, last: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the pod's status as its kubelet would: Running and Ready, or a container waiting for `waiting`
    (CrashLoopBackOff, ImagePullBackOff) with `restarts` and the last termination."""
    now = server_time(api)
    state = {"waiting": {"reason": waiting, "message": f"back-off restarting {name}"}} if waiting else \
        {"running": {"startedAt": now}}
    container = {"name": "vllm", "image": PAUSE, "imageID": PAUSE, "ready": ready and not waiting,
                 "started": not waiting, "restartCount": restarts, "state": state,
                 "containerID": "containerd://" + "0" * 64}
    if last:
        container["lastState"] = {"terminated": {**last, "startedAt": now, "finishedAt": now}}
    status = {"status": {"phase": "Running", "hostIP": "10.0.0.10", "podIP": "10.244.0.7", "startTime": now,
                         "qosClass": "BestEffort", "conditions": _conditions(now, ready and not waiting),
                         "containerStatuses": [container]}}
    patched = rawapi.call(api, "PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}/status", body=status,
                          content_type=rawapi.STRATEGIC)
    assert patched.ok, patched.body
    body: dict[str, Any] = patched.body
    return body


def event(api: k8s.ApiClient, namespace: str, pod_name: str, reason: str, message: str, node: str,
          type_: str = "Normal") -> dict[str, Any]:
    """A core/v1 Event about a pod, as the kubelet records one."""
    now = server_time(api)
    made = rawapi.call(api, "POST", f"/api/v1/namespaces/{namespace}/events", body={
        "metadata": {"generateName": f"{pod_name}."}, "type": type_, "reason": reason, "message": message,
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod_name, "namespace": namespace,
                           "fieldPath": "spec.containers{vllm}"},
        "source": {"component": "kubelet", "host": node}, "reportingComponent": "kubelet", "reportingInstance": node,
        "firstTimestamp": now, "lastTimestamp": now, "count": 1})
    assert made.status == 201, made.body
    body: dict[str, Any] = made.body
    return body
