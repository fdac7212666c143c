"""Diagnose what already runs: on the embedded cluster a person deploys the naive manifests and a trap variant
(GPU memory utilization 0.92), lets them start, and `coldstart diagnose` finds every trap planted, by invariant
id and in the timeline, with only read requests sent (get, list, watch, pods/log)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from kubernetes import client as k8s

from coldstart.cli import main
from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.kube.labels import COMPONENT, COMPONENT_ENGINE, INSTANCE
from coldstart.levers import variants
from coldstart.live.cluster import Cluster
from coldstart.live.wait import wait_for
from coldstart.profiles import load_profile
from coldstart.runbooks.diagnose import diagnose
from tests.conftest import use_kubeconfig

READS = {"GET"}


def _deploy(embedded: EmbeddedCluster, profile) -> None:
    """What a person applies with kubectl: the naive Deployment and a copy at utilization 0.92."""
    api = k8s.ApiClient(k8s.Configuration(host=embedded.url))
    k8s.CoreV1Api(api).create_namespace({"apiVersion": "v1", "kind": "Namespace",
                                         "metadata": {"name": profile.namespace}})
    apps = k8s.AppsV1Api(api)
    (naive,) = variants.naive(profile)
    naive["spec"]["replicas"] = 1
    greedy = copy.deepcopy(naive)
    greedy["metadata"]["name"] = "greedy"
    labels = {COMPONENT: COMPONENT_ENGINE, INSTANCE: "greedy"}
    greedy["metadata"]["labels"] = greedy["spec"]["template"]["metadata"]["labels"] = labels
    greedy["spec"]["selector"]["matchLabels"] = labels
    args = greedy["spec"]["template"]["spec"]["containers"][0]["args"]
    args[args.index("--gpu-memory-utilization=0.8")] = "--gpu-memory-utilization=0.92"
    for doc in (naive, greedy):
        apps.create_namespaced_deployment(profile.namespace, doc)


def _settle(conn: Cluster, namespace: str) -> None:
    """Let virtual time pass until the naive replica is Ready and the greedy one has restarted."""
    def done(pods: dict[str, dict]) -> tuple[int, int]:
        ready = sum(any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in (p.get("status") or {}).get("conditions") or []) for p in pods.values())
        restarted = sum(any(s.get("restartCount") for s in (p.get("status") or {}).get("containerStatuses") or [])
                        for p in pods.values())
        return (1 if ready >= 1 and restarted >= 1 else 0), 1
    wait_for(conn, "v1", "Pod", namespace, label_selector=None, done=done, timeout=3000, what="settle")


@pytest.fixture(scope="module")
def diagnosed():
    profile = load_profile("baseline")
    with EmbeddedCluster(profile) as embedded:
        _deploy(embedded, profile)
        with Cluster.connect("embedded", profile=profile, embedded=embedded) as conn:
            _settle(conn, profile.namespace)
            before = len(embedded.api.requests)
            result = diagnose(conn, profile.namespace)
            requests = embedded.api.requests[before:]
            selected = diagnose(conn, profile.namespace, selector=f"{INSTANCE} notin (greedy)")
    return result, requests, selected


def test_a_diagnosis_only_reads(diagnosed):
    _, requests, _ = diagnosed
    assert requests and {r.method for r in requests} <= READS, {(r.method, r.path) for r in requests}
    assert {r.verb for r in requests if r.verb} <= {"get", "list", "watch"}


def test_a_selector_in_any_syntax_narrows_the_diagnosis(diagnosed):
    """--selector is applied by the API server, so set-based selectors work as in kubectl."""
    _, _, selected = diagnosed
    assert selected.workloads == ["Deployment/coldstart/qwen2-5-7b-naive"]
    assert ("gpu-mem-util-range", "Deployment/coldstart/greedy") not in {(f.invariant, f.object)
                                                                         for f in selected.findings}


def test_every_planted_trap_is_found_by_invariant(diagnosed):
    result, _, _ = diagnosed
    assert set(result.workloads) == {"Deployment/coldstart/qwen2-5-7b-naive", "Deployment/coldstart/greedy"}
    failing = {(f.invariant, f.object) for f in result.findings if f.status == "fail"}
    for invariant in ("image-digest-pinned", "hf-offline", "runai-streamer",
                      "warm-buffer", "shm-memory-16gi", "cache-persistent", "startup-probe-budget"):
        assert (invariant, "Deployment/coldstart/qwen2-5-7b-naive") in failing, invariant
    assert ("gpu-mem-util-range", "Deployment/coldstart/greedy") in failing


def test_fixes_are_ranked_by_what_they_cost_in_this_clusters_starts(diagnosed):
    result, _, _ = diagnosed
    fixes = {f.invariant: f for f in result.fixes}
    assert fixes["gpu-mem-util-range"].seconds is None  # it broke starts: ranked first
    assert result.fixes[0].seconds is None
    timed = [f for f in result.fixes if f.seconds is not None]
    assert [f.seconds for f in timed] == sorted((f.seconds for f in timed), reverse=True)
    assert fixes["image-digest-pinned"].seconds > 0 and fixes["image-digest-pinned"].runbook == "image_pull"
    assert fixes["warm-buffer"].seconds > 60  # a new GPU node booted for the naive replica
    assert "coldstart run image_pull" in fixes["image-digest-pinned"].line()


def test_the_timeline_shows_the_slow_phases_and_the_failure(diagnosed):
    result, _, _ = diagnosed
    ready = [r for r in result.replicas if r.time_to_ready]
    assert ready and ready[0].phase("scheduling") > 60 and ready[0].phase("image_pull") > 0
    assert ready[0].time_to_ready >= ready[0].floor.total_seconds


def test_cli_diagnose_prints_the_ranked_fixes_and_json(tmp_path: Path, monkeypatch, capsys):
    profile_file = tmp_path / "live.yaml"
    profile_file.write_text("extends: baseline\nname: live\nclusters: {allowed_contexts: [sim]}\n")
    profile = load_profile(profile_file)
    with EmbeddedCluster(profile) as embedded:
        _deploy(embedded, profile)
        with Cluster.connect("embedded", profile=profile, embedded=embedded) as conn:
            _settle(conn, profile.namespace)
        use_kubeconfig(monkeypatch, tmp_path, "sim", embedded.url)
        before = len(embedded.api.requests)
        assert main(["diagnose", "--cluster", "kubeconfig:sim", "--namespace", "coldstart", "--profile",
                     str(profile_file), "--format", "json"]) == 1  # something to fix: exit 1, like verify
        assert {r.method for r in embedded.api.requests[before:]} <= READS
    out = json.loads(capsys.readouterr().out)
    assert out["fixes"][0]["invariant"] == "gpu-mem-util-range"
    assert main(["diagnose", "--cluster", "kubeconfig:prod", "--namespace", "x"]) == 2  # refused, no request


def test_the_diagnose_runbook_opens_with_the_ranked_fixes(tmp_path: Path):
    """`coldstart run diagnose` on the embedded cluster (which deploys its demo first) renders a report whose
    first screen is the ranked list of what to change, with the seconds each cost."""
    import re

    from coldstart.runbooks.execute import run_notebook

    result = run_notebook("diagnose", profile="baseline", cluster="embedded", out_root=tmp_path)
    assert result.ok, result.error
    html = result.html.read_text()
    assert "An Exception was encountered" not in html and "Traceback" not in html
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<(style|script)\b.*?</\1>", "", html, flags=re.S)))
    first = text.index("What to change first")
    assert first < text.index("The invariants on what the cluster holds")  # the fixes come first
    table = text[first:first + 1500]
    assert "gpu-mem-util-range broke starts" in table and re.search(r"warm-buffer \d+ s", table), table
    assert "coldstart run node_warmup" in table
