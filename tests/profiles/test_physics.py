"""The physics every layer shares: the same formula for the floor, the lever estimates and the simulation."""

import pytest

from coldstart.profiles import load_profile, physics, profile_with


def test_pull_seconds_zstd_beats_gzip_and_cross_region_is_slower():
    p = load_profile("baseline")
    zstd = physics.pull_seconds(p, compression="zstd")
    gzip = physics.pull_seconds(p, compression="gzip")
    assert zstd < gzip
    size_mb = p.image.compressed_bytes / 1e6
    assert zstd == size_mb / p.kinetics.registry_mb_per_s + size_mb / p.kinetics.zstd_decompress_mb_per_s
    assert physics.pull_seconds(p, in_region=False) > zstd
    smaller = profile_with(p, {"image.compressed_bytes": p.image.compressed_bytes // 2})
    assert physics.pull_seconds(smaller) < zstd


def test_registry_in_region_is_one_rule_for_the_checker_and_the_simulation():
    gke = load_profile("gke")
    assert physics.registry_in_region("us-central1-docker.pkg.dev", gke)
    assert physics.registry_in_region("123.dkr.ecr.us-central1.amazonaws.com", gke)
    assert physics.registry_in_region("registry.k8s.io", gke)  # redirects to a regional mirror
    assert not physics.registry_in_region("us-central10-docker.pkg.dev", gke)  # a prefix is not a region
    assert not physics.registry_in_region("docker.io", gke)
    base = load_profile("baseline")
    assert physics.registry_in_region(base.registry.host, base)


@pytest.mark.parametrize(("loader", "storage"), [("runai_streamer", "disk"), ("auto", "disk"),
                                                 ("runai_streamer", "hyperdisk_ml")])
def test_load_seconds_is_bytes_over_the_slower_of_storage_and_loader(loader, storage):
    p = load_profile("gke")
    kin = p.kinetics
    gib = p.model.weight_bytes / 2**30
    storage_rate = kin.hyperdisk_ml_gib_per_s if storage == "hyperdisk_ml" else kin.disk_gib_per_s
    loader_rate = (p.runtime.streamer_concurrency * kin.streamer_gib_per_s_per_stream if loader == "runai_streamer"
                   else kin.loader_gib_per_s)
    assert physics.weight_seconds(p, loader=loader, storage=storage) == pytest.approx(
        gib / min(storage_rate, loader_rate))
    assert physics.weight_seconds(p, loader="runai_streamer", storage="disk") < \
        physics.weight_seconds(p, loader="auto", storage="disk")
