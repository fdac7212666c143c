"""`verify` on real public manifests (../shared/fixtures/manifests) against the hand labels in LABELS.json.

One test per file x labelled invariant: the file-level verdict is the worst case over the file's findings
(fail > pass > n/a), as LABELS.json's schema defines it. Where we can argue a label is wrong, the case is
listed in EXPECTED_DISAGREEMENTS with the argument instead of bending the checker to it.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from coldstart.inputs.documents import read_documents
from coldstart.kube.podspec import shm_volume
from coldstart.verify import Finding, verify_paths, worst
from coldstart.verify.discovery import find_workloads
from coldstart.verify.workloads import Inventory, Workload
from tests.conftest import FIXTURES, need

MANIFESTS = FIXTURES / "manifests"
LABELS = MANIFESTS / "LABELS.json"
LABEL_IDS = {
    "image_digest_pinned": "image-digest-pinned",
    "pull_policy_ifnotpresent": "pull-policy-ifnotpresent",
    "shm_memory_16gi": "shm-memory-16gi",
    "nccl_cumem_disabled": "nccl-cumem-disabled",
    "gpu_mem_util_in_range": "gpu-mem-util-range",
    "hf_offline": "hf-offline",
    "runai_streamer": "runai-streamer",
    "cache_persistent": "cache-persistent",
    "memory_limit_covers_shm": "memory-covers-shm",
    "priority_class_warm_buffer": "warm-buffer",
}
_KUBERAY_SHM = ("the RayService declares no /dev/shm volume, but KubeRay adds one to every Ray container that has none "
                "(ray-operator controllers/ray/common/pod.go: addEmptyDir(\"shared-mem\", \"/dev/shm\", Memory) with "
                "sizeLimit from findMemoryReqOrLimit): a Memory emptyDir sized to the gpu-workers container's memory "
                "limit, 54Gi. The label judged the manifest as written; the pod that runs has that volume")
# (file, label name) -> why the label is wrong and the checker is right.
EXPECTED_DISAGREEMENTS: dict[tuple[str, str], str] = {
    ("aws-data-on-eks-rayservice-deepseek-r1-8b-runai.yaml", "shm_memory_16gi"):
        f"{_KUBERAY_SHM}, so /dev/shm is a Memory emptyDir of 54Gi >= 16Gi: pass, not the 64Mi runtime default.",
    ("aws-data-on-eks-rayservice-deepseek-r1-8b-runai.yaml", "memory_limit_covers_shm"):
        f"{_KUBERAY_SHM}, so there is a sizeLimit to compare: shm 54Gi equals the 54Gi memory limit, and tmpfs pages "
        "count against it, so a full /dev/shm OOM-kills the worker: fail, not n/a (KubeRay releases that read the "
        "48Gi request first would pass; either way the invariant can be judged).",
}


def _labels() -> dict[str, Any]:
    return json.loads(LABELS.read_text()) if LABELS.exists() else {"manifests": {}}


def _cases(*keys: str) -> list[Any]:
    manifests = _labels()["manifests"]
    if not manifests:
        return [pytest.param(None, None, None, marks=pytest.mark.skip(reason=f"{LABELS} not present"))]
    cases = []
    for file, entry in sorted(manifests.items()):
        for key in keys:
            for label, expected in (entry[key].items() if key == "invariants" else [(key, entry.get(key))]):
                cases.append(pytest.param(file, label, expected, id=f"{file}::{label}"))
    return cases


@functools.cache
def _findings(file: str) -> tuple[Finding, ...]:
    return tuple(verify_paths([str(need(MANIFESTS / file))]))


@functools.cache
def _workloads(file: str) -> tuple[Workload, ...]:
    return tuple(find_workloads(Inventory(read_documents([need(MANIFESTS / file)]))))


def test_every_fixture_manifest_is_labelled():
    need(LABELS)
    on_disk = {p.name for p in MANIFESTS.glob("*.yaml")}
    assert on_disk == set(_labels()["manifests"]), "a manifest without labels (or labels without a file)"
    assert set(_labels()["invariant_order"]) == set(LABEL_IDS)


@pytest.mark.parametrize(("file", "label", "expected"), _cases("invariants"))
def test_file_verdict_matches_label(file: str, label: str, expected: str):
    findings = [f for f in _findings(file) if f.invariant == LABEL_IDS[label]]
    assert findings, f"{LABEL_IDS[label]} gave no finding for {file}"
    got = worst(f.status for f in findings)
    reason = EXPECTED_DISAGREEMENTS.get((file, label))
    if reason:
        assert got != expected, f"the checker now agrees with the label; drop the disagreement note: {reason}"
        return
    detail = "; ".join(f"{f.status} {f.container}: {f.message}" for f in findings)
    assert got == expected, f"{file} {label}: label {expected}, checker {got} ({detail})"


@pytest.mark.parametrize(("file", "label", "expected"),
                         _cases("image", "image_pull_policy", "shm_size_limit", "memory_limit", "enforce_eager",
                                "tensor_parallel_size"))
def test_engine_facts_match_labels(file: str, label: str, expected: Any):
    """The facts the verdicts rest on (image, policy, shm, memory, flags) are read as a careful human reads them."""
    workloads = _workloads(file)
    containers = [(p, c) for w in workloads for p in w.pods for c in p.containers]
    assert containers, f"no engine found in {file}"
    written = {id(p) for w in workloads for p in w.pods if "shm" not in w.notes}  # shm as written, not an operator's
    if label == "image":
        got = {c.image for _, c in containers}
    elif label == "image_pull_policy":
        got = {c.spec.get("imagePullPolicy") for _, c in containers if c.image}
        got = got or {None}
    elif label == "shm_size_limit":
        got = {((shm_volume(p.spec, c.spec) or {}).get("emptyDir") or {}).get("sizeLimit") for p, c in containers
               if "shm" not in p.na and id(p) in written}
        got = got or {None}
    elif label == "memory_limit":
        got = {((c.spec.get("resources") or {}).get("limits") or {}).get("memory") for _, c in containers}
    elif label == "enforce_eager":
        got = {"present" if any(c.flags.get("enforce_eager") is True for _, c in containers) else "absent"}
    else:
        got = {c.flags.get("tensor_parallel_size") for _, c in containers if c.launcher}
        expected = None if expected is None else str(expected)
    assert got == {expected}, f"{file}: {label} read as {got}, labelled {expected!r}"


def test_cross_file_join_when_verifying_a_directory(tmp_path: Path):
    """The ServingRuntime and the InferenceService may sit in different files of one rendered folder."""
    text = need(MANIFESTS / "rhoai-api-docs-modelcar-granite-vllm.yaml").read_text()
    runtime, isvc = text.split("\n---\n")
    (tmp_path / "1-runtime.yaml").write_text(runtime)
    (tmp_path / "2-isvc.yaml").write_text(isvc)
    findings = verify_paths([str(tmp_path)])
    shm = [f for f in findings if f.invariant == "shm-memory-16gi"]
    assert [(f.status, f.object, Path(f.file).name) for f in shm] == [
        ("fail", "InferenceService/default/granite", "2-isvc.yaml")]
    assert "2Gi" in shm[0].message
