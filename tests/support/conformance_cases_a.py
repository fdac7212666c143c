"""Conformance cases, part A: objects (create, read, update, patch), validation, server-side apply, dry run,
selectors, paging. Each returns {what is compared: what this server answered} (tests/support/conformance.py)."""

from __future__ import annotations

from typing import Any

from tests.support import rawapi
from tests.support.conformance import Observation, Target, case, causes, managers, message, owned, status

PAUSE = "registry.k8s.io/pause:3.10"


def cm(name: str, data: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, **meta},
            "data": {"a": "1"} if data is None else data}


def deployment(name: str, containers: list[dict[str, Any]] | None = None, replicas: int = 0) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": containers or [{"name": "c", "image": PAUSE}]}}}}


def _body(reply: rawapi.Reply) -> dict[str, Any]:
    return reply.body if isinstance(reply.body, dict) else {}


# -- create, read, update --------------------------------------------------------------------------------------


@case("create", "POST a ConfigMap")
def create(t: Target) -> Observation:
    made = t.post(t.core("configmaps"), cm("c"))
    obj = _body(made)
    return {"status": status(made), "kind, apiVersion": [obj.get("kind"), obj.get("apiVersion")],
            "metadata fields": sorted(obj.get("metadata", {})),
            "managedFields": [{k: v for k, v in m.items() if k != "fieldsV1"}
                              for m in obj.get("metadata", {}).get("managedFields", [])],
            "fields owned by the creator": owned(obj, "coldstart-conformance")}


@case("get", "GET a ConfigMap just created")
def get(t: Target) -> Observation:
    made = t.post(t.core("configmaps"), cm("c"))
    got = t.get(t.core("configmaps", "c"))
    return {"status": status(got), "same object as the create answered": got.body == made.body,
            "kind, apiVersion": [_body(got).get("kind"), _body(got).get("apiVersion")]}


