"""A differential check of the embedded API server against a real kube-apiserver v1.35.4 (issue #12): the same
sequence of requests, through the official client, against both; the answers normalised (uids, timestamps,
resourceVersions, generated names, tokens) and compared observation by observation.

A case (tests/support/conformance_cases*.py) gets a `Target` bound to a fresh namespace of its own (the same name
on both servers, so messages that name it compare equal) and returns {what is compared: observed value}. Each
observation is a row: case, what, the real server's answer, the embedded one's, agree?. `benchmarks/conformance.py`
prints the table; tests/live/test_conformance.py asserts that every row id in tests/live/conformance_baseline.json
still agrees (the agreeing set never shrinks; new agreements may be added with `--write-baseline`).

Both sides run the same controllers: the real control plane runs kube-controller-manager's garbage collector,
namespace, serviceaccount, root-CA publisher and persistent-volume controllers and nothing that runs workloads;
the embedded cluster keeps its counterparts of those and drops its scheduler, autoscaler, workload and KServe
controllers, node lifecycle and kubelets. Cases marked `expiring` run on a second pair whose history can be cut:
the real server with its watch cache off (etcd compacted), the embedded store with a short history (churned).
"""

from __future__ import annotations

import json
import re
import traceback
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from tests.support import rawapi
from tests.support.rawapi import Reply
from tests.support.realapi import ControlPlane

BASELINE = Path(__file__).resolve().parent.parent / "live" / "conformance_baseline.json"
AGENT = "coldstart-conformance/1.0"  # the User-Agent (and so the default field manager) of every request
KEEP_CONTROLLERS = ("GarbageCollector", "Namespace", "ServiceAccount", "RootCA", "PersistentVolume", "Protection")
EMBEDDED_HISTORY = 40  # the expiring embedded store's history: churned past with 2 x 40 + 1 writes

Observation = dict[str, Any]


@dataclass(frozen=True)
class Case:
    id: str
    doc: str  # what the case does, one line
    run: Callable[[Target], Observation]
    expiring: bool = False  # needs a server whose history can be cut


CASES: list[Case] = []


def case(id_: str, doc: str, *, expiring: bool = False) -> Callable[[Callable[[Target], Observation]],
                                                                  Callable[[Target], Observation]]:
    def register(fn: Callable[[Target], Observation]) -> Callable[[Target], Observation]:
        CASES.append(Case(id_, doc, fn, expiring))
        return fn
    return register


# -- what a case talks to ---------------------------------------------------------------------------------


