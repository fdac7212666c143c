"""JSON and YAML documents out of whatever an SRE pastes or a tool writes.

`kubectl get -o json|yaml` gives one document (often a List); `kubectl get -w -o json` gives a stream of
concatenated objects; multi-document YAML is joined with `---`; an issue may hold only an indented
excerpt that stops mid-object. Each shape becomes a list of Python objects, or an empty list when the
text is not structured data at all (tables and logs are someone else's job).
"""

from __future__ import annotations

import gc
import json
import re
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from json.decoder import WHITESPACE, scanstring  # type: ignore[attr-defined]  # undocumented, not in typeshed
from json.scanner import make_scanner
from typing import Any

from coldstart.errors import InvalidValue
from coldstart.inputs.jsonsafe import decode_error, other_error
from coldstart.inputs.yamlsafe import yaml_documents


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector around bulk parsing.

    100,000 decoded events are millions of live containers; every generation-2 collection triggered by
    the objects we create would walk all of them again (measured: parsing 1,000 pods next to 100,000 live
    events went from ~20 ms to ~650 ms). What we build is acyclic, so reference counting frees it.

    On leaving a bulk pause, what it built and kept (100,000 parsed events) joins the oldest generation at
    once (gc.freeze + gc.unfreeze only relink lists), instead of being walked by the young collection that
    the first allocation after the pause would start and by the next one (~80 ms for 100k events). The
    collector still tracks it and a full collection still walks it. Not after small pauses (their young
    collection is cheap), nor when the program froze objects itself (a pre-fork server): unfreeze would thaw
    those too (and counting them walks them, which only a bulk pause can afford).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            if gc.get_count()[0] > _BULK and not gc.get_freeze_count():
                gc.freeze()
                gc.unfreeze()
            gc.enable()


_BULK = 20_000  # young objects left by a pause (1,000 pods leave ~10,000; 100,000 events ~180,000)


# typeshed wants a make_scanner as the context; the scanner only reads a JSONDecoder's settings off it.
_SCAN = make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # what json.loads decodes with (the C scanner)
_WS = WHITESPACE.match  # JSON's own whitespace: space, tab, CR, LF


_WS_CHARS = frozenset(" \n\r\t")


def _skip_ws(text: str, pos: int) -> int:
    return _WS(text, pos).end() if text[pos:pos + 1] in _WS_CHARS else pos


_LIST_KEYS = {"apiVersion", "kind", "metadata", "items"}


def list_items(text: str) -> Iterator[Any]:
    """The elements of the `items` array of a JSON List (`kubectl get ... -o json`), decoded one at a time.

    json.loads builds the whole tree before anyone reads it: for 100,000 events that is 70 MB of text and
    millions of objects, read back from main memory and freed at the end. One element at a time, the caller
    reads each while it is still in the CPU cache and frees it right away (measured: ~20% less time for 100k
    events). Each element is decoded by the scanner json.loads uses, so it is exactly the object json.loads
    would have put in the list. Raises ValueError, possibly after some elements, unless the whole text is one
    JSON object with the keys of a List (apiVersion, kind, metadata) and exactly one `items` array (json.loads
    keeps the last of repeated keys): a stream of objects, an excerpt, YAML, a single object; decode those
    whole with decode_documents.
    """
    pos = _skip_ws(text, 0)
    if text[pos:pos + 1] != "{":
        raise InvalidValue("not a JSON object")
    pos = _skip_ws(text, pos + 1)
    seen_items = False
    while True:
        if text[pos:pos + 1] != '"':
            raise InvalidValue("expected a key")
        key, pos = scanstring(text, pos + 1, True)
        if key not in _LIST_KEYS:  # a single object or a watch event: not worth decoding twice
            raise InvalidValue(f"{key!r} is not a key of a List")
        pos = _skip_ws(text, pos)
        if text[pos:pos + 1] != ":":
            raise InvalidValue("expected ':'")
        pos = _skip_ws(text, pos + 1)
        if key == "items":
            if seen_items or text[pos:pos + 1] != "[":
                raise InvalidValue("items repeated or not an array")
            seen_items = True
            pos = _skip_ws(text, pos + 1)
            if text[pos:pos + 1] == "]":
                pos += 1
            else:
                while True:  # per element: _skip_ws inlined
                    try:
                        value, pos = _SCAN(text, pos)
                    except StopIteration:
                        raise InvalidValue("expected a value") from None
                    yield value
                    char = text[pos:pos + 1]
                    if char in _WS_CHARS:
                        pos = _WS(text, pos).end()
                        char = text[pos:pos + 1]
                    pos += 1
                    if char == "]":
                        break
                    if char != ",":
                        raise InvalidValue("expected ',' or ']'")
                    if text[pos:pos + 1] in _WS_CHARS:
                        pos = _WS(text, pos).end()
        else:
            try:
                _, pos = _SCAN(text, pos)
            except StopIteration:
                raise InvalidValue("expected a value") from None
        pos = _skip_ws(text, pos)
        char = text[pos:pos + 1]
        pos += 1
        if char == "}":
            break
        if char != ",":
            raise InvalidValue("expected ',' or '}'")
        pos = _skip_ws(text, pos)
    if not seen_items or _skip_ws(text, pos) != len(text):
        raise InvalidValue("no items array, or more than one document")


