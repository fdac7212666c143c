"""Quantities: Kubernetes' own range (|value| <= 2^63-1), absurd ones refused at once, never computed."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from coldstart.errors import InvalidValue
from coldstart.kube.quantity import format_binary, parse_quantity, to_bytes


@pytest.mark.parametrize(("text", "value"), [
    ("16Gi", Decimal(16 * 2**30)), ("500m", Decimal("0.5")), ("20G", Decimal(20 * 10**9)), ("1.5", Decimal("1.5")),
    ("7Ei", Decimal(7 * 2**60)), ("9e18", Decimal("9e18")), ("1e-9000", Decimal("1e-30")), (2**62, Decimal(2**62)),
])
def test_quantities_within_range(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


ABSURD = ["1e900000", "-1e900000", "9.3e18", "8Ei", "99999999999Ei", "1" * 40, 2**64, 10**5000, float("inf"),
          float("nan"), "1e9999999999999"]


@pytest.mark.parametrize("text", ABSURD, ids=[f"case{i}" for i in range(len(ABSURD))])
def test_absurd_quantities_are_refused_in_microseconds(text: str | int | float) -> None:
    start = time.perf_counter()
    with pytest.raises(InvalidValue, match="beyond what a Kubernetes quantity holds|not a Kubernetes quantity"):
        to_bytes(text)
    assert time.perf_counter() - start < 0.01


def test_messages_stay_short_and_malformed_stays_malformed() -> None:
    with pytest.raises(InvalidValue) as err:
        parse_quantity("9" * 100_000)
    assert len(str(err.value)) < 200
    with pytest.raises(InvalidValue, match="an integer of about 5,001 digits"):
        parse_quantity(10**5000)
    for bad in ("1.2.3", "16GB", "", "Gi", True):
        with pytest.raises(InvalidValue):
            parse_quantity(bad)  # type: ignore[arg-type]
    assert format_binary(to_bytes("16Gi")) == "16Gi"
