"""Subresources other than status: `scale` (autoscaling/v1 Scale over spec.replicas), `pods/binding`,
`pods/eviction` and `pods/log` (from PodLogs, with the kubelet's query parameters and error wording).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

from coldstart.embedded.apiserver import errors as apierrors
from coldstart.embedded.apiserver.calls import Call, Reply, decode, status_success
from coldstart.embedded.apiserver.errors import ApiError, bad_request
from coldstart.embedded.apiserver.verbs import PATCH_TYPES, Verbs
from coldstart.embedded.store.store import PodLogs, StoreError, clone, rfc3339

APPLY = "application/apply-patch+yaml"


# ---------------------------------------------------------------------------------------------------
# scale


def selector_string(selector: object) -> str:
    """A LabelSelector as the `a=b,c in (d)` string Scale.status.selector carries."""
    if not isinstance(selector, dict):
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr.get("operator"), expr.get("key"), ",".join(sorted(expr.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
                      "DoesNotExist": f"!{key}"}.get(op, key))
    return ",".join(parts)


def scale_of(obj: dict) -> dict:
    meta, spec, status = obj["metadata"], obj.get("spec") or {}, obj.get("status") or {}
    selector = status.get("hpaPodSelector") if obj.get("kind") == "LeaderWorkerSet" else None
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": spec.get("replicas", 0)},
            "status": {"replicas": status.get("replicas", 0),
                       "selector": selector or selector_string(spec.get("selector"))}}


def scale(verbs: Verbs, call: Call) -> Reply:
    """GET/PUT/PATCH on `<workload>/scale`: reads and writes spec.replicas through a Scale object."""
    if call.method == "GET":
        return Reply(200, scale_of(verbs.current(call)))
    current = verbs.current(call)
    body = decode(call)
    if call.method == "PUT":
        wanted = body
    else:
        ctype = call.content_type.split(";")[0].strip().lower()
        fn = PATCH_TYPES.get("application/merge-patch+json" if ctype == APPLY else ctype)
        if fn is None:
            raise apierrors.unsupported_media(", ".join([*PATCH_TYPES, APPLY]))
        wanted = verbs.patched(fn, scale_of(current), body)
    if not isinstance(wanted, dict):
        raise bad_request("the object provided is not a Scale")
    rv = (wanted.get("metadata") or {}).get("resourceVersion")
    replicas = (wanted.get("spec") or {}).get("replicas", 0)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise ApiError(422, "Invalid", f'Scale.autoscaling "{call.name}" is invalid: spec.replicas: Invalid value: '
                       f"{replicas}: must be greater than or equal to 0",
                       {"name": call.name, "group": "autoscaling", "kind": "Scale",
                        "causes": [apierrors.cause("FieldValueInvalid", "spec.replicas",
                                                   f"Invalid value: {replicas}: must be greater than or equal to 0")]})

    def build(cur: dict) -> dict:
        new = clone(cur)
        new.setdefault("spec", {})["replicas"] = replicas
        return new

    reply = verbs._guaranteed_update(call, build, rv)
    return Reply(reply.code, scale_of(reply.body))


# ---------------------------------------------------------------------------------------------------
# binding and eviction


def bind(verbs: Verbs, call: Call) -> Reply:
    """POST pods/<name>/binding: what the scheduler does to place a pod (sets spec.nodeName)."""
    body = decode(call)
    node = ((body or {}).get("target") or {}).get("name") if isinstance(body, dict) else None
    if not node:
        raise ApiError(422, "Invalid", f'Binding "{call.name}" is invalid: target.name: Required value',
                       {"name": call.name, "kind": "Binding",
                        "causes": [apierrors.cause("FieldValueRequired", "target.name", "Required value")]})
    verbs.current(call)
    now = rfc3339(verbs.store.now())

    def assign(pod: dict) -> None:
        spec = pod.setdefault("spec", {})
        if pod["metadata"].get("deletionTimestamp"):
            raise apierrors.conflict(call.resource, call.name or "", f"pod {call.name} is being deleted, cannot be "
                                     "assigned to a host")
        if spec.get("schedulingGates"):
            raise apierrors.conflict(call.resource, call.name or "", f"pod {call.name} has non-empty "
                                     ".spec.schedulingGates", "pods/binding")
        if spec.get("nodeName"):
            raise apierrors.conflict(call.resource, call.name or "", f'pod {call.name} is already assigned to node '
                                     f'"{spec["nodeName"]}"')
        spec["nodeName"] = node
        conditions = [c for c in (pod.setdefault("status", {}).get("conditions") or [])
                      if c.get("type") != "PodScheduled"]
        conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                           "lastTransitionTime": now})
        pod["status"]["conditions"] = conditions

    if not call.dry_run and verbs.store.mutate("/Pod", call.namespace or "", call.name or "", assign) is None:
        raise apierrors.not_found(call.resource, call.name or "")
    return Reply(201, status_success(201))


def evict(verbs: Verbs, call: Call, logs: PodLogs) -> Reply:
    """POST pods/<name>/eviction: deletes the pod (no PodDisruptionBudgets are served, so none can refuse)."""
    verbs.current(call)
    body = decode(call) if call.body.strip() else {}
    options = (body.get("deleteOptions") if isinstance(body, dict) else None) or {}
    if not call.dry_run and options.get("dryRun") != ["All"]:
        try:
            verbs.store.delete("/Pod", call.namespace or "", call.name or "")
        except StoreError as exc:
            raise apierrors.from_store(exc, call.resource, call.name or "") from exc
        logs.forget(call.namespace or "", call.name or "")
    return Reply(201, status_success(201))


# ---------------------------------------------------------------------------------------------------
# logs


def rfc3339_nano(t: float) -> str:
    """Go's time.RFC3339Nano in UTC (trailing zeros of the fraction trimmed), as the kubelet prefixes lines."""
    dt = datetime.fromtimestamp(t, UTC)
    frac = f"{dt.microsecond:06d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def _parse_time(text: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise bad_request(f'sinceTime: Invalid value: "{text}"') from exc


