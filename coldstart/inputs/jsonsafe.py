"""JSON as users hand it over, bounded like YAML (see `yamlsafe`): the same nesting bound, numbers Python can
convert, and a document that stops early (a cut-off `kubectl get events -o json > file`) reported as cut off, with
where it stops, instead of being guessed at."""

from __future__ import annotations

import json
import re
from typing import Any

from coldstart.errors import InputError, InputRefused, InvalidValue
from coldstart.inputs.yamlsafe import MAX_DEPTH, MAX_INT_DIGITS

_DECODER = json.JSONDecoder()
_LONG_NUMBER = re.compile(f"[0-9]{{{MAX_INT_DIGITS + 1},}}")


def too_deep(name: str) -> InputRefused:
    return InputRefused(f"{name}: nested deeper than {MAX_DEPTH} levels; no Kubernetes object is this deep, so "
                        "check what produced the file")


def check_depth(value: Any, name: str) -> None:
    """Refuse a decoded value nested deeper than MAX_DEPTH (iteratively: the check itself never recurses)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise too_deep(name)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


def decode_error(exc: json.JSONDecodeError, name: str, error: type[InputError]) -> InputError:
    """A JSON syntax error, or a document that ends before it is complete (truncated) said as such."""
    end = len(exc.doc.rstrip())
    if exc.pos >= end or exc.msg.startswith("Unterminated string"):
        line = exc.doc.count("\n", 0, end) + 1
        return error(f"{name}:{line}: the JSON ends before its document is complete (cut off after line {line}?); "
                     "give the whole output, e.g. kubectl get ... -o json > file")
    return error(f"{name}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); fix the syntax")


def other_error(exc: ValueError | RecursionError, text: str, name: str) -> InputRefused:
    """What json raises besides JSONDecodeError: RecursionError on deep nesting, ValueError on huge integers."""
    if isinstance(exc, RecursionError):
        return too_deep(name)
    match = _LONG_NUMBER.search(text)
    where = f":{text.count(chr(10), 0, match.start()) + 1}" if match else ""
    return InputRefused(f"{name}{where}: a number of more than {MAX_INT_DIGITS:,} digits; no field takes a number "
                        "this large, so fix the value")


def json_values(text: str, name: str, *, error: type[InputError] = InvalidValue,
                first_may_fail: bool = False) -> list[Any] | None:
    """Every JSON value in the text: one document, or several concatenated as `kubectl get -w -o json` prints them.

    With first_may_fail, None when the text does not start with a JSON value (let a YAML reader have it)."""
    values: list[Any] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return values
        try:
            value, pos = _DECODER.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            if first_may_fail and not values:
                return None
            raise decode_error(exc, name, error) from None
        except (ValueError, RecursionError) as exc:
            raise other_error(exc, text, name) from None
        if isinstance(value, dict | list):
            check_depth(value, name)
        values.append(value)
