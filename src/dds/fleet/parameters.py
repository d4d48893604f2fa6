"""What an instance's parameter values make of its processes (the honoured parameters)."""

from __future__ import annotations

from dataclasses import dataclass

from dds.db.parameters import InstanceParameters
from dds.domain import parameters as p
from dds.domain.catalog import FLAVORS
from dds.parts import Parts

SLOW_LOG_OFF_MS = 1e12  # `operationProfiling.mode: off`: no operation is ever that slow


@dataclass(frozen=True)
class Effective:
    max_connections: int
    slow_ms: float
    cache_kib: int | None


def values_of(parts: Parts, instance_id: str) -> dict[str, str]:
    with parts.db.session() as s:
        row = s.get(InstanceParameters, instance_id)
        return dict(row.values) if row is not None else {}


def effective(parts: Parts, instance_id: str, spec_code: str) -> Effective:
    values = values_of(parts, instance_id)
    flavor = FLAVORS.get(spec_code)
    slow = p.slow_ms(values)
    return Effective(
        max_connections=p.max_connections(values, flavor.ram_gb if flavor else 1),
        slow_ms=SLOW_LOG_OFF_MS if slow is None else slow,
        cache_kib=p.cache_kib(values),
    )
