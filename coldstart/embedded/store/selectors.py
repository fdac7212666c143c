"""Label and field selectors, compiled into predicates the way the API server reads them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


class BadSelector(Exception):
    """A selector that does not parse (the API server answers 400 BadRequest)."""

    status, reason = 400, "BadRequest"


_REQ = re.compile(r"^\s*(!)?\s*([A-Za-z0-9_./-]+)\s*(?:(==|=|!=)\s*([A-Za-z0-9_.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def _split_selector(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def parse_label_selector(text: str | None) -> Callable[[dict[str, str]], bool]:
    """Compile a label selector (`a=b,c!=d,e in (x,y),!f,g`) into a predicate over a labels map."""
    if not text:
        return lambda labels: True
    tests: list[Callable[[dict[str, str]], bool]] = []
    for part in _split_selector(text):
        m = _REQ.match(part)
        if not m:
            raise BadSelector(f"unable to parse requirement: {part.strip()!r}")
        neg, key, op, value, setop, values = m.groups()
        tests.append(_label_test(bool(neg), key, op, value, setop, values))
    return lambda labels: all(t(labels) for t in tests)


def _label_test(neg: bool, key: str, op: str | None, value: str | None, setop: str | None,
                values: str | None) -> Callable[[dict[str, str]], bool]:
    """One requirement of a label selector as a predicate."""
    if neg:
        return lambda labels: key not in labels
    if op in ("=", "=="):
        return lambda labels: labels.get(key) == value
    if op == "!=":
        return lambda labels: labels.get(key) != value
    if setop:
        allowed = {v.strip() for v in (values or "").split(",") if v.strip()}
        if setop == "in":
            return lambda labels: labels.get(key) in allowed
        return lambda labels: labels.get(key) not in allowed
    return lambda labels: key in labels


# Field labels whose unset value the real server's field sets spell out (strconv.FormatBool of a false bool).
_FIELD_DEFAULTS = {"spec.unschedulable": "false", "spec.hostNetwork": "false"}


def _field(obj: dict, path: str) -> str:
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, bool):
        return "true" if node else "false"
    return _FIELD_DEFAULTS.get(path, "") if node is None else str(node)


def parse_field_selector(text: str | None) -> Callable[[dict], bool]:
    """Compile a field selector (`spec.nodeName=n1,involvedObject.name=p`) into a predicate."""
    if not text:
        return lambda obj: True
    tests: list[Callable[[dict], bool]] = []
    for part in _split_selector(text):
        m = re.match(r"^\s*([A-Za-z0-9_.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not m:
            raise BadSelector(f"invalid field selector: {part.strip()!r}")
        tests.append(_field_test(*m.groups()))
    return lambda obj: all(t(obj) for t in tests)


def _field_test(path: str, op: str, value: str) -> Callable[[dict], bool]:
    """One requirement of a field selector as a predicate."""
    if op == "!=":
        return lambda obj: _field(obj, path) != value
    return lambda obj: _field(obj, path) == value


