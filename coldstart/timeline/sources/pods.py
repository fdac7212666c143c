"""Pod status from the documents an SRE has: `kubectl get pod -o yaml|json`, Lists, watch events, a bare
`status:` block or an excerpt cut mid-object, `kubectl describe pod` text and `kubectl get pods` rows.

What matters for a cold start is kept: the condition transitions (PodScheduled, PodReadyToStartContainers,
Initialized, ContainersReady, Ready) with their lastTransitionTime, creation and deletion times, and per
container the image, start time, restarts and the last termination (OOMKilled, exit code). Everything
else is left alone. Times are aware UTC datetimes from the server's own fields, never from when we looked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coldstart.errors import InvalidValue
from coldstart.inputs.decode import decode_documents, gc_paused
from coldstart.kube.times import parse_age, parse_timestamp
from coldstart.timeline.sources.skipped import (
    TIME,
    WATCH_TYPES,
    Skipped,
    Spec,
    collect,
    first_wrong_type,
    typed_entries,
)

CONDITION_TYPES = ("PodScheduled", "PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready")


@dataclass(slots=True)
class Condition:
    type: str
    status: str
    last_transition: datetime | None = None
    reason: str = ""


@dataclass(slots=True)
class ContainerStatus:
    """One container's status; `init` marks initContainerStatuses (a native sidecar is one too)."""

    name: str = ""
    image: str = ""
    image_id: str = ""
    container_id: str = ""
    init: bool = False
    ready: bool | None = None
    started: bool | None = None
    restart_count: int = 0
    state: str | None = None  # running, waiting, terminated
    started_at: datetime | None = None
    finished_at: datetime | None = None
    waiting_reason: str = ""
    terminated_reason: str = ""
    exit_code: int | None = None
    last_reason: str = ""
    last_exit_code: int | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None

    @property
    def runtime(self) -> str | None:
        """containerd, docker, cri-o: the scheme of containerID."""
        return self.container_id.split("://", 1)[0] if "://" in self.container_id else None


@dataclass(slots=True)
class PodStatus:
    """A pod as far as the document shows it; `source` says which kind of document that was."""

    name: str | None = None
    namespace: str | None = None
    uid: str | None = None
    node: str | None = None
    node_ip: str | None = None
    phase: str | None = None
    created: datetime | None = None
    deleted: datetime | None = None
    start_time: datetime | None = None
    conditions: dict[str, Condition] = field(default_factory=dict)
    containers: list[ContainerStatus] = field(default_factory=list)
    init_containers: list[ContainerStatus] = field(default_factory=list)
    spec_images: dict[str, str] = field(default_factory=dict)  # container name -> image from the spec
    source: str = "object"  # object, fragment, describe, table
    status_text: str | None = None  # `kubectl get pods` STATUS (CrashLoopBackOff, ...)
    restarts: int | None = None  # `kubectl get pods` RESTARTS (all containers together)
    last_restart_age: float | None = None
    age: float | None = None

    @property
    def key(self) -> str:
        """`namespace/name`, or the name alone, or "" when the document does not say."""
        if not self.name:
            return ""
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def transition(self, condition: str) -> datetime | None:
        """When the condition last became True (None when it is not True or its time is unknown)."""
        cond = self.conditions.get(condition)
        return cond.last_transition if cond is not None and cond.status == "True" else None

    def all_containers(self) -> list[ContainerStatus]:
        return [*self.init_containers, *self.containers]


def _container(raw: Mapping[str, Any], init: bool) -> ContainerStatus:
    state = raw.get("state") or {}
    last = (raw.get("lastState") or {}).get("terminated") or {}
    cs = ContainerStatus(name=raw.get("name") or "", image=raw.get("image") or "", image_id=raw.get("imageID") or "",
                         container_id=raw.get("containerID") or "", init=init, ready=raw.get("ready"),
                         started=raw.get("started"), restart_count=raw.get("restartCount") or 0,
                         last_reason=last.get("reason") or "", last_exit_code=last.get("exitCode"),
                         last_started_at=parse_timestamp(last.get("startedAt")),
                         last_finished_at=parse_timestamp(last.get("finishedAt")))
    for name in ("running", "waiting", "terminated"):
        if isinstance(state.get(name), Mapping):
            detail = state[name]
            cs.state = name
            cs.started_at = parse_timestamp(detail.get("startedAt"))
            cs.finished_at = parse_timestamp(detail.get("finishedAt"))
            cs.waiting_reason = detail.get("reason") or "" if name == "waiting" else ""
            cs.terminated_reason = detail.get("reason") or "" if name == "terminated" else ""
            cs.exit_code = detail.get("exitCode")
            break
    return cs


# The fields this module reads, with the types Kubernetes writes; an object that breaks them is skipped and counted.
_STATE = {"startedAt": TIME, "finishedAt": TIME, "reason": str, "exitCode": int}
CONTAINER_STATUS: Spec = {
    "name": str, "image": str, "imageID": str, "containerID": str, "ready": bool, "started": bool, "restartCount": int,
    "state": {"running": _STATE, "waiting": _STATE, "terminated": _STATE}, "lastState": {"terminated": _STATE}}
