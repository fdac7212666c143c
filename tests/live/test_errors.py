"""API errors become the project's exception tree (NotFound, Conflict, Forbidden, Invalid, ServerError,
WatchExpired), each message naming the verb and the object and keeping the server's own words.

Real answers come from the embedded cluster (a 404 namespace, a 409 field-manager conflict, the Priority
plugin's 403, a 422 selector mismatch, a 400 field selector, a stopped server); the answers a healthy cluster
will not give on demand are injected with kmock's KubernetesEmulator. kmock runs on its own event-loop
thread because `Cluster` is synchronous (blocking calls from an async test would stall kmock's own loop).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Callable, Iterator

import kmock
import pytest
from kubernetes import client as k8s

from coldstart.errors import ClusterError, Conflict, Forbidden, Invalid, NotFound, ServerError, WatchExpired
from coldstart.live.cluster import Cluster, Target
from coldstart.live.ownership import stamped
from coldstart.live.transport import Backoff
from coldstart.live.wait import wait_pods_ready
from coldstart.profiles import load_profile

PROFILE = load_profile("baseline")
NS = PROFILE.namespace


def status(code: int, reason: str, message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason, "code": code}


def deployment(name: str = "d", namespace: str | None = "default", **labels: str) -> dict:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name, **labels}},
                                  "spec": {"containers": [{"name": "c", "image": PROFILE.image.pause}]}}}}


def connect(url: str, run_id: str = "e0000002") -> Cluster:
    conn = Cluster(k8s.ApiClient(k8s.Configuration(host=url)), Target("embedded"), PROFILE, run_id)
    conn.backoff = lambda: Backoff(sleep=lambda _: None)  # retries without the wait
    return conn


class _KmockThread:
    """kmock's KubernetesEmulator serving pods and deployments, on its own event loop."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        self.stopping = asyncio.Event()
        async with kmock.KubernetesEmulator() as handler, kmock.Server(handler, port=self.port) as server:
            handler.resources["v1/pods"] = kmock.ResourceInfo(kind="Pod", namespaced=True, subresources={"log"})
            handler.resources["apps/v1/deployments"] = kmock.ResourceInfo(kind="Deployment", namespaced=True)
            self.handler, self.url = handler, str(server.url).rstrip("/")
            self.ready.set()
            await self.stopping.wait()

    def __enter__(self) -> _KmockThread:
        self.thread.start()
        assert self.ready.wait(10), "kmock did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(10)


@pytest.fixture
def faulty() -> Iterator[tuple[kmock.KubernetesEmulator, Cluster]]:
    with _KmockThread() as server:
        conn = connect(server.url)
        yield server.handler, conn
        conn.api_client.close()


@pytest.fixture(scope="module")
def embedded() -> Iterator[Cluster]:
    with Cluster.connect("embedded", profile=PROFILE, run_id="e0000001") as conn:
        conn.ensure_namespace(NS)
        yield conn


def _raises(cls: type[ClusterError], call: Callable[[], object], verb: str, obj: str, words: str) -> ClusterError:
    with pytest.raises(cls) as err:
        call()
    error = err.value
    assert str(error).startswith(f"{verb} {obj}: "), str(error)
    assert words in str(error)
    assert (error.verb, error.obj, error.exit_code) == (verb, obj, 1)
    return error


# -- injected answers (kmock) ------------------------------------------------------------------------

_POD = "/api/v1/namespaces/default/pods"
_DEPLOY = "/apis/apps/v1/namespaces/default/deployments/d"


