"""Like-for-like history through papermill: after every lever runbook has filed its timings beside it, a rollout
is compared only with the earlier rollout (same runbook, profile, cluster, scenario and steps), replica position by
position, each phase once; on the embedded cluster the same seed gives the same seconds, so nothing moves beyond
the (tiny) noise band; a damaged timings.json among them is skipped with one line, never fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coldstart.runbooks.execute import run_notebook
from coldstart.timeline.history import EMBEDDED_BAND
from coldstart.timeline.timings import read_timings
from tests.runbooks.test_notebooks import outputs, parse_report

LEVERS = ("image_pull", "node_warmup", "runtime", "weight_load")


def _history(html: Path) -> tuple[list[str], list[list[str]]]:
    """The texts of the report and the body rows of its history table (header starts with 'phase')."""
    outs = outputs(parse_report(html))
    texts = [o.text for o in outs]
    for out in outs:
        for table in out.tables:
            if table and [c.strip() for c in table[0]][:2] == ["phase", "1st start"]:
                return texts, [[c.strip() for c in row] for row in table[1:]]
    return texts, []


@pytest.fixture(scope="module")
def filed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("history")
    done = {}
    for name in (*LEVERS, "rollout"):
        done[name] = run_notebook(name, profile="baseline", cluster="embedded", out_root=root)
        assert done[name].ok, (name, done[name].error)
    damaged = root / "baseline" / "zz-damaged" / "timings.json"
    damaged.parent.mkdir()
    damaged.write_text('{"schema_version": 2, "pods": [')  # a run killed mid-write by an older coldstart
    done["second"] = run_notebook("rollout", profile="baseline", cluster="embedded", out_root=root)
    return done


def test_every_runbook_files_what_makes_it_comparable(filed: dict) -> None:
    for name in (*LEVERS, "rollout"):
        doc = read_timings(filed[name].timings)
        assert (doc["runbook"], doc["profile"], doc["cluster"]) == (name, "baseline", "embedded")
        assert doc["replicas"] and doc["replicas"][0]["position"] == 1 and doc["replicas"][0]["floor"]


def test_first_rollout_has_nothing_comparable_although_lever_runs_sit_beside_it(filed: dict) -> None:
    texts, rows = _history(filed["rollout"].html)
    assert not rows
    assert any("No earlier ready run of rollout with this profile" in t for t in texts)


def test_second_rollout_is_compared_with_the_first_rollout_only_each_phase_once(filed: dict) -> None:
    texts, rows = _history(filed["second"].html)
    first_id = filed["rollout"].notebook.parent.name
    said = [t for t in texts if "Against run" in t]
    assert said and first_id in said[0], "compared with a lever runbook's run, not the earlier rollout"
    for lever in LEVERS:
        assert filed[lever].notebook.parent.name not in said[0]
    phases = [row[0] for row in rows]
    assert phases and len(phases) == len(set(phases)), "a phase appears twice"
    assert phases[-1] == "time_to_ready" and "compile" in phases
    # both questions of the rollout, each against its own earlier position
    assert all(len(row) == 3 for row in rows)
    # the same seed on the embedded cluster: nothing moved beyond the band, and the report says so
    assert all(cell.endswith("unchanged") or cell == "-" for row in rows for cell in row[1:]), rows
    assert "Nothing moved beyond it." in said[0] and f"±{EMBEDDED_BAND.seconds:g} s" in said[0]
    before, after = (read_timings(filed[k].timings)["replicas"] for k in ("rollout", "second"))
    for a, b in zip(before, after, strict=True):
        assert abs(a["time_to_ready_seconds"] - b["time_to_ready_seconds"]) <= EMBEDDED_BAND.seconds


def test_a_damaged_earlier_timings_is_skipped_with_one_line(filed: dict) -> None:
    texts, _ = _history(filed["second"].html)
    skipped = [t for t in texts if "Skipped an earlier run" in t]
    assert len(skipped) == 1 and "zz-damaged" in skipped[0] and "\n" not in skipped[0].strip()
    assert json.loads(filed["second"].timings.read_text())["schema_version"] == 2
