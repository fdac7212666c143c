"""Shared test helpers: where the real third-party fixtures live (read-only, outside the repo)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
FIXTURES = SHARED / "fixtures"
CRDS = SHARED / "crds"


def need(path: Path) -> Path:
    """Skip (with the reason) when the shared fixtures are not beside the checkout."""
    if not path.exists():
        pytest.skip(f"{path} not present: the shared fixtures live beside the checkout in ../shared/")
    return path


def use_kubeconfig(monkeypatch: pytest.MonkeyPatch, folder: Path, context: str, server: str) -> Path:
    """Point KUBECONFIG at a file with one context whose cluster is `server` (a live target, as far as the
    library can tell)."""
    import yaml

    path = folder / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": server}}],
        "users": [{"name": "sre", "user": {"token": "t"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": "sre"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path
