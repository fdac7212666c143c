"""Fixtures for the live path against two API servers: the embedded one and a real kube-apiserver (issue #12).

- `real_plane` (session): one real control plane for the whole session, envtest-style (tools/apiserver, built by
  `make apiserver`); tests that use it skip, saying so, when the binaries are not built.
- `real_crds` (session): the same control plane with the upstream CRDs from ../shared/crds/ installed and
  Established (KServe, LeaderWorkerSet, Karpenter, KEDA); skips when ../shared/ is absent.
- `real_plane_uncached` (session, started on first use): a second real control plane with the watch cache off,
  whose etcd a test may compact, for `410 Gone` on demand.
- `server` (per test, over "embedded" and "real"): a bare API server reached through kubeconfig context
  `coldstart-embedded` / `coldstart-real`, a namespace of the test's own, and the requests it received.
- `expiring_server` (per test, over "embedded" and "real"): the same, on a server whose history a test can
  expire at will (the embedded store with a 20-change history; the real server without watch cache).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import CRDS, need
from tests.support.realapi import ControlPlane, control_plane, missing_reason
from tests.support.servers import REAL_CONTEXT, Server, embedded_server, real_server

BOTH = ["embedded", "real"]
EXPIRING_HISTORY = 20


def _start(tmp_path_factory: pytest.TempPathFactory, context: str, **options: bool) -> Iterator[ControlPlane]:
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    with control_plane(tmp_path_factory.mktemp(context), context=context, **options) as plane:
        yield plane


@pytest.fixture(scope="session")
def real_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    yield from _start(tmp_path_factory, REAL_CONTEXT)


@pytest.fixture(scope="session")
def real_crds(real_plane: ControlPlane) -> ControlPlane:
    real_plane.install_crds(need(CRDS))
    return real_plane


@pytest.fixture(scope="session")
def real_plane_uncached(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    yield from _start(tmp_path_factory, f"{REAL_CONTEXT}-uncached", watch_cache=False)


@pytest.fixture(params=BOTH)
def server(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> Iterator[Server]:
    if request.param == "embedded":
        with embedded_server(tmp_path, monkeypatch) as made:
            yield made
    else:
        with real_server(request.getfixturevalue("real_plane"), monkeypatch) as made:
            yield made


@pytest.fixture(params=BOTH)
def expiring_server(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> Iterator[Server]:
    if request.param == "embedded":
        with embedded_server(tmp_path, monkeypatch, history=EXPIRING_HISTORY) as made:
            yield made
    else:
        with real_server(request.getfixturevalue("real_plane_uncached"), monkeypatch) as made:
            yield made
