"""The admission chain of the embedded API server: defaulting, built-in admission plugins, the test-supplied
mutators (playing mutating webhooks) and validation, in the order kube-apiserver runs them.

Built-in plugins reproduced: Priority (priority from priorityClassName, 403 when the class is missing),
DefaultTolerationSeconds (via defaults), the pod strategy's Pending phase and QoS class, the Job
controller's generated selector, a Namespace's Active phase. Validation is minimal but real-worded: names,
labels, pods having named containers with images, workload selectors matching their templates, pod spec
immutability; failures are 422 Invalid with one cause per field.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from coldstart.embedded.apiserver import errors as apierrors
from coldstart.embedded.apiserver.defaults import apply_defaults
from coldstart.embedded.apiserver.errors import cause
from coldstart.embedded.store.resources import Resource
from coldstart.embedded.store.store import Store, rfc3339
from coldstart.kube.quantity import parse_quantity

Mutator = Callable[[dict, str], "dict | None"]

SYSTEM_PRIORITY_CLASSES = {"system-cluster-critical": 2_000_000_000, "system-node-critical": 2_000_001_000}
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SUBDOMAIN_MSG = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                  "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                  "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
_LABEL_MSG = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
              "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
              "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
_DNS_LABEL_NAMES = {"/Namespace", "/Service"}
_TEMPLATED = {"apps/Deployment", "apps/ReplicaSet", "apps/StatefulSet", "apps/DaemonSet", "batch/Job"}
_POD_MUTABLE = ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds")


def crd_status(crd: dict, now: str) -> dict[str, Any]:
    """A CRD's status once the apiextensions controllers accepted its names: Established at once."""
    spec = crd.get("spec") or {}
    conditions = [{"type": t, "status": "True", "lastTransitionTime": now, "reason": r, "message": m}
                  for t, r, m in (("NamesAccepted", "NoConflicts", "no conflicts found"),
                                  ("Established", "InitialNamesAccepted", "the initial names have been accepted"))]
    stored = [v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")]
    return {"conditions": conditions, "acceptedNames": spec.get("names") or {}, "storedVersions": stored}


def qos_class(spec: dict) -> str:
    """BestEffort / Burstable / Guaranteed from cpu and memory requests and limits (kubelet's rules)."""
    requests: dict[str, Decimal] = {}
    limits: dict[str, Decimal] = {}
    guaranteed = True
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        resources = (c or {}).get("resources") or {}
        for name, q in (resources.get("requests") or {}).items():
            if name in ("cpu", "memory") and _quantity(q):
                requests[name] = requests.get(name, Decimal(0)) + _quantity(q)
        found = set()
        for name, q in (resources.get("limits") or {}).items():
            if name in ("cpu", "memory") and _quantity(q):
                found.add(name)
                limits[name] = limits.get(name, Decimal(0)) + _quantity(q)
        if found != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if guaranteed and requests.keys() == limits.keys() and all(requests[k] == limits[k] for k in requests):
        return "Guaranteed"
    return "Burstable"


def _quantity(value: Any) -> Decimal:
    try:
        return parse_quantity(value)
    except ValueError:
        return Decimal(0)


class Admission:
    """Runs defaulting, plugins, mutators and validation for one write; raises ApiError to refuse it."""

    def __init__(self, store: Store, mutators: Iterable[Mutator] = ()):
        self.store = store
        self.mutators = list(mutators)

    def admit(self, resource: Resource, obj: dict, operation: str, old: dict | None = None,
              subresource: str | None = None) -> dict:
        """The object to store after admission (operation is CREATE or UPDATE)."""
        key = resource.key
        apply_defaults(key, obj)
        if subresource is None:
            if operation == "CREATE":
                self._on_create(resource, obj)
            elif key == "/Service" and old is not None:
                _keep_cluster_ip(obj, old)
            for mutate in self.mutators:
                result = mutate(obj, operation)
                if result is not None:
                    obj = result
            apply_defaults(key, obj)
        causes = validate(resource, obj, old if operation == "UPDATE" else None, subresource)
        if causes:
            raise apierrors.invalid(resource, obj.get("metadata", {}).get("name", ""), causes)
        return obj

    def _on_create(self, resource: Resource, obj: dict) -> None:
        key, meta = resource.key, obj.setdefault("metadata", {})
        if key == "/Pod" and isinstance(obj.get("spec"), dict):
            self._priority(resource, obj)
            obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj["spec"])}
            if obj["spec"].get("schedulingGates"):  # the pod strategy says why it waits
                obj["status"]["conditions"] = [{
                    "type": "PodScheduled", "status": "False", "lastProbeTime": None,
                    "lastTransitionTime": rfc3339(self.store.now()), "reason": "SchedulingGated",
                    "message": GATED}]
        elif key == "/Namespace":
            obj["status"] = {"phase": "Active"}
        elif key == "/Service" and isinstance(obj.get("spec"), dict):
            self._allocate_cluster_ip(obj["spec"])
            obj["status"] = {"loadBalancer": {}}
        elif key == "/PersistentVolumeClaim":
            obj["status"] = {"phase": "Pending"}
        elif key == "apiextensions.k8s.io/CustomResourceDefinition":
            obj["status"] = crd_status(obj, rfc3339(self.store.now()))
        elif key == "batch/Job" and isinstance(obj.get("spec"), dict) and not obj["spec"].get("manualSelector"):
            uid, name = meta.setdefault("uid", self.store.new_uid()), meta.get("name", "")
            generated = {"batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name,
                         "controller-uid": uid, "job-name": name}
            obj["spec"]["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
            obj["spec"]["manualSelector"] = False
            template = obj["spec"].setdefault("template", {})
            template.setdefault("metadata", {}).setdefault("labels", {}).update(generated)

    def _allocate_cluster_ip(self, spec: dict) -> None:
        """A free address of the service range 10.96.0.0/16 (10.96.0.1 is the `kubernetes` Service's), single-stack
        IPv4, as the real allocator gives; headless (`None`) and ExternalName Services get none."""
        if spec.get("type") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            used = {s.get("spec", {}).get("clusterIP") for s in self.store.list("/Service")[0]}
            rng = random.Random(len(used))
            while (ip := f"10.96.{rng.randrange(256)}.{rng.randrange(2, 255)}") in used:
                pass
            spec["clusterIP"] = ip
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")

    def _priority(self, resource: Resource, pod: dict) -> None:
        spec, name = pod["spec"], pod["metadata"].get("name", "")
        class_name = spec.get("priorityClassName")
        policy = "PreemptLowerPriority"
        if not class_name:
            defaults = [pc for pc in self.store.list("scheduling.k8s.io/PriorityClass")[0] if pc.get("globalDefault")]
            if defaults:
                chosen = min(defaults, key=lambda pc: pc.get("value", 0))
                spec["priorityClassName"] = chosen["metadata"]["name"]
                value, policy = chosen.get("value", 0), chosen.get("preemptionPolicy", policy)
            else:
                value = 0
        elif class_name in SYSTEM_PRIORITY_CLASSES:
            value = SYSTEM_PRIORITY_CLASSES[class_name]
        else:
            pc = self.store.get("scheduling.k8s.io/PriorityClass", "", class_name)
            if pc is None:
                raise apierrors.forbidden(resource, name, f"no PriorityClass with name {class_name} was found")
            value, policy = pc.get("value", 0), pc.get("preemptionPolicy", policy)
        if "priority" in spec and spec["priority"] != value:
            raise apierrors.forbidden(resource, name, f"the integer value of priority ({spec['priority']}) must not "
                                      "be provided in pod spec; priority admission controller computed "
                                      f"{value} from the given PriorityClass name")
        spec["priority"] = value
        spec.setdefault("preemptionPolicy", policy)


# ---------------------------------------------------------------------------------------------------
# Validation


def _required(field: str, what: str = "") -> dict[str, str]:
    return cause("FieldValueRequired", field, f"Required value{': ' + what if what else ''}")


def _invalid(field: str, value: Any, why: str) -> dict[str, str]:
    shown = f'"{value}"' if isinstance(value, str) else json.dumps(value, separators=(",", ":"))  # as Go prints it
    return cause("FieldValueInvalid", field, f"Invalid value: {shown}: {why}")


def _unsupported(field: str, value: Any, allowed: list[str]) -> dict[str, str]:
    return cause("FieldValueNotSupported", field, f'Unsupported value: "{value}": supported values: '
                 + ", ".join(f'"{a}"' for a in allowed))


def _labels(labels: Any, field: str) -> list[dict[str, str]]:
    out = []
    for key, value in (labels or {}).items() if isinstance(labels, dict) else []:
        prefix, _, name = key.rpartition("/")
        if (prefix and not _SUBDOMAIN.match(prefix)) or len(name) > 63 or not _LABEL_NAME.match(name):
            out.append(_invalid(field, key, "name part must consist of alphanumeric characters, '-', '_' or '.', "
                                "and must start and end with an alphanumeric character"))
        if not isinstance(value, str) or len(value) > 63 or (value and not _LABEL_NAME.match(value)):
            out.append(_invalid(f"{field}", value, "a valid label must be an empty string or consist of "
                                "alphanumeric characters, '-', '_' or '.', and must start and end with an "
                                "alphanumeric character"))
    return out


def _pod_spec(spec: Any, field: str, restart_allowed: list[str] | None) -> list[dict[str, str]]:
    if not isinstance(spec, dict):
        return [_required(field)]
    out: list[dict[str, str]] = []
    containers = spec.get("containers")
    if not containers:
        out.append(_required(f"{field}.containers"))
    seen: set[str] = set()
    for group in ("initContainers", "containers"):
        for n, c in enumerate(spec.get(group) or []):
            where = f"{field}.{group}[{n}]"
            name = (c or {}).get("name") if isinstance(c, dict) else None
            if not name:
                out.append(_required(f"{where}.name"))
            elif not _LABEL.match(name) or len(name) > 63:
                out.append(_invalid(f"{where}.name", name, _LABEL_MSG))
            elif name in seen:
                out.append(cause("FieldValueDuplicate", f"{where}.name", f'Duplicate value: "{name}"'))
            else:
                seen.add(name)
            if not isinstance(c, dict) or not c.get("image"):
                out.append(_required(f"{where}.image"))
            out.extend(_requests_within_limits(c, where))
    policy = spec.get("restartPolicy", "Always")
    allowed = restart_allowed or ["Always", "OnFailure", "Never"]
    if policy not in allowed:
        out.append(_unsupported(f"{field}.restartPolicy", policy, allowed))
    return out


def _requests_within_limits(c: Any, where: str) -> list[dict[str, str]]:
    resources = (c or {}).get("resources") if isinstance(c, dict) else None
    if not isinstance(resources, dict):
        return []
    out = []
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    for name, request in requests.items():
        if name in limits and _quantity(request) > _quantity(limits[name]):
            out.append(_invalid(f"{where}.resources.requests", request,
                                f"must be less than or equal to {name} limit of {limits[name]}"))
    return out


def _selector(obj: dict, old: dict | None) -> list[dict[str, str]]:
    spec = obj.get("spec") or {}
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return [_required("spec.selector")]
    out = []
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        out.append(_invalid("spec.template.metadata.labels", labels, "`selector` does not match template `labels`"))
    if old is not None and (old.get("spec") or {}).get("selector") != selector:
        out.append(_invalid("spec.selector", selector, "field is immutable"))
    return out


def validate(resource: Resource, obj: dict, old: dict | None, subresource: str | None) -> list[dict[str, str]]:
    """Field errors for the object (empty when valid)."""
    key, meta = resource.key, obj.get("metadata") or {}
    out: list[dict[str, str]] = []
    name = meta.get("name")
    if not name:
        out.append(_required("metadata.name", "name or generateName is required"))
    elif key in _DNS_LABEL_NAMES and (not _LABEL.match(name) or len(name) > 63):
        out.append(_invalid("metadata.name", name, _LABEL_MSG))
    elif not _SUBDOMAIN.match(name) or len(name) > 253:
        out.append(_invalid("metadata.name", name, _SUBDOMAIN_MSG))
    out.extend(_labels(meta.get("labels"), "metadata.labels"))
    if subresource is not None:
        return out
    spec = obj.get("spec")
    if key == "/Pod":
        out.extend(_pod_spec(spec, "spec", None))
        if old is not None and isinstance(spec, dict):
            out.extend(_pod_update(spec, old.get("spec") or {}))
    elif key in _TEMPLATED:
        template = (spec or {}).get("template") if isinstance(spec, dict) else None
        if not isinstance(template, dict):
            out.append(_required("spec.template"))
        else:
            allowed = ["OnFailure", "Never"] if key == "batch/Job" else ["Always"]
            out.extend(_pod_spec(template.get("spec"), "spec.template.spec", allowed))
            out.extend(_labels((template.get("metadata") or {}).get("labels"), "spec.template.metadata.labels"))
        out.extend(_selector(obj, old if key != "batch/Job" else None))
        replicas = (spec or {}).get("replicas") if isinstance(spec, dict) else None
        if isinstance(replicas, int) and replicas < 0:
            out.append(_invalid("spec.replicas", replicas, "must be greater than or equal to 0"))
    elif key == "scheduling.k8s.io/PriorityClass" and not isinstance(obj.get("value"), int):
        out.append(_required("value"))
    if old is not None:
        out.extend(_immutable(key, obj, old))
    return out


_FORBIDDEN_IMMUTABLE = "Forbidden: field is immutable when `immutable` is set"


GATED = "Scheduling is blocked due to non-empty scheduling gates"  # PodScheduled=False, reason SchedulingGated


def _keep_cluster_ip(obj: dict, old: dict) -> None:
    """An update that leaves out the Service's allocated address keeps it (kube-apiserver patches it back in)."""
    spec, before = obj.get("spec"), old.get("spec") or {}
    if isinstance(spec, dict) and not spec.get("clusterIP") and before.get("clusterIP"):
        for field in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
            if field in before:
                spec.setdefault(field, before[field])


def _immutable(key: str, obj: dict, old: dict) -> list[dict[str, str]]:
    """Updates the kind forbids: an immutable ConfigMap's or Secret's contents (and the flag itself), a
    PriorityClass's value, a Service's allocated address."""
    if key == "scheduling.k8s.io/PriorityClass" and obj.get("value") != old.get("value"):
        return [cause("FieldValueForbidden", "value", "Forbidden: may not be changed in an update.")]
    address, before = (obj.get("spec") or {}).get("clusterIP"), (old.get("spec") or {}).get("clusterIP")
    if key == "/Service" and before and address != before:
        return [_invalid("spec.clusterIP", address, "field is immutable")]
    if key not in ("/ConfigMap", "/Secret") or old.get("immutable") is not True:
        return []
    out = [cause("FieldValueForbidden", field, _FORBIDDEN_IMMUTABLE) for field in ("data", "binaryData")
           if (obj.get(field) or {}) != (old.get(field) or {})]
    if obj.get("immutable") is not True:
        out.append(cause("FieldValueForbidden", "immutable", _FORBIDDEN_IMMUTABLE))
    return out


def _pod_update(spec: dict, old_spec: dict) -> list[dict[str, str]]:
    """Pod specs are immutable except images, activeDeadlineSeconds, tolerations (additions), grace period."""
    def comparable(s: dict) -> dict:
        s = {k: v for k, v in s.items() if k not in _POD_MUTABLE}
        for group in ("containers", "initContainers"):
            if isinstance(s.get(group), list):
                s[group] = [{k: v for k, v in c.items() if k != "image"} if isinstance(c, dict) else c
                            for c in s[group]]
        return s

    if comparable(spec) == comparable(old_spec):
        return []
    return [cause("FieldValueForbidden", "spec", "Forbidden: pod updates may not change fields other than "
                  "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
                  "`spec.tolerations` (only additions to existing tolerations),"
                  "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)")]
