"""A kubeconfig checked with our bounded readers before the Kubernetes client opens it.

The client opens KUBECONFIG itself (blocking on a FIFO, reading /dev/zero until memory runs out, expanding a
billion-laughs document with the pure-Python YAML loader, a traceback on a NUL byte or Latin-1 text). So each file
of KUBECONFIG, and every certificate, key or token file it names, is read here first through
`coldstart.inputs.files` and `coldstart.inputs.yamlsafe`: anything the client could hang or crash on is refused
with one line naming the file.
"""

from __future__ import annotations

import os
from typing import Any

from coldstart.errors import InputError
from coldstart.inputs.files import KUBECONFIG, STDIN, check_regular_file, read_text
from coldstart.inputs.yamlsafe import load_yaml

# the file-valued fields the client reads (clusters[].cluster, users[].user), relative to the kubeconfig's folder
_FILE_FIELDS = {"clusters": ("cluster", ("certificate-authority",)),
                "users": ("user", ("client-certificate", "client-key", "tokenFile"))}


def kubeconfig_paths(value: str | None = None) -> list[str]:
    """The files the client will read: KUBECONFIG split on os.pathsep (missing entries skipped, as the client
    does), else ~/.kube/config."""
    raw = os.environ.get("KUBECONFIG", "") if value is None else value
    paths = [os.path.expanduser(os.path.join(".", part) if part == STDIN else part)  # a file named '-', not stdin
             for part in raw.split(os.pathsep) if part]
    if not paths:
        return [os.path.expanduser("~/.kube/config")]
    return [path for path in paths if os.path.lexists(path)] or paths[:1]


def _named_files(config: Any, path: str) -> list[tuple[str, str]]:
    """(where, file) of every certificate, key or token file the config names."""
    found: list[tuple[str, str]] = []
    if not isinstance(config, dict):
        return found
    base = os.path.dirname(os.path.abspath(path))
    for section, (inner, keys) in _FILE_FIELDS.items():
        entries = config.get(section)
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            body = entry.get(inner) if isinstance(entry, dict) else None
            for key in keys if isinstance(body, dict) else ():
                value = body.get(key)  # type: ignore[union-attr]
                if isinstance(value, str) and value:
                    name = entry.get("name", index)
                    found.append((f"{section}[{name}].{inner}.{key}", os.path.join(base, os.path.expanduser(value))))
    return found


def check_kubeconfig(value: str | None = None) -> list[str]:
    """Refuse (InputError, one line) a kubeconfig the client could block or crash on; the files it will read."""
    paths = kubeconfig_paths(value)
    for path in paths:
        try:
            text = read_text(path, KUBECONFIG)
        except InputError as exc:
            raise type(exc)(f"kubeconfig {exc}") from None
        config = load_yaml(text, f"kubeconfig {path}", error=InputError)
        for where, named in _named_files(config, path):
            try:
                check_regular_file(named, "certificate, key or token", kind=KUBECONFIG)
            except InputError as exc:
                raise type(exc)(f"kubeconfig {path}, {where}: {exc}") from None
    return paths
