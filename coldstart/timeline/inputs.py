"""The timeline's input edge: files or texts that hold events, pods, both, or a vLLM log, read and sniffed.

Each input is sniffed, not trusted by its flag: `kubectl describe pod` passed as --events also yields the
pod, a pod List passed as --pods also yields nothing else. Structured text is decoded once (a 100 MB
events dump is not read twice) and the whole analysis runs with the cyclic GC paused. An input with
nothing recognisable is bad input (exit 2), never an empty success.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from coldstart.errors import InputError
from coldstart.inputs.decode import decode_documents, gc_paused, list_items
from coldstart.timeline.build import Timeline, build_timeline
from coldstart.timeline.sources.event_tables import parse_event_tables
from coldstart.timeline.sources.events import (
    Event,
    event_from_object,
    events_from_list,
    events_from_objects,
    order_events,
)
from coldstart.timeline.sources.pods import PodStatus, parse_pods, pod_from_object, pods_from_objects
from coldstart.timeline.sources.vllm_log import parse_vllm_log
from coldstart.timeline.sources.vllm_model import VllmLog

__all__ = ["parse_events", "timeline_from_files", "timeline_from_texts"]


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; check the path") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text; give kubectl output, a JSON/YAML document or a log file") from None


def _from_list(text: str) -> tuple[list[Event], list[PodStatus]] | None:
    """Events and pods of a JSON List read one item at a time (see structured.list_items); None when the text
    is anything else or an item fails to read (the whole-document path then decides exactly as before)."""
    events: list[Event] = []
    pods: list[PodStatus] = []
    try:
        for obj in list_items(text):
            if type(obj) is dict and not isinstance(obj.get("items"), list):
                if (event := event_from_object(obj)) is not None:
                    events.append(event)
                if (pod := pod_from_object(obj)) is not None:
                    pods.append(pod)
            else:
                events += events_from_objects((obj,))
                pods += pods_from_objects((obj,))
    except Exception:  # any failure means: take the whole-document path
        return None
    return order_events(events), pods


def parse_events(source: str | bytes | Mapping[str, Any] | Iterable[Any]) -> list[Event]:
    """Events from text (JSON, YAML or kubectl tables) or already-decoded objects, in time order."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    with gc_paused():
        if isinstance(source, Mapping):
            events = events_from_objects([source])
        elif isinstance(source, str):
            listed = events_from_list(source)
            events = listed if listed is not None else events_from_objects(decode_documents(source))
            if not events:
                events = parse_event_tables(source)
        else:
            events = events_from_objects(source)
        return order_events(events)


def _events_and_pods(content: Any) -> tuple[list[Event], list[PodStatus]]:
    """Both kinds from one input, decoding structured text once (a 100 MB events dump is not read twice)."""
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    if isinstance(content, str):
        found = _from_list(content)
        if found is None and (docs := decode_documents(content)):
            found = order_events(events_from_objects(docs)), pods_from_objects(docs)
        if found is not None:
            if found[0] or found[1]:
                return found
            # YAML-ish text that is really a table
            return order_events(parse_event_tables(content)), parse_pods(content)
    return parse_events(content), parse_pods(content)


def timeline_from_texts(events: Sequence[tuple[str, Any]] = (), pods: Sequence[tuple[str, Any]] = (),
                        logs: Sequence[tuple[str, Any]] = ()) -> Timeline:
    """The timeline from (name, content) pairs: text, or already-decoded objects for events and pods.

    A name is only used in messages and to match a log to its pod (a log named after the pod). Each
    events/pods input may hold events, pods or both (`kubectl describe pod` does). InputError names the
    input that holds nothing recognisable.
    """
    with gc_paused():  # once for the whole analysis: bulk inputs are many small objects
        return _analyse(events, pods, logs)  # its parsed events die with it, before the collector runs again


def _analyse(events: Sequence[tuple[str, Any]], pods: Sequence[tuple[str, Any]],
             logs: Sequence[tuple[str, Any]]) -> Timeline:
    all_events: list[Event] = []
    all_pods: list[PodStatus] = []
    all_logs: list[tuple[str, VllmLog]] = []
    for name, content in [*events, *pods]:
        found_events, found_pods = _events_and_pods(content)
        if not found_events and not found_pods:
            raise InputError(f"no events/pods/vLLM lines recognised in {name}; give `kubectl get events -o "
                             "json`, `kubectl describe pod`, `kubectl get pod -o yaml` or similar output")
        all_events += found_events
        all_pods += found_pods
    for name, content in logs:
        log = parse_vllm_log(content, name=name)
        if not log.recognised:
            raise InputError(f"no events/pods/vLLM lines recognised in {name}; give the vLLM container's "
                             "log (`kubectl logs --timestamps <pod>`)")
        all_logs.append((name, log))
    return build_timeline(all_events, all_pods, all_logs)


def timeline_from_files(events: Sequence[str] = (), pods: Sequence[str] = (), logs: Sequence[str] = ()) -> Timeline:
    """Read every file (`-` is stdin) and build the timeline; InputError when a file is unreadable or empty of
    anything recognisable."""
    return timeline_from_texts(events=[(p, _read(p)) for p in events], pods=[(p, _read(p)) for p in pods],
                               logs=[(p, _read(p)) for p in logs])