CONDITION: Spec = {"type": str, "status": str, "lastTransitionTime": TIME, "reason": str}
POD_FIELDS: Spec = {
    "metadata": {"name": str, "namespace": str, "uid": str, "creationTimestamp": TIME, "deletionTimestamp": TIME},
    "spec": {"nodeName": str, "containers": list, "initContainers": list},
    "status": {"hostIP": str, "phase": str, "startTime": TIME, "conditions": list, "containerStatuses": list,
               "initContainerStatuses": list}}
_SPEC_CONTAINER: Spec = {"name": str, "image": str}


def _is_status(obj: Mapping[str, Any]) -> bool:
    return any(k in obj for k in ("conditions", "containerStatuses", "initContainerStatuses", "phase"))


def _watched(obj: Mapping[str, Any]) -> bool:
    kind = obj.get("type")
    return kind.__class__ is str and kind in WATCH_TYPES and isinstance(obj.get("object"), Mapping)


def pod_from_object(obj: Mapping[str, Any], skipped: Skipped | None = None) -> PodStatus | None:
    """A PodStatus from a Pod object, a watch event of one, a `{status: ...}` fragment or a bare status.

    InvalidValue names the first wrong-typed pod-level field (the caller skips the pod and counts it); a wrong
    condition or container status entry is left out and counted in `skipped`."""
    if _watched(obj):
        obj = obj["object"]
    kind = obj.get("kind")
    if kind not in (None, "Pod"):
        return None
    if (problem := first_wrong_type(obj, POD_FIELDS)) is not None:
        raise InvalidValue(problem)
    meta = obj.get("metadata") or {}
    if isinstance(obj.get("status"), Mapping):
        status = obj["status"]
    elif kind is None and not meta and _is_status(obj):
        if (problem := first_wrong_type(obj, POD_FIELDS["status"], "status.")) is not None:
            raise InvalidValue(problem)
        status = obj
    elif kind == "Pod" or meta:
        status = {}
    else:
        return None
    spec = obj.get("spec") or {}
    pod = PodStatus(
        name=meta.get("name"), namespace=meta.get("namespace"), uid=meta.get("uid"),
        node=spec.get("nodeName"), node_ip=status.get("hostIP"), phase=status.get("phase"),
        created=parse_timestamp(meta.get("creationTimestamp")),
        deleted=parse_timestamp(meta.get("deletionTimestamp")),
        start_time=parse_timestamp(status.get("startTime")),
        source="object" if (kind == "Pod" or meta) else "fragment",
    )
    for cond in typed_entries(status.get("conditions"), CONDITION, "conditions", "status.conditions", skipped):
        if cond.get("type"):
            pod.conditions[cond["type"]] = Condition(cond["type"], str(cond.get("status") or ""),
                                                     parse_timestamp(cond.get("lastTransitionTime")),
                                                     cond.get("reason") or "")
    for key, init in (("containerStatuses", False), ("initContainerStatuses", True)):
        entries = typed_entries(status.get(key), CONTAINER_STATUS, "container statuses", f"status.{key}", skipped)
        (pod.init_containers if init else pod.containers).extend(_container(c, init) for c in entries)
    for group in ("initContainers", "containers"):
        for container in typed_entries(spec.get(group), _SPEC_CONTAINER, "containers", f"spec.{group}", skipped):
            if container.get("name"):
                pod.spec_images[container["name"]] = container.get("image") or ""
    return pod


def pods_from_objects(objects: Iterable[Any], skipped: Skipped | None = None) -> list[PodStatus]:
    """Pods from decoded documents (Lists, watch events, single objects, fragments); others skipped. A pod with a
    wrong-typed field is left out and counted in `skipped` (when given)."""
    return collect(objects, lambda obj: pod_from_object(obj, skipped), "pods", skipped)


