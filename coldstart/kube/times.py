"""Times and durations as Kubernetes, kubectl, Go and humans print them.

Events, pod status, kubectl tables and vLLM logs each write time their own way (RFC 3339 with or
without fractions, RFC 1123 in `kubectl describe`, Go durations like `4m47.129s`, kubectl ages like
`5m31s` or `3s (x3 over 13s)`). The parsers share these few functions so every phase is measured on
the same scale: seconds, and timezone-aware UTC datetimes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache

_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_AGE_PART = re.compile(r"(\d+)([ydhms])")
_AGE_UNITS = {"y": 365 * 86400.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
_FRACTION = re.compile(r"(\.\d{6})\d+")
NULL_TIMES = frozenset({"", "null", "None", "<nil>", "<unknown>"})  # how an unset time is written


@lru_cache(maxsize=65536)
def _parse_iso(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)  # the API server's own form, fast
    except ValueError:
        try:
            value = datetime.fromisoformat(_FRACTION.sub(r"\1", text.strip().replace(",", ".")))
        except ValueError:
            try:
                value = parsedate_to_datetime(text)  # RFC 1123 (`Thu, 17 Feb 2022 16:51:05 -0500`), as describe prints
            except (TypeError, ValueError, IndexError):
                return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def parse_timestamp(value: object) -> datetime | None:
    """A server timestamp (RFC 3339 / MicroTime / RFC 1123) as an aware UTC datetime; None when absent.

    Kubernetes writes `null` or omits unset times; nanosecond fractions (kubectl --timestamps) are cut to
    microseconds, which is all a datetime holds.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    text = str(value).strip()
    if text in NULL_TIMES:
        return None
    return _parse_iso(text)


def to_iso(value: datetime | None) -> str | None:
    """UTC RFC 3339 with `Z`, as the API server writes it (microseconds only when present)."""
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def parse_go_duration(text: str) -> float | None:
    """Seconds from a Go `time.Duration` string (`1m2.5s`, `450ms`, `4m47.129s`); None if it is not one."""
    text = text.strip()
    if not text:
        return None
    if text == "0":
        return 0.0
    total, pos = 0.0, 0
    for match in _GO_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def parse_age(text: str) -> float | None:
    """Seconds from a kubectl age (`5m31s`, `13m`, `2d3h`, `3y45d`); None for `<unknown>`/`<invalid>`.

    kubectl rounds ages more coarsely as they grow (seconds below 2 minutes, minutes below 3 hours...),
    so durations computed from ages carry that resolution.
    """
    text = text.strip()
    if not text or text.startswith("<"):
        return None
    total, pos = 0.0, 0
    for match in _AGE_PART.finditer(text):
        if match.start() != pos:
            return None
        total += int(match.group(1)) * _AGE_UNITS[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """end - start in seconds, None unless both are known."""
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def format_seconds(value: float | None) -> str:
    """Short human duration for tables: `850ms`, `4.2s`, `3m07s`, `1h02m`."""
    if value is None:
        return "-"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value < 1:
        return f"{sign}{value * 1000:.0f}ms"
    if value < 60:
        return f"{sign}{value:.1f}s"
    if value < 3600:
        minutes, seconds = divmod(round(value), 60)
        return f"{sign}{minutes}m{seconds:02d}s"
    hours, rest = divmod(round(value), 3600)
    return f"{sign}{hours}h{rest // 60:02d}m"
