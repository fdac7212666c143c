"""The built wheel works anywhere: installed (not editable) into a fresh virtualenv, run from an empty folder.

Shipped profiles and runbook notebooks are package data, so `coldstart render`, `verify` and `rollout` find them
without a checkout. Building and installing take a minute or two (pip resolves the runtime dependencies from
the package index, using pip's cache when it has one).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE_DATA = ["coldstart/profiles/params/baseline.yaml", "coldstart/profiles/params/gke.yaml",
                "coldstart/runbooks/notebooks/rollout.ipynb", "coldstart/runbooks/notebooks/weight_load.ipynb",
                "coldstart/timeline/timings.schema.json"]


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 900) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, f"{' '.join(args)} exited {result.returncode}:\n{result.stdout[-2000:]}\n" \
                                   f"{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dist), str(REPO)], REPO)
    (built,) = dist.glob("coldstart-*.whl")
    return built


def test_the_wheel_carries_profiles_notebooks_and_the_schema(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [p for p in PACKAGE_DATA if p not in names] == []
    assert not [n for n in names if n.startswith("tests/")]
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text
    runtime = {line.split()[1].split(">")[0].lower() for line in text.splitlines()
               if line.startswith("Requires-Dist:") and "extra ==" not in line}
    assert {"kmock", "kubernetes-validate", "jupyter", "jupyterlab", "pytest"}.isdisjoint(runtime)


def test_render_verify_and_rollout_from_an_empty_folder(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--quiet", str(wheel)], tmp_path)
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = _run([str(python), "-c", "import coldstart; print(coldstart.__file__)"], work, env)
    assert str(venv) in where and str(REPO) not in where, "the installed wheel, not the checkout, is imported"
    coldstart = str(venv / "bin" / "coldstart")
    rendered = _run([coldstart, "render", "--profile", "gke", "--out", "m"], work, env)
    assert rendered.strip() and (work / "m").is_dir()
    _run([coldstart, "verify", "m", "--profile", "gke"], work, env)
    out = _run([coldstart, "rollout", "--profile", "baseline", "-p", "compare_naive", "False"], work, env)
    reports = list((work / "outputs" / "baseline").glob("*/rollout.html"))
    assert len(reports) == 1, out
    assert (reports[0].parent / "timings.json").exists()