def _int_param(query: dict[str, str], name: str) -> int | None:
    if name not in query:
        return None
    try:
        value = int(query[name])
    except ValueError as exc:
        raise bad_request(f'{name}: Invalid value: "{query[name]}"') from exc
    if value < (0 if name == "tailLines" else 1):
        bound = "greater than or equal to 0" if name == "tailLines" else "greater than 0"
        raise bad_request(f"{name}: Invalid value: {value}: must be {bound}")
    return value


def _container(pod: dict, requested: str | None) -> str:
    """The container to read, validated like the API server's pod log REST (no default-container annotation:
    that is kubectl's client-side choice)."""
    spec, name = pod.get("spec") or {}, pod["metadata"]["name"]
    regular = [c.get("name") for c in spec.get("containers") or []]
    every = [c.get("name") for group in ("initContainers", "containers", "ephemeralContainers")
             for c in spec.get(group) or []]
    if not requested:
        if len(regular) == 1:
            return regular[0]
        raise bad_request(f"a container name must be specified for pod {name}, choose one of: [{' '.join(every)}]")
    if requested not in every:
        raise bad_request(f"container {requested} is not valid for pod {name}")
    return requested


def _readable(pod: dict, container: str, previous: bool, pod_logs: PodLogs) -> list[tuple[float, str]]:
    """The lines the kubelet would serve, or its refusal (kubelet validateContainerLogStatus wording)."""
    meta, name = pod["metadata"], pod["metadata"]["name"]
    if not (pod.get("spec") or {}).get("nodeName"):
        raise bad_request(f"pod {name} does not have a host assigned")
    current = pod_logs.read(meta.get("namespace", ""), name, container)
    earlier = pod_logs.read(meta.get("namespace", ""), name, container, previous=True)
    cs = _container_status(pod, container)
    last_terminated = ((cs or {}).get("lastState") or {}).get("terminated")
    where = f'container "{container}" in pod "{name}"'
    if previous:
        if not last_terminated:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return earlier
    if cs is None:
        if current:  # the simulation logged before it wrote the status: serve what is there
            return current
        raise bad_request(f"{where} is not available")
    state = cs.get("state") or {}
    if "running" in state or "terminated" in state:
        return current
    if last_terminated:
        return current or earlier
    if "waiting" in state:
        reason = (state.get("waiting") or {}).get("reason") or ""
        reason = {"ErrImagePull": "image can't be pulled",
                  "ImagePullBackOff": "trying and failing to pull image"}.get(reason, reason)
        raise bad_request(f"{where} is waiting to start: {reason}")
    raise bad_request(f"{where} is waiting to start - no logs yet")


