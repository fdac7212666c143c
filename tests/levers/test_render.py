"""Rendering: every lever's manifests for each profile, in dependency order, valid against the schemas."""

from __future__ import annotations

import re

import pytest
import yaml

from coldstart.cli import main
from coldstart.levers.render import KIND_ORDER, LEVERS, apply_order, flatten, object_name, render, to_yaml
from coldstart.profiles import load_profile
from tests.conftest import CRDS, need
from tests.support.schemas import validate_manifest

CASES = [(p, s) for p in ("baseline", "gke", "eks", "aks") for s in ("kserve", "deployment")]
PROVIDER = {"eks": "aws"}  # an EKS cluster enforces the AWS provider's builds of the Karpenter CRDs


@pytest.mark.parametrize(("profile", "serving"), CASES)
def test_every_rendered_manifest_validates(profile, serving):
    crds = need(CRDS)
    docs = flatten(render(load_profile(profile), serving))
    problems = {object_name(d): validate_manifest(d, crds, PROVIDER.get(profile)) for d in docs}
    assert not {k: v for k, v in problems.items() if v}


@pytest.mark.parametrize("profile", ["eks", "aks"])
def test_karpenter_objects_are_checked_against_their_schemas(profile):
    crds = need(CRDS)
    docs = flatten(render(load_profile(profile)))
    pool = next(d for d in docs if d["kind"] == "NodePool")
    pool["spec"]["disruption"]["consolidationPolicy"] = "WhenIdle"
    assert any("consolidationPolicy" in p for p in validate_manifest(pool, crds, PROVIDER.get(profile)))
    node_class = next(d for d in docs if d["kind"] in ("EC2NodeClass", "AKSNodeClass"))
    node_class["spec"]["artifactStreamng" if profile == "aks" else "userDta"] = "typo"
    assert validate_manifest(node_class, crds, PROVIDER.get(profile))


def _aws_label_allowlist(crds):
    """The karpenter.k8s.aws labels the AWS build of the NodePool CRD admits: its CEL rule (which jsonschema does not
    run) lists them; read the list from the rule itself."""
    text = (crds / "karpenter" / "aws-provider-variants" / "karpenter.sh_nodepools.yaml").read_text()
    rule = next(line for line in text.splitlines() if "rule: self in [" in line and "karpenter.k8s.aws/" in line)
    return set(re.findall(r'"(karpenter\.k8s\.aws/[^"]+)"', rule))


def test_eks_labels_are_ones_the_aws_nodepool_crd_admits():
    crds = need(CRDS)
    allowed = _aws_label_allowlist(crds)
    assert "karpenter.k8s.aws/instance-family" in allowed and "karpenter.k8s.aws/instance-famly" not in allowed
    docs = flatten(render(load_profile("eks")))
    pool = next(d for d in docs if d["kind"] == "NodePool")
    used = {r["key"] for r in pool["spec"]["template"]["spec"]["requirements"]}
    used |= {k for d in docs for c in [d.get("spec", {}).get("template", {}).get("spec", {})]
             for k in c.get("nodeSelector", {}) if isinstance(c, dict)}
    aws = {k for k in used if k.startswith("karpenter.k8s.aws/")}
    assert aws and aws <= allowed, aws - allowed


def test_levers_render_in_apply_order_and_kinds_sort_by_dependency():
    rendered = render(load_profile("gke"))
    assert tuple(rendered) == LEVERS
    kinds = [d["kind"] for d in apply_order(flatten(rendered))]
    ranks = [KIND_ORDER.index(k) for k in kinds]
    assert ranks == sorted(ranks)
    assert kinds.index("PriorityClass") < kinds.index("InferenceService")
    assert kinds.index("PersistentVolumeClaim") < kinds.index("DaemonSet")


def test_render_returns_independent_copies():
    rendered = render(load_profile("baseline"))
    buffer = rendered["node_warmup"][-1]
    buffer["metadata"]["labels"]["x"] = "y"
    assert "x" not in buffer["spec"]["template"]["metadata"]["labels"]
    assert "&id" not in to_yaml(flatten(rendered))


def test_cli_render_writes_one_file_per_lever(tmp_path, capsys):
    assert main(["render", "--profile", "gke", "--out", str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"{i}-{lever}.yaml" for i, lever in enumerate(LEVERS, start=1)]
    kinds = [d["kind"] for d in yaml.safe_load_all((tmp_path / "4-weight_load.yaml").read_text()) if d]
    assert kinds == ["StorageClass", "PersistentVolumeClaim", "ServingRuntime", "InferenceService"]


def test_cli_render_to_stdout_and_deployment_form(capsys):
    assert main(["render", "--profile", "baseline", "--serving", "deployment"]) == 0
    docs = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    assert "InferenceService" not in {d["kind"] for d in docs}
    engine = next(d for d in docs if d["metadata"]["name"].endswith("-vllm"))
    assert [c["name"] for c in engine["spec"]["template"]["spec"]["containers"]] == ["vllm", "modelcar"]
