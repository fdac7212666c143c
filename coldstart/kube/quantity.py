"""Kubernetes resource quantities (`16Gi`, `500m`, `20G`) as numbers.

Kept here rather than borrowed from the `kubernetes` package because only `coldstart.live.cluster` may
import that package, and the parsing rules are small and stable (apimachinery `resource.Quantity`).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from coldstart.errors import InvalidValue

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": Decimal(1),
            "k": Decimal(10**3), "M": Decimal(10**6), "G": Decimal(10**9), "T": Decimal(10**12),
            "P": Decimal(10**15), "E": Decimal(10**18)}
_LIMIT = Decimal(2**63 - 1)  # what resource.Quantity holds in magnitude; Kubernetes caps anything larger
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
_BINARY_ONLY = re.compile(r"^[0-9]+(Ki|Mi|Gi|Ti|Pi|Ei)$")


def _shown(value: object) -> str:
    if isinstance(value, int) and value.bit_length() > 64:
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _bounded(value: Decimal, original: object) -> Decimal:
    if not value.is_finite() or abs(value) > _LIMIT:
        raise InvalidValue(f"{_shown(original)} is beyond what a Kubernetes quantity holds (finite, at most 2^63-1, "
                           "about 9.2E); write a realistic size such as 16Gi")
    return value


def parse_quantity(value: str | int | float) -> Decimal:
    """Return the quantity as a Decimal (bytes for memory, cores for CPU); ValueError if malformed.

    Magnitudes beyond 2^63-1 (what Kubernetes' resource.Quantity holds) are refused before any arithmetic, so
    `1e900000` fails at once instead of building a 900,000-digit number."""
    if isinstance(value, bool):
        raise InvalidValue(f"{value!r} is not a quantity")
    if isinstance(value, int):
        if abs(value) > _LIMIT:
            raise InvalidValue(f"{_shown(value)} is beyond what a Kubernetes quantity holds (at most 2^63-1, about "
                               "9.2E); write a realistic size such as 16Gi")
        return Decimal(value)
    if isinstance(value, float):
        return _bounded(Decimal(repr(value)) if value == value else Decimal("NaN"), value)
    text = str(value).strip()
    match = _QUANTITY.match(text) if len(text) <= 64 else None  # no real quantity is longer
    if not match:
        raise InvalidValue(f"{_shown(value)} is not a Kubernetes quantity")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        base = Decimal(number)
    except InvalidOperation as exc:
        raise InvalidValue(f"{_shown(value)} is not a Kubernetes quantity") from exc
    if base and base.adjusted() > 20:  # 2^63 is about 9.2e18: beyond it with any suffix, decided without arithmetic
        return _bounded(Decimal("Infinity"), value)
    if base and base.adjusted() < -30:  # far below 1n: Kubernetes rounds it up to the smallest unit
        base = Decimal("1e-30").copy_sign(base)
    if suffix in _BINARY:
        return _bounded(base * _BINARY[suffix], value)
    return _bounded(base * _DECIMAL[suffix], value)


def to_bytes(value: str | int | float) -> int:
    """Memory quantity in whole bytes."""
    return int(parse_quantity(value))


def is_binary_quantity(value: str) -> bool:
    """True for a whole number with a binary suffix (`16Gi`), the form sizes in profiles must use."""
    return bool(_BINARY_ONLY.match(str(value).strip()))


def format_binary(num_bytes: int) -> str:
    """The largest exact binary-suffixed form (`17179869184` -> `16Gi`); rounds up to whole Mi."""
    for suffix in ("Ti", "Gi", "Mi"):
        unit = _BINARY[suffix]
        if num_bytes % unit == 0 and num_bytes >= unit:
            return f"{num_bytes // unit}{suffix}"
    return f"{-(-num_bytes // 2**20)}Mi"


def gib(num_bytes: int | float) -> float:
    """Bytes as GiB, for messages."""
    return float(num_bytes) / 2**30