def _container_status(pod: dict, container: str) -> dict | None:
    status = pod.get("status") or {}
    for group in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(group) or []:
            if cs.get("name") == container:
                return cs
    return None


def logs(verbs: Verbs, call: Call, pod_logs: PodLogs, stopping: threading.Event) -> Reply | Iterator[bytes]:
    """GET pods/<name>/log: the container's lines as text/plain, or a stream when follow=true."""
    q, pod = call.query, verbs.current(call)
    name, namespace = pod["metadata"]["name"], call.namespace or ""
    container = _container(pod, q.get("container"))
    previous = q.get("previous", "false").lower() == "true"
    tail, since_seconds, limit = _int_param(q, "tailLines"), _int_param(q, "sinceSeconds"), _int_param(q,
                                                                                                    "limitBytes")
    since = verbs.store.now() - since_seconds if since_seconds is not None else None
    if q.get("sinceTime"):
        since = _parse_time(q["sinceTime"])
    stamps = q.get("timestamps", "false").lower() == "true"
    lines = _readable(pod, container, previous, pod_logs)
    total = len(lines)
    if since is not None:
        lines = [(t, line) for t, line in lines if t >= since]
    if tail is not None:
        lines = lines[-tail:] if tail else []

    def render(chunk: list[tuple[float, str]]) -> bytes:
        return "".join(f"{rfc3339_nano(t)} {line}\n" if stamps else f"{line}\n" for t, line in chunk).encode()

    if q.get("follow", "false").lower() != "true" or previous:
        body = render(lines)
        return Reply(200, body[:limit] if limit is not None else body, "text/plain")
    return _follow(verbs, pod_logs, namespace, name, container, render(lines), total, render, limit, stopping)


def _follow(verbs: Verbs, pod_logs: PodLogs, namespace: str, name: str, container: str, first: bytes, sent: int,
            render, limit: int | None, stopping: threading.Event) -> Iterator[bytes]:
    """Stream new lines until the container terminates, the pod goes, the log restarts or the server stops."""
    budget = limit if limit is not None else -1

    def clip(data: bytes) -> bytes:
        nonlocal budget
        if budget < 0:
            return data
        data, budget = data[:budget], max(0, budget - len(data))
        return data

    yield clip(first)
    while not stopping.is_set() and budget != 0:
        lines = pod_logs.read(namespace, name, container)
        if len(lines) < sent:
            return
        if len(lines) > sent:
            yield clip(render(lines[sent:]))
            sent = len(lines)
            continue
        pod = verbs.store.get("/Pod", namespace, name)
        cs = _container_status(pod, container) if pod else None
        if pod is None or "terminated" in ((cs or {}).get("state") or {}):
            return
        yield b""
        stopping.wait(0.05)


def access_review(call: Call) -> Reply:
    """POST selfsubjectaccessreviews: always allowed (the embedded server authorizes every caller as
    cluster-admin; `kubectl auth can-i` says yes to anything)."""
    review = decode(call)
    if not isinstance(review, dict) or not isinstance(review.get("spec"), dict):
        raise bad_request("SelfSubjectAccessReview: spec is required")
    review.setdefault("metadata", {})
    review["status"] = {"allowed": True, "reason": "the embedded cluster allows every request"}
    return Reply(201, review)
