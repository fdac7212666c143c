"""Bad input to `coldstart run`/`rollout`/`render`/`cleanup`: exit 2, one line naming what to fix, no traceback,
nothing written and no request sent.

Each case runs against a live-looking target (a kubeconfig whose cluster is an embedded API server), so the
test can also count the requests that reached it: none may, since every input is checked before the first.
The input-file cases (YAML bombs, FIFOs, encodings, sizes) are in tests/test_bad_input.py.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from coldstart.cli import main
from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.profiles import load_profile
from tests.conftest import use_kubeconfig


@pytest.fixture(scope="module")
def server():
    with EmbeddedCluster(load_profile("baseline")) as embedded:
        yield embedded


def _profile(tmp_path: Path, text: str = "", name: str = "live.yaml") -> str:
    path = tmp_path / name
    path.write_text("extends: baseline\nclusters: {allowed_contexts: [sim]}\n" + text)
    return str(path)


def _cases(tmp: Path) -> dict[str, list[str]]:
    live = _profile(tmp, "name: live\n")
    run = ["rollout", "--profile", live, "--cluster", "kubeconfig:sim", "--out", str(tmp / "out")]
    afile = tmp / "a-file"
    afile.write_text("x")
    return {
        "replicas above the node pool's cap": [*run, "-p", "replicas", "100000"],
        "negative replicas": [*run, "-p", "replicas", "-1"],
        "negative timeout": [*run, "-p", "timeout_seconds", "-5"],
        "a timeout of years": [*run, "-p", "timeout_seconds", "1000000000"],
        "NaN timeout": [*run, "-p", "timeout_seconds", ".nan"],
        "replicas of the wrong type": [*run, "-p", "replicas", "abc"],
        "replicas as a float": [*run, "-p", "replicas", "1.5"],
        "an unknown parameter": [*run, "-p", "replicaz", "1"],
        "a parameter coldstart run sets": [*run, "-p", "run_id", "x"],
        "a namespace that is not a DNS label": [*run, "-p", "namespace", "Bad_NS"],
        "--out is a file": ["rollout", "--profile", live, "--cluster", "kubeconfig:sim", "--out", str(afile)],
        "--out under a file": ["rollout", "--profile", live, "--cluster", "kubeconfig:sim", "--out",
                               str(afile / "sub")],
        "a profile name that climbs out of --out": ["rollout", "--profile", _profile(tmp, "name: ../../../tmp/x\n",
                                                                                      "escape.yaml"),
                                                     "--cluster", "kubeconfig:sim", "--out", str(tmp / "out")],
        "an absolute profile name": ["rollout", "--profile", _profile(tmp, "name: /tmp/x\n", "absolute.yaml"),
                                     "--cluster", "kubeconfig:sim", "--out", str(tmp / "out")],
        "a profile named after a file that is no DNS label": [
            "rollout", "--profile", _profile(tmp, "", "My_Profile.yaml"), "--cluster", "kubeconfig:sim"],
        "a context the profile does not allow": ["rollout", "--profile", live, "--cluster", "kubeconfig:prod"],
        "a target that is not one": ["rollout", "--profile", live, "--cluster", "gke://prod"],
        "an unknown runbook": ["run", "rollouts", "--profile", live, "--cluster", "kubeconfig:sim"],
        "render --out is a file": ["render", "--profile", "baseline", "--out", str(afile)],
        "cleanup of an id coldstart never made": ["cleanup", "../../x", "--profile", live, "--cluster",
                                                  "kubeconfig:sim"],
        "cleanup with a selector for an id": ["cleanup", "1a2b3c4d,owner=human", "--profile", live, "--cluster",
                                              "kubeconfig:sim"],
        "a missing profile file": ["rollout", "--profile", str(tmp / "missing.yaml"), "--cluster", "kubeconfig:sim"],
    }


with tempfile.TemporaryDirectory() as _folder:
    CASES = sorted(_cases(Path(_folder)))


@pytest.mark.parametrize("case", CASES)
def test_bad_run_input_is_one_line_exit_2_and_sends_nothing(case, server, tmp_path, monkeypatch, capsys):
    use_kubeconfig(monkeypatch, tmp_path, "sim", server.url)
    args = _cases(tmp_path)[case]
    before = len(server.api.requests)
    code = main(args)
    captured = capsys.readouterr()
    assert code == 2, (case, captured.err)
    assert captured.err.startswith("coldstart: error: ") and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert len(server.api.requests) == before, f"{case}: {len(server.api.requests) - before} requests sent"
    assert not (tmp_path / "out").exists()  # no report folder
