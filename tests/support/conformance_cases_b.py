"""Conformance cases, part B: watches, expired history, deletion (propagation, finalizers, namespaces),
subresources, what admission and defaulting add, discovery and authentication."""

from __future__ import annotations

from typing import Any

from tests.support import rawapi
from tests.support.conformance import Observation, Target, case, managers, message, status
from tests.support.conformance_cases_a import PAUSE, cm, deployment

GATE = {"name": "example.com/hold"}


def _body(reply: rawapi.Reply) -> dict[str, Any]:
    return reply.body if isinstance(reply.body, dict) else {}


def _events(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        obj = e.get("object") or {}
        if e.get("type") == "BOOKMARK":
            initial = (obj.get("metadata", {}).get("annotations") or {}).get("k8s.io/initial-events-end")
            out.append("BOOKMARK" + (" initial-events-end" if initial else ""))
        elif e.get("type") in ("ERROR", "HTTP"):
            out.append(f"{e['type']} {obj.get('code')} {obj.get('reason')}")
        else:
            out.append(f"{e.get('type')} {obj.get('metadata', {}).get('name')}")
    return out


def _conditions(reply: rawapi.Reply) -> list[dict[str, Any]]:
    """An object's status conditions ([] for a Status answer, whose `status` is a word)."""
    found = _body(reply).get("status")
    return (found.get("conditions") or []) if isinstance(found, dict) and reply.ok else []


def gated_pod(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulingGates": [GATE], "containers": [{"name": "c", "image": PAUSE}], **spec}}


# -- watches ---------------------------------------------------------------------------------------------------


@case("watch-from-version", "list, then create, update and delete one ConfigMap, then watch from the list's version")
def watch_from_version(t: Target) -> Observation:
    rv = _body(t.get(t.core("configmaps")))["metadata"]["resourceVersion"]
    t.post(t.core("configmaps"), cm("w"))
    t.patch(t.core("configmaps", "w"), {"data": {"a": "2"}})
    t.delete(t.core("configmaps", "w"))
    events = t.watch(t.core("configmaps"), resourceVersion=rv, until=lambda e: len(e) >= 3)
    return {"events": _events(events), "DELETED carries the last state":
            (events[-1].get("object", {}).get("data") if events else None)}


@case("watch-without-version", "watch with no resourceVersion: the current objects first, then changes")
def watch_without_version(t: Target) -> Observation:
    for name in ("b", "a"):
        t.post(t.core("configmaps"), {**cm(name), "metadata": {"name": name, "labels": {"case": "w"}}})
    events = t.watch(t.core("configmaps"), labelSelector="case=w", until=lambda e: len(e) >= 2)
    return {"events": sorted(_events(events))}


@case("watch-initial-events", "watch with sendInitialEvents=true (the watch-list protocol kubectl and informers use)")
def watch_initial_events(t: Target) -> Observation:
    for name in ("b", "a"):
        t.post(t.core("configmaps"), {**cm(name), "metadata": {"name": name, "labels": {"case": "w"}}})
    events = t.watch(t.core("configmaps"), labelSelector="case=w", sendInitialEvents=True,
                     resourceVersionMatch="NotOlderThan", allowWatchBookmarks=True,
                     until=lambda e: any(x.get("type") == "BOOKMARK" for x in e))
    names = _events(events)
    if names and names[-1].startswith("BOOKMARK"):  # the initial objects come in no promised order
        names = sorted(names[:-1]) + names[-1:]
    return {"events": names}


@case("watch-selector-transition", "watch a label selector while an object's labels move out of it and back in")
def watch_selector_transition(t: Target) -> Observation:
    t.post(t.core("configmaps"), {**cm("m"), "metadata": {"name": "m", "labels": {"app": "a"}}})
    rv = _body(t.get(t.core("configmaps")))["metadata"]["resourceVersion"]
    t.patch(t.core("configmaps", "m"), {"metadata": {"labels": {"app": "b"}}})
    t.patch(t.core("configmaps", "m"), {"metadata": {"labels": {"app": "a"}}})
    events = t.watch(t.core("configmaps"), labelSelector="app=a", resourceVersion=rv, until=lambda e: len(e) >= 2)
    return {"events": _events(events), "labels the DELETED event shows":
            (events[0].get("object", {}).get("metadata", {}).get("labels") if events else None)}


@case("watch-bookmarks", "a quiet watch with allowWatchBookmarks until its timeoutSeconds")
def watch_bookmarks(t: Target) -> Observation:
    rv = _body(t.get(t.core("configmaps")))["metadata"]["resourceVersion"]
    events = t.watch(t.core("configmaps"), resourceVersion=rv, allowWatchBookmarks=True, timeout=2)
    return {"events": _events(events), "bookmark objects carry only a resourceVersion":
            all(set(e.get("object", {}).get("metadata", {})) <= {"resourceVersion", "annotations"}
                for e in events if e.get("type") == "BOOKMARK")}


@case("watch-bad-version", "watch from resourceVersion=abc")
def watch_bad_version(t: Target) -> Observation:
    events = t.watch(t.core("configmaps"), resourceVersion="abc", timeout=2)
    first = events[0] if events else {}
    return {"events": _events(events), "message": (first.get("object") or {}).get("message")}


@case("watch-expired", "watch from a resourceVersion the server no longer keeps", expiring=True)
def watch_expired(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c"))
    rv = _body(t.get(t.core("configmaps")))["metadata"]["resourceVersion"]
    t.expire()
    events = t.watch(t.core("configmaps"), resourceVersion=rv, timeout=5)
    first = (events[0].get("object") if events else None) or {}
    return {"events": _events(events), "Status": {k: first.get(k) for k in ("kind", "status", "reason", "code")},
            "message (the real one is etcd's: its watch cache is off)": first.get("message")}


@case("continue-expired", "follow a continue token after the server cut its history", expiring=True)
def continue_expired(t: Target) -> Observation:
    for name in ("a", "b", "c"):
        t.post(t.core("configmaps"), {**cm(name), "metadata": {"name": name, "labels": {"case": "x"}}})
    first = _body(t.get(t.core("configmaps"), labelSelector="case=x", limit=1))
    t.expire()
    rest = t.get(t.core("configmaps"), labelSelector="case=x", limit=1, **{"continue": first["metadata"]["continue"]})
    return {"status": status(rest), "message": message(rest),
            "the 410 offers a continue token to go on inconsistently":
            rest.status == 410 and bool((_body(rest).get("metadata") or {}).get("continue"))}


@case("list-expired-version", "list at an exact resourceVersion the server no longer keeps", expiring=True)
def list_expired_version(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c"))
    rv = _body(t.get(t.core("configmaps")))["metadata"]["resourceVersion"]
    t.expire()
    old = t.get(t.core("configmaps"), resourceVersion=rv, resourceVersionMatch="Exact")
    return {"status": status(old), "message": message(old)}


# -- deletion --------------------------------------------------------------------------------------------------


@case("delete-answer", "DELETE a ConfigMap: the answer, then GET")
def delete_answer(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c"))
    gone = t.delete(t.core("configmaps", "c"))
    body = _body(gone)
    return {"status": status(gone), "answer kind": body.get("kind"), "answer details": body.get("details"),
            "GET after": status(t.get(t.core("configmaps", "c")))}


@case("delete-missing", "DELETE a ConfigMap that does not exist")
def delete_missing(t: Target) -> Observation:
    gone = t.delete(t.core("configmaps", "nope"))
    return {"status": status(gone), "Status body": gone.body}


@case("delete-preconditions", "DELETE with a uid and a resourceVersion precondition that do not hold")
def delete_preconditions(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c"))
    by_uid = t.delete(t.core("configmaps", "c"), {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})
    by_rv = t.delete(t.core("configmaps", "c"), {"preconditions": {"resourceVersion": "1"}})
    return {"uid": status(by_uid), "uid message": message(by_uid), "resourceVersion": status(by_rv),
            "resourceVersion message": message(by_rv)}


def _family(t: Target) -> None:
    """A parent ConfigMap and a child that names it as its controller owner (blocking its deletion)."""
    parent = _body(t.post(t.core("configmaps"), cm("parent")))
    t.post(t.core("configmaps"), {**cm("child"), "metadata": {"name": "child", "ownerReferences": [{
        "apiVersion": "v1", "kind": "ConfigMap", "name": "parent", "uid": parent["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True}]}})


def _gone(reply: rawapi.Reply) -> bool:
    return reply.status == 404


@case("delete-foreground", "DELETE an owner with propagationPolicy=Foreground")
def delete_foreground(t: Target) -> Observation:
    _family(t)
    gone = t.delete(t.core("configmaps", "parent"), {"propagationPolicy": "Foreground"})
    meta = _body(gone).get("metadata", {})
    return {"status": status(gone), "answer has deletionTimestamp": bool(meta.get("deletionTimestamp")),
            "answer finalizers": meta.get("finalizers"),
            "child, eventually": status(t.eventually(t.core("configmaps"), "child", _gone)),
            "owner, eventually": status(t.eventually(t.core("configmaps"), "parent", _gone))}


@case("delete-background", "DELETE an owner with propagationPolicy=Background")
def delete_background(t: Target) -> Observation:
    _family(t)
    gone = t.delete(t.core("configmaps", "parent"), {"propagationPolicy": "Background"})
    return {"status": status(gone), "owner right after": status(t.get(t.core("configmaps", "parent"))),
            "child, eventually": status(t.eventually(t.core("configmaps"), "child", _gone))}


@case("delete-orphan", "DELETE an owner with propagationPolicy=Orphan")
def delete_orphan(t: Target) -> Observation:
    _family(t)
    gone = t.delete(t.core("configmaps", "parent"), {"propagationPolicy": "Orphan"})
    meta = _body(gone).get("metadata", {})
    owner = t.eventually(t.core("configmaps"), "parent", _gone)
    child = t.eventually(t.core("configmaps"), "child",
                         lambda r: r.ok and not _body(r)["metadata"].get("ownerReferences"))
    return {"status": status(gone), "answer finalizers": meta.get("finalizers"), "owner, eventually": status(owner),
            "child, eventually": status(child),
            "child's ownerReferences": _body(child).get("metadata", {}).get("ownerReferences")}


@case("delete-finalizer", "DELETE an object with a finalizer, then remove the finalizer")
def delete_finalizer(t: Target) -> Observation:
    t.post(t.core("configmaps"), {**cm("f"), "metadata": {"name": "f", "finalizers": ["example.com/hold"]}})
    gone = t.delete(t.core("configmaps", "f"))
    held = t.get(t.core("configmaps", "f"))
    edit = t.patch(t.core("configmaps", "f"), {"data": {"a": "2"}})
    released = t.patch(t.core("configmaps", "f"), {"metadata": {"finalizers": None}})
    return {"DELETE": status(gone), "answer has deletionTimestamp":
            bool(_body(gone).get("metadata", {}).get("deletionTimestamp")),
            "GET while held": status(held), "deletionGracePeriodSeconds": _body(held).get("metadata", {}).get(
                "deletionGracePeriodSeconds"), "an edit while held": status(edit),
            "finalizer removed": status(released), "GET after": status(t.get(t.core("configmaps", "f")))}


@case("delete-collection", "DELETE the ConfigMap collection with a label selector")
def delete_collection(t: Target) -> Observation:
    for name, app in (("a", "x"), ("b", "x"), ("c", "y")):
        t.post(t.core("configmaps"), {**cm(name), "metadata": {"name": name, "labels": {"app": app}}})
    gone = t.delete(t.core("configmaps"), labelSelector="app=x")
    left = _body(t.get(t.core("configmaps"), labelSelector="app"))
    return {"status": status(gone), "answer kind": _body(gone).get("kind"),
            "answer items": sorted(i["metadata"]["name"] for i in _body(gone).get("items") or []),
            "left": sorted(i["metadata"]["name"] for i in left.get("items", []))}


@case("delete-pod", "DELETE a pod that no node runs")
def delete_pod(t: Target) -> Observation:
    t.post(t.core("pods"), gated_pod("p"))
    gone = t.delete(t.core("pods", "p"))
    return {"status": status(gone), "answer kind": _body(gone).get("kind"),
            "GET after": status(t.get(t.core("pods", "p")))}


@case("namespace-delete", "DELETE a namespace holding an object with a finalizer; create in it; release; wait")
def namespace_delete(t: Target) -> Observation:
    ns = f"{t.namespace}-x"
    t.post("/api/v1/namespaces", {"metadata": {"name": ns}})
    t.post(t.core("configmaps", namespace=ns), {**cm("held"), "metadata": {"name": "held",
                                                                            "finalizers": ["example.com/hold"]}})
    gone = t.delete(f"/api/v1/namespaces/{ns}")
    body = _body(gone)
    late = t.post(t.core("configmaps", namespace=ns), cm("late"))  # the held object keeps it Terminating
    held = t.eventually(t.core("configmaps", namespace=ns), "held",
                        lambda r: bool(_body(r).get("metadata", {}).get("deletionTimestamp")))
    waiting = t.eventually("/api/v1/namespaces", ns, lambda r: not r.ok or any(
        c.get("type") == "NamespaceFinalizersRemaining" and c.get("status") == "True" for c in _conditions(r)))
    t.patch(t.core("configmaps", "held", namespace=ns), {"metadata": {"finalizers": None}})
    final = t.eventually("/api/v1/namespaces", ns, _gone)
    return {"status": status(gone), "phase": body.get("status", {}).get("phase"),
            "spec.finalizers": body.get("spec", {}).get("finalizers"),
            "answer has deletionTimestamp": bool(body.get("metadata", {}).get("deletionTimestamp")),
            "create inside": status(late), "create inside message": message(late),
            "the held object is asked to go": bool(_body(held).get("metadata", {}).get("deletionTimestamp")),
            "namespace while held": status(waiting), "its conditions": sorted(
                f"{c.get('type')}={c.get('status')}" for c in _conditions(waiting)),
            "namespace, once released": status(final)}


@case("namespace-bootstrap", "what a new namespace gets: labels, finalizers, its default ServiceAccount and CA")
def namespace_bootstrap(t: Target) -> Observation:
    ns = f"{t.namespace}-n"
    made = _body(t.post("/api/v1/namespaces", {"metadata": {"name": ns}}))
    account = t.eventually(t.core("serviceaccounts", namespace=ns), "default", lambda r: r.ok, timeout=20)
    ca = t.eventually(t.core("configmaps", namespace=ns), "kube-root-ca.crt", lambda r: r.ok, timeout=20)
    return {"labels": made.get("metadata", {}).get("labels"), "spec": made.get("spec"), "status": made.get("status"),
            "default ServiceAccount": status(account), "kube-root-ca.crt": status(ca)}


# -- subresources ----------------------------------------------------------------------------------------------


@case("status-subresource", "a Deployment's status through the main resource and through /status")
def status_subresource(t: Target) -> Observation:
    made = _body(t.post(t.apps("deployments"), deployment("d")))
    main = _body(t.patch(t.apps("deployments", "d"), {"status": {"replicas": 7}}))
    sub = _body(t.patch(t.apps("deployments", "d") + "/status", {"spec": {"replicas": 4},
                                                                  "status": {"observedGeneration": 1}}))
    spec = _body(t.patch(t.apps("deployments", "d"), {"spec": {"replicas": 2}}))
    return {"status written at create": made.get("status"), "status via the main resource": main.get("status"),
            "spec via /status": sub.get("spec", {}).get("replicas"),
            "status via /status": sub.get("status"),
            "generation: create, status patch, spec patch": [made.get("metadata", {}).get("generation"),
                                                             sub.get("metadata", {}).get("generation"),
                                                             spec.get("metadata", {}).get("generation")]}


@case("scale-subresource", "GET and PATCH a Deployment's /scale")
def scale_subresource(t: Target) -> Observation:
    t.post(t.apps("deployments"), deployment("d"))
    scale = t.get(t.apps("deployments", "d") + "/scale")
    scaled = t.patch(t.apps("deployments", "d") + "/scale", {"spec": {"replicas": 3}})
    after = _body(t.get(t.apps("deployments", "d")))
    body = _body(scale)
    return {"GET": status(scale), "kind, apiVersion": [body.get("kind"), body.get("apiVersion")],
            "spec": body.get("spec"), "status": body.get("status"), "PATCH": status(scaled),
            "deployment spec.replicas after": after.get("spec", {}).get("replicas"),
            "managers after": managers(after)}


@case("pod-log", "GET the log of a pod no node runs and of a missing pod, accepting text (+ JSON for errors)")
def pod_log(t: Target) -> Observation:
    t.post(t.core("pods"), gated_pod("p"))
    out: Observation = {}
    for accept in ("text/plain, application/json", "text/plain"):
        log = t.call("GET", t.core("pods", "p") + "/log", accept=accept)
        missing = t.call("GET", t.core("pods", "nope") + "/log", accept=accept)
        out[f"Accept {accept}: unscheduled"] = [status(log), message(log)]
        out[f"Accept {accept}: missing"] = [status(missing), message(missing)]
    return out


@case("pod-binding", "POST a Binding for a gated pod and for a pod without gates")
def pod_binding(t: Target) -> Observation:
    t.post(t.core("pods"), gated_pod("gated"))
    t.post(t.core("pods"), {**gated_pod("free"), "spec": {"containers": [{"name": "c", "image": PAUSE}]}})
    out: Observation = {}
    for name in ("gated", "free"):
        bound = t.post(t.core("pods", name) + "/binding", {"apiVersion": "v1", "kind": "Binding",
                                                           "metadata": {"name": name},
                                                           "target": {"apiVersion": "v1", "kind": "Node",
                                                                      "name": "node-1"}})
        pod = _body(t.get(t.core("pods", name)))
        out[name] = [status(bound), message(bound), pod.get("spec", {}).get("nodeName")]
        out[f"{name}: PodScheduled"] = [f"{c.get('status')} {c.get('reason')}" for c in
                                        pod.get("status", {}).get("conditions", []) if c.get("type") == "PodScheduled"]
    return out


# -- defaulting and admission ------------------------------------------------------------------------------------


@case("pod-defaults", "what defaulting and admission add to a minimal (gated) pod")
def pod_defaults(t: Target) -> Observation:
    made = t.post(t.core("pods"), gated_pod("p"))
    pod = _body(made)
    spec, container = pod.get("spec", {}), (pod.get("spec", {}).get("containers") or [{}])[0]
    return {"answer": status(made), "spec fields": sorted(spec),
            "spec values": {k: spec.get(k) for k in ("dnsPolicy", "restartPolicy", "schedulerName", "priority",
                                                     "enableServiceLinks", "preemptionPolicy", "serviceAccountName",
                                                     "terminationGracePeriodSeconds", "securityContext")},
            "tolerations": spec.get("tolerations"), "volumes": [v.get("name") for v in spec.get("volumes", [])],
            "container fields": sorted(container),
            "container values": {k: container.get(k) for k in ("imagePullPolicy", "terminationMessagePath",
                                                               "terminationMessagePolicy", "resources")},
            "volumeMounts": container.get("volumeMounts"), "status": pod.get("status")}


@case("pod-priority", "a pod naming a missing PriorityClass, and one naming an existing class")
def pod_priority(t: Target) -> Observation:
    pc = f"{t.namespace}-pc"
    t.post("/apis/scheduling.k8s.io/v1/priorityclasses", {"metadata": {"name": pc}, "value": -5,
                                                         "preemptionPolicy": "Never"})
    missing = t.post(t.core("pods"), gated_pod("missing", priorityClassName="no-such-class"))
    known = _body(t.post(t.core("pods"), gated_pod("known", priorityClassName=pc)))
    t.delete(f"/apis/scheduling.k8s.io/v1/priorityclasses/{pc}")
    return {"missing class": status(missing), "missing class message": message(missing),
            "priority, preemptionPolicy": [known.get("spec", {}).get("priority"),
                                           known.get("spec", {}).get("preemptionPolicy")]}


@case("deployment-defaults", "what defaulting adds to a minimal Deployment")
def deployment_defaults(t: Target) -> Observation:
    made = _body(t.post(t.apps("deployments"), deployment("d")))
    spec = made.get("spec", {})
    template = spec.get("template", {})
    return {"spec": {k: v for k, v in spec.items() if k != "template"},
            "template metadata": template.get("metadata"),
            "template spec fields": sorted(template.get("spec", {})),
            "container": (template.get("spec", {}).get("containers") or [{}])[0], "status": made.get("status")}


@case("service-defaults", "what defaulting and allocation add to a minimal Service")
def service_defaults(t: Target) -> Observation:
    made = t.post(t.core("services"), {"metadata": {"name": "s"}, "spec": {"selector": {"app": "a"},
                                                                          "ports": [{"port": 80}]}})
    spec = _body(made).get("spec", {})
    ip = spec.get("clusterIP", "")
    return {"status": status(made), "spec fields": sorted(spec),
            "clusterIP in 10.96.0.0/16": ip.startswith("10.96.") and ip == (spec.get("clusterIPs") or [""])[0],
            "values": {k: spec.get(k) for k in ("type", "sessionAffinity", "ipFamilies", "ipFamilyPolicy",
                                                "internalTrafficPolicy", "ports")},
            "status field": _body(made).get("status")}


@case("pvc-defaults", "a PersistentVolumeClaim as created, and its resourceVersion across a no-op apply")
def pvc_defaults(t: Target) -> Observation:
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "no-such-class",
                      "resources": {"requests": {"storage": "1Gi"}}}}
    made = _body(t.apply(t.core("persistentvolumeclaims", "c"), claim, "a"))
    again = _body(t.apply(t.core("persistentvolumeclaims", "c"), claim, "a"))
    return {"spec": made.get("spec"), "finalizers": made.get("metadata", {}).get("finalizers"),
            "status": made.get("status"), "a no-op apply moves the resourceVersion":
            again.get("metadata", {}).get("resourceVersion") != made.get("metadata", {}).get("resourceVersion")}


@case("job-defaults", "what defaulting adds to a minimal Job (selector, labels, policies)")
def job_defaults(t: Target) -> Observation:
    made = t.post(f"/apis/batch/v1/namespaces/{t.namespace}/jobs", {"metadata": {"name": "j"}, "spec": {
        "suspend": True, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c",
                                                                                         "image": PAUSE}]}}}})
    spec = _body(made).get("spec", {})
    return {"status": status(made), "spec fields": sorted(spec),
            "values": {k: spec.get(k) for k in ("backoffLimit", "completions", "parallelism", "completionMode",
                                                "podReplacementPolicy", "manualSelector")},
            "selector keys": sorted((spec.get("selector") or {}).get("matchLabels") or {}),
            "template label keys": sorted(spec.get("template", {}).get("metadata", {}).get("labels") or {})}


@case("events", "core/v1 Events: create one, list by involvedObject.name and reason, read through events.k8s.io")
def events(t: Target) -> Observation:
    made = t.post(t.core("events"), {"metadata": {"name": "p.1"}, "type": "Normal", "reason": "Pulled",
                                     "message": "pulled", "count": 1, "source": {"component": "kubelet"},
                                     "involvedObject": {"kind": "Pod", "name": "p", "namespace": t.namespace}})
    by_object = _body(t.get(t.core("events"), fieldSelector="involvedObject.name=p"))
    by_reason = _body(t.get(t.core("events"), fieldSelector="reason=Pulled,type=Normal"))
    new_api = t.get(f"/apis/events.k8s.io/v1/namespaces/{t.namespace}/events/p.1")
    body = _body(new_api)
    return {"status": status(made), "by involvedObject.name": [e["metadata"]["name"] for e in
                                                              by_object.get("items", [])],
            "by reason and type": [e["metadata"]["name"] for e in by_reason.get("items", [])],
            "events.k8s.io/v1": [status(new_api), body.get("reason"), body.get("note"),
                                 (body.get("regarding") or {}).get("name"), body.get("deprecatedCount")]}


# -- discovery, version, authentication ------------------------------------------------------------------------


def _resource(listing: dict[str, Any], name: str) -> dict[str, Any]:
    return next((r for r in listing.get("resources", []) if r.get("name") == name), {})


@case("discovery", "the discovery documents a client reads: /api/v1 pods, /apis/apps/v1 deployments and scale")
def discovery(t: Target) -> Observation:
    core, apps = _body(t.get("/api/v1")), _body(t.get("/apis/apps/v1"))
    pods, deployments, scale = _resource(core, "pods"), _resource(apps, "deployments"), _resource(
        apps, "deployments/scale")
    return {"pods verbs": sorted(pods.get("verbs", [])), "pods shortNames": pods.get("shortNames"),
            "pods subresources": sorted(r["name"] for r in core.get("resources", []) if r["name"].startswith("pods/")),
            "deployments verbs": sorted(deployments.get("verbs", [])),
            "deployments categories": deployments.get("categories"),
            "deployments/scale group, version, kind": [scale.get("group"), scale.get("version"), scale.get("kind")]}


@case("discovery-aggregated", "aggregated discovery (/apis as APIGroupDiscoveryList, what kubectl reads first)")
def discovery_aggregated(t: Target) -> Observation:
    got = t.call("GET", "/apis", accept="application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList")
    body = _body(got)
    return {"status": status(got), "kind": body.get("kind"), "content type": got.headers.get("content-type")}


@case("version", "GET /version")
def version(t: Target) -> Observation:
    body = _body(t.get("/version"))
    return {"major, minor": [body.get("major"), body.get("minor")], "fields": sorted(body)}


@case("anonymous", "requests without a token: /version, /readyz, a namespaced list")
def anonymous(t: Target) -> Observation:
    listing = t.anonymous(t.core("configmaps"))
    return {"/version": status(t.anonymous("/version")), "/readyz": status(t.anonymous("/readyz")),
            "list ConfigMaps": status(listing), "list message": message(listing)}
