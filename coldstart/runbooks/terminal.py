"""What a running runbook shows on the terminal: one line per wait, kept up to date, and nothing else.

The cells print progress lines (`warm buffer holding GPU nodes: 0/1 after 128s of 720s`); papermill hands them
over as they come. On a terminal each wait's line is rewritten in place; into a file or a pipe, each wait's last
line is written once it is over. Anything else a cell prints (a library's warning, the repr of a table or a
figure) belongs in the report, not here. `coldstart run --verbose` bypasses this and shows papermill's own log.
"""

from __future__ import annotations

import io
import re
from typing import TextIO

__all__ = ["STATIC_ENV", "ProgressStream"]

# Set by `coldstart run` for the kernel it starts: the report is static HTML, so interactive widgets render as
# precomputed tables instead (coldstart.runbooks.explore).
STATIC_ENV = "COLDSTART_STATIC_REPORT"

_PROGRESS = re.compile(r"^(?P<what>.+): \d+/\d+ after \d+s of \d+s( - .*)?$")  # live.wait.Progress.line()


class ProgressStream(io.TextIOBase):
    """A write-only text stream for papermill's stdout_file/stderr_file (see the module docstring)."""

    def __init__(self, out: TextIO, *, tty: bool | None = None):
        super().__init__()
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self._partial = ""
        self._key: str | None = None
        self._last = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._line(line.rstrip("\r"))
        return len(text)

    def _line(self, line: str) -> None:
        match = _PROGRESS.match(line.strip())
        if match is None:
            return  # a library's warning or a display repr: the report has what matters
        key = match.group("what")
        if self.tty:
            self.out.write(("\r\033[K" if key == self._key else ("\n" if self._key else "")) + line)
        else:
            if self._key is not None and key != self._key:
                self.out.write(self._last + "\n")
        self._key, self._last = key, line
        self.out.flush()

    def finish(self) -> None:
        """End the current line (a terminal) or write the last wait's last line (a file)."""
        if self._partial:
            self._line(self._partial)
            self._partial = ""
        if self._key is not None:
            self.out.write("\n" if self.tty else self._last + "\n")
            self.out.flush()
        self._key = None
