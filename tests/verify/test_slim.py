"""verify keeps only what its checks read: the findings of `verify_paths` (objects slimmed as they are parsed, CRDs
and Services never built) are the findings of judging every object whole."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from coldstart.inputs.documents import kubernetes_objects, read_documents
from coldstart.levers.render import flatten, render
from coldstart.profiles import load_profile
from coldstart.verify import check_documents, verify_paths
from coldstart.verify.workloads import NAME_ONLY_KINDS, READ_KINDS, slim_object
from tests.conftest import CRDS, FIXTURES


def _sets(tmp_path: Path) -> list[Path]:
    sets = sorted((FIXTURES / "manifests").glob("*.yaml")) if (FIXTURES / "manifests").exists() else []
    for name in ("baseline", "gke"):
        profile = load_profile(name)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(flatten(render(profile))))
        sets.append(path)
    crds = sorted(CRDS.rglob("*.yaml"))[:3] if CRDS.exists() else []
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for i, crd in enumerate(crds):
        (mixed / f"crd-{i}.yaml").write_bytes(crd.read_bytes())
    (mixed / "render.yaml").write_text((tmp_path / "baseline.yaml").read_text())
    (mixed / "noise.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: coldstart}\nspec: {ports: [{port: 80}]}\n---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  managedFields: [{manager: kubectl}]\n  annotations:"
        "\n    kubectl.kubernetes.io/last-applied-configuration: '{}'\ndata: {a: b}\n")
    return [*sets, mixed]


def test_slimmed_findings_equal_whole_findings(tmp_path: Path) -> None:
    for path in _sets(tmp_path):
        whole = kubernetes_objects(read_documents([path]))
        assert verify_paths([str(path)]) == check_documents(whole, source=whole[0].file), path


def test_what_is_kept() -> None:
    assert not NAME_ONLY_KINDS & READ_KINDS
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "x.example.com", "labels": {"a": "b"}}, "spec": {"versions": [{"name": "v1"}] * 100}}
    assert slim_object(crd) == {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                                "metadata": {"name": "x.example.com"}}
    rollout = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "r"},
               "spec": {"template": {"spec": {"containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]}}}}
    assert slim_object(rollout) == rollout  # an unknown kind with a pod template is kept whole
    assert slim_object({"replicaCount": 1}) is None  # a values file is no object
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "managedFields": [{}], "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{...}", "keep": "me"}}, "data": {"a": "b"}}
    assert slim_object(cm) == {"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": "c", "annotations": {"keep": "me"}}, "data": {"a": "b"}}


@pytest.mark.parametrize("kind", ["Service", "CustomResourceDefinition"])
def test_name_only_kinds_are_not_built(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: x}}\nspec: {{a: !!binary aGk=}}\n")
    (doc,) = read_documents([path], names_only=NAME_ONLY_KINDS.__contains__)
    assert doc.obj == {"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}}
