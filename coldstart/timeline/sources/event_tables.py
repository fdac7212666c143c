"""Events from the text tables kubectl prints, by column meaning rather than by position.

Handles the `Events:` section of `kubectl describe` (Type/Reason/Age/From/Message, ages like `3s (x3 over
13s)` or `x3 over 2m`, `<invalid>`), its old tab-separated form (FirstSeen/LastSeen/Count/From/
SubObjectPath/Type/Reason/Message), `kubectl get events` / `kubectl events` (LAST SEEN/TYPE/REASON/OBJECT/
MESSAGE, `-A` and `-o wide` columns, the older KIND/NAME/SOURCE layouts) and event rows quoted without
their header in an issue (list markers, backticks, a message hard-wrapped onto the next line).

The header says which columns exist; each row is then read with a pattern per column (an age looks like
an age, a type is Normal or Warning, a source may be `{kubelet node}` or `kubelet, node`), so padding that
a paste destroyed does not matter. Ages stay ages: seconds before the moment kubectl ran.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from coldstart.kube.times import parse_age, parse_timestamp
from coldstart.timeline.sources.events import Event, interpret

_AGE = r"(?:<unknown>|<invalid>|\d+[ydhms](?:\d+[ydhms])*)"
_AGE_COL = rf"(?:{_AGE}(?:\s+\(x\d+ over {_AGE}\))?|\(?x\d+ over {_AGE}\)?)"
_DATE = r"(?:[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}|\d{4}-\d\d-\d\dT\S+)"
_COLUMNS = {
    "AGE": _AGE_COL,
    "LASTSEEN": rf"(?:{_AGE_COL}|{_DATE})",
    "FIRSTSEEN": rf"(?:{_AGE_COL}|{_DATE})",
    "COUNT": r"\d+",
    "TYPE": r"Normal|Warning",
    "REASON": r"[A-Za-z][\w-]*",
    "OBJECT": r"[\w.-]+(?:/[\w.:-]+)?",
    "KIND": r"[A-Za-z]+",
    "NAME": r"\S+",
    "NAMESPACE": r"[\w.-]+",
    "SUBOBJECT": r"[\w.]+\{[^}]*\}|spec\.\S+",
    "FROM": r"\{[^}]*\}|[\w./:-]+(?:, [\w./:-]+)?",
    "MESSAGE": r".*",
}
_ALIASES = {"SUBOBJECTPATH": "SUBOBJECT", "SOURCE": "FROM"}
_OPTIONAL = {"SUBOBJECT"}
_KNOWN_REASONS = {
    "Scheduled", "FailedScheduling", "Preempted", "Nominated", "TriggeredScaleUp", "NotTriggerScaleUp", "ScaleDown",
    "Pulling", "Pulled", "Failed", "BackOff", "Created", "Started", "Killing", "Unhealthy", "OOMKilling",
    "ImageStreaming", "SuccessfulCreate", "SuccessfulDelete", "ScalingReplicaSet", "FailedMount",
    "FailedAttachVolume", "SuccessfulAttachVolume", "FailedCreatePodSandBox", "SandboxChanged", "Evicted",
}
_KINDS = {"pod": "Pod", "node": "Node", "replicaset": "ReplicaSet", "deployment": "Deployment",
          "statefulset": "StatefulSet", "daemonset": "DaemonSet", "job": "Job", "nodeclaim": "NodeClaim",
          "nodepool": "NodePool", "inferenceservice": "InferenceService", "persistentvolumeclaim":
          "PersistentVolumeClaim", "horizontalpodautoscaler": "HorizontalPodAutoscaler"}
_LIST_MARKER = re.compile(r"^\s*(?:\d+\.|[-*+])\s+")
_UNDERLINE = re.compile(r"^\s*-{2,}(?:\s+-{2,})*\s*$")
_X_OVER = re.compile(rf"^(?:(?P<last>{_AGE})\s+)?\(?x(?P<count>\d+) over (?P<first>{_AGE})\)?$")
_DESCRIBE_FIELD = re.compile(r"^(Name|Namespace|Node|Containers|Kind|Roles|Taints|Unschedulable):\s*(\S*)")
_NODE_FIELDS = ("roles", "taints", "unschedulable")  # only `describe node` prints these at the top level
_MARKDOWN_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?$")


def _header(line: str) -> list[str] | None:
    text = re.sub(r"\b(LAST|FIRST) SEEN\b", r"\1SEEN", line.strip().upper())
    tokens = [_ALIASES.get(t, t) for t in text.split()]
    if not tokens or any(t not in _COLUMNS for t in tokens) or len(set(tokens)) != len(tokens):
        return None
    if "REASON" in tokens and "MESSAGE" in tokens and {"AGE", "LASTSEEN", "FIRSTSEEN"} & set(tokens):
        return tokens
    return None


def _row_pattern(columns: list[str], *, type_optional: bool = False) -> re.Pattern[str]:
    """A row regex: one sub-pattern per column, whitespace between (a leading Type may be missing)."""
    parts = [r"^\s*"]
    for i, col in enumerate(columns):
        body = r".*?" if col == "MESSAGE" and i < len(columns) - 1 else _COLUMNS[col]
        group = f"(?P<{col}>{body})"
        if i == 0 and col == "TYPE" and type_optional:
            parts.append(f"(?:{group}\\s+)?")
        elif i == 0 or (i == 1 and type_optional):
            parts.append(group)
        elif col in _OPTIONAL or (col == "MESSAGE" and i == len(columns) - 1):
            parts.append(f"(?:\\s+{group})?")
        else:
            parts.append(r"\s+" + group)
    return re.compile("".join(parts) + r"\s*$")


_LENIENT = [_row_pattern(["TYPE", "REASON", "AGE", "FROM", "MESSAGE"], type_optional=True),
            _row_pattern(["LASTSEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]),
            _row_pattern(["NAMESPACE", "LASTSEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"])]  # get events -A


def _ages(text: str) -> tuple[float | None, float | None, int | None]:
    """(last_age, first_age, count) from an age cell."""
    text = text.strip()
    match = _X_OVER.match(text)
    if match:
        last = parse_age(match.group("last")) if match.group("last") else None
        return last, parse_age(match.group("first")), int(match.group("count"))
    age = parse_age(text)
    return age, age, None


def _source(text: str) -> tuple[str, str]:
    text = text.strip().strip("{}").strip()
    if "," in text:
        component, _, host = text.partition(",")
    else:
        component, _, host = text.partition(" ")
    return component.strip(), host.strip()


def _event(groups: dict[str, str | None], context: dict[str, str]) -> Event:
    ev = Event(reason=groups.get("REASON") or "", type=groups.get("TYPE") or "",
               message=(groups.get("MESSAGE") or "").strip())
    for col in ("AGE", "LASTSEEN"):
        cell = groups.get(col)
        if cell:
            stamp = parse_timestamp(cell) if re.match(_DATE, cell) else None
            if stamp is not None:
                ev.last = stamp
            else:
                ev.last_age, first_age, count = _ages(cell)
                ev.first_age = first_age
                if count:
                    ev.count = count
    if cell := groups.get("FIRSTSEEN"):
        stamp = parse_timestamp(cell) if re.match(_DATE, cell) else None
        if stamp is not None:
            ev.first = stamp
        else:
            ev.first_age = _ages(cell)[1]
    if ev.first is None and ev.last is not None:
        ev.first = ev.last
    if ev.last is None and ev.first is not None:
        ev.last = ev.first
    if count_cell := groups.get("COUNT"):
        ev.count = int(count_cell)
    if from_cell := groups.get("FROM"):
        ev.component, ev.host = _source(from_cell)
    ev.field_path = groups.get("SUBOBJECT") or ""
    if obj := groups.get("OBJECT"):
        kind, _, name = obj.rpartition("/")
        ev.kind, ev.name = _KINDS.get(kind.lower(), kind[:1].upper() + kind[1:]), name
    if kind_cell := groups.get("KIND"):
        ev.kind = _KINDS.get(kind_cell.lower(), kind_cell)
    ev.name = groups.get("NAME") or ev.name
    ev.namespace = groups.get("NAMESPACE") or ""
    if not ev.name and context.get("name"):  # a describe output's own Events section
        ev.name, ev.namespace, ev.kind = context["name"], context.get("namespace", ""), context.get("kind", "")
    return interpret(ev)


def _markdown(line: str, columns: list[str] | None) -> tuple[list[str] | None, dict[str, str | None] | None]:
    """(the table's columns, the row's cells by column) for one markdown table line; a header or rule gives no
    row. A row cut by the paste keeps the cells it has; pipes inside the message stay in the message."""
    if _MARKDOWN_RULE.match(line):
        return columns, None
    cells = [cell.strip().strip("`").strip() for cell in line.strip().strip("|").split("|")]
    header = _header(" ".join(cells))
    if header is not None and len(header) == len(cells):
        return header, None
    if columns is None or len(cells) < 2:
        return columns, None
    if len(cells) > len(columns):
        cells[len(columns) - 1:] = [" | ".join(cells[len(columns) - 1:])]
    groups: dict[str, str | None] = dict.fromkeys(columns)
    groups.update(zip(columns, cells, strict=False))
    return columns, groups


def _continues(line: str, previous: str) -> bool:
    """A hard-wrapped remainder of the previous row: flush left, one unbroken run, after a long line."""
    return (bool(line) and not line[0].isspace() and "  " not in line.strip() and "$ " not in line
            and len(previous) >= 80 and not _DESCRIBE_FIELD.match(line))


def parse_event_tables(text: str | Iterable[str]) -> list[Event]:
    """Every event row in kubectl text output (several tables, or rows without a header); input order."""
    lines = text.splitlines() if isinstance(text, str) else list(text)
    events: list[Event] = []
    rows: list[tuple[dict[str, str | None], str]] = []
    contexts: list[dict[str, str]] = []
    pattern: re.Pattern[str] | None = None
    markdown: list[str] | None = None  # the columns of the markdown table being read
    context: dict[str, str] = {}
    previous: str | None = None
    for raw in lines:
        line = raw.rstrip()
        if line.startswith("# [gap]"):
            pattern, previous = None, None
            continue
        if field := _DESCRIBE_FIELD.match(line):
            key, value = field.group(1).lower(), field.group(2)
            if key == "name":
                context = {"name": value}
            elif key == "namespace":
                context["namespace"] = value
            elif key == "kind":
                context["kind"] = _KINDS.get(value.lower(), value)
            elif key in _NODE_FIELDS:
                context.setdefault("kind", "Node")
            else:
                context["kind"] = "Pod"
        if (columns := _header(line)) is not None:
            pattern, previous = _row_pattern(columns), None
            continue
        if _UNDERLINE.match(line) or not line.strip():
            previous = None if not line.strip() else previous
            continue
        cleaned = _LIST_MARKER.sub("", line).strip().strip("`").strip()
        if cleaned.startswith("|"):  # a markdown table pasted into an issue: the pipes say where cells end
            markdown, groups = _markdown(cleaned, markdown)
            if groups is not None:
                rows.append((groups, cleaned))
                contexts.append(dict(context))
            pattern, previous = None, None
            continue
        markdown = None
        match = pattern.match(cleaned) if pattern else None
        if match is None and pattern is None:
            for candidate in _LENIENT:
                match = candidate.match(cleaned)
                if match and (match.groupdict().get("TYPE") or match.group("REASON") in _KNOWN_REASONS):
                    break
                match = None
        if match:
            rows.append((match.groupdict(), cleaned))
            contexts.append(dict(context))
            previous = line
            continue
        if previous is not None and rows and _continues(line, previous):
            groups, _ = rows[-1]
            groups["MESSAGE"] = (groups.get("MESSAGE") or "") + cleaned
            previous = None
            continue
        pattern, previous = None, None  # the table ended
    for (groups, _), ctx in zip(rows, contexts, strict=True):
        events.append(_event(groups, ctx))
    return events