@case("create-exists", "POST the same ConfigMap twice")
def create_exists(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c"))
    again = t.post(t.core("configmaps"), cm("c"))
    return {"status": status(again), "message": message(again), "details": _body(again).get("details")}


@case("get-missing", "GET a ConfigMap that does not exist")
def get_missing(t: Target) -> Observation:
    missing = t.get(t.core("configmaps", "nope"))
    return {"status": status(missing), "Status body": missing.body}


@case("list", "GET the ConfigMap collection (label-selected)")
def list_(t: Target) -> Observation:
    for name in ("b", "a", "c"):
        t.post(t.core("configmaps"), {**cm(name), "metadata": {"name": name, "labels": {"case": "list"}}})
    listed = t.get(t.core("configmaps"), labelSelector="case=list")
    body = _body(listed)
    items = body.get("items") or [{}]
    return {"status": status(listed), "kind, apiVersion": [body.get("kind"), body.get("apiVersion")],
            "list metadata fields": sorted(body.get("metadata", {})), "item fields": sorted(items[0]),
            "names, in order": [i.get("metadata", {}).get("name") for i in body.get("items", [])]}


@case("generate-name", "POST with metadata.generateName only")
def generate_name(t: Target) -> Observation:
    made = t.post(t.core("configmaps"), {"metadata": {"generateName": "gen-"}, "data": {}})
    meta = _body(made).get("metadata", {})
    return {"status": status(made), "name": meta.get("name"), "generateName": meta.get("generateName")}


@case("invalid-name", "POST a ConfigMap named Bad_Name")
def invalid_name(t: Target) -> Observation:
    bad = t.post(t.core("configmaps"), cm("Bad_Name"))
    return {"status": status(bad), "message": message(bad), "causes": causes(bad)}


@case("name-mismatch", "PUT whose body names another object than the URL")
def name_mismatch(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("a"))
    put = t.put(t.core("configmaps", "a"), cm("b"))
    return {"status": status(put), "message": message(put)}


@case("namespace-mismatch", "POST whose body names another namespace than the URL")
def namespace_mismatch(t: Target) -> Observation:
    made = t.post(t.core("configmaps"), cm("c", namespace="elsewhere"))
    return {"status": status(made), "message": message(made)}


@case("update-stale", "PUT twice from the same resourceVersion")
def update_stale(t: Target) -> Observation:
    made = _body(t.post(t.core("configmaps"), cm("c")))
    first = t.put(t.core("configmaps", "c"), {**made, "data": {"a": "2"}})
    stale = t.put(t.core("configmaps", "c"), {**made, "data": {"a": "3"}})
    return {"first update": status(first), "second update": status(stale), "message": message(stale),
            "data after": _body(t.get(t.core("configmaps", "c"))).get("data")}


@case("update-unconditional", "PUT without metadata.resourceVersion")
def update_unconditional(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c"))
    put = t.put(t.core("configmaps", "c"), cm("c", {"a": "2"}))
    return {"status": status(put), "data": _body(put).get("data")}


@case("update-missing", "PUT an object that does not exist")
def update_missing(t: Target) -> Observation:
    put = t.put(t.core("configmaps", "nope"), cm("nope"))
    return {"status": status(put), "message": message(put)}


@case("immutable-configmap", "change the data of an immutable ConfigMap, then make it mutable")
def immutable_configmap(t: Target) -> Observation:
    t.post(t.core("configmaps"), {**cm("c"), "immutable": True})
    changed = t.put(t.core("configmaps", "c"), {**cm("c", {"a": "2"}), "immutable": True})
    unlocked = t.put(t.core("configmaps", "c"), {**cm("c"), "immutable": False})
    return {"data change": status(changed), "data change message": message(changed),
            "immutable: false": status(unlocked), "immutable: false message": message(unlocked)}


@case("priorityclass-value", "change a PriorityClass's value (cluster-scoped)")
def priorityclass_value(t: Target) -> Observation:
    path, name = "/apis/scheduling.k8s.io/v1/priorityclasses", f"{t.namespace}-pc"
    made = t.post(path, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
                         "value": 100})
    changed = t.put(f"{path}/{name}", {**_body(made), "value": 200})
    t.delete(f"{path}/{name}")
    return {"create": status(made), "preemptionPolicy defaulted": _body(made).get("preemptionPolicy"),
            "value change": status(changed), "message": message(changed), "causes": causes(changed)}


# -- patches ---------------------------------------------------------------------------------------------------


@case("patch-merge", "merge patch: change a key, delete another with null")
def patch_merge(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c", {"a": "1", "b": "2"}))
    patched = t.patch(t.core("configmaps", "c"), {"data": {"a": "9", "b": None}})
    return {"status": status(patched), "data": _body(patched).get("data")}


@case("patch-strategic", "strategic merge patch of a Deployment's containers (merged by name, $patch: delete)")
def patch_strategic(t: Target) -> Observation:
    containers = [{"name": "one", "image": PAUSE}, {"name": "two", "image": PAUSE}]
    t.post(t.apps("deployments"), deployment("d", containers))
    changed = t.patch(t.apps("deployments", "d"), {"spec": {"template": {"spec": {"containers": [
        {"name": "two", "image": "registry.k8s.io/pause:3.9"}]}}}}, rawapi.STRATEGIC)
    removed = t.patch(t.apps("deployments", "d"), {"spec": {"template": {"spec": {"containers": [
        {"name": "one", "$patch": "delete"}]}}}}, rawapi.STRATEGIC)

    def images(reply: rawapi.Reply) -> list[str]:
        spec = _body(reply).get("spec", {}).get("template", {}).get("spec", {})
        return [f"{c['name']}={c['image']}" for c in spec.get("containers", [])]
    return {"merge by name": [status(changed), images(changed)], "$patch: delete": [status(removed), images(removed)],
            "generation": [_body(changed).get("metadata", {}).get("generation"),
                           _body(removed).get("metadata", {}).get("generation")]}


@case("patch-json", "JSON patch: add, replace, remove; then a failing test op and a bad path")
def patch_json(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c", {"a": "1", "b": "2"}))
    path = t.core("configmaps", "c")
    ok = t.patch(path, [{"op": "add", "path": "/data/c", "value": "3"}, {"op": "replace", "path": "/data/a",
                                                                         "value": "9"},
                        {"op": "remove", "path": "/data/b"}], rawapi.JSON_PATCH)
    failed = t.patch(path, [{"op": "test", "path": "/data/a", "value": "0"}], rawapi.JSON_PATCH)
    bad = t.patch(path, [{"op": "remove", "path": "/data/zzz"}], rawapi.JSON_PATCH)
    return {"status": status(ok), "data": _body(ok).get("data"), "failing test op": status(failed),
            "failing test op message": message(failed), "remove a missing path": status(bad),
            "remove a missing path message": message(bad)}


@case("patch-content-type", "PATCH with Content-Type application/json (no patch type)")
def patch_content_type(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c"))
    patched = t.call("PATCH", t.core("configmaps", "c"), {"data": {"a": "2"}}, ctype="application/json")
    return {"status": status(patched), "message": message(patched)}


@case("patch-missing", "merge patch of an object that does not exist")
def patch_missing(t: Target) -> Observation:
    patched = t.patch(t.core("configmaps", "nope"), {"data": {"a": "2"}})
    return {"status": status(patched), "message": message(patched)}


# -- validation ------------------------------------------------------------------------------------------------


def _bogus(name: str) -> dict[str, Any]:
    body = deployment(name)
    body["spec"]["bogus"] = 1
    body["spec"]["template"]["spec"]["containers"][0]["alsoBogus"] = "x"
    return body


@case("field-validation", "POST a Deployment with two unknown fields, fieldValidation Strict/Warn/Ignore/unset")
def field_validation(t: Target) -> Observation:
    out: Observation = {}
    for mode in ("Strict", "Warn", "Ignore", None):
        made = t.post(t.apps("deployments"), _bogus(f"d-{(mode or 'unset').lower()}"), fieldValidation=mode)
        label = mode or "unset"
        out[f"{label}: status"] = status(made)
        out[f"{label}: message or warnings"] = message(made) if not made.ok else sorted(made.warnings)
    return out


@case("duplicate-field", "a JSON body with a key twice, under fieldValidation Strict and Warn")
def duplicate_field(t: Target) -> Observation:
    raw = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"%s"},"data":{"a":"1","a":"2"}}'
    strict = t.call("POST", t.core("configmaps"), (raw % "strict").encode(), fieldValidation="Strict")
    warn = t.call("POST", t.core("configmaps"), (raw % "warn").encode(), fieldValidation="Warn")
    return {"Strict": status(strict), "Strict message": message(strict), "Warn": status(warn),
            "Warn warnings": warn.warnings, "Warn data": _body(warn).get("data")}


@case("wrong-type", "a Deployment with replicas: \"three\"; a ConfigMap with a number in data")
def wrong_type(t: Target) -> Observation:
    body = deployment("d")
    body["spec"]["replicas"] = "three"
    replicas = t.post(t.apps("deployments"), body)
    number = t.post(t.core("configmaps"), cm("c", {"a": 1}))
    return {"replicas: status": status(replicas), "replicas: message": message(replicas),
            "data number: status": status(number), "data number: message": message(number)}


@case("ssa-unknown-field", "server-side apply of a Deployment with a field the schema lacks")
def ssa_unknown_field(t: Target) -> Observation:
    applied = t.apply(t.apps("deployments", "d"), _bogus("d"), "a", fieldValidation="Strict")
    return {"status": status(applied), "message": message(applied)}


@case("invalid-deployment", "a Deployment whose selector does not match its template; one without a selector")
def invalid_deployment(t: Target) -> Observation:
    mismatch = deployment("m")
    mismatch["spec"]["selector"]["matchLabels"] = {"app": "other"}
    none = deployment("n")
    del none["spec"]["selector"]
    first, second = t.post(t.apps("deployments"), mismatch), t.post(t.apps("deployments"), none)
    return {"mismatch": status(first), "mismatch causes": causes(first), "mismatch message": message(first),
            "no selector": status(second), "no selector causes": causes(second)}


@case("pod-without-image", "a Pod whose container has no image")
def pod_without_image(t: Target) -> Observation:
    made = t.post(t.core("pods"), {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c"}]}})
    return {"status": status(made), "causes": causes(made), "message": message(made)}


# -- server-side apply -----------------------------------------------------------------------------------------


def _apply_cm(t: Target, manager: str, data: dict[str, str], **query: Any) -> rawapi.Reply:
    return t.apply(t.core("configmaps", "c"), cm("c", data), manager, **query)


@case("ssa-create", "server-side apply creates a ConfigMap")
def ssa_create(t: Target) -> Observation:
    made = _apply_cm(t, "a", {"x": "1"})
    return {"status": status(made), "managers": managers(_body(made)), "fields a owns": owned(_body(made), "a")}


@case("ssa-noop", "the same server-side apply again")
def ssa_noop(t: Target) -> Observation:
    first = _body(_apply_cm(t, "a", {"x": "1"}))
    again = _apply_cm(t, "a", {"x": "1"})
    return {"status": status(again), "resourceVersion unchanged":
            _body(again).get("metadata", {}).get("resourceVersion") == first["metadata"]["resourceVersion"],
            "managedFields unchanged": _body(again).get("metadata", {}).get("managedFields") ==
            first["metadata"]["managedFields"]}


@case("ssa-two-managers", "two managers apply different keys")
def ssa_two_managers(t: Target) -> Observation:
    _apply_cm(t, "a", {"x": "1"})
    both = _body(_apply_cm(t, "b", {"y": "2"}))
    return {"data": both.get("data"), "managers": managers(both), "fields a owns": owned(both, "a"),
            "fields b owns": owned(both, "b")}


@case("ssa-shared", "a second manager applies the same value for the first one's key")
def ssa_shared(t: Target) -> Observation:
    _apply_cm(t, "a", {"x": "1"})
    shared = _apply_cm(t, "b", {"x": "1"})
    return {"status": status(shared), "managers": managers(_body(shared)), "fields a owns": owned(_body(shared), "a"),
            "fields b owns": owned(_body(shared), "b")}


@case("ssa-conflict", "a second manager applies another value for the first one's key, unforced")
def ssa_conflict(t: Target) -> Observation:
    _apply_cm(t, "a", {"x": "1"})
    clash = _apply_cm(t, "b", {"x": "2"})
    return {"status": status(clash), "message": message(clash), "details": _body(clash).get("details"),
            "data after": _body(t.get(t.core("configmaps", "c"))).get("data")}


@case("ssa-force", "the same, forced")
def ssa_force(t: Target) -> Observation:
    _apply_cm(t, "a", {"x": "1", "y": "1"})
    forced = _body(_apply_cm(t, "b", {"x": "2"}, force=True))
    return {"data": forced.get("data"), "fields a owns": owned(forced, "a"), "fields b owns": owned(forced, "b")}


@case("ssa-drop-field", "a manager applies again without a key it owned alone")
def ssa_drop_field(t: Target) -> Observation:
    _apply_cm(t, "a", {"x": "1", "y": "2"})
    dropped = _body(_apply_cm(t, "a", {"x": "1"}))
    return {"data": dropped.get("data"), "fields a owns": owned(dropped, "a")}


@case("ssa-no-manager", "server-side apply without fieldManager")
def ssa_no_manager(t: Target) -> Observation:
    applied = t.call("PATCH", t.core("configmaps", "c"), cm("c"), ctype=rawapi.APPLY)
    return {"status": status(applied), "message": message(applied)}


@case("ssa-after-update", "apply over a key that a PUT (an Update manager) set")
def ssa_after_update(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c", {"x": "1"}))
    clash = _apply_cm(t, "a", {"x": "2"})
    return {"status": status(clash), "message": message(clash), "causes": causes(clash)}


@case("ssa-containers", "two managers apply different containers of one Deployment (a list keyed by name)")
def ssa_containers(t: Target) -> Observation:
    first = t.apply(t.apps("deployments", "d"), deployment("d", [{"name": "one", "image": PAUSE}]), "a")
    second = deployment("d", [{"name": "two", "image": PAUSE}])
    del second["spec"]["replicas"]
    answer = t.apply(t.apps("deployments", "d"), second, "b")
    both = _body(answer)
    containers = both.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
    return {"statuses": [status(first), status(answer)], "message": message(answer),
            "containers": [c.get("name") for c in containers], "managers": managers(both),
            "fields b owns": owned(both, "b")}


@case("ssa-status", "server-side apply to a Deployment's status subresource")
def ssa_status(t: Target) -> Observation:
    t.post(t.apps("deployments"), deployment("d"))
    applied = t.apply(t.apps("deployments", "d") + "/status", {"apiVersion": "apps/v1", "kind": "Deployment",
                                                               "metadata": {"name": "d"},
                                                               "spec": {"replicas": 5},
                                                               "status": {"observedGeneration": 1, "replicas": 0}},
                      "status-writer", force=True)
    body = _body(applied)
    return {"status": status(applied), "managers": managers(body),
            "spec.replicas (ignored on status)": body.get("spec", {}).get("replicas"),
            "status.observedGeneration": body.get("status", {}).get("observedGeneration")}


# -- dry run ---------------------------------------------------------------------------------------------------


@case("dry-run-create", "POST with dryRun=All, then GET")
def dry_run_create(t: Target) -> Observation:
    made = t.post(t.core("configmaps"), cm("c"), dryRun="All")
    meta = _body(made).get("metadata", {})
    return {"status": status(made), "uid set": bool(meta.get("uid")), "resourceVersion set":
            bool(meta.get("resourceVersion")), "creationTimestamp set": bool(meta.get("creationTimestamp")),
            "managedFields": managers(_body(made)), "GET after": status(t.get(t.core("configmaps", "c")))}


@case("dry-run-update", "PUT with dryRun=All, then GET")
def dry_run_update(t: Target) -> Observation:
    made = _body(t.post(t.core("configmaps"), cm("c")))
    put = t.put(t.core("configmaps", "c"), {**made, "data": {"a": "2"}}, dryRun="All")
    after = _body(t.get(t.core("configmaps", "c")))
    return {"status": status(put), "answered data": _body(put).get("data"), "stored data": after.get("data"),
            "resourceVersion moved": after.get("metadata", {}).get("resourceVersion") !=
            made["metadata"]["resourceVersion"]}


@case("dry-run-delete", "DELETE with dryRun=All, then GET")
def dry_run_delete(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c"))
    gone = t.delete(t.core("configmaps", "c"), dryRun="All")
    return {"status": status(gone), "answer kind": _body(gone).get("kind"),
            "GET after": status(t.get(t.core("configmaps", "c")))}


@case("dry-run-apply", "server-side apply with dryRun=All, then GET")
def dry_run_apply(t: Target) -> Observation:
    applied = _apply_cm(t, "a", {"x": "1"}, dryRun="All")
    return {"status": status(applied), "managers": managers(_body(applied)),
            "GET after": status(t.get(t.core("configmaps", "c")))}


@case("dry-run-invalid", "dryRun=Some (not a dry-run value)")
def dry_run_invalid(t: Target) -> Observation:
    made = t.post(t.core("configmaps"), cm("c"), dryRun="Some")
    return {"status": status(made), "message": message(made)}


# -- selectors, paging, resourceVersion semantics ---------------------------------------------------------


SELECTORS = ("app=a", "app!=a", "app in (a,b)", "app notin (a)", "!app", "app", "app=a,tier=web", "tier")


@case("label-selectors", "list ConfigMaps with each form of label selector, and a malformed one")
def label_selectors(t: Target) -> Observation:
    for name, labels in (("a-web", {"app": "a", "tier": "web"}), ("a", {"app": "a"}), ("b", {"app": "b"}),
                         ("c", {"app": "c"}), ("none", {"other": "x"})):
        t.post(t.core("configmaps"), {**cm(name), "metadata": {"name": name, "labels": {"case": "sel", **labels}}})
    out: Observation = {}
    for selector in SELECTORS:
        listed = t.get(t.core("configmaps"), labelSelector=f"case=sel,{selector}")
        out[selector] = sorted(i["metadata"]["name"] for i in _body(listed).get("items", []))
    bad = t.get(t.core("configmaps"), labelSelector="app==?")
    out["malformed: status"], out["malformed: message"] = status(bad), message(bad)
    return out


@case("field-selectors", "list with field selectors: name, namespace, an unsupported field, pod phase")
def field_selectors(t: Target) -> Observation:
    for name in ("x", "y"):
        t.post(t.core("configmaps"), cm(name))
    t.post(t.core("pods"), {"metadata": {"name": "p"}, "spec": {"schedulingGates": [{"name": "example.com/hold"}],
                                                               "containers": [{"name": "c", "image": PAUSE}]}})

    def names(reply: rawapi.Reply) -> list[str]:
        return sorted(i["metadata"]["name"] for i in _body(reply).get("items", []))
    unsupported = t.get(t.core("configmaps"), fieldSelector="data.a=1")
    return {"metadata.name=x": names(t.get(t.core("configmaps"), fieldSelector="metadata.name=x")),
            "metadata.name!=x": [n for n in names(t.get(t.core("configmaps"), fieldSelector="metadata.name!=x"))
                                 if n != "kube-root-ca.crt"],
            "metadata.namespace (all namespaces)": names(t.get("/api/v1/configmaps", fieldSelector=(
                f"metadata.namespace={t.namespace},metadata.name=y"))),
            "data.a=1: status": status(unsupported), "data.a=1: message": message(unsupported),
            "pods status.phase=Pending": names(t.get(t.core("pods"), fieldSelector="status.phase=Pending")),
            "pods spec.nodeName=": names(t.get(t.core("pods"), fieldSelector="spec.nodeName="))}


@case("paging", "list 5 ConfigMaps 2 at a time, following continue")
def paging(t: Target) -> Observation:
    for i in range(5):
        t.post(t.core("configmaps"), {**cm(f"p{i}"), "metadata": {"name": f"p{i}", "labels": {"case": "page"}}})
    pages, token, versions = [], None, set()
    for _ in range(5):
        page = _body(t.get(t.core("configmaps"), labelSelector="case=page", limit=2, **{"continue": token}))
        meta = page.get("metadata", {})
        pages.append({"names": [i["metadata"]["name"] for i in page.get("items", [])],
                      "continue": bool(meta.get("continue")), "remainingItemCount": meta.get("remainingItemCount")})
        versions.add(meta.get("resourceVersion"))
        token = meta.get("continue")
        if not token:
            break
    return {"pages": pages, "one resourceVersion for all pages": len(versions) == 1}


@case("paging-bad-continue", "list with a continue token that is not one")
def paging_bad_continue(t: Target) -> Observation:
    bad = t.get(t.core("configmaps"), limit=2, **{"continue": "garbage"})
    return {"status": status(bad), "message": message(bad)}


@case("list-resource-version", "list with resourceVersion=0, Exact and NotOlderThan, and a match without a version")
def list_resource_version(t: Target) -> Observation:
    t.post(t.core("configmaps"), cm("c"))
    current = _body(t.get(t.core("configmaps")))["metadata"]["resourceVersion"]
    any_ = t.get(t.core("configmaps"), resourceVersion="0")
    exact = t.get(t.core("configmaps"), resourceVersion=current, resourceVersionMatch="Exact")
    newer = t.get(t.core("configmaps"), resourceVersion=current, resourceVersionMatch="NotOlderThan")
    alone = t.get(t.core("configmaps"), resourceVersionMatch="Exact")
    return {"resourceVersion=0": status(any_), "Exact, current": status(exact),
            "Exact answers that version": _body(exact).get("metadata", {}).get("resourceVersion") == current,
            "NotOlderThan, current": status(newer), "match without version": status(alone),
            "match without version message": message(alone)}


@case("table", "GET the ConfigMaps as a Table (what kubectl get asks for)")
def table_(t: Target) -> Observation:
    t.post(t.core("configmaps"), {**cm("c"), "metadata": {"name": "c", "labels": {"case": "table"}}})
    got = t.call("GET", t.core("configmaps"), accept="application/json;as=Table;v=v1;g=meta.k8s.io",
                 labelSelector="case=table")
    body = _body(got)
    return {"status": status(got), "kind": body.get("kind"),
            "columns": [c.get("name") for c in body.get("columnDefinitions", [])],
            "rows: first cell, cell count": [[(r.get("cells") or [None])[0], len(r.get("cells") or [])]
                                             for r in body.get("rows", [])]}
