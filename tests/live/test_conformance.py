"""The embedded API server keeps every agreement it has with a real kube-apiserver v1.35.4 (issue #12).

The same requests go through the official client to both servers (tests/support/conformance*.py: create, get,
list, watch, server-side apply with two managers, conflicts and force, dry run, strict field validation, unknown
fields and wrong types, deletion with each propagation policy, finalizers, namespace deletion, label and field
selectors, paging with limit and continue, `410 Gone` on an expired resourceVersion or continue token, the status
and scale subresources, defaulting and admission, discovery). Every observation on which they agree today is listed
in conformance_baseline.json; this test fails when one of them stops agreeing. The differences are printed as a
table (`pytest -s`, or `benchmarks/conformance.py`); a new agreement is added with
`benchmarks/conformance.py --write-baseline`.

Why it matters: the library is tested mostly against the embedded server; each agreement is a behaviour those tests
may rely on because a real cluster has it too, and each difference is one they must not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coldstart.embedded.cluster import EmbeddedCluster
from coldstart.profiles import load_profile
from tests.support import conformance
from tests.support.realapi import ControlPlane


@pytest.fixture(scope="module")
def rows(real_plane: ControlPlane, real_plane_uncached: ControlPlane) -> Iterator[list[conformance.Row]]:
    profile = load_profile("baseline")
    embedded = EmbeddedCluster(profile)
    expiring = EmbeddedCluster(profile, history=conformance.EMBEDDED_HISTORY)
    for cluster in (embedded, expiring):
        conformance.bare_simulation(cluster)  # before it starts: the controllers the real control plane runs
    with embedded, expiring:
        yield conformance.run([
            (conformance.real_side(real_plane), conformance.embedded_side(embedded), False),
            (conformance.real_side(real_plane_uncached, "real (watch cache off)"),
             conformance.embedded_side(expiring, history=conformance.EMBEDDED_HISTORY), True)])


def test_every_agreement_in_the_baseline_still_holds(rows):
    """Each row compares what the real server answered with what the embedded one answered, after normalising
    identifiers and times; the baseline's rows must all still agree (the agreeing set never shrinks)."""
    baseline = conformance.load_baseline()
    by_id = {row.id: row for row in rows}
    print("\n" + conformance.table(rows, only_differences=True))
    vanished = sorted(baseline - set(by_id))
    broken = [by_id[i] for i in sorted(baseline & set(by_id)) if not by_id[i].agree]
    assert vanished == [], "observations in the baseline that no case makes any more"
    assert broken == [], "no longer agreeing with the real server:\n" + conformance.table(broken, width=300)


def test_the_cases_run_on_both_servers_without_crashing(rows):
    """A case that raises on one server records the crash as its observation; none should (a harness bug, or a
    server answering in a shape no client could read)."""
    crashed = [row for row in rows if row.what == "(case crashed)"]
    assert crashed == [], conformance.table(crashed, width=300)
