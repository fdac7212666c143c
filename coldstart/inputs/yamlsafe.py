"""The one YAML loader for what users hand over: libyaml, and a bounded look at each document before it is built.

libyaml (yaml.CSafeLoader; PyYAML's pure-Python SafeLoader where it is missing) composes each document's node
graph; before any Python object is constructed, one iterative walk over the nodes refuses what would hang or
exhaust coldstart, or be read two ways:

- an alias that refers to a node containing it (`&a [*a]`): the document references itself;
- aliases that expand the document past its budget (billion laughs): nodes are counted as if every alias were
  written out, memoized per node, so a 1 KB bomb is refused in milliseconds; the budget is one node per byte of
  input (at least 100,000), which no plainly written document can exceed;
- nesting deeper than MAX_DEPTH levels (the deepest CRD schema is about 35);
- a duplicate key in a mapping (YAML keeps the last one silently, which can hide a whole `spec:`);
- an integer too long for Python to convert (over 4,300 digits).

Syntax errors, NUL and other control characters and unknown tags raise the caller's error class with the file,
line and column; the refusals above raise InputRefused. Text that is not UTF-8 is refused with its byte offset.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from coldstart.errors import InputError, InputRefused, InvalidValue
from coldstart.inputs.files import not_utf8

MAX_DEPTH = 100
MIN_BUDGET = 100_000  # expanded nodes a document may always have, however short its text
MAX_INT_DIGITS = 4300  # Python's default int_max_str_digits

_SCALAR, _SEQUENCE, _MAPPING = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode
_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_INT = "tag:yaml.org,2002:int"
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
# what the safe loader builds (and `<<`, which it merges)
_TAGS = frozenset({*(tag for tag in yaml.SafeLoader.yaml_constructors if tag is not None), _MERGE})
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True, slots=True)
class YamlDocument:
    """One document's value and the 1-based lines where its content starts and ends."""

    value: Any
    line: int
    end_line: int


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _refuse_depth(name: str, node: yaml.Node) -> InputRefused:
    return InputRefused(f"{name}:{_line(node)}: nested deeper than {MAX_DEPTH} levels; no Kubernetes object or "
                        "profile is this deep, so check what produced the file")


def _scalar(name: str, node: yaml.Node) -> None:
    """A scalar the safe loader can build (known tag), and no integer too long to convert."""
    if node.tag not in _TAGS:
        _unknown_tag(name, node)
    if node.tag == _INT and len(node.value) > MAX_INT_DIGITS:
        raise InputRefused(f"{name}:{_line(node)}: an integer of {len(node.value):,} digits; no field takes a number "
                           "this large, so fix the value")


def _unknown_tag(name: str, node: yaml.Node) -> None:
    raise InvalidValue(f"{name}:{_line(node)}: unknown tag {node.tag!r}; coldstart reads plain YAML (no !!python or "
                       "custom tags), so remove the tag")


def _duplicates(name: str, pairs: list[tuple[yaml.Node, yaml.Node]]) -> None:
    """Refuse a key written twice in one mapping (merge keys `<<` excepted: overriding them is their purpose)."""
    keys = [k.value for k, _ in pairs if k.__class__ is _SCALAR and k.tag != _MERGE]
    if len(set(keys)) == len(keys):
        return
    first: dict[tuple[str, str], yaml.Node] = {}
    for key, _ in pairs:
        if key.__class__ is not _SCALAR or key.tag == _MERGE:
            continue
        seen = first.setdefault((key.tag, key.value), key)
        if seen is not key:
            raise InputRefused(f"{name}:{_line(key)}: duplicate key {key.value!r} (first at line {_line(seen)}); YAML "
                               "would keep only the last one, so remove or rename one of them")


