"""The only module that talks to Kubernetes: apply, read back, watch and wait, on a live cluster or the
embedded one, always through the official `kubernetes` client.

- Targets: `embedded` (the default), `kubeconfig:<context>`, `in-cluster`. A live target must be named
  and allowed by the profile (`clusters.allowed_contexts` / `allow_in_cluster`); anything else is refused
  before a single request is sent, and nothing ever falls back from one target to another.
- Apply is server-side apply (field manager `coldstart`) in dependency order; every object coldstart creates
  carries `app.kubernetes.io/managed-by: coldstart`, this run's id and a creation mark, so cleanup deletes
  exactly this run's objects, in reverse order, and nothing else; an object that exists and was not created by
  coldstart is refused before any write (coldstart.live.ownership). `dry_run=True` sends `dryRun=All` and
  reports what would change. Requests are retried with backoff where that is safe (coldstart.live.transport).
- Waiting lists once, then watches from that resourceVersion with a server-side timeout, resuming on
  stream ends and relisting on `410 Gone`; cluster time comes from the API server's `Date` header (the
  embedded cluster's is virtual), so budgets mean the same on both kinds of cluster.
"""

from __future__ import annotations

import builtins  # `builtins.list` in Cluster's annotations: inside the class, `list` is its method
import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.dynamic import DynamicClient  # unannotated, as are the config loaders and watch helpers

from coldstart.errors import ClusterError, InputError, NotFound, ServerError
from coldstart.inputs.kubeconfig import check_kubeconfig
from coldstart.kube.kinds import api_version as api_version_of
from coldstart.kube.labels import FIELD_MANAGER, MANAGED_BY, MANAGER, RUN_ID
from coldstart.levers.render import KIND_ORDER, apply_order, object_name
from coldstart.live.ownership import Owner, deletable, owner_of, refusal, stamped, validate_run_id
from coldstart.live.targets import Target, check_allowed, new_run_id, parse_target
from coldstart.live.transport import Backoff, ConnectionDiscoverer, WatchStream, with_retries
from coldstart.profiles import Profile

if TYPE_CHECKING:  # imported where it is started (start-up cost), named here for the types
    from coldstart.embedded.cluster import EmbeddedCluster

LIST_PAGE = 500  # items per list request, as kubectl pages
_WATCH_READ_TIMEOUT = 300  # wall seconds without a byte (bookmarks keep a healthy stream talking)


# (document, API resource, namespace, the object as the server holds it, who made it)
_Planned = tuple[dict[str, Any], Any, "str | None", "dict[str, Any] | None", Owner]


def _foreign(planned: list[_Planned]) -> list[str]:
    """Objects someone else made (an existing Namespace is not one: we run in it and leave it alone)."""
    return [object_name(doc) for doc, _, _, _, owner in planned if owner == "foreign" and doc["kind"] != "Namespace"]


@dataclass
class Applied:
    """What apply did to one object: created, configured (with the changed fields) or unchanged."""

    object: str
    action: str
    dry_run: bool
    changes: list[str] = field(default_factory=list)


def _changed_paths(before: Any, after: Any, prefix: str = "") -> list[str]:
    if isinstance(before, dict) and isinstance(after, dict):
        out: list[str] = []
        for key in sorted(set(before) | set(after)):
            if key in ("status", "managedFields", "resourceVersion", "generation", "uid", "creationTimestamp"):
                continue
            out += _changed_paths(before.get(key), after.get(key), f"{prefix}.{key}" if prefix else key)
        return out
    return [] if before == after else [prefix]


