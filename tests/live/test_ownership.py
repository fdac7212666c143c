"""Never delete what we did not create.

A person made a PVC and a cluster-wide PriorityClass with the names (and values) the baseline profile renders,
and labelled them `owner: human`. A rollout must not take them over silently: it refuses before any write,
naming them; adopted explicitly it runs, and neither its own teardown nor `coldstart cleanup` deletes them.
Shown on the embedded cluster and through a kubeconfig target (the CLI, as a user runs it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s

from coldstart.cli import main
from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.errors import OwnershipRefused
from coldstart.kube.labels import CREATED_BY_RUN, MANAGED_BY, RUN_ID
from coldstart.levers.render import flatten, render
from coldstart.live.ownership import deletable, owner_of, stamped, validate_run_id
from coldstart.profiles import Profile, load_profile
from coldstart.runbooks import runbook
from tests.conftest import use_kubeconfig

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def _human_objects(profile: Profile) -> list[dict[str, Any]]:
    """The PVC and PriorityClass as the profile renders them, but made by a person."""
    names = {("PersistentVolumeClaim", f"{profile.model.served_name}-cache"), ("PriorityClass", "coldstart-workload")}
    theirs = [d for d in flatten(render(profile)) if (d["kind"], d["metadata"]["name"]) in names]
    assert len(theirs) == 2
    for doc in theirs:
        doc["metadata"]["labels"] = {"owner": "human"}
    return theirs


def _make(embedded: EmbeddedCluster, docs: list[dict[str, Any]], namespace: str) -> dict[str, str]:
    """Create them as kubectl would; return their uids."""
    api = k8s.ApiClient(k8s.Configuration(host=embedded.url))
    core, scheduling = k8s.CoreV1Api(api), k8s.SchedulingV1Api(api)
    core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    uids = {}
    for doc in docs:
        made = (core.create_namespaced_persistent_volume_claim(namespace, doc) if doc["kind"] == "PersistentVolumeClaim"
                else scheduling.create_priority_class(doc))
        uids[doc["kind"]] = made.metadata.uid
    return uids


def _intact(embedded: EmbeddedCluster, namespace: str, uids: dict[str, str], served: str) -> None:
    pvc = embedded.store.get("/PersistentVolumeClaim", namespace, f"{served}-cache")
    pc = embedded.store.get("scheduling.k8s.io/PriorityClass", "", "coldstart-workload")
    for kind, obj in (("PersistentVolumeClaim", pvc), ("PriorityClass", pc)):
        assert obj is not None, f"{kind} was deleted"
        meta = obj["metadata"]
        assert meta["uid"] == uids[kind] and meta["labels"].get("owner") == "human"
        assert RUN_ID not in meta["labels"] and MANAGED_BY not in meta["labels"]  # never labelled as ours
        assert CREATED_BY_RUN not in (meta.get("annotations") or {}) and not meta.get("deletionTimestamp")


def _writes(embedded: EmbeddedCluster, since: int) -> list[str]:
    return [f"{r.method} {r.path}" for r in embedded.api.requests[since:] if r.method in WRITES]


def test_embedded_rollout_refuses_then_adopts_and_never_deletes_them():
    profile = load_profile("baseline")
    with EmbeddedCluster(profile) as embedded:
        uids = _make(embedded, _human_objects(profile), profile.namespace)
        before = len(embedded.api.requests)
        scenario = runbook.Scenario("recommended", profile, recommended=True)
        with pytest.raises(OwnershipRefused, match="PersistentVolumeClaim/coldstart/qwen2-5-7b-cache") as err:
            runbook.run(scenario, "embedded", embedded=embedded)
        assert "PriorityClass/coldstart-workload" in str(err.value) and err.value.exit_code == 2
        assert _writes(embedded, before) == []  # refused before the first write
        outcome = runbook.run(scenario, "embedded", embedded=embedded, adopt=True)
        assert outcome.ready, outcome.failure
        _intact(embedded, profile.namespace, uids, profile.model.served_name)  # the run's teardown spared them
        assert embedded.store.list("apps/Deployment", profile.namespace, f"{RUN_ID}={outcome.run_id}")[0] == []


def test_cli_rollout_and_cleanup_through_kubeconfig_never_delete_them(tmp_path: Path, monkeypatch, capsys):
    profile_file = tmp_path / "live.yaml"
    profile_file.write_text("extends: baseline\nname: live\nclusters: {allowed_contexts: [sim]}\n")
    profile = load_profile(profile_file)
    out = tmp_path / "out"
    with EmbeddedCluster(profile) as embedded:
        use_kubeconfig(monkeypatch, tmp_path, "sim", embedded.url)
        uids = _make(embedded, _human_objects(profile), profile.namespace)
        before = len(embedded.api.requests)
        args = ["rollout", "--profile", str(profile_file), "--cluster", "kubeconfig:sim", "--out", str(out),
                "-p", "compare_naive", "False"]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "PersistentVolumeClaim/coldstart/qwen2-5-7b-cache" in err and "--adopt" in err
        assert _writes(embedded, before) == [] and not out.exists()  # nothing applied, no report folder
        assert main([*args, "--adopt"]) == 0, capsys.readouterr().err
        (report,) = out.glob("live/*/rollout.html")
        run_id = validate_run_id(report.parent.name)
        _intact(embedded, profile.namespace, uids, profile.model.served_name)
        assert main(["cleanup", run_id, "--profile", str(profile_file), "--cluster", "kubeconfig:sim"]) == 0
        _intact(embedded, profile.namespace, uids, profile.model.served_name)


def test_objects_the_run_did_not_create_are_never_deletable():
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    ours = stamped(doc, "1a2b3c4d", "absent")
    assert deletable(ours, "1a2b3c4d") and not deletable(ours, "ffffffff")
    copied = {"metadata": {"labels": dict(ours["metadata"]["labels"])}}  # a run label copied by hand
    assert not deletable(copied, "1a2b3c4d")
    assert stamped(doc, "1a2b3c4d", "foreign") == doc  # adopted: no labels, no mark
    assert owner_of(None) == "absent" and owner_of(ours) == "coldstart" and owner_of(copied) == "foreign"


@pytest.mark.parametrize("run_id", ["", "1A2B3C4D", "1a2b3c4", "1a2b3c4de", "../x", "1a2b3c4d,x=y", "*", "a b"])
def test_cleanup_refuses_an_id_it_could_not_have_generated(run_id, capsys):
    assert main(["cleanup", run_id, "--cluster", "kubeconfig:anything"]) == 2
    assert capsys.readouterr().err.startswith("coldstart: error: run id")
