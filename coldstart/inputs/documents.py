"""Read Kubernetes manifests from files, directories or stdin into plain dicts that remember where they came from.

`coldstart verify` runs on whatever an SRE has: Helm or kustomize output, `kubectl get -o yaml|json`, a folder
of rendered files. Every document keeps its file and starting line so a finding can point at it, and any
unreadable input stops the whole read with one line naming the file, the line and column, and what to fix:
nothing is judged from half an input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coldstart.errors import ManifestError
from coldstart.inputs.files import MANIFEST, STDIN, check_regular_file, decode_utf8, read_bytes
from coldstart.inputs.jsonsafe import json_values
from coldstart.inputs.yamlsafe import yaml_documents

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
_HELM_SOURCE = re.compile(rb"^#[ \t]*Source:[ \t]*(\S[^\r\n]*?)[ \t]*\r?$", re.MULTILINE)
_HELM_HINT = "fix the syntax (Helm templates must be rendered first: helm template ... > out.yaml)"

# What a reader keeps of each object as it is parsed (verify drops what its checks never read), or None to drop it.
Slim = Callable[[dict[str, Any]], dict[str, Any] | None]


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


def read_documents(paths: Sequence[str | Path], *, slim: Slim | None = None,
                   names_only: Callable[[str], bool] | None = None) -> list[Document]:
    """Every mapping document under `paths` (files, directories, '-' for stdin), in a stable order.

    Each file is read (bounded, see `files`) and parsed one document at a time; `slim` is applied to every object
    as soon as it is parsed, so what a caller never reads is not kept, and a YAML object whose kind `names_only`
    accepts is not even built beyond apiVersion, kind and metadata.name/namespace (see yamlsafe)."""
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
            data = read_bytes(file, MANIFEST, error=ManifestError)
            documents.extend(parse_text(data, "<stdin>" if file == STDIN else file, slim=slim, names_only=names_only))
            del data
    return documents


def as_documents(values: Sequence[Any], file: str) -> list[Document]:
    """Documents from already-parsed values (e.g. read back from a cluster), `List` kinds flattened."""
    return [d for index, value in enumerate(values) for d in _flatten(value, file, index, None, None)]


def kubernetes_objects(documents: Sequence[Document]) -> list[Document]:
    """Only the documents that are Kubernetes objects (values files and stray mappings are skipped)."""
    return [d for d in documents if d.is_object]


def parse_text(text: str | bytes, file: str, *, slim: Slim | None = None,
               names_only: Callable[[str], bool] | None = None) -> list[Document]:
    """Parse YAML (multi-document) or JSON text; flatten `List` kinds; skip empty and non-mapping documents.

    Bytes are UTF-8 (YAML goes to libyaml undecoded); every document is bounded as `yamlsafe`/`jsonsafe` say."""
    if isinstance(text, str):
        text = text.removeprefix("\ufeff")
    head = (text[:4096] if isinstance(text, str) else text[:4096].decode("utf-8", "ignore")).lstrip("\ufeff").lstrip()
    documents: list[Document] = []
    if file.endswith(".json") or (file == "<stdin>" and head[:1] in ("{", "[")):
        values = json_values(text if isinstance(text, str) else decode_utf8(text, file), file, error=ManifestError,
                             first_may_fail=file == "<stdin>")
        if values is not None:
            for index, value in enumerate(values):
                documents.extend(_flatten(value, file, index, None, None, slim))
            return documents
    data = text.encode("utf-8") if isinstance(text, str) else text
    sources = _helm_sources(data)
    hint = _HELM_HINT if b"{{" in data else "fix the syntax"
    previous_end, next_source = 0, 0
    for index, doc in enumerate(yaml_documents(data, file, error=ManifestError, hint=hint, names_only=names_only)):
        origin = None  # the last `# Source:` between the previous document and this one
        while next_source < len(sources) and sources[next_source][0] <= doc.line:
            line, name = sources[next_source]
            next_source += 1
            if line > previous_end:
                origin = name
        previous_end = doc.end_line
        documents.extend(_flatten(doc.value, file, index, doc.line, origin, slim))
    return documents


# ---------------------------------------------------------------------------------------------------
# OpenShift templates: the objects they create, parameters filled in

_PARAM = re.compile(r"\$\{(\{)?([A-Za-z_][A-Za-z0-9_]*)\}(?(1)\})")


def template_objects(template: dict[str, Any]) -> list[Any]:
    """The objects an OpenShift `Template` creates (`oc process`): `${NAME}` replaced by a parameter's `value`,
    `${{NAME}}` by the value read as YAML (a number, a boolean); a parameter without a value stays as written, so
    a check can say it cannot be known. The template itself creates no pod, so only its objects are judged."""
    values = {str(p["name"]): str(p["value"]) for p in template.get("parameters") or []
              if isinstance(p, dict) and p.get("name") and p.get("value") is not None}

    def fill(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: fill(item) for key, item in node.items()}
        if isinstance(node, list):
            return [fill(item) for item in node]
        if not isinstance(node, str) or "${" not in node:
            return node
        whole = _PARAM.fullmatch(node)
        if whole and whole.group(1) and whole.group(2) in values:
            return _typed(values[whole.group(2)])
        return _PARAM.sub(lambda m: values.get(m.group(2), m.group(0)), node)

    return [fill(item) for item in template["objects"]]


def _typed(text: str) -> Any:
    """`${{NAME}}`: the parameter's text as the YAML scalar it spells (3 -> 3, true -> True), else the text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


# ---------------------------------------------------------------------------------------------------
# Paths


def _expand(path: str) -> list[str]:
    if path == STDIN:
        return [STDIN]
    p = Path(path).expanduser()
    if not p.exists():
        raise ManifestError(f"{path}: no such file or directory; check the path")
    if not p.is_dir():
        check_regular_file(p, "manifest", error=ManifestError)  # a FIFO or a device is refused, never opened
        return [str(p)]
    found: list[str] = []
    for root, dirs, files in os.walk(p):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(os.path.join(root, f) for f in sorted(files)
                     if f.endswith(MANIFEST_SUFFIXES) and not f.startswith("."))
    if not found:
        raise ManifestError(f"{path}: no *.yaml, *.yml or *.json files in this directory; "
                            "point at your rendered manifests (helm template / kustomize build output)")
    return found


def _helm_sources(data: bytes) -> list[tuple[int, str]]:
    """(1-based line, template) of every `# Source:` comment Helm writes above a document, in order."""
    found: list[tuple[int, str]] = []
    line, pos = 1, 0
    for match in _HELM_SOURCE.finditer(data):
        line += data.count(b"\n", pos, match.start())
        pos = match.start()
        found.append((line, match.group(1).decode("utf-8", "replace")))
    return found


def _flatten(value: Any, file: str, index: int, line: int | None, origin: str | None, slim: Slim | None = None,
             depth: int = 0) -> Iterator[Document]:
    """Mappings become documents; `kind: List` / `*List` and bare sequences yield their items."""
    if depth > 8:  # lists of lists this deep are not manifests (or a YAML alias loop)
        return
    if isinstance(value, list):
        for item in value:
            yield from _flatten(item, file, index, line, origin, slim, depth + 1)
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
            yield from _flatten(item, file, index, line, origin, slim, depth + 1)
        return
    if kind == "Template" and isinstance(value.get("objects"), list):
        for item in template_objects(value):
            yield from _flatten(item, file, index, line, origin, slim, depth + 1)
        return
    if slim is not None and (value := slim(value)) is None:
        return
    yield Document(value, file, index, line, origin)
