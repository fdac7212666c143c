"""The eks and aks sections: they load from the shipped params, reject settings a cloud would refuse (with what to
write instead), name their features for the invariants, and feed the one physics every reader shares."""

from __future__ import annotations

from pathlib import Path

import pytest

from coldstart.errors import ProfileError
from coldstart.profiles import load_profile, profile_with
from coldstart.profiles.physics import pull_seconds, registry_in_region, weights_storage


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    return path


def test_eks_and_aks_extend_the_baseline_with_their_own_sections():
    base, eks, aks = load_profile("baseline"), load_profile("eks"), load_profile("aks")
    assert eks.cloud == "eks" and eks.eks is not None and eks.aks is None and eks.gke is None
    assert aks.cloud == "aks" and aks.aks is not None and aks.eks is None
    assert eks.runtime.shm_size == aks.runtime.shm_size == base.runtime.shm_size  # inherited
    assert eks.karpenter is not None and eks.karpenter.capacity_types == ["spot", "on-demand"]
    assert eks.feature("eks:soci_parallel") and not eks.feature("eks:soci_lazy")
    assert not eks.feature("aks:blob_streamer")
    assert aks.feature("aks:artifact_streaming") and aks.lazy_image_loading and not eks.lazy_image_loading
    # Artifact Streaming streams pulls by tag only: the engine uses the locked tag, which counts as pinned
    assert aks.vllm_image.endswith(":v0.11.0") and aks.locked_tags == {aks.vllm_image}
    assert eks.vllm_image == eks.image.vllm and eks.locked_tags == frozenset()


@pytest.mark.parametrize(("text", "says"), [
    ("extends: eks\ncloud: aks\n", "needs cloud: eks"),
    ("extends: aks\naks:\n  artifact_streaming: {enabled: true, tag: ''}\n", "streams pulls by tag only"),
    ("extends: eks\neks:\n  karpenter: {disruption_budget: some}\n", "write it like 1 or 10%"),
    ("extends: eks\neks:\n  karpenter: {consolidate_after: 10 minutes}\n", "write it like 10m"),
    ("extends: eks\neks:\n  weights: {source: s3, s3_uri: 'https://bucket'}\n", "s3://<bucket>/<prefix>/"),
    ("extends: eks\neks:\n  weights: {source: fsx_lustre, fsx_file_system_id: '', fsx_dns_name: ''}\n",
     "fsx_file_system_id, fsx_dns_name and fsx_mount_name"),
    ("extends: aks\naks:\n  weights: {source: blob, blob_uri: 'az://models/x/', storage_account: ''}\n",
     "storage_account"),
    ("extends: eks\neks:\n  account: '1234'\n", "account"),
])
def test_bad_cloud_settings_are_one_line_with_the_fix(tmp_path, text, says):
    with pytest.raises(ProfileError) as err:
        load_profile(_write(tmp_path, text))
    assert says in str(err.value) and "\n" not in str(err.value).strip()


def test_an_unknown_feature_name_is_an_error_not_false():
    with pytest.raises(ProfileError, match="eks:soci"):
        load_profile("eks").feature("eks:soci_turbo")


def test_ecr_hosts_are_where_their_name_says_and_acr_only_where_replicated():
    eks, aks = load_profile("eks"), load_profile("aks")
    assert registry_in_region("123456789012.dkr.ecr.us-east-1.amazonaws.com", eks)
    assert not registry_in_region("123456789012.dkr.ecr.us-west-2.amazonaws.com", eks)
    # even when the profile lists it as its own registry, an ECR host in another region is not in region
    moved = profile_with(eks, {"registry.host": "123456789012.dkr.ecr.us-west-2.amazonaws.com"})
    assert not registry_in_region("123456789012.dkr.ecr.us-west-2.amazonaws.com", moved)
    assert registry_in_region("contosoinference.azurecr.io", aks)
    assert not registry_in_region("contosoinference.azurecr.io", profile_with(aks, {"aks.acr_regions": ["westus"]}))
    assert not registry_in_region("someoneelse.azurecr.io", aks)


def test_soci_parallel_pull_is_faster_and_weights_storage_follows_the_source():
    eks = load_profile("eks")
    off = profile_with(eks, {"eks.soci.enabled": False})
    assert pull_seconds(eks) < pull_seconds(off)
    assert weights_storage(eks) == "disk"
    assert weights_storage(profile_with(eks, {"eks.weights.source": "s3"})) == "object_store"
    assert weights_storage(profile_with(eks, {"eks.weights.source": "fsx_lustre"})) == "fsx_lustre"
    assert weights_storage(profile_with(load_profile("aks"), {"aks.weights.source": "blob"})) == "object_store"
