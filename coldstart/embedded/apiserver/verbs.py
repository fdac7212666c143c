"""The REST verbs on objects: get, list, create, update, patch (four kinds), delete, deletecollection, and
the `status` subresource, with the real server's semantics for each (see the module docstrings of
patch.py, managed.py and admission.py for the parts they own).

Writes go store-ward in one order: decode, prepare (strategy: status reset, identity from the URL),
admission, field ownership, no-op detection (an unchanged object keeps its resourceVersion and sends no
watch event, like etcd3's GuaranteedUpdate), then the store, retrying on a concurrent change for patches.
"""

from __future__ import annotations

import base64
import builtins
import json
from collections.abc import Callable
from typing import Any

from coldstart.embedded.apiserver import errors as apierrors
from coldstart.embedded.apiserver import managed, validation
from coldstart.embedded.apiserver.admission import Admission
from coldstart.embedded.apiserver.calls import Call, Reply, check_field_selector, decode, split_status, status_success
from coldstart.embedded.apiserver.errors import ApiError, bad_request
from coldstart.embedded.store.resources import BY_KEY, Resource
from coldstart.embedded.store.store import BadSelector, Expired, Store, StoreError, clone, rfc3339
from coldstart.kube import patch

NAMESPACE = BY_KEY["/Namespace"]
# kinds whose DELETE answers with the deleted object (the rest answer with a Status), as kube-apiserver does
RETURNS_DELETED = {"/Pod", "/PersistentVolumeClaim", "/PersistentVolume", "/Service", "/ServiceAccount",
                   "storage.k8s.io/StorageClass"}
BUILTIN_GROUPS = {"", "apps", "batch", "scheduling.k8s.io", "storage.k8s.io", "policy", "autoscaling"}
PATCH_TYPES = {"application/json-patch+json": patch.json_patch, "application/merge-patch+json": patch.merge_patch,
               "application/strategic-merge-patch+json": patch.strategic_merge}
APPLY = "application/apply-patch+yaml"
ORPHAN, FOREGROUND = "orphan", "foregroundDeletion"  # the garbage collector's finalizers


