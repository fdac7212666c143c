"""A real control plane for tests, envtest-style (issue #12): kube-apiserver v1.35.4, etcd and a few
kube-controller-manager controllers (tools/apiserver), started once, with the upstream CRDs from ../shared/crds/
installed on request, an audit log that tells which requests reached the server, and etcd compaction for the
one server whose watch cache is off.

    with control_plane(tmp, context="coldstart-real") as real:
        real.install_crds(CRDS)                 # KServe, LeaderWorkerSet, Karpenter, KEDA: Established when it returns
        mark = real.mark()
        ...                                     # the library through kubeconfig:coldstart-real (real.api.kubeconfig)
        real.requests_since(mark)               # every request the server received since, in order

Why an audit log: the real server keeps no request list a test could read, and the audit log is what an
operator of a real cluster would read to answer "did this run send any request?". The policy logs every
request at the Metadata level in the RequestReceived stage, which kube-apiserver writes (blocking mode) before
it serves the request, so a request that was answered is already in the file.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config

from tests.support import rawapi
from tools.apiserver.realapi import RealApiServer, binaries_built, missing_reason, running

__all__ = ["ControlPlane", "Request", "binaries_built", "control_plane", "crd_files", "missing_reason"]

LIBRARY_AGENT = "OpenAPI-Generator/"  # the official client's default User-Agent: what coldstart.live sends
TEST_AGENT = "coldstart-tests"  # what test helpers send (kubectl-like hands, the kwok-style kubelet)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the KServe CRDs are megabytes: libyaml when present
AUDIT_POLICY = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy",
                "omitStages": ["ResponseStarted", "ResponseComplete", "Panic"],
                "rules": [{"level": "Metadata"}]}


@dataclasses.dataclass(frozen=True)
class Request:
    """One request as the server's audit log saw it."""

    verb: str  # get list watch create update patch delete deletecollection (or get/post for non-resource URLs)
    resource: str  # plural, e.g. "pods"; "" for a non-resource URL such as /api or /version
    subresource: str
    namespace: str
    name: str
    path: str
    query: dict[str, str]
    user_agent: str

    @property
    def write(self) -> bool:
        return self.verb in {"create", "update", "patch", "delete", "deletecollection"}


def crd_files(folder: Path) -> list[Path]:
    """The CRDs to install from ../shared/crds: every YAML CustomResourceDefinition, except the AWS provider's
    copies of Karpenter's NodePool and NodeClaim (same names as the core ones: one of each can exist)."""
    return [p for p in sorted(folder.rglob("*.yaml")) if "aws-provider-variants" not in p.parts]


