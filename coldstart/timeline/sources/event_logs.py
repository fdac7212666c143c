"""Events that a component wrote into its own log rather than (or as well as) to the API server.

SREs paste `kubectl logs` of the cluster autoscaler, the scheduler, a kubelet's journal or Karpenter when the
events have aged out. Three shapes carry the same facts as an Event object:

- client-go's event broadcaster, logged through klog: `Event(v1.ObjectReference{Kind:"Pod", Namespace:"ns",
  Name:"x", ...}): type: 'Normal' reason: 'TriggeredScaleUp' pod triggered scale-up: [...]` (older releases
  write `api.ObjectReference` and no type);
- its structured form: `"Event occurred" object="ns/x" fieldPath="" kind="Pod" apiVersion="v1" type="Normal"
  reason="TriggeredScaleUp" message="..."`;
- Karpenter's controller log (JSON or zap console): `launched nodeclaim`, `registered nodeclaim`,
  `initialized nodeclaim`, `created nodeclaim` with the NodeClaim's name, read as the NodeClaim events
  Launched / Registered / Initialized / Created it also emits.

A line's time comes from its wrappers (see `prefixes`): absolute when they give a zone or a year, otherwise the
event stays undated (klog's `I0602 11:03:56` has no year) and keeps its place in the input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from coldstart.kube.times import parse_timestamp
from coldstart.timeline.sources.events import Event, interpret
from coldstart.timeline.sources.prefixes import LineSplitter
from coldstart.timeline.sources.provisioning import CLAIM_KINDS

__all__ = ["events_from_log_lines"]

_OBJECT_REF = re.compile(r"Event\((?:v1|api)\.ObjectReference\{(?P<ref>[^{}]*)\}\): (?:type: '(?P<type>\w*)' )?"
                         r"reason: '(?P<reason>[^']*)' ?(?P<message>.*)")
_REF_FIELD = re.compile(r'(\w+):"([^"]*)"')
_OCCURRED = re.compile(r'"Event occurred" ')
_KEY_VALUE = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')
_CLAIMS = {kind.lower(): kind for kind in CLAIM_KINDS}  # nodeclaim -> NodeClaim, machine -> Machine
_KARPENTER = re.compile(rf"\b(launched|registered|initialized|created) ({'|'.join(_CLAIMS)})\b")
_CLAIM_KEYS = "|".join([*CLAIM_KINDS, *_CLAIMS])
_CLAIM_NAME = re.compile(rf'"(?:{_CLAIM_KEYS})": ?(?:\{{"name": ?)?"(?P<name>[^"]+)"')
_JSON_TIME = re.compile(r'"(?:time|ts)": ?(?:"(?P<iso>[^"]+)"|(?P<epoch>\d+(?:\.\d+)?))')
_JSON_FIELD = re.compile(r"\"(?P<key>instance-type|[Nn]ode|provider-id|NodePool|nodepool)\": ?"
                         r'(?:\{"name": ?)?"(?P<value>[^"]*)"')


def events_from_log_lines(lines: Iterable[str]) -> list[Event]:
    """Every event a component logged, in input order; lines that are not events are passed over."""
    splitter = LineSplitter()
    out: list[Event] = []
    for raw in lines:
        if "Event" not in raw and "nodeclaim" not in raw and "machine" not in raw:
            continue  # the cheap test: nearly every line of a controller's log is something else
        split = splitter.split(raw.rstrip("\r\n"))
        at = split.stamp.at if split.stamp is not None else None
        if at is None and split.stamp is not None and split.stamp.wall is not None and split.stamp.wall[0]:
            at = split.stamp.resolve()
        event = _klog_event(split.message, at) or _karpenter_event(split.message, at)
        if event is not None:
            out.append(interpret(event))
    return out


def _klog_event(message: str, at: datetime | None) -> Event | None:
    if (m := _OBJECT_REF.search(message)) is not None:
        ref = dict(_REF_FIELD.findall(m.group("ref")))
        return Event(reason=m.group("reason"), type=m.group("type") or "", message=m.group("message").strip(),
                     kind=ref.get("Kind", ""), namespace=ref.get("Namespace", ""), name=ref.get("Name", ""),
                     field_path=ref.get("FieldPath", ""), uid=ref.get("UID", ""), first=at, last=at)
    if (m := _OCCURRED.search(message)) is not None:
        fields = {key: value.replace('\\"', '"') for key, value in _KEY_VALUE.findall(message, m.end())}
        namespace, _, name = fields.get("object", "").rpartition("/")
        if not fields.get("reason"):
            return None
        return Event(reason=fields["reason"], type=fields.get("type", ""), message=fields.get("message", ""),
                     kind=fields.get("kind", ""), namespace=namespace, name=name,
                     field_path=fields.get("fieldPath", ""), first=at, last=at)
    return None


def _karpenter_event(message: str, at: datetime | None) -> Event | None:
    m = _KARPENTER.search(message)
    name = _CLAIM_NAME.search(message)
    if m is None or name is None:
        return None
    if at is None and (t := _JSON_TIME.search(message)) is not None:
        if t.group("iso"):
            at = parse_timestamp(t.group("iso"))
        else:
            at = datetime.fromtimestamp(float(t.group("epoch")), tz=UTC)
    details = ", ".join(f"{k}: {v}" for k, v in _JSON_FIELD.findall(message) if v)
    text = f"{m.group(1)} {m.group(2)}" + (f" ({details})" if details else "")
    kind = _CLAIMS[m.group(2)]
    # the reason is the event Karpenter emits for the same step: `launched nodeclaim` -> Launched
    return Event(reason=m.group(1).capitalize(), type="Normal", message=text, kind=kind,
                 name=name.group("name"), component="karpenter", first=at, last=at)
