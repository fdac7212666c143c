"""`coldstart rbac` prints rules that allow every request a runbook sends, and nothing with a wildcard.

Every request of a full rollout (the plan's dry run, the recommended scale from zero with its live invariants,
the naive comparison, the teardowns) is recorded by the embedded API server and checked against the rules.
"""

from __future__ import annotations

import pytest
import yaml

from coldstart.cli import main
from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.embedded.store.resources import BY_KEY
from coldstart.live.rbac import allows, manifests, rules_for
from coldstart.profiles import load_profile, shipped_profiles
from coldstart.runbooks import experiments, runbook

DISCOVERY = ("/api", "/apis", "/version", "/openapi")  # granted to every authenticated user (system:discovery)


def _check(requests, rules) -> list[str]:
    refused = []
    for r in requests:
        if not r.verb:
            assert r.path.startswith(DISCOVERY), r.path
            continue
        resource = BY_KEY[r.key]
        cluster = not resource.namespaced or r.namespace is None
        if not allows(rules, r.verb, resource.group, resource.plural, r.subresource, cluster):
            refused.append(f"{r.verb} {r.path}")
    return refused


@pytest.mark.parametrize("profile_name", shipped_profiles())
def test_every_request_of_a_rollout_is_allowed_by_the_printed_rules(profile_name):
    profile = load_profile(profile_name)
    rules = rules_for(profile)
    with EmbeddedCluster(profile) as embedded:
        main_run = runbook.run(runbook.Scenario("recommended", profile, recommended=True), "embedded",
                               embedded=embedded)
        naive = runbook.run(experiments.naive(profile), "embedded", embedded=embedded, run_id=main_run.run_id)
        requests = list(embedded.api.requests)
    assert main_run.ready and naive.scenario.name
    verbs = {r.verb for r in requests}
    assert {"get", "list", "watch", "patch", "delete"} <= verbs  # the run did apply, wait and clean up
    assert _check(requests, rules) == []


@pytest.mark.parametrize("diagnose", [False, True])
def test_no_rule_has_a_wildcard_and_the_cli_prints_a_role_and_a_cluster_role(diagnose, capsys):
    args = ["rbac", "--profile", "gke"] + (["--diagnose"] if diagnose else [])
    assert main(args) == 0
    docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    assert [d["kind"] for d in docs] == ["Role", "ClusterRole"]
    for doc in docs:
        for rule in doc["rules"]:
            assert "*" not in rule["apiGroups"] + rule["resources"] + rule["verbs"]
    if diagnose:  # read only
        assert {v for d in docs for r in d["rules"] for v in r["verbs"]} <= {"get", "list", "watch"}


def test_the_rules_follow_the_profile():
    gke, baseline = load_profile("gke"), load_profile("baseline")
    names = {res for r in rules_for(gke) for res in r.resources}
    assert "computeclasses" in names and "storageclasses" in names
    assert "computeclasses" not in {res for r in rules_for(baseline) for res in r.resources}
    role, cluster_role = manifests(baseline)
    assert role["metadata"]["namespace"] == baseline.namespace
    assert any("priorityclasses" in r["resources"] for r in cluster_role["rules"])
