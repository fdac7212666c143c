"""Files written whole or not at all: a temporary file in the same folder, flushed, then renamed over the target.

A run that is killed mid-write leaves the previous file (or none), never half of one, so one damaged
`timings.json` cannot break every later rollout of a profile and a report is either complete or absent.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from coldstart.errors import InputError

__all__ = ["atomic_path", "write_bytes", "write_text"]


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """A temporary path beside `target` for a writer that wants a file name (e.g. papermill); renamed over
    `target` when the block ends without an error, removed otherwise."""
    target = Path(target)
    _parent_ready(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".partial{target.suffix}", dir=target.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp makes it private; the file keeps the mode a plain write would give
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


def write_bytes(target: str | Path, data: bytes) -> Path:
    """Write `data` to `target` atomically (see the module docstring)."""
    target = Path(target)
    with atomic_path(target) as temporary, open(temporary, "wb") as handle:
        _write(handle, data)
    return target


def write_text(target: str | Path, text: str) -> Path:
    """Write UTF-8 `text` to `target` atomically."""
    return write_bytes(target, text.encode("utf-8"))


def _write(handle: IO[bytes], data: bytes) -> None:
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


def _parent_ready(target: Path) -> None:
    """The folder exists and is a folder we may write (else one line naming it and the fix)."""
    parent = target.parent
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{parent}: is a file, not a folder; give a folder for the output")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{parent}: cannot create the output folder ({exc.strerror}); choose another") from None
    if not os.access(parent, os.W_OK):
        raise InputError(f"{parent}: not writable; choose another output folder")
