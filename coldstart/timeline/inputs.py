"""The timeline's input edge: files or texts that hold events, pods, both, or a vLLM log, read and sniffed.

Each input is sniffed, not trusted by its flag: `kubectl describe pod` passed as --events also yields the
pod, a pod List passed as --pods also yields nothing else. Structured text is decoded once (a 100 MB
events dump is not read twice) and the whole analysis runs with the cyclic GC paused. An input with
nothing recognisable is bad input (exit 2), never an empty success.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from coldstart.errors import InputError, InvalidValue
from coldstart.inputs.decode import decode_documents, gc_paused, list_items
from coldstart.inputs.files import EVENTS, LOG, STDIN, check_regular_file, iter_text, read_text
from coldstart.timeline.build import Timeline, build_timeline
from coldstart.timeline.sources.event_logs import events_from_log_lines
from coldstart.timeline.sources.event_tables import parse_event_tables
from coldstart.timeline.sources.events import (
    Event,
    event_from_object,
    events_from_list,
    events_from_objects,
    order_events,
)
from coldstart.timeline.sources.pods import PodStatus, parse_pods, pod_from_object, pods_from_objects
from coldstart.timeline.sources.skipped import Skipped
from coldstart.timeline.sources.vllm_log import parse_vllm_log, parse_vllm_log_chunks
from coldstart.timeline.sources.vllm_model import VllmLog

__all__ = ["parse_events", "timeline_from_files", "timeline_from_texts"]


def _from_list(text: str, skipped: Skipped) -> tuple[list[Event], list[PodStatus]] | None:
    """Events and pods of a JSON List read one item at a time (see decode.list_items); None when the text is
    anything else or an item fails to decode (the whole-document path then decides). Wrong-typed objects are
    counted in `skipped`, once: only when this path is the one taken."""
    events: list[Event] = []
    pods: list[PodStatus] = []
    found = Skipped(skipped.source)
    try:
        for index, obj in enumerate(list_items(text)):
            if type(obj) is dict and not isinstance(obj.get("items"), list):
                try:
                    if (event := event_from_object(obj)) is not None:
                        events.append(event)
                except InvalidValue as exc:
                    found.add("events", f"item {index + 1}", str(exc))
                try:
                    if (pod := pod_from_object(obj, found)) is not None:
                        pods.append(pod)
                except InvalidValue as exc:
                    found.add("pods", f"item {index + 1}", str(exc))
            else:
                events += events_from_objects((obj,), found)
                pods += pods_from_objects((obj,), found)
    except (ValueError, RecursionError):  # not a List, or an item that does not decode: the whole-document path
        return None
    skipped.merge(found)
    return order_events(events), pods


def _from_text(text: str) -> list[Event]:
    """Events printed as text: kubectl tables in any shape, else the events a component logged itself."""
    return parse_event_tables(text) or events_from_log_lines(text.splitlines())


def parse_events(source: str | bytes | Mapping[str, Any] | Iterable[Any], skipped: Skipped | None = None,
                 name: str = "<input>") -> list[Event]:
    """Events from text (JSON, YAML or kubectl tables) or already-decoded objects, in time order. Events with
    wrong-typed fields are left out (and counted in `skipped` when given)."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    with gc_paused():
        if isinstance(source, Mapping):
            events = events_from_objects([source], skipped)
        elif isinstance(source, str):
            listed = events_from_list(source, skipped)
            events = listed if listed is not None else events_from_objects(decode_documents(source, name=name),
                                                                           skipped)
            if not events:
                events = _from_text(source)
        else:
            events = events_from_objects(source, skipped)
        return order_events(events)


def _events_and_pods(content: Any, name: str, skipped: Skipped) -> tuple[list[Event], list[PodStatus]]:
    """Both kinds from one input, decoding structured text once (a 100 MB events dump is not read twice)."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    if isinstance(content, str):
        found = _from_list(content, skipped)
        if found is None and (docs := decode_documents(content, name=name)):
            found = order_events(events_from_objects(docs, skipped)), pods_from_objects(docs, skipped)
        if found is not None:
            if found[0] or found[1]:
                return found
            # YAML-ish text that is really a table
            return order_events(_from_text(content)), parse_pods(content, name=name)
    return parse_events(content, skipped, name), parse_pods(content, skipped, name)


def timeline_from_texts(events: Sequence[tuple[str, Any]] = (), pods: Sequence[tuple[str, Any]] = (),
                        logs: Sequence[tuple[str, Any]] = (), *, now: datetime | None = None) -> Timeline:
    """The timeline from (name, content) pairs: text, or already-decoded objects for events and pods.

    A name is only used in messages and to match a log to its pod (a log named after the pod). Each
    events/pods input may hold events, pods or both (`kubectl describe pod` does). InputError names the
    input that holds nothing recognisable. What was skipped (wrong-typed objects) and what the timeline left
    out (times out of order or in the future) is in `Timeline.warnings`; "the future" is after `now` (default: the
    wall clock; a simulated cluster passes its own time).
    """
    with gc_paused():  # once for the whole analysis: bulk inputs are many small objects
        # its parsed events die with it, before the collector runs again
        return _analyse([*events, *pods], ((name, parse_vllm_log(content, name=name)) for name, content in logs),
                        now)


def _analyse(structured: Iterable[tuple[str, Any]], logs: Iterable[tuple[str, VllmLog]],
             now: datetime | None = None) -> Timeline:
    all_events: list[Event] = []
    all_pods: list[PodStatus] = []
    all_logs: list[tuple[str, VllmLog]] = []
    warnings: list[str] = []
    for name, content in structured:
        skipped = Skipped(name)
        found_events, found_pods = _events_and_pods(content, name, skipped)
        del content  # a file's text goes before the next one is read
        warnings += skipped.warnings()
        if not found_events and not found_pods:
            why = f" ({'; '.join(skipped.warnings())})" if skipped.counts else ""
            raise InputError(f"no events/pods/vLLM lines recognised in {name}{why}; give `kubectl get events -o "
                             "json`, `kubectl describe pod`, `kubectl get pod -o yaml` or similar output")
        all_events += found_events
        all_pods += found_pods
    for name, log in logs:
        if not log.recognised:
            raise InputError(f"no events/pods/vLLM lines recognised in {name}; give the vLLM container's "
                             "log (`kubectl logs --timestamps <pod>`)")
        all_logs.append((name, log))
    timeline = build_timeline(all_events, all_pods, all_logs, now=now)
    timeline.warnings[:0] = warnings
    return timeline


def timeline_from_files(events: Sequence[str] = (), pods: Sequence[str] = (), logs: Sequence[str] = ()) -> Timeline:
    """Read every file (`-` is stdin) and build the timeline; InputError when a file is unreadable or empty of
    anything recognisable. Every path is checked first (a regular file, not a pipe or a device); each file is
    read within its size limit and let go before the next one, and logs are streamed in chunks."""
    for path in [*events, *pods, *logs]:
        if path != STDIN:
            check_regular_file(path, "events, pods or log file")
    with gc_paused():
        structured = ((path, read_text(path, EVENTS)) for path in [*events, *pods])
        streamed = ((path, parse_vllm_log_chunks(iter_text(path, LOG), name=path)) for path in logs)
        return _analyse(structured, streamed)
