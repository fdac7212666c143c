"""Rendering: every lever's manifests for each profile, in dependency order, valid against the schemas."""

from __future__ import annotations

import pytest
import yaml

from coldstart.cli import main
from coldstart.levers.render import KIND_ORDER, LEVERS, apply_order, flatten, object_name, render, to_yaml
from coldstart.profiles import load_profile
from tests.conftest import CRDS, need
from tests.support.schemas import validate_manifest

CASES = [("baseline", "kserve"), ("baseline", "deployment"), ("gke", "kserve"), ("gke", "deployment")]


@pytest.mark.parametrize(("profile", "serving"), CASES)
def test_every_rendered_manifest_validates(profile, serving):
    crds = need(CRDS)
    docs = flatten(render(load_profile(profile), serving))
    problems = {object_name(d): validate_manifest(d, crds) for d in docs}
    assert not {k: v for k, v in problems.items() if v}


def test_schema_validation_catches_unknown_and_wrong_fields():
    crds = need(CRDS)
    docs = flatten(render(load_profile("gke")))
    isvc = next(d for d in docs if d["kind"] == "InferenceService")
    isvc["spec"]["predictor"]["model"]["storageUrl"] = "oci://typo"
    assert any("storageUrl" in p for p in validate_manifest(isvc, crds))
    buffer = next(d for d in docs if d["kind"] == "Deployment")
    buffer["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "IfNotPresent"
    assert validate_manifest(buffer, crds)
    cc = next(d for d in docs if d["kind"] == "ComputeClass")
    cc["spec"]["whenUnsatisfiable"] = "Sometimes"
    assert any("whenUnsatisfiable" in p for p in validate_manifest(cc, crds))


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
