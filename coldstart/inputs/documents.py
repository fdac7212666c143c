"""Read Kubernetes manifests from files, directories or stdin into plain dicts that remember where they came from.

`coldstart verify` runs on whatever an SRE has: Helm or kustomize output, `kubectl get -o yaml|json`, a folder
of rendered files. Every document keeps its file and starting line so a finding can point at it, and any
unreadable input stops the whole read with one line naming the file, the line and column, and what to fix:
nothing is judged from half an input.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from coldstart.errors import ManifestError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "-"
_HELM_SOURCE = re.compile(r"^#\s*Source:\s*(\S.*?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Document:
    """One mapping read from an input, with its origin (file, document index, 1-based line, Helm template)."""

    obj: dict[str, Any] = field(repr=False)
    file: str
    index: int = 0
    line: int | None = None
    origin: str | None = None

    @property
    def is_object(self) -> bool:
        """A Kubernetes object: a mapping with a string apiVersion and kind."""
        return isinstance(self.obj.get("apiVersion"), str) and isinstance(self.obj.get("kind"), str)


def read_documents(paths: Sequence[str | Path]) -> list[Document]:
    """Every mapping document under `paths` (files, directories, '-' for stdin), in a stable order."""
    if not paths:
        raise ManifestError("no manifest paths given; name files, directories or '-' for stdin")
    documents: list[Document] = []
    seen: set[str] = set()
    for path in paths:
        for file in _expand(str(path)):
            key = file if file == STDIN else os.path.realpath(file)
            if key in seen:
                continue
            seen.add(key)
            documents.extend(parse_text(_read_text(file), "<stdin>" if file == STDIN else file))
    return documents


def as_documents(values: Sequence[Any], file: str) -> list[Document]:
    """Documents from already-parsed values (e.g. read back from a cluster), `List` kinds flattened."""
    return [d for index, value in enumerate(values) for d in _flatten(value, file, index, None, None)]


def kubernetes_objects(documents: Sequence[Document]) -> list[Document]:
    """Only the documents that are Kubernetes objects (values files and stray mappings are skipped)."""
    return [d for d in documents if d.is_object]


def parse_text(text: str, file: str) -> list[Document]:
    """Parse YAML (multi-document) or JSON text; flatten `List` kinds; skip empty and non-mapping documents."""
    text = text.lstrip("\ufeff")
    stripped = text.lstrip()
    if file.endswith(".json") or (file == "<stdin>" and stripped[:1] in ("{", "[")):
        values = _json_values(text, file)
        if values is not None:
            return [d for index, value in enumerate(values) for d in _flatten(value, file, index, None, None)]
    documents: list[Document] = []
    for index, (value, line, origin) in enumerate(_yaml_values(text, file)):
        documents.extend(_flatten(value, file, index, line, origin))
    return documents


# ---------------------------------------------------------------------------------------------------
# Paths


def _expand(path: str) -> list[str]:
    if path == STDIN:
        return [STDIN]
    p = Path(path).expanduser()
    if not p.exists():
        raise ManifestError(f"{path}: no such file or directory; check the path")
    if p.is_file():
        return [str(p)]
    if not p.is_dir():
        raise ManifestError(f"{path}: not a regular file or directory; give manifest files or a folder of them")
    found: list[str] = []
    for root, dirs, files in os.walk(p):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in sorted(files)
                     if f.endswith(MANIFEST_SUFFIXES) and not f.startswith("."))
    if not found:
        raise ManifestError(f"{path}: no *.yaml, *.yml or *.json files in this directory; "
                            "point at your rendered manifests (helm template / kustomize build output)")
    return found


def _read_text(file: str) -> str:
    if file == STDIN:
        try:
            return sys.stdin.read()
        except UnicodeDecodeError:
            raise ManifestError("<stdin>: not UTF-8 text; pipe YAML or JSON manifests") from None
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        raise ManifestError(f"{file}: cannot read ({exc.strerror}); check the permissions") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{file}: not UTF-8 text (byte {exc.start}); is this a manifest?") from None


# ---------------------------------------------------------------------------------------------------
# Parsing


def _yaml_values(text: str, file: str) -> Iterator[tuple[Any, int | None, str | None]]:
    """(value, first line of content, Helm `# Source:`) per YAML document; one ManifestError on bad syntax."""
    loader = yaml.SafeLoader(text)
    values: list[tuple[Any, int | None, str | None]] = []
    try:
        while loader.check_node():
            # types-PyYAML leaves Parser.peek_event untyped (it returns the next Event)
            start = loader.peek_event().start_mark  # type: ignore[no-untyped-call]
            node = loader.get_node()
            if node is None:
                continue
            header = text[start.index:node.start_mark.index] if start is not None else ""
            source = _HELM_SOURCE.search(header)
            values.append((loader.construct_document(node), node.start_mark.line + 1,
                           source.group(1) if source else None))
    except yaml.MarkedYAMLError as exc:
        raise ManifestError(_yaml_message(exc, file, text)) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"{file}: not valid YAML ({str(exc).splitlines()[0]}); fix the syntax") from None
    finally:
        loader.dispose()
    yield from values


def _yaml_message(exc: yaml.MarkedYAMLError, file: str, text: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
    problem = exc.problem or exc.context or "unparseable"
    hint = "fix the syntax"
    if "{{" in text:
        hint += " (Helm templates must be rendered first: helm template ... > out.yaml)"
    return f"{file}{where}: not valid YAML ({problem}); {hint}"


def _json_values(text: str, file: str) -> list[Any] | None:
    """All JSON values in the text (one, or several concatenated as a watch stream prints them)."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return values
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            if file == "<stdin>" and not values:
                return None  # not JSON after all: let the YAML parser (a JSON superset) report
            raise ManifestError(f"{file}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg}); "
                                "fix the syntax") from None
        values.append(value)


def _flatten(value: Any, file: str, index: int, line: int | None, origin: str | None,
             depth: int = 0) -> Iterator[Document]:
    """Mappings become documents; `kind: List` / `*List` and bare sequences yield their items."""
    if depth > 8:  # lists of lists this deep are not manifests (or a YAML alias loop)
        return
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item, file, index, line, origin, depth + 1)
        return
    if not isinstance(value, dict) or not value:
        return
    kind = value.get("kind")
    items = value.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        item_kind = kind[: -len("List")]
        for item in items:
            if isinstance(item, dict) and item_kind and "kind" not in item:
                item = {"kind": item_kind, "apiVersion": value.get("apiVersion"), **item}
            yield from _flatten(item, file, index, line, origin, depth + 1)
        return
    yield Document(value, file, index, line, origin)