class Target:
    """One server as a case sees it: requests through the official client's transport, the case's namespace,
    bounded waits in the server's own time (virtual on the embedded cluster), and expiry where the server allows."""

    def __init__(self, name: str, make_client: Callable[[], k8s.ApiClient], namespace: str,
                 expire: Callable[[], None] | None = None, anonymous: Callable[[], k8s.ApiClient] | None = None):
        self.name, self.namespace, self._expire = name, namespace, expire
        self.api = make_client()
        self.api.user_agent = AGENT
        self._anonymous = anonymous

    def close(self) -> None:
        self.api.close()

    # requests
    def call(self, method: str, path: str, body: Any = None, *, ctype: str = rawapi.JSON, accept: str = rawapi.JSON,
             **query: Any) -> Reply:
        return rawapi.call(self.api, method, path, query, body, content_type=ctype, accept=accept)

    def get(self, path: str, **query: Any) -> Reply:
        return self.call("GET", path, **query)

    def post(self, path: str, body: Any, **query: Any) -> Reply:
        return self.call("POST", path, body, **query)

    def put(self, path: str, body: Any, **query: Any) -> Reply:
        return self.call("PUT", path, body, **query)

    def patch(self, path: str, body: Any, ctype: str = rawapi.MERGE, **query: Any) -> Reply:
        return self.call("PATCH", path, body, ctype=ctype, **query)

    def apply(self, path: str, body: Any, manager: str, **query: Any) -> Reply:
        return self.call("PATCH", path, body, ctype=rawapi.APPLY, fieldManager=manager, **query)

    def delete(self, path: str, body: Any = None, **query: Any) -> Reply:
        return self.call("DELETE", path, body, **query)

    def anonymous(self, path: str) -> Reply:
        assert self._anonymous is not None
        api = self._anonymous()
        try:
            return rawapi.call(api, "GET", path)
        finally:
            api.close()

    # paths
    def core(self, plural: str, name: str = "", namespace: str | None = None) -> str:
        return _path("/api/v1", plural, name, self.namespace if namespace is None else namespace)

    def apps(self, plural: str, name: str = "") -> str:
        return _path("/apis/apps/v1", plural, name, self.namespace)

    # watches and waits
    def watch(self, path: str, *, timeout: int = 2, until: Callable[[list[dict[str, Any]]], bool] | None = None,
              **query: Any) -> list[dict[str, Any]]:
        """The events of one watch until `until(events)` or the server ends the stream after `timeout` seconds."""
        events: list[dict[str, Any]] = []
        for event in rawapi.watch(self.api, path, {"timeoutSeconds": timeout, **query}, wall_limit=timeout + 20):
            events.append(event)
            if until is not None and until(events):
                break
        return events

    def now(self) -> float:
        """The server's clock (its Date header)."""
        return parsedate_to_datetime(self.get("/version").headers["date"]).timestamp()

    def eventually(self, collection: str, name: str, done: Callable[[Reply], bool], timeout: float = 60) -> Reply:
        """GET collection/name until `done(reply)`; between tries, watch that one object from a list made before
        the GET (so no change can fall between the two), for at most `timeout` seconds of the server's time.
        Returns the last answer."""
        start = self.now()
        while True:
            listed = self.get(collection, fieldSelector=f"metadata.name={name}")
            reply = self.get(f"{collection}/{name}")
            left = timeout - (self.now() - start)
            if done(reply) or left <= 0 or not listed.ok:
                return reply
            self.watch(collection, timeout=max(1, int(left)), until=lambda events: True,
                       resourceVersion=listed.body["metadata"]["resourceVersion"],
                       fieldSelector=f"metadata.name={name}")

    def expire(self) -> None:
        assert self._expire is not None, f"{self.name}: this server's history cannot be cut"
        self._expire()


def _path(prefix: str, plural: str, name: str, namespace: str) -> str:
    base = f"{prefix}/namespaces/{namespace}/{plural}" if namespace else f"{prefix}/{plural}"
    return f"{base}/{name}" if name else base


# -- normalising ----------------------------------------------------------------------------------------------

_UID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_GENERATED = re.compile(r"\b(kube-api-access-|gen-)[a-z0-9]{5}\b")
_RV_KEYS = {"resourceVersion", "continue", "uid"}
_DROP_KEYS = {"selfLink"}


def normalise(value: Any) -> Any:
    """Identifiers and times out, structure and meaning kept."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in _DROP_KEYS:
                continue
            if key in _RV_KEYS and isinstance(item, str) and item:
                out[key] = f"<{key}>"
            else:
                out[key] = normalise(item)
        return out
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, str):
        value = _UID.sub("<uid>", value)
        value = _TIME.sub("<time>", value)
        return _GENERATED.sub(lambda m: f"{m.group(1)}<gen>", value)
    return value


def status(reply: Reply) -> str:
    """`201`, or `409 AlreadyExists` for a Status body."""
    body = reply.body if isinstance(reply.body, dict) else {}
    reason = body.get("reason") if body.get("kind") == "Status" else None
    return f"{reply.status} {reason}" if reason else str(reply.status)


def message(reply: Reply) -> str:
    body = reply.body if isinstance(reply.body, dict) else {}
    return str(normalise(body.get("message", reply.body if not reply.ok else "")))


def causes(reply: Reply) -> list[str]:
    body = reply.body if isinstance(reply.body, dict) else {}
    return [f"{c.get('reason')} {c.get('field')}" for c in (body.get("details") or {}).get("causes") or []]


def managers(obj: dict[str, Any]) -> list[str]:
    return [f"{m.get('manager')}/{m.get('operation')}{'/' + m['subresource'] if m.get('subresource') else ''}"
            for m in (obj.get("metadata") or {}).get("managedFields") or []]


def owned(obj: dict[str, Any], manager: str) -> str:
    """The fields one manager owns, as managedFields spells them (fieldsV1, compact JSON)."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager:
            return json.dumps(entry.get("fieldsV1"), sort_keys=True, separators=(",", ":"))
    return ""


