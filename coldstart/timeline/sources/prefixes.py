"""What wraps a log line before its message, peeled off one layer at a time.

A vLLM line reaches an SRE through collectors that each add their own prefix, in any nesting:
`kubectl logs --prefix` (`[pod/vllm-0/vllm] `), stern (`vllm-0 vllm `), docker compose (`vllm-1  | `),
journald (`Jun 02 11:03:56 host vllm[1234]: `), the container runtime's stamp (`kubectl logs --timestamps`,
`docker logs -t`, a CRI log file's `... stdout F `), bracketed stamps (`[2025-10-13 09:06:25]`, NCCL's and
many wrappers' form, with or without `UTC`), Ray's and vLLM's process prefixes, nested
(`(EngineCore_DP0 pid=1) (RayWorkerWrapper pid=7, ip=10.0.0.2) `), torch's `[rank0]:` and c10
`[E528 08:52:46.164 file.cpp:145]`, klog's `I0602 11:03:56.123456 1 file.go:12] ` and finally vLLM's own
`INFO 06-02 11:03:56 [file.py:12] `. An unknown wrapper in front of vLLM's prefix is skipped by finding
that prefix further in (TorchServe's `MODEL_LOG - INFO 10-07 ...`).

`LineSplitter.split` returns the message with what the layers said: when (an absolute time, or a wall clock
without zone or year), which container or compose service wrote it, and whether vLLM's own prefix was
there. Every pattern is anchored where it is tried and has no nested unbounded repeats, so a line costs
time linear in its length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from coldstart.kube.times import parse_timestamp
from coldstart.timeline.sources.vllm_model import Stamp

__all__ = ["LineSplitter", "Split", "split_line"]

_ISO = (r"(?P<date>\d{4}-\d\d-\d\d)[T ](?P<time>\d\d:\d\d:\d\d)(?P<frac>[.,]\d+)?"
        r"(?P<zone> ?(?:Z|UTC|GMT|[+-]\d\d:?\d\d))?")
_RUNTIME = re.compile(_ISO + r"(?: (?:stdout|stderr) [FP])?(?: |\t|$)")  # kubectl/docker --timestamps, CRI files
_BRACKET = re.compile(r"\[(?:" + _ISO + r"|(?P<mon>\d\d)-(?P<day>\d\d)[ T](?P<hms>\d\d:\d\d:\d\d)(?P<mfrac>[.,]\d+)?)"
                      r"\]:? ?")
_KUBECTL = re.compile(r"\[pod/(?P<pod>[^/\]\s]+)(?:/(?P<container>[^/\]\s]+))?\] ?")
_RANK = re.compile(r"\[rank\d+\]:")
_C10 = re.compile(r"\[[IWEF](?P<md>\d{3,4}) (?P<hms>\d\d:\d\d:\d\d)(?P<mfrac>\.\d+)?(?: [^\]\s]+)?\] ?")
_PROCESS = re.compile(r"\((?:[^()\s]+[ ,]+)*?pid=\d+(?:,? ?ip=[^()\s]+)?\) ?")
_KLOG = re.compile(r"[IWEF](?P<mon>[01]\d)(?P<day>[0-3]\d) (?P<hms>\d\d:\d\d:\d\d)(?P<mfrac>\.\d+)?"
                   r" +\d+ [\w./-]+:\d+\] ")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), 1)}
_JOURNAL = re.compile(r"(?P<mname>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}(?P<day>\d{1,2}) "
                      r"(?P<hms>\d\d:\d\d:\d\d)(?P<mfrac>\.\d+)? [\w.-]+ [\w.@/:-]+(?:\[\d+\])?: ")
_COMPOSE = re.compile(r"(?P<service>[A-Za-z0-9][\w.-]*) +\|(?: |$)")
_STERN = re.compile(r"(?P<pod>[a-z0-9][a-z0-9.-]*[a-z0-9]) (?P<container>[a-z0-9][a-z0-9-]*) ")
_VLLM = re.compile(r"(?P<level>DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL) (?P<mon>\d\d)-(?P<day>\d\d) "
                   r"(?P<hms>\d\d:\d\d:\d\d)(?P<mfrac>[.,]\d+)? +(?:\[[^\]\s]*\]|[\w./-]+:\d+\]) ?")
_QUOTE = re.compile(r"[ \t]*(?:> ?)?")
_FIND_LIMIT = 240  # how far into a line an unknown wrapper may push vLLM's prefix


@dataclass(slots=True)
class Split:
    """One line with its wrappers read: the message and what the wrappers said about it."""

    message: str
    stamp: Stamp | None = None
    vllm: bool = False  # vLLM's own `LEVEL MM-DD HH:MM:SS [file:line]` prefix was there
    level: str | None = None
    source: str | None = None  # the container (kubectl --prefix, stern) or compose service that wrote it
    pod: str | None = None


def _wall(year: int | None, month: str, day: str, hms: str, frac: str | None) -> tuple[int | None, int, int, int,
                                                                                        int, int, int]:
    hour, minute, second = hms.split(":")
    micro = int((frac or ".0")[1:][:6].ljust(6, "0"))
    return year, int(month), int(day), int(hour), int(minute), int(second), micro


def _iso(m: re.Match[str]) -> tuple[datetime | None, tuple[int | None, int, int, int, int, int, int] | None]:
    """An ISO stamp: absolute when it names its zone, else a wall clock with its year."""
    date, clock, frac, zone = m.group("date", "time", "frac", "zone")
    if zone and zone[0] != " " and zone[-1] not in "CT" and m.string[m.start("time") - 1] == "T" \
            and (frac is None or frac[0] == "."):  # RFC 3339 as kubectl --timestamps writes it: parse it as it is
        return parse_timestamp(m.string[m.start("date"):m.end("zone")]), None
    if zone:
        zone = zone.strip()
        text = f"{date}T{clock}{(frac or '').replace(',', '.')}{'Z' if zone in ('UTC', 'GMT') else zone}"
        return parse_timestamp(text), None
    year, month, day = date.split("-")
    return None, _wall(int(year), month, day, clock, frac)


class LineSplitter:
    """Peels the prefixes off lines; remembers stern's `pod container` pairs once a line has shown one."""

    def __init__(self) -> None:
        self.stern: set[str] = set()

    def split(self, raw: str) -> Split:
        """The line's message and stamp, source and vLLM prefix; the line itself when nothing wraps it."""
        at: datetime | None = None
        wall = None
        source = pod = None
        pos, end = 0, len(raw)
        for _ in range(12):  # each pass peels one layer; real lines have at most five
            if pos >= end:
                break
            first = raw[pos]
            m: re.Match[str] | None = None
            if first == "[":
                if (m := _KUBECTL.match(raw, pos)) is not None:
                    pod, source = m.group("pod"), m.group("container") or source
                elif (m := _BRACKET.match(raw, pos)) is not None:
                    if m.group("date"):
                        got_at, got_wall = _iso(m)
                        at, wall = at or got_at, wall or got_wall
                    elif wall is None:
                        wall = _wall(None, m.group("mon"), m.group("day"), m.group("hms"), m.group("mfrac"))
                elif (m := _RANK.match(raw, pos)) is not None:
                    pass
                elif (m := _C10.match(raw, pos)) is not None:  # torch's c10 logger: month and day run together
                    md = m.group("md")
                    wall = wall or _wall(None, md[:-2], md[-2:], m.group("hms"), m.group("mfrac"))
            elif first == "(":
                m = _PROCESS.match(raw, pos)
            elif first.isdigit():
                if (m := _RUNTIME.match(raw, pos)) is not None:
                    got_at, got_wall = _iso(m)
                    at, wall = at or got_at, wall or got_wall
            elif first in " \t>":
                m = _QUOTE.match(raw, pos)
                if m is not None and m.end() == pos:
                    m = None
            if m is None and first.isalpha():
                if (m := _VLLM.match(raw, pos)) is not None:
                    return self._vllm(raw, m, at, wall, source, pod)
                if (m := _KLOG.match(raw, pos)) is not None:
                    wall = wall or _wall(None, m.group("mon"), m.group("day"), m.group("hms"), m.group("mfrac"))
                elif (m := _JOURNAL.match(raw, pos)) is not None:
                    wall = wall or _wall(None, str(_MONTHS[m.group("mname")]), m.group("day"), m.group("hms"),
                                         m.group("mfrac"))
                elif source is None and (m := _COMPOSE.match(raw, pos)) is not None:
                    source = re.sub(r"[-_]\d+$", "", m.group("service"))
                elif source is None and self.stern and (m := _STERN.match(raw, pos)) is not None:
                    if m.group(0) in self.stern:
                        pod, source = m.group("pod"), m.group("container")
                    else:
                        m = None
                if m is None and source is None and (m := _STERN.match(raw, pos)) is not None:
                    after = m.end()
                    if (_VLLM.match(raw, after) or _PROCESS.match(raw, after) or _RUNTIME.match(raw, after)
                            or raw.startswith("INFO:", after)):
                        self.stern.add(m.group(0))  # a stern pair, shown by what follows it
                        pod, source = m.group("pod"), m.group("container")
                    else:
                        m = None
            if m is None:
                break
            pos = m.end()
        if (m := _VLLM.search(raw, pos, min(end, pos + _FIND_LIMIT))) is not None and _starts_token(raw, m.start()):
            return self._vllm(raw, m, at, wall, source, pod)  # behind a wrapper this reader does not know
        stamp = Stamp(at, wall) if at is not None or wall is not None else None
        return Split(raw[pos:] if pos else raw, stamp, False, None, source, pod)

    @staticmethod
    def _vllm(raw: str, m: re.Match[str], at: datetime | None, wall: tuple[int | None, int, int, int, int, int, int]
              | None, source: str | None, pod: str | None) -> Split:
        """vLLM's prefix: its wall clock (month-day, no year) wins over a wrapper's wall clock, not over a zone."""
        own = _wall(None, m.group("mon"), m.group("day"), m.group("hms"), m.group("mfrac"))
        if wall is not None and wall[0] is not None and wall[1:3] == own[1:3]:
            own = (wall[0], *own[1:])  # the wrapper's stamp says which year
        return Split(raw[m.end():], Stamp(at, own), True, m.group("level"), source, pod)


def _starts_token(raw: str, at: int) -> bool:
    return at == 0 or raw[at - 1] in " \t|:]>)"


def split_line(raw: str) -> Split:
    """One line on its own (stern's pairs are learnt only by a `LineSplitter` that reads the whole log)."""
    return LineSplitter().split(raw)
