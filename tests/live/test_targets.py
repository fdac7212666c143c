"""Targets: embedded by default; a live context only when the profile allows it, refused before any request."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from coldstart.errors import InputError, TargetRefused
from coldstart.live.cluster import Cluster
from coldstart.live.targets import Target, check_allowed, parse_target
from coldstart.profiles import load_profile, profile_with
from tests.conftest import use_kubeconfig


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server API)
        type(self).hits.append(self.path)
        body = b'{"major": "1", "minor": "35", "gitVersion": "v1.35.0"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def live_cluster(tmp_path, monkeypatch):
    """A stand-in 'live' API server that records every request, and a kubeconfig with context 'prod'."""
    _Counting.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    use_kubeconfig(monkeypatch, tmp_path, "prod", f"http://127.0.0.1:{server.server_port}")
    yield _Counting.hits
    server.shutdown()


def test_parse_target_forms():
    assert parse_target("embedded") == Target("embedded")
    assert parse_target("") == Target("embedded")
    assert parse_target("kubeconfig:gke_p_r_c") == Target("kubeconfig", "gke_p_r_c")
    assert parse_target("in-cluster") == Target("in-cluster")
    for bad in ("gke", "kubeconfig:", "context:prod"):
        with pytest.raises(InputError):
            parse_target(bad)


def test_disallowed_context_is_refused_before_any_request(live_cluster):
    profile = load_profile("baseline")
    with pytest.raises(TargetRefused, match=r"allowed_contexts") as err:
        Cluster.connect("kubeconfig:prod", profile=profile)
    assert "prod" in str(err.value) and err.value.exit_code == 2
    assert live_cluster == []


def test_allowed_context_connects_to_that_cluster_only(live_cluster):
    profile = profile_with(load_profile("baseline"), {"clusters.allowed_contexts": ["prod"]})
    cluster = Cluster.connect("kubeconfig:prod", profile=profile)
    try:
        cluster.api_client.call_api("GET", f"{cluster.api_client.configuration.host}/version")
    finally:
        cluster.api_client.close()
    assert live_cluster == ["/version"]


def test_in_cluster_needs_an_explicit_allowance():
    with pytest.raises(TargetRefused, match="allow_in_cluster"):
        check_allowed(Target("in-cluster"), load_profile("gke"))


@pytest.mark.parametrize(("server", "allowed"), [("http://127.0.0.1:6443", True), ("http://localhost:6443", True),
                                                 ("https://34.118.224.1", False)])
def test_the_profiles_embedded_context_is_allowed_only_on_loopback(tmp_path, monkeypatch, server, allowed):
    """`coldstart cluster up --profile gke` writes context `coldstart-gke`: a runbook may target it without the profile
    listing it, but a context of that name pointing at a remote server (a renamed real cluster) is still refused,
    and so is another profile's embedded context."""
    profile = load_profile("gke")
    use_kubeconfig(monkeypatch, tmp_path, "coldstart-gke", server)
    target = parse_target("kubeconfig:coldstart-gke")
    if allowed:
        check_allowed(target, profile)
    else:
        with pytest.raises(TargetRefused):
            check_allowed(target, profile)
    with pytest.raises(TargetRefused):
        check_allowed(parse_target("kubeconfig:coldstart-gke"), load_profile("baseline"))