def parse_pods(source: str | bytes | Mapping[str, Any] | Iterable[Any], skipped: Skipped | None = None,
               name: str = "<input>") -> list[PodStatus]:
    """Pods from text (JSON, YAML, excerpts, describe output, get-pods rows) or decoded objects."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    if isinstance(source, Mapping):
        return pods_from_objects([source], skipped)
    if not isinstance(source, str):
        return pods_from_objects(source, skipped)
    with gc_paused():
        pods = pods_from_objects(decode_documents(source, name=name), skipped)
    if pods:
        return pods
    return merge_pods([*parse_describe_pods(source), *parse_pod_table(source)])


def merge_pods(pods: list[PodStatus]) -> list[PodStatus]:
    """One PodStatus per pod name, later documents filling what earlier ones left empty."""
    merged: dict[str, PodStatus] = {}
    anonymous: list[PodStatus] = []
    for pod in pods:
        if not pod.name:
            anonymous.append(pod)
            continue
        have = merged.get(pod.name)
        if have is None:
            merged[pod.name] = pod
            continue
        for name in PodStatus.__slots__:
            if getattr(have, name) in (None, "", {}, []) and getattr(pod, name) not in (None, "", {}, []):
                setattr(have, name, getattr(pod, name))
    return [*merged.values(), *anonymous]


# ---------------------------------------------------------------------------------------------------
# kubectl text

_FIELD = re.compile(r"^(?P<key>[A-Za-z][\w -]*?):(?:\s+(?P<value>.*))?$")
_POD_HEADER = re.compile(r"^(?:NAMESPACE\s+)?NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\b")
_POD_ROW = re.compile(r"^(?:(?P<ns>[\w.-]+)\s+)?(?P<name>[\w.-]+)\s+(?P<ready>\d+/\d+)\s+(?P<status>[\w:.-]+)\s+"
                      r"(?P<restarts>\d+)(?:\s+\((?P<ago>\S+) ago\))?\s+(?P<age>\S+)")


def _bool(text: str) -> bool | None:
    return {"true": True, "false": False}.get(text.strip().lower())


def parse_describe_pods(text: str) -> list[PodStatus]:
    """Pods from `kubectl describe pod` output: header fields, containers and condition statuses.

    Describe prints no condition times; container and pod start times are absolute (RFC 1123).
    """
    pods: list[PodStatus] = []
    pod: PodStatus | None = None
    section = ""
    container: ContainerStatus | None = None
    sub = ""
    for raw in text.splitlines():
        if not raw.strip() or raw.startswith("# [gap]"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        match = _FIELD.match(line)
        if indent == 0:
            if not match:
                section = ""
                continue
            key, value = match.group("key"), (match.group("value") or "").strip()
            section = key
            if key == "Name":
                pod = PodStatus(name=value or None, source="describe")
                pods.append(pod)
            elif pod is None:
                continue
            elif key == "Namespace":
                pod.namespace = value
            elif key == "Node" and value and value != "<none>":
                pod.node, _, ip = value.partition("/")
                pod.node_ip = ip or None
            elif key == "Start Time":
                pod.start_time = parse_timestamp(value)
            elif key == "Status":
                pod.phase = value
            continue
        if pod is None:
            continue
        if container is None and match and match.group("key") in ("State", "Last State") and section != "Conditions":
            container = ContainerStatus(name="(container)")  # an excerpt that cut the container's name away
            pod.containers.append(container)
            section = "Containers"
        if section in ("Containers", "Init Containers"):
            if indent == 2 and line.endswith(":") and " " not in line:
                container = ContainerStatus(name=line[:-1], init=section == "Init Containers")
                (pod.init_containers if container.init else pod.containers).append(container)
                sub = ""
            elif container is not None and match:
                _describe_container(container, match.group("key"), (match.group("value") or "").strip(),
                                    indent, sub)
                if indent <= 4:
                    sub = {"State": "state", "Last State": "last"}.get(match.group("key"), "")
        elif section == "Conditions":
            parts = line.split()
            if len(parts) == 2 and parts[1] in ("True", "False", "Unknown"):
                pod.conditions[parts[0]] = Condition(parts[0], parts[1])
    return [p for p in pods if p.containers or p.start_time or p.node or p.conditions]


def _describe_container(cs: ContainerStatus, key: str, value: str, indent: int, sub: str) -> None:
    if indent <= 4:
        if key == "Container ID":
            cs.container_id = value
        elif key == "Image":
            cs.image = value
        elif key == "Image ID":
            cs.image_id = value
        elif key == "State":
            cs.state = value.lower() or None
        elif key == "Ready":
            cs.ready = _bool(value)
        elif key == "Started":
            cs.started = _bool(value)
        elif key == "Restart Count":
            cs.restart_count = int(value) if value.isdigit() else 0
        return
    when = parse_timestamp(value) if key in ("Started", "Finished") else None
    if sub == "state":
        if key == "Started":
            cs.started_at = when
        elif key == "Finished":
            cs.finished_at = when
        elif key == "Reason":
            if cs.state == "waiting":
                cs.waiting_reason = value
            else:
                cs.terminated_reason = value
        elif key == "Exit Code" and value.lstrip("-").isdigit():
            cs.exit_code = int(value)
    elif sub == "last":
        if key == "Started":
            cs.last_started_at = when
        elif key == "Finished":
            cs.last_finished_at = when
        elif key == "Reason":
            cs.last_reason = value
        elif key == "Exit Code" and value.lstrip("-").isdigit():
            cs.last_exit_code = int(value)


def parse_pod_table(text: str) -> list[PodStatus]:
    """Rows of `kubectl get pods` (STATUS like CrashLoopBackOff, RESTARTS `5 (2m30s ago)`, AGE)."""
    pods: list[PodStatus] = []
    in_table = False
    for raw in text.splitlines():
        line = raw.strip()
        if _POD_HEADER.match(line):
            in_table = True
            continue
        if not in_table:
            continue
        match = _POD_ROW.match(line)
        if not match:
            in_table = False
            continue
        pods.append(PodStatus(name=match.group("name"), namespace=match.group("ns"), source="table",
                              status_text=match.group("status"), age=parse_age(match.group("age")),
                              last_restart_age=parse_age(match.group("ago")) if match.group("ago") else None,
                              restarts=int(match.group("restarts"))))
    return pods