# -- running and comparing ---------------------------------------------------------------------------------------


@dataclass
class Row:
    case: str
    what: str
    real: Any
    embedded: Any

    @property
    def id(self) -> str:
        return f"{self.case}: {self.what}"

    @property
    def agree(self) -> bool:
        return _canonical(self.real) == _canonical(self.embedded)


@dataclass
class Side:
    """How to reach one server for one run: a client factory, a namespace maker, an expiry, anonymous access."""

    name: str
    make_client: Callable[[], k8s.ApiClient]
    prepare_namespace: Callable[[k8s.ApiClient, str], None]
    expire: Callable[[], None] | None = None
    anonymous: Callable[[], k8s.ApiClient] | None = None
    results: dict[str, Observation] = field(default_factory=dict)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def run_one(side: Side, case_: Case, namespace: str) -> Observation:
    admin = side.make_client()
    admin.user_agent = AGENT
    try:
        side.prepare_namespace(admin, namespace)
    finally:
        admin.close()
    target = Target(side.name, side.make_client, namespace, side.expire if case_.expiring else None, side.anonymous)
    try:
        return {k: normalise(v) for k, v in case_.run(target).items()}
    except Exception as exc:  # a case that crashes on one server is an observation, not a broken harness
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return {"(case crashed)": f"{type(exc).__name__}: {exc} (line {frame.lineno})"}
    finally:
        target.close()


def run(pairs: Iterable[tuple[Side, Side, bool]], cases: Iterable[Case] | None = None, workers: int = 4) -> list[Row]:
    """Run every case on both sides of the pair that suits it ((real, embedded, expiring)); rows in case order."""
    chosen = list(CASES if cases is None else cases)
    suffix = uuid.uuid4().hex[:4]
    jobs = []
    for real, embedded, expiring in pairs:
        for c in chosen:
            if c.expiring == expiring:
                namespace = f"c{suffix}-{c.id}"[:63]
                jobs += [(real, c, namespace), (embedded, c, namespace)]
    with ThreadPoolExecutor(workers) as pool:
        observed = list(pool.map(lambda job: (job[0], job[1], run_one(*job)), jobs))
    by_case: dict[str, dict[str, Observation]] = {}
    for side, c, obs in observed:
        by_case.setdefault(c.id, {})["real" if side.name.startswith("real") else "embedded"] = obs
    rows = []
    for c in chosen:
        if c.id not in by_case:
            continue
        real, embedded = by_case[c.id].get("real", {}), by_case[c.id].get("embedded", {})
        for what in list(dict.fromkeys([*real, *embedded])):
            rows.append(Row(c.id, what, real.get(what, "(not observed)"), embedded.get(what, "(not observed)")))
    return rows


def table(rows: list[Row], width: int = 70, only_differences: bool = False) -> str:
    """The rows as a Markdown table: case, what is compared, real server, embedded, agree?"""
    def cell(value: Any) -> str:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= width else text[: width - 1] + "…"
    lines = ["| case | what is compared | real server | embedded | agree? |", "|---|---|---|---|---|"]
    for row in rows:
        if only_differences and row.agree:
            continue
        lines.append(f"| `{row.case}` | {row.what} | {cell(row.real)} | {cell(row.embedded)} | "
                     f"{'yes' if row.agree else '**no**'} |")
    agreeing = sum(r.agree for r in rows)
    cases = {r.case for r in rows}
    whole = len(cases - {r.case for r in rows if not r.agree})
    lines.append(f"\n{agreeing} of {len(rows)} observations agree; {whole} of {len(cases)} cases agree entirely")
    return "\n".join(lines)