@pytest.mark.parametrize(("route", "code", "cls", "verb", "obj", "call"), [
    (f"get {_POD}/x", 403, Forbidden, "get", "Pod/default/x", lambda c: c.get("v1", "Pod", "x", "default")),
    (f"get {_POD}", 401, Forbidden, "list", "Pod in default", lambda c: c.list("v1", "Pod", "default")),
    (f"get {_POD}/x/log", 404, NotFound, "read log of", "Pod/default/x", lambda c: c.pod_logs("x", "default")),
    (f"patch {_DEPLOY}", 409, Conflict, "apply", "Deployment/default/d", lambda c: c.apply([deployment()])),
    (f"patch {_DEPLOY}", 422, Invalid, "apply", "Deployment/default/d", lambda c: c.apply([deployment()])),
    (f"get {_POD}", 400, Invalid, "list", "Pod in default", lambda c: c.list("v1", "Pod", "default")),
    (f"get {_POD}", 500, ServerError, "list", "Pod in default", lambda c: c.list("v1", "Pod", "default")),
    (f"patch {_DEPLOY}", 503, ServerError, "apply", "Deployment/default/d", lambda c: c.apply([deployment()])),
    (f"get {_POD}?watch=true", 410, WatchExpired, "watch", "Pod in default",
     lambda c: c.watch("v1", "Pod", "default", resource_version="5", timeout=10)),
])
def test_injected_api_errors_become_the_exception_tree(faulty, route, code, cls, verb, obj, call):
    handler, conn = faulty
    # the Deployment exists and is coldstart's (an earlier run's), so apply goes ahead and meets the injected answer
    handler.objects[kmock.resource("apps", "v1", "deployments"), "default", "d"] = stamped(deployment(), "e0000003",
                                                                                            "absent")
    words = f"injected {code} for {verb}"
    handler[route] << code << status(code, cls.__name__, words)
    error = _raises(cls, lambda: call(conn), verb, obj, words)
    assert error.status == code and str(error).endswith(f"(HTTP {code})")


def test_a_gateway_page_instead_of_a_status_still_names_verb_and_object(faulty):
    handler, conn = faulty
    handler[f"get {_POD}"] << 502 << b"<html><body>502 Bad Gateway</body></html>"
    error = _raises(ServerError, lambda: conn.list("v1", "Pod", "default"), "list", "Pod in default", "Bad Gateway")
    assert error.status == 502


def test_a_410_in_the_watch_stream_is_watch_expired(faulty):
    handler, conn = faulty
    gone = {"type": "ERROR", "object": status(410, "Expired", "too old resource version: 5 (90)")}
    handler[f"get {_POD}?watch=true"] << json.dumps(gone).encode() + b"\n"
    stream = conn.watch("v1", "Pod", "default", resource_version="5", timeout=10)
    with pytest.raises(WatchExpired, match=r"^watch Pod in default: too old resource version: 5 \(90\)$"):
        list(stream)


def test_a_wait_relists_when_the_watch_answers_410_as_its_http_status(faulty):
    """Some servers answer a too-old version with HTTP 410 instead of an ERROR event: the wait relists."""
    handler, conn = faulty

    def pod(ready: bool) -> dict:
        return {"kind": "Pod", "apiVersion": "v1",
                "metadata": {"name": "x", "namespace": "default", "creationTimestamp": "2026-01-01T00:00:00Z"},
                "status": {"conditions": [{"type": "Ready", "status": str(ready),
                                           "lastTransitionTime": "2026-01-01T00:01:00Z"}]}}

    handler[f"get {_POD}?watch=true&resourceVersion=5"] << 410 << status(410, "Expired", "too old resource version")
    handler[f"get {_POD}?watch=true&resourceVersion=6"] << json.dumps(
        {"type": "MODIFIED", "object": pod(True)}).encode() + b"\n"
    versions = iter(["5", "6"])
    handler[f"get {_POD}"] << (lambda: {"kind": "PodList", "apiVersion": "v1", "items": [pod(False)],
                                        "metadata": {"resourceVersion": next(versions)}})
    ready = wait_pods_ready(conn, "default", "app=x", 1, timeout=300)
    assert [p["metadata"]["name"] for p in ready] == ["x"]
    watched = [r.params.get("resourceVersion") for r in handler if r.params.get("watch") == "true"]
    assert watched == ["5", "6"]


def test_a_kind_the_server_does_not_serve_is_not_found_and_says_why(faulty):
    _, conn = faulty
    _raises(NotFound, lambda: conn.list("serving.kserve.io/v1beta1", "InferenceService", "default"),
            "discover", "InferenceService", "is its CRD installed?")