class ControlPlane:
    """A running real control plane: the server, its audit log, and an admin client per call of `client()`."""

    def __init__(self, api: RealApiServer, audit: Path, watch_cache: bool):
        self.api, self.audit, self.watch_cache = api, audit, watch_cache
        self.crds: list[str] = []  # names of the CRDs installed so far

    @property
    def context(self) -> str:
        return self.api.context

    def client(self, user_agent: str = TEST_AGENT) -> k8s.ApiClient:
        """An admin client through the kubeconfig, as kubectl would be configured."""
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(config_file=str(self.api.kubeconfig), context=self.context,
                                    client_configuration=configuration)
        configuration.retries = 0
        api = k8s.ApiClient(configuration)
        api.user_agent = user_agent
        return api

    # -- what reached the server ------------------------------------------------------------------------
    def mark(self) -> int:
        return self.audit.stat().st_size if self.audit.exists() else 0

    def requests_since(self, mark: int, agent: str | None = None) -> list[Request]:
        """Requests received after `mark`, in order; with `agent`, only those whose User-Agent starts with it
        (kube-controller-manager's own requests never match LIBRARY_AGENT or TEST_AGENT)."""
        with open(self.audit, "rb") as f:
            f.seek(mark)
            lines = f.read().splitlines()
        out = []
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:  # a line being written right now: not yet a request we could have waited for
                continue
            if event.get("stage") != "RequestReceived":
                continue
            ref = event.get("objectRef") or {}
            parts = urlsplit(event.get("requestURI", ""))
            request = Request(event.get("verb", ""), ref.get("resource", ""), ref.get("subresource", ""),
                              ref.get("namespace", ""), ref.get("name", ""), parts.path, dict(parse_qsl(parts.query)),
                              event.get("userAgent", ""))
            if agent is None or request.user_agent.startswith(agent):
                out.append(request)
        return out

    # -- CRDs -------------------------------------------------------------------------------------------
    def install_crds(self, folder: Path, timeout: float = 120.0) -> list[str]:
        """Create every CRD under `folder` (once) and wait, on a watch, until each is Established (its API served)."""
        api = self.client()
        ext = k8s.ApiextensionsV1Api(api)
        wanted = []
        try:
            for path in crd_files(folder):
                with open(path, "rb") as f:
                    docs = [d for d in yaml.load_all(f, Loader=_Loader) if d]
                for doc in docs:
                    if doc.get("kind") != "CustomResourceDefinition":
                        continue
                    name = doc["metadata"]["name"]
                    wanted.append(name)
                    if name in self.crds:
                        continue
                    try:
                        ext.create_custom_resource_definition(doc)
                    except k8s.ApiException as exc:
                        if exc.status != 409:
                            raise RuntimeError(f"installing CRD {name} from {path}: {exc.status} {exc.body}") from None
            self._established(api, set(wanted), timeout)
        finally:
            api.close()
        self.crds = sorted(set(self.crds) | set(wanted))
        return wanted

    def _established(self, api: k8s.ApiClient, names: set[str], timeout: float) -> None:
        path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        pending = set(names)
        deadline = time.monotonic() + timeout
        body = rawapi.call(api, "GET", path).body
        pending -= {i["metadata"]["name"] for i in body["items"] if _established(i)}
        rv = body["metadata"]["resourceVersion"]
        while pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"CRDs not Established after {timeout:.0f}s: {sorted(pending)}")
            for event in rawapi.watch(api, path, {"resourceVersion": rv, "timeoutSeconds": str(max(1, int(left)))}):
                obj = event["object"]
                rv = obj.get("metadata", {}).get("resourceVersion", rv)
                if _established(obj):
                    pending.discard(obj["metadata"]["name"])
                if not pending:
                    break
        # discovery of the new groups follows Established within moments; ask until every group answers
        for name in names:
            group = name.split(".", 1)[1]
            _wait_served(api, f"/apis/{group}", deadline)

    # -- history ------------------------------------------------------------------------------------------
    def compact(self) -> int:
        """Compact etcd at its current revision (physically), as kube-apiserver does every 5 minutes: every
        resourceVersion older than the last write is gone. Only observable through the API with the watch cache
        off (the cache keeps at least 75 s of its own history whatever etcd compacted)."""
        current = int(self._etcd("/v3/kv/range", {"key": "AA=="})["header"]["revision"])
        self._etcd("/v3/kv/compaction", {"revision": current, "physical": True})
        return current

    def _etcd(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(self.api.etcd_url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            answer: dict[str, Any] = json.loads(resp.read())
        return answer


def _established(crd: dict[str, Any]) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def _wait_served(api: k8s.ApiClient, path: str, deadline: float) -> None:
    while not rawapi.call(api, "GET", path).ok:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{path} is not served although its CRDs are Established")
        time.sleep(0.05)  # discovery has no watch: a bounded poll


@contextlib.contextmanager
def control_plane(workdir: str | os.PathLike[str], *, context: str, watch_cache: bool = True,
                  timeout: float = 90.0) -> Iterator[ControlPlane]:
    """Start a real control plane with an audit log (and, with watch_cache=False, no watch cache: every watch
    and list goes to etcd, so compact() makes old resourceVersions expire at once)."""
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    policy, audit = folder / "audit-policy.json", folder / "audit.log"
    policy.write_text(json.dumps(AUDIT_POLICY))
    args = [f"--audit-policy-file={policy}", f"--audit-log-path={audit}", "--audit-log-format=json",
            "--audit-log-mode=blocking", "--audit-log-maxsize=0"]
    if not watch_cache:
        args.append("--watch-cache=false")
    with running(folder, context=context, timeout=timeout, extra_apiserver_args=args) as api:
        yield ControlPlane(api, audit, watch_cache)