class Verbs:
    """Object verbs over a store, with admission; the HTTP layer turns Calls into these."""

    def __init__(self, store: Store, admission: Admission):
        self.store, self.admission = store, admission

    # -- incoming objects ----------------------------------------------------------------------------
    def prepare(self, call: Call, obj: Any) -> dict:
        """Check an incoming object against the URL: kind, apiVersion, namespace and name."""
        r = call.resource
        if not isinstance(obj, dict):
            raise bad_request("the object provided is not a JSON object")
        obj.setdefault("apiVersion", r.api_version)
        obj.setdefault("kind", r.kind)
        if obj["kind"] != r.kind or obj["apiVersion"] != r.api_version:
            raise bad_request(f"the API version in the data ({obj['apiVersion']}) does not match the expected API "
                              f"version ({r.api_version})" if obj["kind"] == r.kind else
                              f"the kind in the data ({obj['kind']}) does not match the expected kind ({r.kind})")
        meta = obj.get("metadata")
        if meta is None:
            meta = obj["metadata"] = {}
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if r.namespaced:
            if meta.get("namespace") and meta["namespace"] != call.namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on "
                                  "the request")
            meta["namespace"] = call.namespace
        else:
            meta.pop("namespace", None)
        if call.name is not None:
            if meta.get("name") and meta["name"] != call.name:
                raise bad_request(f"the name of the object ({meta['name']}) does not match the name on the URL "
                                  f"({call.name})")
            meta["name"] = call.name
        call.warnings = validation.check(r, obj, call.query.get("fieldValidation"), call.duplicates)
        return obj

    # -- reads ---------------------------------------------------------------------------------------
    def current(self, call: Call) -> dict:
        obj = self.store.get(call.resource.key, call.namespace or "", call.name or "")
        if obj is None:
            raise apierrors.not_found(call.resource, call.name or "")
        return obj

    def get(self, call: Call) -> Reply:
        return Reply(200, self.current(call))

    def list(self, call: Call) -> Reply:
        r, q = call.resource, call.query
        check_field_selector(r, q.get("fieldSelector"))
        items, rv = self._listed(call)
        items = sorted(items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if q.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(q["continue"].encode()))
                after, meta["resourceVersion"] = tuple(token["after"]), token["rv"]
            except (ValueError, KeyError, TypeError) as exc:
                raise bad_request("continue key is not valid: incorrect encoded start resourceVersion") from exc
            if int(token["rv"]) < self.store.oldest_version:
                fresh = json.dumps(dict(token, rv=str(rv))).encode()
                raise apierrors.expired_continue(base64.urlsafe_b64encode(fresh).decode())
            items = [o for o in items if (o["metadata"].get("namespace", ""), o["metadata"]["name"]) > after]
        limit = int(q["limit"]) if q.get("limit", "").isdigit() and int(q["limit"]) > 0 else 0
        if limit and len(items) > limit:
            last = items[limit - 1]["metadata"]
            token = {"rv": meta["resourceVersion"], "after": [last.get("namespace", ""), last["name"]]}
            meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
            if not (q.get("labelSelector") or q.get("fieldSelector")):  # unknown once a selector filters
                meta["remainingItemCount"] = len(items) - limit
            items = items[:limit]
        if r.group in BUILTIN_GROUPS:  # kube-apiserver leaves kind/apiVersion off built-in list items
            items = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
        return Reply(200, {"kind": f"{r.kind}List", "apiVersion": r.api_version, "metadata": meta, "items": items})

    def _listed(self, call: Call) -> tuple[builtins.list[dict], int]:  # `list`: the method above
        """The list's items and resourceVersion: the current state, or the state at an exact resourceVersion."""
        r, q = call.resource, call.query
        match, wanted = q.get("resourceVersionMatch"), q.get("resourceVersion")
        if match and not wanted:
            raise apierrors.invalid_options("ListOptions", "resourceVersionMatch", "FieldValueForbidden",
                                            "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is "
                                            "provided")
        try:
            if match == "Exact" and wanted and wanted.isdigit() and int(wanted) > 0:
                return self.store.list_at(r.key, int(wanted), call.namespace, q.get("labelSelector"),
                                          q.get("fieldSelector")), int(wanted)
            return self.store.list(r.key, call.namespace, q.get("labelSelector"), q.get("fieldSelector"))
        except Expired as exc:
            raise apierrors.gone(str(exc)) from exc
        except (StoreError, BadSelector) as exc:
            raise bad_request(str(exc)) from exc

    # -- create --------------------------------------------------------------------------------------
    def create(self, call: Call, obj: dict | None = None, manager_op: str = "Update", config: dict | None = None,
               force: bool = False) -> Reply:
        r = call.resource
        obj = self.prepare(call, decode(call) if obj is None else obj)
        meta = obj["metadata"]
        self._namespace_open(call, meta.get("name") or meta.get("generateName", ""))
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + self.store.name_suffix()
        for key in ("resourceVersion", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds",
                    "creationTimestamp", "selfLink"):
            meta.pop(key, None)
        meta["uid"] = self.store.new_uid()
        if split_status(r) and r.key != "/Node":  # a kubelet registers its Node with status; others start empty
            obj.pop("status", None)
            if r.group in BUILTIN_GROUPS:  # a Go struct: `status: {}` (a custom resource's is absent)
                obj["status"] = {}
        dry = call.dry_run
        obj = self.admission.admit(r, obj, "CREATE")
        now = rfc3339(self.store.now())
        if config is not None:
            managed.record_apply(None, obj, config, call.manager, None, split_status(r), force, r.api_version, now)
        else:
            managed.record_update(None, obj, call.manager, None, split_status(r), r.api_version, now)
        if dry:
            meta.setdefault("creationTimestamp", now)
            meta["generation"] = 1
            return Reply(201, obj)
        try:
            return Reply(201, self.store.create(obj))
        except StoreError as exc:
            raise apierrors.from_store(exc, r, meta["name"]) from exc

    def _namespace_open(self, call: Call, name: str) -> None:
        if not call.resource.namespaced:
            return
        ns = self.store.get("/Namespace", "", call.namespace or "")
        if ns is None:
            raise apierrors.not_found(NAMESPACE, call.namespace or "")
        if ns["metadata"].get("deletionTimestamp"):
            raise apierrors.forbidden(call.resource, name, f"unable to create new content in namespace "
                                      f"{call.namespace} because it is being terminated")

    # -- update / patch / apply ----------------------------------------------------------------------
    def update(self, call: Call) -> Reply:
        incoming = self.prepare(call, decode(call))
        wanted_rv = incoming["metadata"].get("resourceVersion") or None

        def build(current: dict) -> dict:
            return self._strategy(call, current, clone(incoming))

        return self._guaranteed_update(call, build, wanted_rv)

    def patch(self, call: Call) -> Reply:
        ctype = call.content_type.split(";")[0].strip().lower()
        if ctype == APPLY:
            return self.apply(call)
        if "force" in call.query:
            raise bad_request("force flag can only be used with Apply patch")
        if ctype == "application/strategic-merge-patch+json" and call.resource.group not in BUILTIN_GROUPS:
            raise apierrors.unsupported_media("application/json-patch+json, application/merge-patch+json, "
                                              "application/apply-patch+yaml")
        fn = PATCH_TYPES.get(ctype)
        if fn is None:
            raise apierrors.unsupported_media(", ".join([*PATCH_TYPES, APPLY]))
        body = decode(call)

        def build(current: dict) -> dict:
            patched = self.patched(fn, clone(current), body)
            call.warnings = validation.check(call.resource, patched, call.query.get("fieldValidation"))
            return self._strategy(call, current, patched)

        return self._guaranteed_update(call, build, None)

    @staticmethod
    def patched(fn: Callable[[Any, Any], Any], doc: Any, body: Any) -> dict:
        """Apply one patch body, mapping its errors onto the real server's 400/422."""
        try:
            result = fn(doc, body)
        except patch.MalformedPatch as exc:
            raise bad_request(str(exc)) from exc
        except patch.PatchError as exc:
            raise ApiError(422, "Invalid", str(exc)) from exc
        if not isinstance(result, dict):
            raise ApiError(422, "Invalid", "the patch turned the object into a non-object")
        return result

    def _strategy(self, call: Call, current: dict, new: dict) -> dict:
        """What an update may change: identity stays, status only through /status, the rest not through it."""
        r, meta = call.resource, new.setdefault("metadata", {})
        if new.get("kind", r.kind) != r.kind or new.get("apiVersion", r.api_version) != r.api_version:
            raise bad_request("the kind or apiVersion of an object cannot be changed by an update")
        if meta.get("name", call.name) != call.name or meta.get("namespace", call.namespace) != current[
                "metadata"].get("namespace", call.namespace):
            raise bad_request("the name and namespace of an object cannot be changed")
        wanted = meta.get("resourceVersion")
        if wanted and wanted != current["metadata"]["resourceVersion"]:
            raise apierrors.conflict(r, call.name or "")
        if call.subresource == "status":
            status = new.get("status")
            new = clone(current)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        else:
            new["apiVersion"], new["kind"] = r.api_version, r.kind
            if split_status(r):
                if "status" in current:
                    new["status"] = current["status"]
                else:
                    new.pop("status", None)
            if meta.get("managedFields") != []:  # an explicit empty list resets ownership, like the real server
                meta.pop("managedFields", None)
                if current["metadata"].get("managedFields"):
                    meta["managedFields"] = current["metadata"]["managedFields"]
            for key in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
                if key in current["metadata"]:
                    meta[key] = current["metadata"][key]
                else:
                    meta.pop(key, None)
        new["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return new

    def apply(self, call: Call) -> Reply:
        r = call.resource
        if not call.query.get("fieldManager"):
            raise apierrors.invalid_options("PatchOptions", "fieldManager", "FieldValueRequired",
                                            "Required value: is required for apply patch")
        force = call.query.get("force", "false").lower() == "true"
        config = decode(call)
        if not isinstance(config, dict) or not config.get("apiVersion") or not config.get("kind"):
            raise bad_request("apply configuration must be an object with apiVersion and kind")
        config = self.prepare(call, config)
        if self.store.get(r.key, call.namespace or "", call.name or "") is None:
            if call.subresource is not None:
                raise apierrors.not_found(r, call.name or "")
            obj = managed.apply(None, config, call.manager, None, split_status(r))
            return self.create(call, obj, "Apply", config, force)

        def build(current: dict) -> dict:
            new = managed.apply(current, config, call.manager, call.subresource, split_status(r))
            return self._strategy(call, current, new)

        return self._guaranteed_update(call, build, None, config, force)

    def _guaranteed_update(self, call: Call, build: Callable[[dict], dict], wanted_rv: str | None,
                           config: dict | None = None, force: bool = False) -> Reply:
        r, dry = call.resource, call.dry_run
        for _ in range(8):
            current = self.current(call)
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise apierrors.conflict(r, call.name or "")
            new = build(current)
            new = self.admission.admit(r, new, "UPDATE", current, call.subresource)
            now, split = rfc3339(self.store.now()), split_status(r)
            try:
                if config is not None:
                    managed.record_apply(current, new, config, call.manager, call.subresource, split, force,
                                         r.api_version, now)
                else:
                    managed.record_update(current, new, call.manager, call.subresource, split, r.api_version, now)
            except managed.ApplyConflict as exc:
                raise _apply_conflict(exc) from exc
            if unchanged(current, new):
                return Reply(200, current)
            if dry:
                return Reply(200, new)
            meta = new["metadata"]
            if meta.get("deletionTimestamp") and not meta.get("finalizers") and r.key != "/Namespace":
                return self._remove(call, current)  # the last finalizer removed (a Namespace: the controller's)
            try:
                return Reply(200, self.store.replace(new, expect_rv=current["metadata"]["resourceVersion"]))
            except StoreError as exc:
                if exc.status != 409 or wanted_rv:
                    raise apierrors.from_store(exc, r, call.name or "") from exc
        raise apierrors.conflict(r, call.name or "")

    # -- delete --------------------------------------------------------------------------------------
    def delete(self, call: Call) -> Reply:
        current = self.current(call)
        options = delete_options(call)
        policy = call.query.get("propagationPolicy") or options.get("propagationPolicy")
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise bad_request(f'propagationPolicy: Unsupported value: "{policy}": supported values: '
                              '"Foreground", "Background", "Orphan"')
        pre = (options or {}).get("preconditions") or {}
        meta = current["metadata"]
        for key in ("uid", "resourceVersion"):
            if pre.get(key) and pre[key] != meta.get(key):
                raise apierrors.precondition_failed(call.resource, call.name or "", key, pre[key], meta.get(key))
        if call.dry_run or options.get("dryRun") == ["All"]:
            return self._deleted_reply(call.resource, current)
        # Orphan and Foreground leave the object to the garbage collector behind a finalizer (controllers/gc.py); a
        # Namespace to the namespace controller, which empties it first (Terminating).
        finalizer = {"Orphan": ORPHAN, "Foreground": FOREGROUND}.get(policy or "")
        namespace = call.resource.key == "/Namespace"
        if meta.get("finalizers") or finalizer or namespace:
            held = 202 if options.get("orphanDependents") is False else 200  # kube-apiserver's only 202 (delete.go)
            if meta.get("deletionTimestamp") and finalizer in (None, *meta.get("finalizers", [])):
                return Reply(held, current)

            def mark(obj: dict) -> None:
                obj["metadata"].setdefault("deletionTimestamp", rfc3339(self.store.now()))
                obj["metadata"]["deletionGracePeriodSeconds"] = 0
                finalizers = obj["metadata"].setdefault("finalizers", [])
                if finalizer and finalizer not in finalizers:
                    finalizers.append(finalizer)
                if not finalizers:
                    del obj["metadata"]["finalizers"]
                if namespace:
                    obj.setdefault("status", {})["phase"] = "Terminating"

            marked = self.store.mutate(call.resource.key, call.namespace or "", call.name or "", mark)
            if marked is None:
                raise apierrors.not_found(call.resource, call.name or "")
            return Reply(held, marked)
        return self._remove(call, current)

    def _remove(self, call: Call, current: dict) -> Reply:
        try:
            gone = self.store.delete(call.resource.key, call.namespace or "", call.name or "")
        except StoreError as exc:
            raise apierrors.from_store(exc, call.resource, call.name or "") from exc
        return self._deleted_reply(call.resource, gone)

    @staticmethod
    def _deleted_reply(r: Resource, obj: dict) -> Reply:
        if r.key in RETURNS_DELETED or r.group not in BUILTIN_GROUPS:
            return Reply(200, obj)
        details = {"name": obj["metadata"]["name"], "kind": r.plural, "uid": obj["metadata"].get("uid")}
        if r.group:
            details["group"] = r.group
        return Reply(200, status_success(200, details))

    def delete_collection(self, call: Call) -> Reply:
        listed = self.list(Call("GET", call.resource, call.namespace, None, None,
                                {k: v for k, v in call.query.items() if k in ("labelSelector", "fieldSelector")}))
        deleted = []
        for obj in listed.body["items"]:
            one = Call("DELETE", call.resource, obj["metadata"].get("namespace"), obj["metadata"]["name"], None,
                       call.query, call.content_type, call.body, call.user_agent)
            try:
                reply = self.delete(one)
            except ApiError as exc:
                if exc.code == 404:
                    continue
                raise
            deleted.append(reply.body if reply.body.get("kind") != "Status" else obj)
        r = call.resource
        return Reply(200, {"kind": f"{r.kind}List", "apiVersion": r.api_version,
                           "metadata": {"resourceVersion": str(self.store.resource_version)}, "items": deleted})


def delete_options(call: Call) -> dict:
    """The DeleteOptions a DELETE carries in its body (kubectl sends dryRun, propagationPolicy and preconditions
    there, not in the query), checked like the real server checks them."""
    options = decode(call) if call.body.strip() else {}
    if not isinstance(options, dict):
        raise bad_request("the body of a DELETE must be a DeleteOptions object")
    dry = options.get("dryRun")
    if dry not in (None, [], ["All"]):
        raise bad_request(f"dryRun: Unsupported value: {json.dumps(dry)}: supported values: \"All\"")
    return options


def unchanged(old: dict, new: dict) -> bool:
    """True when an update would store the same object (managedFields timestamps aside)."""
    def strip(obj: dict) -> dict:
        meta = dict(obj.get("metadata") or {})
        meta.pop("resourceVersion", None)
        meta.pop("generation", None)
        meta["managedFields"] = [{k: v for k, v in e.items() if k != "time"} for e in meta.get("managedFields") or []]
        return {**obj, "metadata": meta}

    return strip(old) == strip(new)


def _apply_conflict(exc: managed.ApplyConflict) -> ApiError:
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {m}", "field": managed.dotted(p)}
              for m, p in exc.conflicts]
    return ApiError(409, "Conflict", str(exc), {"causes": causes})  # no name or kind, as kube-apiserver