def load_baseline(path: Path = BASELINE) -> set[str]:
    return set(json.loads(path.read_text())["agreeing"]) if path.exists() else set()


def write_baseline(rows: list[Row], path: Path = BASELINE, leave_out: set[str] | None = None) -> None:
    agreeing = sorted(r.id for r in rows if r.agree and r.id not in (leave_out or set()))
    path.write_text(json.dumps({
        "about": "Observations (case: what) on which the embedded API server agrees with kube-apiserver v1.35.4. "
                 "tests/live/test_conformance.py fails if one of them stops agreeing; add new ones with "
                 "`benchmarks/conformance.py --write-baseline`.",
        "agreeing": agreeing}, indent=1) + "\n")


def wait_for_default_service_account(api: k8s.ApiClient, namespace: str, timeout: int = 20) -> None:
    """Until the namespace's `default` ServiceAccount exists (a real server's admission needs it for pods), or the
    server ends a watch of `timeout` seconds of its own time without one (a server that makes none)."""
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts"
    listed = rawapi.call(api, "GET", path)
    if not listed.ok or any(i["metadata"]["name"] == "default" for i in listed.body.get("items", [])):
        return
    for event in rawapi.watch(api, path, {"resourceVersion": listed.body["metadata"]["resourceVersion"],
                                          "timeoutSeconds": timeout}):
        if event.get("object", {}).get("metadata", {}).get("name") == "default":
            return


def fresh_namespace(api: k8s.ApiClient, namespace: str) -> None:
    made = rawapi.call(api, "POST", "/api/v1/namespaces", body={"metadata": {"name": namespace}})
    assert made.status in (201, 409), made.body
    wait_for_default_service_account(api, namespace)


def real_side(plane: ControlPlane, name: str = "real") -> Side:
    """A real control plane as one side; with its watch cache off, a side whose history can be cut (compaction)."""
    def expire() -> None:
        api = plane.client(AGENT)
        try:
            for _ in range(2):
                rawapi.call(api, "POST", "/api/v1/namespaces/default/configmaps",
                            body={"metadata": {"generateName": "churn-"}})
        finally:
            api.close()
        plane.compact()

    def anonymous() -> k8s.ApiClient:
        configuration = k8s.Configuration(host=plane.api.url)
        configuration.ssl_ca_cert = str(plane.api.ca)
        return k8s.ApiClient(configuration)
    return Side(name, lambda: plane.client(AGENT), fresh_namespace, None if plane.watch_cache else expire, anonymous)


def embedded_side(cluster: Any, name: str = "embedded", history: int | None = None) -> Side:
    """An embedded cluster as one side; with a short history, one whose history can be cut (churned ConfigMaps)."""
    def client() -> k8s.ApiClient:
        return k8s.ApiClient(k8s.Configuration(host=cluster.url))

    def expire() -> None:
        assert history is not None
        api = client()
        try:
            path = "/api/v1/namespaces/default/configmaps"
            rawapi.call(api, "POST", path, body={"metadata": {"name": "churn"}})
            for i in range(2 * history + 1):
                rawapi.call(api, "PATCH", f"{path}/churn", body={"data": {"i": str(i)}},
                            content_type=rawapi.MERGE)
        finally:
            api.close()
    return Side(name, client, fresh_namespace, expire if history else None, client)


def bare_simulation(cluster: Any) -> None:
    """Keep only the embedded controllers whose counterparts the real control plane runs (see the module doc)."""
    sim = cluster.simulation
    sim.controllers[:] = [c for c in sim.controllers if any(k in type(c).__name__ for k in KEEP_CONTROLLERS)]


from tests.support import conformance_cases_a, conformance_cases_b  # noqa: E402,F401  (they register their cases)
