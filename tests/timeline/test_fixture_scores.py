"""How far the timeline readers agree with the hand labels of ../shared/fixtures/{vllm_logs,k8s_events,pod_status}.

Every labelled fact is scored by the per-family label tests (test_vllm_log, test_events, test_pods: one rule per
fact, matched on meaning); this module runs them all and reports the agreement, so a change that trades one family
for another shows up as a number. Where we argue a label is wrong, the family's DISAGREEMENTS says why and the fact
counts as argued, not as agreed.

    .venv/bin/python -m tests.timeline.test_fixture_scores     # the table and the agreement
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.conftest import FIXTURES
from tests.timeline import test_events, test_pods, test_vllm_log

FAMILIES: dict[str, tuple[Callable[[], list], Callable[..., None]]] = {
    "vllm_logs": (test_vllm_log._cases, test_vllm_log.test_fixture_label),
    "k8s_events": (test_events._cases, test_events.test_fixture_label),
    "pod_status": (test_pods._cases, test_pods.test_fixture_label),
}


@dataclass
class Score:
    family: str
    case: str
    verdict: str  # agree, disagree, argued (a label we argue is wrong, see DISAGREEMENTS)
    detail: str = ""


def scores() -> list[Score]:
    """Every labelled fact of every shared fixture, scored; empty when ../shared is absent."""
    out: list[Score] = []
    for family, (cases, check) in FAMILIES.items():
        for param in cases():
            if any(v is None for v in param.values):
                continue  # the family's directory is missing
            argued = any(mark.name == "xfail" for mark in param.marks)
            try:
                check(*param.values)
            except AssertionError as exc:
                out.append(Score(family, param.id or "", "argued" if argued else "disagree", str(exc)[:160]))
            else:
                out.append(Score(family, param.id or "", "agree" if not argued else "disagree",
                                 "argued disagreement now agrees" if argued else ""))
    return out


def agreement(found: list[Score]) -> float:
    """Agreed facts over all facts that are not argued (an argued label is neither a hit nor a miss)."""
    counted = [s for s in found if s.verdict != "argued"]
    return sum(s.verdict == "agree" for s in counted) / len(counted) if counted else 1.0


def test_every_shared_label_agrees_or_is_argued() -> None:
    if not FIXTURES.exists():
        pytest.skip(f"{FIXTURES} not present: the shared fixtures live beside the checkout in ../shared/")
    found = scores()
    misses = [f"{s.family}/{s.case}: {s.detail}" for s in found if s.verdict == "disagree"]
    assert found and not misses, f"agreement {agreement(found):.1%}; misses:\n" + "\n".join(misses)


def main() -> None:
    found = scores()
    if not found:
        print(f"{FIXTURES} not present")
        return
    for family in FAMILIES:
        mine = [s for s in found if s.family == family]
        print(f"{family:<11} {sum(s.verdict == 'agree' for s in mine):>3} agree  "
              f"{sum(s.verdict == 'disagree' for s in mine):>3} disagree  {sum(s.verdict == 'argued' for s in mine):>3}"
              f" argued")
    for s in found:
        if s.verdict != "agree":
            print(f"  {s.verdict:<8} {s.family}/{s.case}  {s.detail}")
    print(f"agreement {agreement(found):.1%} of {sum(s.verdict != 'argued' for s in found)} scored facts")


if __name__ == "__main__":
    main()
