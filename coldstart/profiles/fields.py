"""The field types every profile section shares: a strict frozen base, digest-pinned references, binary quantities,
DNS labels and Go durations, each rejecting a bad value with what to write instead.

They live apart from `model` so the cloud sections (`clouds`) use the same rules without importing the whole model.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from coldstart.kube.images import is_pinned_reference
from coldstart.kube.quantity import is_binary_quantity

__all__ = ["BinaryQuantity", "DigestRef", "DnsLabel", "Duration", "Strict"]

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DURATION = re.compile(r"^([0-9]+(s|m|h))+$")


def _digest_ref(value: str) -> str:
    if not is_pinned_reference(value):
        raise ValueError(f"{value!r} is not pinned by digest; write registry/repo@sha256:<64 hex> "
                         "(a tag alone lets the image change under you and defeats IfNotPresent)")
    return value


def _binary_quantity(value: str) -> str:
    if not is_binary_quantity(value):
        raise ValueError(f"{value!r} is not a binary Kubernetes quantity; write it like 16Gi "
                         "(Ki/Mi/Gi/Ti, whole numbers; 16GB is not a Kubernetes size)")
    return value


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value) or len(value) > 63:
        raise ValueError(f"{value!r} is not a DNS label; write lowercase letters, digits and '-'")
    return value


def _duration(value: str) -> str:
    if value != "Never" and not _DURATION.match(value):
        raise ValueError(f"{value!r} is not a duration; write it like 10m, 720h or 1h30m (or Never)")
    return value


DigestRef = Annotated[str, AfterValidator(_digest_ref)]
BinaryQuantity = Annotated[str, AfterValidator(_binary_quantity)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
Duration = Annotated[str, AfterValidator(_duration)]  # Karpenter's durations: Go's h/m/s, or Never


class Strict(BaseModel):
    """Unknown keys are errors and a loaded profile never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)
