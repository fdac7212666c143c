"""The one bounded reader of user files: regular files only, at most a size limit per kind of input, strict UTF-8.

A FIFO, a device or a directory where a file is expected would block or never end (`extends: /dev/zero`, a named
pipe given as a manifest), so each path is stat'ed before it is opened and refused at once unless it is a regular
file; it is then opened without blocking and checked again, so a path swapped in between is refused too. Every
kind of input has a size limit (profiles 16 MB, manifests and event dumps 1 GB, vLLM logs 16 GB since they are
streamed); `COLDSTART_MAX_INPUT_MB` raises (or lowers) it for every kind. Text must be UTF-8: anything else is
refused with the file, the line and the byte offset. Standard input ('-') is read with the same bound.
"""

from __future__ import annotations

import codecs
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, TextIO, cast

from coldstart.errors import InputError, InputRefused

STDIN = "-"
STDIN_NAME = "<stdin>"
LIMIT_ENV = "COLDSTART_MAX_INPUT_MB"
_MB = 2**20
_CHUNK = 8 * _MB  # what a streamed reader holds at a time


@dataclass(frozen=True)
class InputKind:
    """A kind of user input and its default size limit (MB); the environment variable overrides every kind."""

    what: str
    default_mb: int

    @property
    def limit(self) -> int:
        """The limit in bytes: COLDSTART_MAX_INPUT_MB when set, else the default."""
        raw = os.environ.get(LIMIT_ENV, "").strip()
        if not raw:
            return self.default_mb * _MB
        try:
            value = float(raw)
        except ValueError:
            value = -1.0
        if not 0 < value < 2**40:
            raise InputRefused(f"{LIMIT_ENV}={raw!r} is not a size in MB; set it to a positive number such as 2048")
        return int(value * _MB)


PROFILE = InputKind("profile", 16)
KUBECONFIG = InputKind("kubeconfig", 16)
MANIFEST = InputKind("manifest file", 1024)
EVENTS = InputKind("events/pods input", 1024)
LOG = InputKind("vLLM log", 16 * 1024)
TIMINGS = InputKind("timings file", 256)


def display_name(path: str | os.PathLike[str]) -> str:
    """How messages name an input: the path as given, `<stdin>` for '-'."""
    return STDIN_NAME if str(path) == STDIN else str(path)


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory")):
        if test(mode):
            return name
    return "special file"


