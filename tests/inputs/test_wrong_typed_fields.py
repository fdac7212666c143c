"""Every field the timeline reads from an Event or a Pod, given the wrong type, through `coldstart timeline`.

Tried by hand, 10 of 19 wrong-typed event fields and 3 of 11 pod fields raised a traceback. Here each field of
the readers' own type tables (EVENT_FIELDS, POD_FIELDS, CONDITION, CONTAINER_STATUS) gets a value of another
type, on the object shape that uses it: beside a good object the bad one (or its one bad entry) is skipped with a
single warning naming the field (exit 0, the rest still measured); alone it is exit 2 with one line naming the
field, since nothing usable is left. Never a traceback.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from coldstart.cli import main
from coldstart.timeline.sources.events import EVENT_FIELDS
from coldstart.timeline.sources.pods import CONDITION, CONTAINER_STATUS, POD_FIELDS
from coldstart.timeline.sources.skipped import TIME
from tests.test_bad_input import GOOD_EVENT, GOOD_POD

WRONG = {str: 5, int: "x", bool: "yes", list: "x", TIME: 5}  # a value of another type for each kind of field
# events.k8s.io/v1 (the shape that uses note, regarding, eventTime, deprecated* and reportingController)
NEW_EVENT = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "reason": "Scheduled", "type": "Normal",
             "note": "Successfully assigned llm/vllm-0 to gpu-1",
             "regarding": {"kind": "Pod", "name": "vllm-0", "namespace": "llm"},
             "eventTime": "2025-06-02T10:00:05.000000Z", "reportingController": "default-scheduler",
             "metadata": {"name": "vllm-0.1", "namespace": "llm"}}
SERIES_EVENT = {**GOOD_EVENT, "series": {"count": 3, "lastObservedTime": "2025-06-02T10:00:07Z"}}
SOURCE_EVENT = {**GOOD_EVENT, "source": {"component": "kubelet", "host": "gpu-1"}}
UNDATED_EVENT = {k: v for k, v in GOOD_EVENT.items() if not k.endswith("Timestamp")}  # dated by its metadata
POD = {**GOOD_POD, "spec": {"nodeName": "gpu-1", "containers": [{"name": "vllm", "image": "vllm/vllm-openai"}]},
       "status": {**GOOD_POD["status"], "containerStatuses": [
           {"name": "vllm", "ready": True, "restartCount": 0,
            "state": {"running": {"startedAt": "2025-06-02T10:01:00Z"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]}}


def _fields(spec: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, wrong value) of every field of a type table: a nested table itself (given text), then its fields."""
    for key, want in spec.items():
        if isinstance(want, Mapping):
            yield (*prefix, key), "x"
            yield from _fields(want, (*prefix, key))
        else:
            yield (*prefix, key), WRONG[want]


def _event_base(path: tuple[str, ...]) -> dict[str, Any]:
    top = path[0]
    if top == "series":
        return SERIES_EVENT
    if top == "source":
        return SOURCE_EVENT
    if top == "metadata":
        return UNDATED_EVENT
    return GOOD_EVENT if top in GOOD_EVENT or top == "reportingComponent" else NEW_EVENT


def _pod_fields() -> Iterator[tuple[tuple[str | int, ...], Any]]:
    yield from _fields(POD_FIELDS)
    for name, spec in (("conditions", CONDITION), ("containerStatuses", CONTAINER_STATUS)):
        for path, value in _fields(spec):
            yield ("status", name, 0, *path), value


def _with(base: Mapping[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    obj = copy.deepcopy(dict(base))
    node: Any = obj
    for key in path[:-1]:
        node = node[key] if isinstance(key, int) else node.setdefault(key, {})
    node[path[-1]] = value
    return obj


def _timeline(tmp_path: Path, flag: str, items: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
              ) -> tuple[int, str, str]:
    path = tmp_path / "in.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}))
    code = main(["timeline", flag, str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def _shown(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path).replace(".0.", "[0].")


EVENT_CASES = list(_fields(EVENT_FIELDS))
POD_CASES = list(_pod_fields())


def test_every_field_is_swept() -> None:
    assert len(EVENT_CASES) >= 19 and len(POD_CASES) >= 11


@pytest.mark.parametrize(("path", "value"), EVENT_CASES, ids=[_shown(p) for p, _ in EVENT_CASES])
def test_wrong_typed_event_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], path: tuple[str, ...],
                                 value: Any) -> None:
    base = _event_base(path)
    bad = _with(base, path, value)
    other = _with(base, ("reason",), "Pulling")
    code, out, err = _timeline(tmp_path, "--events", [bad, {**other, "message": 'Pulling image "x"'}], capsys)
    assert code == 0 and "llm/vllm-0" in out, err
    assert err.count("\n") == 1 and "warning: skipped 1 event with wrong-typed fields" in err, err
    assert f"{_shown(path)} is {value!r}" in err, err
    code, out, err = _timeline(tmp_path, "--events", [bad], capsys)
    assert code == 2 and out == "" and err.count("\n") == 1 and f"{_shown(path)} is {value!r}" in err, err


@pytest.mark.parametrize(("path", "value"), POD_CASES, ids=[_shown(p) for p, _ in POD_CASES])
def test_wrong_typed_pod_field(tmp_path: Path, capsys: pytest.CaptureFixture[str], path: tuple[str | int, ...],
                               value: Any) -> None:
    bad = _with(POD, path, value)
    good = _with(POD, ("metadata", "name"), "vllm-1")
    code, out, err = _timeline(tmp_path, "--pods", [bad, good], capsys)
    assert code == 0 and "llm/vllm-1" in out, err
    assert err.count("\n") == 1 and "warning: skipped 1 " in err and " with wrong-typed fields" in err, err
    assert f"{_shown(path)} is {value!r}" in err, err
