"""The two API servers the live path is tested against, behind one face: the embedded API server (its simulated
cluster switched off) and a real kube-apiserver (tests/support/realapi.py). The library reaches both the same way,
through a kubeconfig context the test's profile allows (`kubeconfig:<context>`), so it takes its live path and
no in-process shortcut; a test can ask either server which requests reached it since a mark.

Both are bare API servers here: the real one runs no scheduler, kubelet or workload controller, and the embedded
one runs with its simulation's controllers removed (its clock still moves, so watch timeouts still end). Where a
test needs pods to progress it plays the kubelet itself (tests/support/kwok.py).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from kubernetes import client as k8s

from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.embedded.store.resources import RESOURCES
from coldstart.live.cluster import Cluster
from coldstart.profiles import Profile, load_profile, profile_with
from tests.conftest import use_kubeconfig
from tests.support import rawapi
from tests.support.realapi import LIBRARY_AGENT, TEST_AGENT, ControlPlane, Request

EMBEDDED_CONTEXT, REAL_CONTEXT = "coldstart-embedded", "coldstart-real"
HANDS_AGENT = "kubectl/v1.35.4 (linux/amd64) kubernetes/coldstart-tests"  # a person's kubectl
_PLURALS = {r.key: r.plural for r in RESOURCES}


class Server(Protocol):
    name: str  # "embedded" | "real"
    context: str  # the kubeconfig context (KUBECONFIG points at a file that has it)
    namespace: str  # this test's own namespace

    def profile(self, name: str = "baseline", changes: dict[str, Any] | None = None) -> Profile: ...
    def connect(self, profile: Profile, run_id: str | None = None, cls: type[Cluster] = Cluster) -> Cluster: ...
    def hands(self) -> k8s.ApiClient: ...
    def mark(self) -> int: ...
    def requests_since(self, mark: int) -> list[Request]: ...
    def expire(self) -> None: ...
    def namespace_ready(self) -> None: ...


class _Common:
    name: str
    context: str
    namespace: str

    def profile(self, name: str = "baseline", changes: dict[str, Any] | None = None) -> Profile:
        """A shipped profile that allows this server's context and runs in this test's namespace."""
        return profile_with(load_profile(name), {"clusters.allowed_contexts": [self.context],
                                                 "namespace": self.namespace, **(changes or {})})

    def connect(self, profile: Profile, run_id: str | None = None, cls: type[Cluster] = Cluster) -> Cluster:
        return cls.connect(f"kubeconfig:{self.context}", profile=profile, run_id=run_id)

    def namespace_ready(self) -> None:
        """Create this test's namespace and wait until a pod may be created in it."""
        api = self.hands()
        try:
            rawapi.call(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": self.namespace}})
            self._pods_admitted(api)
        finally:
            api.close()

    def _pods_admitted(self, api: k8s.ApiClient) -> None:
        pass


class EmbeddedServer(_Common):
    name, context = "embedded", EMBEDDED_CONTEXT

    def __init__(self, cluster: EmbeddedCluster, namespace: str, history: int | None):
        self.cluster, self.namespace, self.history = cluster, namespace, history

    @property
    def url(self) -> str:
        return self.cluster.url

    def hands(self) -> k8s.ApiClient:
        api = k8s.ApiClient(k8s.Configuration(host=self.cluster.url))
        api.user_agent = HANDS_AGENT
        return api

    def mark(self) -> int:
        return len(self.cluster.api.requests)

    def requests_since(self, mark: int) -> list[Request]:
        """Every request since the mark (this server cannot tell clients apart: take the mark after the test's
        own writes, or filter)."""
        return [Request(r.verb, _PLURALS.get(r.key or "", ""), r.subresource or "", r.namespace or "", r.name or "",
                        r.path.split("?")[0], dict(r.query), "") for r in self.cluster.api.requests[mark:]]

    def expire(self) -> None:
        """Write each watched kind past the store's history, so every resourceVersion handed out so far is older
        than what the server keeps: 2 x history + 1 changes of Pods and of Events."""
        assert self.history is not None, "an expiring embedded server is made with a small history"
        api = self.hands()
        try:
            core = k8s.CoreV1Api(api)
            if self.cluster.store.get("/Pod", "default", "churn") is None:
                core.create_namespaced_pod("default", {"metadata": {"name": "churn"}, "spec": {
                    "schedulingGates": [{"name": "example.com/hold"}],
                    "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]}})
            for i in range(2 * self.history + 1):
                core.patch_namespaced_pod("churn", "default", {"metadata": {"annotations": {"churn": str(i)}}})
                core.create_namespaced_event("default", {
                    "metadata": {"generateName": "churn-"}, "reason": "Churn", "message": str(i), "type": "Normal",
                    "involvedObject": {"kind": "ConfigMap", "name": "churn", "namespace": "default"}})
        finally:
            api.close()


class RealServer(_Common):
    name = "real"

    def __init__(self, plane: ControlPlane, namespace: str):
        self.plane, self.namespace, self.context = plane, namespace, plane.context

    @property
    def url(self) -> str:
        return self.plane.api.url

    def hands(self) -> k8s.ApiClient:
        return self.plane.client(HANDS_AGENT)

    def mark(self) -> int:
        return self.plane.mark()

    def requests_since(self, mark: int) -> list[Request]:
        """The library's requests since the mark (kube-controller-manager's and the test's own are left out)."""
        return self.plane.requests_since(mark, LIBRARY_AGENT)

    def expire(self) -> None:
        """Two writes, then compact etcd at its revision: every earlier resourceVersion is gone, as after the
        apiserver's own compaction (every 5 minutes on a real cluster). Needs the watch cache off."""
        assert not self.plane.watch_cache, "compaction only reaches clients with the watch cache off"
        api = self.plane.client(TEST_AGENT)
        try:
            for _ in range(2):
                rawapi.call(api, "POST", "/api/v1/namespaces/default/configmaps",
                            body={"metadata": {"generateName": "churn-"}})
        finally:
            api.close()
        self.plane.compact()

    def _pods_admitted(self, api: k8s.ApiClient) -> None:
        """ServiceAccount admission refuses pods until the namespace's `default` ServiceAccount exists; the
        serviceaccount controller makes it moments after the namespace: wait for it on a watch."""
        path = f"/api/v1/namespaces/{self.namespace}/serviceaccounts"
        listed = rawapi.call(api, "GET", path)
        if any(i["metadata"]["name"] == "default" for i in listed.body["items"]):
            return
        for event in rawapi.watch(api, path, {"resourceVersion": listed.body["metadata"]["resourceVersion"],
                                              "timeoutSeconds": 60}):
            if event.get("object", {}).get("metadata", {}).get("name") == "default":
                return
        raise AssertionError(f"no default ServiceAccount in {self.namespace} after 60 s")

    def tidy(self) -> None:
        """After a test: its namespace goes (the namespace controller empties it), and so does every cluster-scoped
        object a test may have made (PriorityClasses, StorageClasses: coldstart's or a person's), so the next test
        on this long-lived server starts from a clean cluster."""
        api = self.plane.client(TEST_AGENT)
        try:
            rawapi.call(api, "DELETE", f"/api/v1/namespaces/{self.namespace}")
            for path in ("/apis/scheduling.k8s.io/v1/priorityclasses", "/apis/storage.k8s.io/v1/storageclasses"):
                for item in rawapi.call(api, "GET", path).body.get("items", []):
                    name = item["metadata"]["name"]
                    if not name.startswith("system-"):
                        rawapi.call(api, "DELETE", f"{path}/{name}")
            rawapi.call(api, "DELETE", "/api/v1/nodes", {"labelSelector": "type=kwok"})
        finally:
            api.close()


def new_namespace() -> str:
    return f"cs-{uuid.uuid4().hex[:8]}"


@contextlib.contextmanager
def embedded_server(folder: Path, monkeypatch: pytest.MonkeyPatch, *, history: int | None = None
                    ) -> Iterator[EmbeddedServer]:
    """The embedded API server alone: its simulated cluster's controllers removed before it starts."""
    cluster = EmbeddedCluster(load_profile("baseline"), **({"history": history} if history else {}))
    cluster.simulation.controllers.clear()  # no scheduler, kubelets or controllers: an API server, as the oracle
    with cluster:
        use_kubeconfig(monkeypatch, folder, EMBEDDED_CONTEXT, cluster.url)
        yield EmbeddedServer(cluster, new_namespace(), history)


@contextlib.contextmanager
def real_server(plane: ControlPlane, monkeypatch: pytest.MonkeyPatch) -> Iterator[RealServer]:
    monkeypatch.setenv("KUBECONFIG", str(plane.api.kubeconfig))
    server = RealServer(plane, new_namespace())
    try:
        yield server
    finally:
        server.tidy()