def test_discovery_is_not_taken_from_an_earlier_server_at_the_same_url():
    """The client's discovery cache file is keyed by URL alone: without a connection-own cache, kmock on the
    port an embedded cluster just left would be believed to serve InferenceService."""
    with Cluster.connect("embedded", profile=PROFILE) as before:
        before.list("serving.kserve.io/v1beta1", "InferenceService", NS)  # discovered: KServe is served
        port = int(before.embedded.url.rsplit(":", 1)[1])
    with _KmockThread(port) as server:
        assert server.url.endswith(f":{port}")
        conn = connect(server.url)
        _raises(NotFound, lambda: conn.list("serving.kserve.io/v1beta1", "InferenceService", "default"),
                "discover", "InferenceService", "is its CRD installed?")
        conn.api_client.close()


def test_a_missing_object_is_none_for_get_and_not_an_error(faulty):
    _, conn = faulty
    assert conn.get("v1", "Pod", "nobody", "default") is None


# -- real answers (embedded cluster) -----------------------------------------------------------------


def test_applying_into_a_missing_namespace_is_not_found(embedded):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "nowhere"}}
    _raises(NotFound, lambda: embedded.apply([cm]), "apply", "ConfigMap/nowhere/x", 'namespaces "nowhere" not found')


def test_the_log_of_a_missing_pod_is_not_found(embedded):
    _raises(NotFound, lambda: embedded.pod_logs("nobody", NS), "read log of", f"Pod/{NS}/nobody",
            'pods "nobody" not found')


def test_a_field_owned_by_another_manager_is_a_conflict_unless_forced(embedded):
    """coldstart created the Deployment, then kubectl took spec.replicas (as an HPA or `kubectl scale` would);
    an apply that does not force takes a 409 naming the owner."""
    embedded.apply([deployment("owned", NS)])
    other = k8s.AppsV1Api(embedded.api_client)
    other.patch_namespaced_deployment("owned", NS, deployment("owned", NS), field_manager="kubectl",
                                      force=True, _content_type="application/apply-patch+yaml")
    mine = deployment("owned", NS)
    mine["spec"]["replicas"] = 2
    error = _raises(Conflict, lambda: embedded.apply([mine]), "apply", f"Deployment/{NS}/owned",
                    'conflict with "kubectl"')
    assert error.status == 409  # coldstart does not take another manager's field by default
    assert error.reason == "FieldManagerConflict"  # from the Status cause: not retried as an optimistic 409
    assert "spec.replicas" in embedded.apply([mine], force=True)[0].changes  # forced, it wins


def test_a_pod_naming_a_missing_priority_class_is_forbidden(embedded):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": NS},
           "spec": {"priorityClassName": "missing", "containers": [{"name": "c", "image": PROFILE.image.pause}]}}
    _raises(Forbidden, lambda: embedded.apply([pod]), "apply", f"Pod/{NS}/p", "no PriorityClass with name missing")


def test_an_invalid_object_is_invalid_with_the_field(embedded):
    broken = deployment("broken", NS)
    broken["spec"]["selector"]["matchLabels"] = {"app": "other"}
    error = _raises(Invalid, lambda: embedded.apply([broken]), "apply", f"Deployment/{NS}/broken",
                    "`selector` does not match template `labels`")
    assert error.status == 422 and "spec.template.metadata.labels" in str(error)


def test_a_field_selector_the_server_does_not_index_is_invalid(embedded):
    error = _raises(Invalid, lambda: embedded.list("v1", "Pod", NS, field_selector="spec.image=x"), "list",
                    f"Pod in {NS}", "field label not supported: spec.image")
    assert error.status == 400


def test_a_server_that_went_away_is_a_server_error():
    with Cluster.connect("embedded", profile=PROFILE) as conn:
        conn.list("v1", "Pod", NS)  # discovered and talking
        conn.embedded.stop()
        error = _raises(ServerError, lambda: conn.list("v1", "Pod", NS), "list", f"Pod in {NS}",
                        "cannot reach the API server")
        assert error.status is None


def test_a_server_that_was_never_there_is_a_server_error():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn = connect(f"http://127.0.0.1:{port}")
    _raises(ServerError, lambda: conn.get("v1", "Pod", "x", NS), "discover", f"Pod/{NS}/x",
            "cannot reach the API server")
    conn.api_client.close()


def test_every_cluster_error_keeps_the_verb_object_and_status_for_callers(embedded):
    with pytest.raises(ClusterError) as err:  # callers catching the base class get the same detail
        embedded.pod_logs("nobody", NS)
    assert isinstance(err.value, NotFound) and err.value.status == 404
