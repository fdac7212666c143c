"""A JSON List read item by item gives what json.loads gives, and anything else is left to the whole-document path."""

from __future__ import annotations

import json

import pytest
import yaml

from coldstart.inputs.decode import list_items
from coldstart.timeline.inputs import parse_events, timeline_from_texts
from coldstart.timeline.sources.events import events_from_list, events_from_objects, order_events
from coldstart.timeline.sources.skipped import Skipped
from tests.conftest import FIXTURES, need


def _real_events() -> list[dict]:
    """The kspan fixture's real Event objects (a YAML stream of them)."""
    path = need(FIXTURES / "k8s_events" / "kspan_fixture_deployment_update_event_objects.yaml")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    events = [d for d in docs if d.get("kind") == "Event"]
    assert events
    return events


def _list(items: list, **dump) -> str:
    return json.dumps({"apiVersion": "v1", "items": items, "kind": "List",
                       "metadata": {"resourceVersion": ""}}, **dump)


@pytest.mark.parametrize("dump", [{"indent": 4}, {}, {"separators": (",", ":")}, {"indent": "\t"}],
                         ids=["kubectl", "spaced", "compact", "tabs"])
def test_items_equal_json_loads(dump: dict) -> None:
    items = [*_real_events(), [1, "x"], None, {"items": [{"kind": "Event", "reason": "Nested"}]}, "é\u2028\"\\"]
    text = "\n " + _list(items, **dump) + " \r\n"
    assert list(list_items(text)) == json.loads(text)["items"]


@pytest.mark.parametrize("text", [
    '{"kind": "Event", "reason": "Pulled"}',  # a single object
    '{"items": [1]}{"items": [2]}',  # a stream of Lists
    '{"items": [1], "items": [2]}',  # json.loads keeps the last items
    '{"items": null}',
    '{"kind": "List"}',
    '{"items": [1, 2',  # an excerpt cut short
    '{"items": [1, 2,]}',
    '{"items": [1]} x',
    '\x0b{"items": [1]}',  # not JSON whitespace
    '[{"kind": "Event"}]',
    "items: []",
])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        list(list_items(text))


def test_parse_events_reads_a_list_as_before() -> None:
    items = _real_events()
    text = _list(items, indent=4)
    streamed = events_from_list(text)
    assert streamed is not None and len(streamed) == len(items)
    assert order_events(streamed) == order_events(events_from_objects([json.loads(text)]))
    assert parse_events(text) == order_events(streamed)


def test_fallbacks_decide_as_before() -> None:
    items = _real_events()
    stream = "\n".join(json.dumps({"type": "ADDED", "object": e}) for e in items)  # kubectl get -w -o json
    assert events_from_list(stream) is None
    assert parse_events(stream) == parse_events(_list(items))
    broken = _list([*items, {"kind": "Event", "reason": {"not": "hashable"}}])
    skipped = Skipped("events.json")  # an item with a wrong-typed field is left out and counted, never a crash
    assert events_from_list(broken, skipped) == events_from_list(_list(items))
    assert skipped.counts == {"events": 1}
    assert f"events.json item {len(items) + 1}: reason is {{'not': 'hashable'}}" in skipped.warnings()[0]
    assert parse_events(broken) == parse_events(_list(items))


def test_timeline_from_a_list_of_events_and_pods() -> None:
    items = _real_events()
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default",
                                                           "creationTimestamp": "2025-06-02T10:00:00Z"},
           "status": {"phase": "Running", "conditions": [
               {"type": "Ready", "status": "True", "lastTransitionTime": "2025-06-02T10:05:00Z"}]}}
    mixed = _list([*items, pod], indent=4)
    whole = json.dumps({"kind": "List", "items": [*items, pod], "extra": 1})  # not a List's keys: decoded whole
    assert list(list_items(mixed))[-1] == pod
    one, other = timeline_from_texts(events=[("a.json", mixed)]), timeline_from_texts(events=[("b.json", whole)])
    assert [p.pod for p in one.pods] == [p.pod for p in other.pods]
    assert one.pods == other.pods