def _refuse_special(path: str | os.PathLike[str], mode: int, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = _file_type(mode)
    raise InputRefused(f"{path}: is a {kind}, not a regular file; give the {what} as a file "
                       "(a pipe or device is never read: it could block or never end)")


def check_regular_file(path: str | os.PathLike[str], what: str = "input", *, error: type[InputError] = InputError,
                       kind: InputKind | None = None) -> os.stat_result:
    """stat `path` (following links) and refuse anything but a regular file, without opening it; with `kind`,
    also a file over that kind's size limit. For files another library opens itself (the certificate and key
    files a kubeconfig names: see coldstart.inputs.kubeconfig).

    `error` is raised for a missing or unreadable path (callers keep their own class: ProfileError, ...);
    InputRefused for a FIFO, device, socket or directory, or a file too large."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise error(f"{path}: no such file; check the path") from None
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror}); check the path and its permissions") from None
    _refuse_special(path, info.st_mode, what)
    if kind is not None and info.st_size > kind.limit:
        raise _too_large(str(path), info.st_size, kind)
    return info


def _mb(size: int) -> str:
    return f"{size / _MB:,.0f}" if size >= _MB else f"{size / _MB:.2g}"


def _too_large(name: str, size: int, kind: InputKind, more: bool = False) -> InputRefused:
    limit = kind.limit
    shown = f"more than {_mb(limit)} MB" if more else f"{size / _MB:,.1f} MB"
    return InputRefused(f"{name}: {shown} is over the {_mb(limit)} MB limit for a {kind.what}; "
                        f"set {LIMIT_ENV}={max(size, limit) // _MB * 2 + 1} to read it anyway")


def _open(path: str | os.PathLike[str], kind: InputKind, error: type[InputError]) -> tuple[BinaryIO, int]:
    """(binary file, size) of a regular file within the limit; opened without blocking, checked again."""
    check_regular_file(path, kind.what, error=error)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror}); check the path and its permissions") from None
    try:
        info = os.fstat(fd)
        _refuse_special(path, info.st_mode, kind.what)  # replaced by a pipe between stat and open
        if info.st_size > kind.limit:
            raise _too_large(str(path), info.st_size, kind)
        return os.fdopen(fd, "rb", buffering=0), info.st_size
    except BaseException:
        os.close(fd)
        raise


def _read_bounded(stream: BinaryIO, name: str, kind: InputKind, size_hint: int) -> bytes:
    limit = kind.limit
    parts: list[bytes] = []
    total = 0
    want = min(size_hint, limit) + 1  # one byte more than expected tells EOF from a file that grew
    while True:
        chunk = stream.read(want)
        if not chunk:
            break
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            raise _too_large(name, total, kind, more=True)
        want = min(limit + 1 - total, _CHUNK)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _EncodedText:
    """A text stream (stdin replaced by a test or a notebook) read as the UTF-8 bytes it stands for."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def read(self, size: int) -> bytes:
        return self.stream.read(size).encode("utf-8", "surrogateescape")


def _stdin() -> BinaryIO:
    buffer = getattr(sys.stdin, "buffer", None)
    return buffer if buffer is not None else cast(BinaryIO, _EncodedText(sys.stdin))


def read_bytes(path: str | os.PathLike[str], kind: InputKind, *, error: type[InputError] = InputError) -> bytes:
    """The whole content of a regular file (or stdin for '-'), refused over the kind's limit."""
    if str(path) == STDIN:
        return _read_bounded(_stdin(), STDIN_NAME, kind, _CHUNK)
    stream, size = _open(path, kind, error)
    with stream:
        try:
            return _read_bounded(stream, str(path), kind, size)
        except OSError as exc:
            raise error(f"{path}: cannot read ({exc.strerror})") from None


def not_utf8(name: str, data: bytes, offset: int, *, base: int = 0, lines_before: int = 0) -> InputRefused:
    """The one message for text that is not UTF-8: file, line, byte offset and the byte. `data` may be a chunk
    that starts `base` bytes (and `lines_before` lines) into the input."""
    line = lines_before + data.count(b"\n", 0, offset) + 1
    byte = f" 0x{data[offset]:02x}" if offset < len(data) else ""
    return InputRefused(f"{name}:{line}: not UTF-8 text (byte {base + offset}{byte}); save the file as UTF-8 "
                        "(e.g. iconv -f latin1 -t utf-8)")


def decode_utf8(data: bytes, name: str) -> str:
    """Strict UTF-8 (a leading byte-order mark dropped); InputRefused naming the line and byte otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise not_utf8(name, data, exc.start) from None
    return text[1:] if text.startswith("\ufeff") else text


def read_text(path: str | os.PathLike[str], kind: InputKind, *, error: type[InputError] = InputError) -> str:
    """read_bytes, decoded as strict UTF-8."""
    return decode_utf8(read_bytes(path, kind, error=error), display_name(path))


def iter_text(path: str | os.PathLike[str], kind: InputKind, *, error: type[InputError] = InputError,
              chunk: int = _CHUNK) -> Iterator[str]:
    """A file (or stdin) as UTF-8 text in chunks of about `chunk` bytes, for readers that stream (vLLM logs).

    Memory stays at one chunk whatever the size; the kind's limit still bounds the time spent. A chunk may end
    anywhere, even inside a line (never inside a character)."""
    name = display_name(path)
    if str(path) == STDIN:
        yield from _decode_chunks(_stdin(), name, kind, chunk)
        return
    stream, _ = _open(path, kind, error)
    with stream:
        yield from _decode_chunks(stream, name, kind, chunk)


def _decode_chunks(stream: BinaryIO, name: str, kind: InputKind, chunk: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    limit, offset, lines, first = kind.limit, 0, 0, True
    while True:
        data = stream.read(chunk)
        pending = decoder.getstate()[0]  # the start of a character the previous chunk cut in two
        try:
            text = decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise not_utf8(name, pending + data, exc.start, base=offset - len(pending), lines_before=lines) from None
        offset += len(data)
        lines += data.count(b"\n")
        if offset > limit:
            raise _too_large(name, offset, kind, more=True)
        if first and text:
            text, first = text.removeprefix("\ufeff"), False
        if text:
            yield text
        if not data:
            return