def _check(root: yaml.Node, name: str, budget: int) -> None:
    """One pass over a tree (the usual document: no aliases); a graph with shared nodes takes _check_shared."""
    seen: set[int] = set()
    shared = False
    stack: list[tuple[yaml.Node, int]] = [(root, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        node, depth = pop()
        if id(node) in seen:
            shared = True
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            raise _refuse_depth(name, node)
        if node.tag not in _TAGS:
            _unknown_tag(name, node)
        if node.__class__ is _MAPPING:
            pairs = node.value
            if len(pairs) > 1:
                _duplicates(name, pairs)
            children = [part for pair in pairs for part in pair]
        elif node.__class__ is _SEQUENCE:
            children = node.value
        else:
            _scalar(name, node)
            continue
        for child in children:
            if child.__class__ is _SCALAR:
                _scalar(name, child)
            else:
                push((child, depth + 1))
    if shared:
        _check_shared(root, name, budget)


def _check_shared(root: yaml.Node, name: str, budget: int) -> None:
    """Expanded size and depth of a graph whose nodes aliases share, memoized per node; a cycle is refused."""
    done: dict[int, tuple[int, int]] = {}  # id -> (expanded nodes, height)
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children = [p for pair in node.value for p in pair] if node.__class__ is _MAPPING else node.value
        if finished:
            size, height = 1, 1
            for child in children:
                child_size, child_height = done.get(id(child), (1, 1))
                size += child_size
                height = max(height, child_height + 1)
            if size > budget:
                raise InputRefused(f"{name}:{_line(node)}: aliases (*name) expand this document to more than "
                                   f"{budget:,} nodes; write the repeated parts out or remove the aliases")
            if height > MAX_DEPTH:
                raise _refuse_depth(name, node)
            done[key] = (size, height)
            active.discard(key)
            continue
        if key in done:
            continue
        if key in active:
            raise InputRefused(f"{name}:{_line(node)}: an alias refers to a node that contains it (the document "
                               "references itself); remove the cycle")
        active.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in children if child.__class__ is not _SCALAR)


def _mark(exc: yaml.MarkedYAMLError) -> str:
    mark = exc.problem_mark or exc.context_mark
    return f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""


def _reader_error(exc: yaml.reader.ReaderError, name: str, source: str | bytes, error: type[InputError]) -> InputError:
    """A reader error names a byte offset (libyaml) or a character offset (the pure-Python reader)."""
    data = source if isinstance(source, bytes) else source.encode("utf-8", "surrogatepass")
    reason = str(exc.reason)
    if "UTF-8" in reason or "octet" in reason or str(exc.encoding).lower() in ("utf-8", "utf8"):
        position = min(exc.position, len(data))
        try:  # libyaml points past a broken sequence; Python's decoder names its first byte, as files.decode_utf8 does
            data[:position + 4].decode("utf-8")
        except UnicodeDecodeError as bad:
            position = min(position, bad.start)
        return not_utf8(name, data, position)
    position = exc.position
    if _LOADER is yaml.SafeLoader:  # a character offset
        text = source if isinstance(source, str) else data.decode("utf-8", "replace")
        position = len(text[:position].encode("utf-8", "surrogatepass"))
    line = data.count(b"\n", 0, position) + 1
    return error(f"{name}:{line}: control character U+{exc.character:04X} (byte {position}) is not allowed in "
                 "YAML; remove it or write it as an escape in a double-quoted string")


def _fields(node: yaml.Node) -> dict[str, yaml.Node]:
    """The plain string keys of a mapping node and their value nodes."""
    if node.__class__ is not _MAPPING:
        return {}
    return {k.value: v for k, v in node.value if k.__class__ is _SCALAR and k.tag == _STR}


def _stub(node: yaml.Node, names_only: Callable[[str], bool]) -> dict[str, Any] | None:
    """apiVersion, kind and metadata.name/namespace of an object whose kind `names_only` accepts, read off its nodes
    without building the rest; None for any other document."""
    top = _fields(node)
    kind, version = top.get("kind"), top.get("apiVersion")
    if not (kind.__class__ is _SCALAR and version.__class__ is _SCALAR and kind.tag == _STR == version.tag
            and names_only(kind.value)):
        return None
    meta_node = top.get("metadata")
    meta = {k: v.value for k, v in (_fields(meta_node) if meta_node is not None else {}).items()
            if k in ("name", "namespace") and v.__class__ is _SCALAR and v.tag == _STR}
    return {"apiVersion": version.value, "kind": kind.value, "metadata": meta}


def yaml_documents(source: str | bytes, name: str, *, error: type[InputError] = InvalidValue,
                   hint: str = "fix the syntax", names_only: Callable[[str], bool] | None = None,
                   ) -> Iterator[YamlDocument]:
    """Every document of a YAML stream (bytes: UTF-8; libyaml reads them without a decoded copy), each checked
    (see the module docstring) before it is constructed. Empty documents yield None values.

    An object whose kind `names_only` accepts is not constructed: its value is only apiVersion, kind and
    metadata.name/namespace (a reader that never looks further saves building a 2 MB CRD)."""
    if isinstance(source, bytes) and source.startswith(_UTF16_BOMS):
        raise InputRefused(f"{name}: UTF-16 text; save the file as UTF-8")
    budget = max(MIN_BUDGET, len(source))
    loader: Any = None
    node: yaml.Node | None = None
    try:
        loader = _LOADER(source)  # the pure-Python reader already decodes here
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            _check(node, name, budget)
            value = _stub(node, names_only) if names_only is not None else None
            if value is None:
                value = loader.construct_document(node)
            yield YamlDocument(value, _line(node), int(node.end_mark.line) + 1)
    except InputError:  # ours, from the checks: already one line naming the file
        raise
    except yaml.reader.ReaderError as exc:
        raise _reader_error(exc, name, source, error) from None
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "unparseable"
        raise error(f"{name}{_mark(exc)}: not valid YAML ({problem}); {hint}") from None
    except yaml.YAMLError as exc:
        raise error(f"{name}: not valid YAML ({str(exc).splitlines()[0]}); {hint}") from None
    except RecursionError:  # the pure-Python composer, on nesting libyaml would have refused
        raise InputRefused(f"{name}: nested deeper than {MAX_DEPTH} levels; check what produced the file") from None
    except (ValueError, TypeError, OverflowError) as exc:  # a scalar its constructor cannot build (a date 0000-00-00)
        where = f":{_line(node)}" if node is not None else ""
        raise error(f"{name}{where}: a value in this document cannot be read ({exc}); fix it") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(source: str | bytes, name: str, *, error: type[InputError] = InvalidValue) -> Any:
    """The single document of a YAML text (None when empty), as yaml.safe_load reads it, checked the same way."""
    found: list[YamlDocument] = []
    for document in yaml_documents(source, name, error=error):
        if found:
            raise error(f"{name}:{document.line}: a second YAML document starts here; give one document")
        found.append(document)
    return found[0].value if found else None

