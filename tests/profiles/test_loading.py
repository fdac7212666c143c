"""Profiles load, extend and reject bad input with one message naming file, key and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from coldstart.cli import main
from coldstart.errors import ProfileError
from coldstart.profiles import load_profile, profile_with, shipped_profiles


def _write(tmp_path: Path, text: str, name: str = "mine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_shipped_profiles_load():
    assert {"baseline", "gke"} <= set(shipped_profiles())
    base = load_profile("baseline")
    gke = load_profile("gke")
    assert base.gke is None and base.cloud == "generic"
    assert gke.cloud == "gke" and gke.gke is not None and gke.gke.hyperdisk_ml.enabled
    # gke extends baseline: untouched keys are inherited, touched ones replaced
    assert gke.runtime.shm_size == base.runtime.shm_size == "16Gi"
    assert gke.registry.host == "us-central1-docker.pkg.dev"
    assert gke.gpu.node_selector == {"cloud.google.com/gke-accelerator": "nvidia-l4"}


def test_memory_limit_counts_shm_rss_streamer_and_headroom():
    p = load_profile("baseline")
    gi = 2**30
    assert p.memory_limit_bytes == (16 + 12 + 4 + 4) * gi
    default_loader = profile_with(p, {"runtime.loader": "auto"})
    assert default_loader.memory_limit_bytes == (16 + 12 + 4) * gi


def test_user_profile_extends_shipped_one(tmp_path):
    path = _write(tmp_path, "extends: gke\nname: prod\nregion: us-east4\nruntime: {gpu_memory_utilization: 0.7}\n")
    p = load_profile(path)
    assert p.name == "prod" and p.region == "us-east4" and p.runtime.gpu_memory_utilization == 0.7
    assert p.runtime.loader == "runai_streamer"


def test_user_profile_extends_relative_path(tmp_path):
    _write(tmp_path, "extends: baseline\nname: team\nnodes: {warm_buffer: 3}\n", "team.yaml")
    p = load_profile(_write(tmp_path, "extends: team.yaml\nname: mine\n"))
    assert p.nodes.warm_buffer == 3 and p.name == "mine"


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("runtime: {shm_size: 16GB}", ["runtime.shm_size", "16Gi"]),
        ("runtime: {gpu_memory_utilization: 1.5}", ["runtime.gpu_memory_utilization", "1"]),
        ("runtime: {gpu_memory_utilization: 0}", ["runtime.gpu_memory_utilization"]),
        ("runtime: {gpu_memory_utilization: lots}", ["runtime.gpu_memory_utilization", "number"]),
        ("image: {vllm: 'vllm/vllm-openai:v0.10.0'}", ["image.vllm", "digest", "@sha256:"]),
        ("runtime: {shm_szie: 16Gi}", ["runtime.shm_szie", "unknown key", "shm_size"]),
        ("bogus: 1", ["bogus", "unknown key"]),
        ("nodes: {warm_buffer: -1}", ["nodes.warm_buffer"]),
        ("budgets: {phases: {warmup: 3}}", ["budgets.phases.warmup"]),
    ],
)
def test_bad_values_name_file_key_and_fix(tmp_path, text, fragments):
    path = _write(tmp_path, f"extends: baseline\nname: bad\n{text}\n")
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    message = str(err.value)
    assert str(path) in message, message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message


def test_error_names_the_file_that_set_the_key(tmp_path):
    _write(tmp_path, "extends: baseline\nname: team\nruntime: {shm_size: 64MB}\n", "team.yaml")
    child = _write(tmp_path, "extends: team.yaml\nname: mine\n")
    with pytest.raises(ProfileError) as err:
        load_profile(child)
    assert "team.yaml: runtime.shm_size" in str(err.value)


def test_missing_profile_and_cycles(tmp_path):
    with pytest.raises(ProfileError, match="shipped profiles are"):
        load_profile("nope")
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "absent.yaml")
    a = _write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    _write(tmp_path, "extends: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(ProfileError, match="extends itself"):
        load_profile(a)


def test_unparseable_yaml_names_line(tmp_path):
    path = _write(tmp_path, "name: x\nruntime: [unclosed\n")
    with pytest.raises(ProfileError, match=r"mine.yaml:\d+:\d+: not valid YAML"):
        load_profile(path)


def test_cli_bad_profile_exits_2_with_one_line(tmp_path, capsys):
    path = _write(tmp_path, "extends: baseline\nname: bad\nruntime: {shm_size: 16GB}\n")
    assert main(["render", "--profile", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "runtime.shm_size" in err and "Traceback" not in err


def test_a_user_profile_without_a_name_is_named_after_its_file(tmp_path):
    p = load_profile(_write(tmp_path, "extends: gke\nregion: us-east4\n", "prod-east.yaml"))
    assert p.name == "prod-east" and p.cloud == "gke"