_KEY_START = re.compile(r'\s*"[^"]+"\s*:')
_LEADING_SPACE = re.compile(r"\s*")


def _json_stream(text: str) -> list[Any] | None:
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    pos, end = 0, len(text)
    while pos < end:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            break
        try:
            doc, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return None
        docs.append(doc)
    return docs


def _repair_json(text: str) -> Any | None:
    """Close a JSON excerpt that starts at a key and is cut at its end, as issues quote them (`"status": {...`).

    Only an excerpt: a text that starts with `{` or `[` is a whole document, and one that stops early is reported
    as cut off, never completed by guessing."""
    body = "{" + text.strip()
    stack: list[str] = []
    in_string = escaped = False
    for char in body:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
    if in_string:
        body = body[: body.rfind('"')]
    body = re.sub(r"[\s,:]+$", "", body)
    dangling_key = re.search(r'([{,])\s*"[^"]*"$', body)
    if dangling_key:  # a key whose value the excerpt cut off
        body = body[: dangling_key.start() + (1 if dangling_key.group(1) == "{" else 0)]
    try:
        return json.loads(body + "".join(reversed(stack)))
    except (ValueError, RecursionError):
        return None


def _yaml_docs(text: str, name: str) -> list[Any] | None:
    """The YAML documents of a text, or None when it is not YAML (a table, a log). What the safe loader refuses
    (an alias bomb, a cycle, a duplicate key, deep nesting) is an error, not "not YAML"."""
    try:
        return [doc.value for doc in yaml_documents(text, name) if doc.value is not None]
    except InvalidValue:
        return None


def decode_documents(text: str, *, tolerant: bool = True, name: str = "<input>") -> list[Any]:
    """Every JSON/YAML document in text; with tolerant, also the data in an excerpt pasted from an issue (an
    indented YAML block, a JSON block that starts at a key), which may stop mid-object.

    Returns [] for text that is not structured data (a kubectl table, a log), so callers can fall back. A text
    that starts as a JSON document and does not parse (a file cut off mid-way) is InvalidValue naming where it
    stops; nesting too deep and numbers too long are InputRefused.
    """
    leading = _LEADING_SPACE.match(text)  # r"\s*" matches every text
    start = leading.end() if leading else 0
    if start == len(text):
        return []
    if text[start] in "{[":
        try:
            return [json.loads(text)]  # the common case, without copying a 100 MB dump first
        except json.JSONDecodeError as exc:
            failure = exc
        except (ValueError, RecursionError) as exc:
            raise other_error(exc, text, name) from None
        try:
            docs = _json_stream(text.strip())
        except (ValueError, RecursionError) as exc:
            raise other_error(exc, text, name) from None
        if docs is not None:
            return docs
        docs = _yaml_docs(text, name)  # YAML flow style (`{kind: List, items: [...]}`) is not JSON
        if docs is not None:
            return [doc for doc in docs if isinstance(doc, dict | list)]
        raise decode_error(failure, name, InvalidValue)
    if tolerant and _KEY_START.match(text, start):
        repaired = _repair_json(text)
        if repaired is not None:
            return [repaired]
    docs = _yaml_docs(text, name)
    if docs is None and tolerant:
        docs = _yaml_docs(textwrap.dedent(text), name)
        lines = textwrap.dedent(text).splitlines()
        for _ in range(3):  # an excerpt cut mid-value: drop its last lines (a few: this is not a search)
            if docs is not None or len(lines) < 2:
                break
            lines.pop()
            docs = _yaml_docs("\n".join(lines), name)
    if not docs:
        return []
    return [doc for doc in docs if isinstance(doc, dict | list)]
