"""The checker and the simulated engine read the same manifests the same way.

For each manifest set (the rendered profiles, and the real public manifests in ../shared/fixtures/manifests/),
the checker's engine containers are set beside what the embedded cluster runs: the objects go into the
embedded control plane, its controllers create the pods (a KServe InferenceService becomes a predictor
Deployment, ReplicaSet and Pods), and each pod container is read the way the kubelet hands it to the simulated
engine. Both sides must agree on the engine's model, flags and mounts. Mounts that KServe's pod webhook adds at
pod creation (the model storage at /mnt/models) are the simulation's own and are left out of the comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coldstart.embedded.apiserver.defaults import apply_defaults
from coldstart.embedded.controllers.plane import control_plane
from coldstart.embedded.engine.args import engine_launch
from coldstart.embedded.node.process import resolve_env
from coldstart.embedded.store.resources import key_of, resource_for
from coldstart.inputs.documents import as_documents, kubernetes_objects, read_documents
from coldstart.levers.render import flatten, render
from coldstart.profiles import load_profile, shipped_profiles
from coldstart.verify.discovery import find_workloads
from coldstart.verify.workloads import Inventory
from tests.conftest import FIXTURES
from tests.support.sim_harness import make_sim

KSERVE_STORAGE_VOLUMES = {"kserve-provision-location", "kserve-pvc-source"}
# Kinds whose pods the embedded cluster does not create, and why; their manifests are checked statically only.
NOT_SIMULATED = {
    "RayService": "the embedded cluster runs no KubeRay operator",
    "LeaderWorkerSet": "the embedded cluster runs no LeaderWorkerSet controller",
}
# An InferenceService whose ServingRuntime is not in the input: the checker judges the model container it can
# see (image and shm are n/a), while a cluster would need the runtime to run anything.
RUNTIME_ELSEWHERE = "its ServingRuntime is not in this input"


def _key(model: Any, flags: dict[str, Any], mounts: list[dict[str, Any]]) -> tuple[str, str, tuple[str, ...]]:
    paths = tuple(sorted(str(m.get("mountPath")) for m in mounts if m.get("name") not in KSERVE_STORAGE_VOLUMES))
    return str(model), repr(sorted(flags.items())), paths


def checker_view(docs: list[dict[str, Any]]) -> tuple[list[tuple], list[str]]:
    """(engine launch keys, reasons some workloads are not comparable) as `coldstart verify` sees them."""
    keys, skipped = [], []
    for workload in find_workloads(Inventory(kubernetes_objects(as_documents(docs, "<crosscheck>")))):
        kind = workload.doc.obj["kind"]
        if kind in NOT_SIMULATED:
            skipped.append(f"{workload.ref}: {NOT_SIMULATED[kind]}")
            continue
        if kind == "InferenceService" and any("image" in pod.na for pod in workload.pods):
            skipped.append(f"{workload.ref}: {RUNTIME_ELSEWHERE}")
            continue
        keys += [_key(c.launch.model, c.flags, c.spec.get("volumeMounts") or [])
                 for pod in workload.pods for c in pod.containers if c.launcher]
    return sorted(set(keys)), skipped


def engine_view(docs: list[dict[str, Any]], profile_name: str = "baseline") -> list[tuple]:
    """Engine launch keys of every pod the embedded control plane creates from these objects."""
    ctx, sim = make_sim(profile_name, control_plane)
    namespaces = {d.get("metadata", {}).get("namespace") or "default" for d in docs}
    for ns in sorted(namespaces):
        if ctx.store.get("/Namespace", "", ns) is None:
            ctx.store.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    for doc in docs:
        resource = resource_for(doc["apiVersion"], doc["kind"])
        if resource is None or doc["kind"] in NOT_SIMULATED:
            continue
        obj = {**doc, "metadata": {**doc["metadata"]}}
        if resource.namespaced:
            obj["metadata"].setdefault("namespace", "default")
        for template_spec in _replicas_at_least_one(obj):
            template_spec["replicas"] = max(1, int(template_spec.get("replicas") or 0))
        apply_defaults(key_of(obj), obj)
        ctx.store.create(obj)
    sim.run_for(30)
    keys = []
    for pod in ctx.store.list("/Pod")[0]:
        for container in pod["spec"].get("containers") or []:
            env = resolve_env(ctx.store, pod, container, {}, "10.0.0.1")
            args = engine_launch(container, env)
            if args is not None:
                keys.append(_key(args.launch.model, args.launch.flags, container.get("volumeMounts") or []))
    return sorted(set(keys))  # one key per pod template, however many replicas it has


def _replicas_at_least_one(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Specs whose replica count decides whether pods exist at all (a profile renders the engine at zero)."""
    if obj["kind"] in ("Deployment", "StatefulSet"):
        return [obj["spec"]]
    if obj["kind"] == "InferenceService":
        predictor = obj["spec"].setdefault("predictor", {})
        predictor["minReplicas"] = max(1, int(predictor.get("minReplicas") or 0))
    return []


def _rendered(profile: str, serving: str) -> list[dict[str, Any]]:
    return flatten(render(load_profile(profile), serving=serving))


@pytest.mark.parametrize("serving", ["kserve", "deployment"])
@pytest.mark.parametrize("profile", shipped_profiles())
def test_rendered_profiles_run_what_the_checker_judges(profile, serving):
    docs = _rendered(profile, serving)
    checked, skipped = checker_view(docs)
    assert checked and not skipped
    assert engine_view(docs, profile) == checked


def _fixture_manifests() -> list[Path]:
    folder = FIXTURES / "manifests"
    return sorted(folder.glob("*.yaml")) if folder.exists() else []


@pytest.mark.parametrize("path", _fixture_manifests() or [pytest.param(None, marks=pytest.mark.skip(
    reason="../shared/fixtures/manifests is not beside the checkout (optional: real public manifests)"))],
    ids=lambda p: p.name if p else "no-fixtures")
def test_real_manifests_run_what_the_checker_judges(path):
    docs = [d.obj for d in kubernetes_objects(read_documents([str(path)]))]
    checked, skipped = checker_view(docs)
    assert checked or skipped, f"{path.name}: the checker found no engine"
    assert engine_view(docs) == checked, f"{path.name} (not compared: {skipped})"
