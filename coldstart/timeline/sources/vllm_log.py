"""vLLM startup logs -> where the engine's minutes went, and why it stopped if it did.

Reads logs of the V0 and V1 engines of every release since 0.4 (and the newer wordings: `torch.compile took`, AOT
compile caches, lazy per-size CUDA-graph capture) in whatever wraps them on the way to an SRE: `kubectl logs
--timestamps` / `--prefix`, stern, docker compose, journald, bracketed stamps, Ray's nested process prefixes (see
`prefixes`); several containers interleaved (each line is attributed to its container, and a sidecar's failure is
not vLLM's); ANSI colours, markdown bold and lines a paste wrapped or cut. Failures are classified from any line,
prefixed or not (see `vllm_failures`). Every timing keeps the stamp of its line so the timeline can place the
phase: it ends at the line and began `seconds` earlier.

The data it yields is defined in `vllm_model`; how one line is read is `vllm_lines.LineReader`.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from itertools import accumulate

from coldstart.timeline.sources.vllm_lines import LineReader
from coldstart.timeline.sources.vllm_model import VllmLog

# Any line worth parsing holds one of these (a timing, a mark, configuration, a failure); see _candidates.
KEYWORDS = ("took", "takes", "finished in", "tream", "Dynamo", "Directly load", "KV cache", "blocks", "version",
            "LLM engine", "config:", "Namespace(", "non-default", " --", "platform", "API server", "Uvicorn",
            "server process", "startup complete", "rror", "Traceback", "CCL", "ccl", "SIG", "signal", "Killed",
            "Shutting down", "exit", "out of memory", "Exception", "Watchdog", "failed", "fatal", "V0", "V1 engine",
            "imeout", "imed out", "Graph captur", "shm", "vLLM server", "P2P")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# Keywords that start with a capital letter are looked for together, by one regex: the regex engine only
# stops at capitals, which are few in a log, so one pass replaces sixteen str.find passes (10-20% of the scan).
_CAPITALISED = re.compile("|".join(re.escape(k) for k in KEYWORDS if k[0].isupper()))
_OTHERS = tuple(k for k in KEYWORDS if not k[0].isupper())


def _candidates(text: str, starts: list[int]) -> list[int]:
    """Indexes of the lines holding any keyword, found by scanning the whole text for them in C.

    str.find (and the regex engine) run over the whole log, so the routine bulk of a log (hundreds of lines
    nobody times) costs almost nothing; only the lines found here are parsed.
    """
    found: set[int] = set()
    end = len(text)
    search = _CAPITALISED.search
    match = search(text)
    while match is not None:
        line = bisect_right(starts, match.start()) - 1
        found.add(line)
        if line + 1 >= len(starts):
            break
        match = search(text, starts[line + 1])
    for keyword in _OTHERS:
        at = text.find(keyword)
        while at != -1:
            line = bisect_right(starts, at) - 1
            found.add(line)
            nxt = starts[line + 1] if line + 1 < len(starts) else end
            at = text.find(keyword, nxt)
    return sorted(found)


def parse_vllm_log(source: str | bytes | Iterable[str], *, name: str = "<log>") -> VllmLog:
    """Parse a vLLM log given as text, bytes or lines (a file's content, or `pods/log?timestamps=true`)."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    text = source if isinstance(source, str) else "\n".join(line.rstrip("\r\n") for line in source)
    return parse_vllm_log_chunks((text,), name=name)


MAX_LINE = 1 << 20  # a "line" longer than this (a file without newlines) is read in pieces of this size
_LOOK_BACK = 500  # lines a traceback may look back for a stamp (LineReader.stamp_before)


def parse_vllm_log_chunks(chunks: Iterable[str], *, name: str = "<log>") -> VllmLog:
    """Parse a vLLM log given as text in chunks that may end anywhere (a file read piece by piece): memory stays
    at one chunk plus the last few hundred lines, whatever the size of the log."""
    parser = LineReader(name, [])
    carry = ""
    for chunk in chunks:
        text = carry + chunk if carry else chunk
        cut = text.rfind("\n") + 1
        if cut == 0 and len(text) > MAX_LINE:
            cut = len(text)  # no newline in sight: take the piece as a line
        carry = text[cut:]
        if cut:
            _read_lines(parser, text[:cut - 1] if text[cut - 1:cut] == "\n" else text[:cut])
    if carry:
        _read_lines(parser, carry)
    log = parser.log
    log.lines = parser.base + len(parser.raw_lines)
    return parser.finish()


def _read_lines(parser: LineReader, text: str) -> None:
    """Feed whole lines (without the last newline) to the reader: every line until the log is recognised or while
    a config block or a cut line is open, then only the lines the keyword scan found."""
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    lines = text.split("\n")
    if len(parser.raw_lines) > _LOOK_BACK:  # what stamp_before may still need of the earlier chunks
        parser.base += len(parser.raw_lines) - _LOOK_BACK
        parser.raw_lines = parser.raw_lines[-_LOOK_BACK:]
    offset = len(parser.raw_lines)
    parser.raw_lines.extend(lines)
    starts = [0, *accumulate(len(line) + 1 for line in lines)]
    log = parser.log
    todo, next_todo = _candidates(text, starts), 0
    index, total, first = 0, len(lines), parser.base + offset  # first: global index of lines[0]
    while index < total:
        if not (parser.config_buf or parser.wrapped or not log.recognised or "first_line" not in log.marks):
            while next_todo < len(todo) and todo[next_todo] < index:
                next_todo += 1
            if next_todo == len(todo):
                break
            index = todo[next_todo]  # jump over routine lines
        raw = lines[index].rstrip("\r")
        if raw.startswith("# [gap]"):
            parser.flush_config()
        else:
            parser.read(first + index + 1, raw)
        index += 1
