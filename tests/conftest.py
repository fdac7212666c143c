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