class Cluster:
    """One cluster (live or embedded) seen through the official client, scoped to one run."""

    def __init__(self, api_client: k8s_client.ApiClient, target: Target, profile: Profile, run_id: str,
                 embedded: EmbeddedCluster | None = None, *, owns_embedded: bool = False):
        self.api_client, self.target, self.profile, self.run_id = api_client, target, profile, run_id
        self.embedded = embedded
        self._owns_embedded = owns_embedded  # started by connect(), so stopped by close()
        self.backoff: Callable[[], Backoff] = Backoff  # each request's retries (tests swap in one that never sleeps)

    @cached_property
    def dynamic(self) -> DynamicClient:
        """Discovery happens on first use, not on connect: connecting sends no request. It is remembered for
        this connection only (a path that is never written, so there is nothing to read)."""
        never_written = os.path.join(tempfile.gettempdir(), f"coldstart-discovery-{uuid.uuid4().hex}.json")
        return DynamicClient(
            self.api_client, cache_file=never_written, discoverer=ConnectionDiscoverer)

    @classmethod
    def connect(cls, target: str | Target = "embedded", *, profile: Profile, run_id: str | None = None,
                embedded: EmbeddedCluster | None = None) -> Cluster:
        """Connect to the named target (refusing disallowed live ones before any request)."""
        target = parse_target(target) if isinstance(target, str) else target
        check_allowed(target, profile)
        owns = False
        configuration = k8s_client.Configuration()
        if target.kind == "embedded":
            if embedded is None:
                from coldstart.embedded.cluster import EmbeddedCluster  # start-up cost: only when asked for

                embedded, owns = EmbeddedCluster(profile).start(), True
            configuration.host = embedded.url
        elif target.kind == "kubeconfig":
            path = os.pathsep.join(check_kubeconfig())  # bounded first: a FIFO or /dev/zero would block the client
            try:  # KUBECONFIG is read now, not at import time (the client's default is frozen at import)
                k8s_config.load_kube_config(config_file=path, context=target.context,
                                            client_configuration=configuration)
            except (k8s_config.ConfigException, OSError, ValueError, yaml.YAMLError) as exc:
                raise InputError(f"kubeconfig {path}, context {target.context!r}: {exc}") from None
        else:
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)
            except k8s_config.ConfigException as exc:
                raise InputError(f"in-cluster target: {exc} (are we running in a pod?)") from None
        configuration.retries = 0  # retries are ours (coldstart.live.transport): bounded, backed off and quiet
        api_client = k8s_client.ApiClient(configuration)
        return cls(api_client, target, profile, run_id or new_run_id(), embedded, owns_embedded=owns)

    def close(self) -> None:
        """Close the connection (and stop an embedded cluster that connect() started for it)."""
        self.api_client.close()
        if self.embedded is not None and self._owns_embedded:
            self.embedded.stop()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- low level ---------------------------------------------------------------------------------
    def _resource(self, api_version: str, kind: str, obj: str) -> Any:
        return with_retries("discover", obj, lambda: self.dynamic.resources.get(api_version=api_version, kind=kind),
                            self.backoff())

    def _call(self, verb: str, obj: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request, retried with backoff when the server sheds load, fails or drops the connection."""
        return with_retries(verb, obj, lambda: fn(*args, **kwargs), self.backoff())

    @staticmethod
    def _json(resp: Any) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(resp.data.decode("utf-8"))  # every answer we read is an object
        return body

    @staticmethod
    def _date(resp: Any) -> float:
        """Cluster time from the response's Date header (virtual on the embedded cluster)."""
        header = resp.headers.get("Date")
        return parsedate_to_datetime(header).timestamp() if header else 0.0

    # -- objects -----------------------------------------------------------------------------------
    def namespace_for(self, api_version: str, kind: str) -> str | None:
        """The profile's namespace for a namespaced kind, None for a cluster-scoped one (asks discovery)."""
        return self.profile.namespace if self._resource(api_version, kind, kind).namespaced else None

    def run_selector(self, run_id: str | None = None) -> str:
        """The label selector of everything one run created."""
        return f"{MANAGED_BY}={MANAGER},{RUN_ID}={run_id or self.run_id}"

    def ensure_namespace(self, namespace: str) -> None:
        """Create the namespace (as this run's) if it does not exist; an existing one is never touched."""
        if self.get("v1", "Namespace", namespace) is None:
            self.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}])

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object as the API server holds it, or None when it does not exist (the answer apply and
        ensure_namespace need; every other error is raised)."""
        obj = f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"
        resource = self._resource(api_version, kind, obj)
        try:
            resp = self._call("get", obj, self.dynamic.get, resource, name=name, namespace=namespace, serialize=False)
        except NotFound:
            return None
        return self._json(resp)

    def list(self, api_version: str, kind: str, namespace: str | None = None, *, label_selector: str | None = None,
             field_selector: str | None = None) -> tuple[list[dict[str, Any]], str, float]:
        """Items, the list's resourceVersion, and the cluster time of the answer. Read in pages of LIST_PAGE
        (a big cluster's events would otherwise come as one huge answer); an expired continue token lists again."""
        resource = self._resource(api_version, kind, kind)
        what = f"{kind} in {namespace or 'all namespaces'}"
        for _attempt in range(3):
            items: list[dict[str, Any]] = []
            token, first = None, None
            try:
                while True:
                    resp = self._call("list", what, self.dynamic.get, resource, namespace=namespace,
                                      label_selector=label_selector, field_selector=field_selector, limit=LIST_PAGE,
                                      _continue=token, serialize=False)
                    body = self._json(resp)
                    first = first or (body.get("metadata", {}).get("resourceVersion", ""), self._date(resp))
                    items += body.get("items") or []
                    token = body.get("metadata", {}).get("continue")
                    if not token:
                        break
            except ClusterError as exc:
                if exc.status == 410 and token:  # the continue token expired between pages: start again
                    continue
                raise
            for item in items:  # list items carry no kind on real API servers; downstream parsers want it
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
            return items, first[0], first[1]
        raise ServerError(f"list {what}: the list kept changing under its continue token; try again",
                          verb="list", obj=what)

    def apply(self, docs: Iterable[dict[str, Any]], *, dry_run: bool = False, force: bool = False,
              adopt: bool = False) -> builtins.list[Applied]:
        """Server-side apply every document in dependency order (field manager `coldstart`).

        Every object is read first (see coldstart.live.ownership): one that exists and was not created by
        coldstart stops the whole apply before any write (OwnershipRefused, exit 2), unless `adopt` is set; an
        adopted object gets our fields but no run labels, so no cleanup ever deletes it. An existing Namespace is
        left alone. Not forced by default: a field another manager owns (an HPA's replicas, a webhook's sidecar)
        is a Conflict naming that manager, not silently taken over."""
        planned = self._owners(docs)
        foreign = _foreign(planned)
        if foreign and not adopt:
            raise refusal(foreign)
        results = []
        for doc, resource, namespace, before, owner in planned:
            if owner == "foreign" and doc["kind"] == "Namespace":
                continue  # someone else's namespace: we run in it, we do not change it
            body = stamped(doc, self.run_id, owner)
            if namespace is not None:
                body["metadata"]["namespace"] = namespace
            obj = object_name(body)
            resp = self._call("apply", obj, self.dynamic.server_side_apply, resource, body=body,
                              name=body["metadata"]["name"], namespace=namespace, field_manager=FIELD_MANAGER,
                              force_conflicts=force or None, dry_run="All" if dry_run else None, serialize=False)
            after = self._json(resp)
            if before is None:
                results.append(Applied(obj, "created", dry_run))
            else:
                changes = _changed_paths(before, after)
                action = ("adopted" if owner == "foreign" else "configured") if changes else "unchanged"
                results.append(Applied(obj, action, dry_run, changes))
        return results

    def foreign(self, docs: Iterable[dict[str, Any]]) -> builtins.list[str]:
        """The objects among `docs` that exist and were not created by coldstart (only reads)."""
        return _foreign(self._owners(docs))

    def _owners(self, docs: Iterable[dict[str, Any]]) -> builtins.list[_Planned]:
        planned = []
        for doc in apply_order(docs):
            obj = object_name(doc)
            resource = self._resource(doc["apiVersion"], doc["kind"], obj)
            namespace = (doc["metadata"].get("namespace") or self.profile.namespace) if resource.namespaced else None
            before = self.get(doc["apiVersion"], doc["kind"], doc["metadata"]["name"], namespace)
            planned.append((doc, resource, namespace, before, owner_of(before)))
        return planned

    def delete_run(self, run_id: str | None = None, namespace: str | None = None,
                   kinds: Iterable[str] | None = None) -> builtins.list[str]:
        """Delete every object this run created, workloads first; return what was deleted.

        Found by the run label, then each one checked for the creation mark of this run (a label alone proves
        nothing); an adopted object has neither. Namespaces are left in place: deleting one would delete
        objects without our label too."""
        run = validate_run_id(run_id or self.run_id)
        selector = self.run_selector(run)
        deleted = []
        wanted = set(kinds) if kinds is not None else set(KIND_ORDER)  # the kinds the run applied, when known
        for kind in [k for k in reversed(KIND_ORDER) if k in wanted]:
            if kind == "Namespace":
                continue  # deleting a namespace would take other people's objects in it along
            api_version = api_version_of(kind)
            try:
                resource = self._resource(api_version, kind, kind)
            except NotFound:  # kind not served by this cluster (e.g. no KServe): nothing of ours there
                continue
            ns = (namespace or self.profile.namespace) if resource.namespaced else None
            items, _, _ = self.list(api_version, kind, ns, label_selector=selector)
            for item in items:
                if not deletable(item, run):
                    continue
                meta = item["metadata"]
                obj = object_name({"kind": kind, "metadata": meta})
                with contextlib.suppress(NotFound):  # already gone: a garbage collector was faster
                    self._call("delete", obj, self.dynamic.delete, resource, name=meta["name"],
                               namespace=meta.get("namespace"), propagation_policy="Background")
                deleted.append(obj)
        return deleted

    # -- watching ----------------------------------------------------------------------------------
    def watch(self, api_version: str, kind: str, namespace: str | None, *, resource_version: str, timeout: float,
              label_selector: str | None = None, field_selector: str | None = None) -> WatchStream:
        """(type, object) pairs from resource_version on, until the server ends the stream after `timeout`
        cluster seconds (or `close()`). Iterating raises `WatchExpired` when the version is too old."""
        resource = self._resource(api_version, kind, kind)
        what = f"{kind} in {namespace or 'all namespaces'}"
        resp = self._call("watch", what, self.dynamic.request, "get", resource.path(namespace=namespace),
                          watch=True, resource_version=resource_version, timeout_seconds=max(1, int(timeout)),
                          allow_watch_bookmarks=True, label_selector=label_selector, field_selector=field_selector,
                          serialize=False, _request_timeout=(10, _WATCH_READ_TIMEOUT))
        return WatchStream(resp, what)

    def pod_logs(self, name: str, namespace: str, container: str | None = None, *, timestamps: bool = True,
                 previous: bool = False) -> str:
        """A container's log as the kubelet keeps it (with RFC3339 timestamps by default)."""
        resource = self._resource("v1", "Pod", f"Pod/{namespace}/{name}")
        path = resource.path(name=name, namespace=namespace) + "/log"
        query = [("timestamps", str(timestamps).lower())]
        if container:
            query.append(("container", container))
        if previous:
            query.append(("previous", "true"))
        # Errors come as a JSON Status: a real API server answers 406 to a request accepting text/plain alone.
        resp = self._call("read log of", f"Pod/{namespace}/{name}", self.dynamic.request, "get", path,
                          query_params=query, header_params={"Accept": "text/plain, application/json"},
                          serialize=False)
        return str(resp.data.decode("utf-8", errors="replace"))
