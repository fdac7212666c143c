"""Faults on the way to the API server do not change what a run measures.

The same scenario runs twice on embedded clusters with the same seed, both through a kubeconfig target (the
live path): once straight to the API server, once through a proxy that sheds load (429 + Retry-After), fails
(500), answers optimistic-concurrency conflicts (409), expires watches (410), drops watch streams and restarts
(every connection cut). Requests are retried with backoff, watches relist, and the timeline of the replica is
the same: the cluster's own timestamps are what is measured, not when the client got to read them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.profiles import load_profile
from coldstart.runbooks import runbook
from tests.conftest import use_kubeconfig
from tests.support.faultproxy import Fault, FaultProxy

FAULTS = [
    Fault("429", "GET", "/pods", watch=False, after=2),
    Fault("500", "GET", "/events", watch=False, after=1),
    Fault("409", "PATCH", "/inferenceservices/", after=1),
    Fault("500", "PATCH", "/deployments/", times=2),
    Fault("410-stream", "GET", "/pods", watch=True, after=1, times=2),
    Fault("drop-stream", "GET", "/events", watch=True),
    Fault("drop-stream", "GET", "/pods", watch=True, after=3),
    Fault("restart", "GET", "/pods", watch=False, after=6),
]


def _profile(tmp_path: Path):
    path = tmp_path / "faults.yaml"
    path.write_text("extends: baseline\nname: faults\nclusters: {allowed_contexts: [sim]}\n")
    return load_profile(path)


# Phases timed by the engine's own log lines are exact; phases that end or start at a Kubernetes timestamp
# (creationTimestamp, startedAt, a condition's lastTransitionTime) carry its one-second resolution, and when a
# client's request lands within the second decides which way that rounds.
FROM_THE_LOG = ("weights_load", "compile", "graph_capture", "engine_init")


def _durations(outcome: runbook.Outcome) -> dict[str, float]:
    (pod,) = [p for p in outcome.timeline.pods if not p.victim]
    spans = {name: round(span.end - span.start, 3) for name, span in pod.phases.items()}
    return {**spans, "time_to_ready": round(pod.time_to_ready_seconds or -1, 3)}


def _same(faulty: dict[str, float], clean: dict[str, float]) -> bool:
    return faulty.keys() == clean.keys() and all(
        faulty[k] == clean[k] if k in FROM_THE_LOG else abs(faulty[k] - clean[k]) <= 1.0 for k in clean)


def _run(profile, url: str, monkeypatch: pytest.MonkeyPatch, folder: Path) -> runbook.Outcome:
    use_kubeconfig(monkeypatch, folder, "sim", url)
    return runbook.run(runbook.Scenario("recommended", profile, recommended=True), "kubeconfig:sim")


def test_a_run_through_faults_measures_what_a_clean_run_measures(tmp_path, monkeypatch):
    profile = _profile(tmp_path)
    with EmbeddedCluster(profile) as embedded:
        clean = _run(profile, embedded.url, monkeypatch, tmp_path)
    with EmbeddedCluster(profile) as embedded, FaultProxy(embedded.url, list(FAULTS)) as proxy:
        faulty = _run(profile, proxy.url, monkeypatch, tmp_path)
    fired = {f.kind for f in proxy.faults if f.fired}
    assert fired == {f.kind for f in FAULTS}, proxy.log  # every kind of fault was met
    assert clean.ready and faulty.ready, (clean.failure, faulty.failure)
    assert _same(_durations(faulty), _durations(clean)), (_durations(faulty), _durations(clean))
    assert faulty.recording is not None and faulty.recording.interruptions >= 2  # the recorder relisted


def test_a_server_that_keeps_failing_is_given_up_on_with_one_line(tmp_path, monkeypatch):
    """Retries are bounded: a server that answers 500 to every list ends the run with the server's words."""
    from coldstart.errors import ServerError
    from coldstart.live.cluster import Cluster

    profile = _profile(tmp_path)
    with EmbeddedCluster(profile) as embedded, \
            FaultProxy(embedded.url, [Fault("500", "GET", "/namespaces/", watch=False, times=100)]) as proxy:
        use_kubeconfig(monkeypatch, tmp_path, "sim", proxy.url)
        with Cluster.connect("kubeconfig:sim", profile=profile) as conn, pytest.raises(ServerError) as err:
            conn.list("v1", "Pod", profile.namespace)
    assert "etcdserver: request timed out" in str(err.value) and "(HTTP 500)" in str(err.value)
    assert 2 <= sum(f.fired for f in proxy.faults) <= 6  # retried, then given up (Backoff.attempts)
