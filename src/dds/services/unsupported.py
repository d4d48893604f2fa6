"""Refusing a documented DDS operation this service cannot offer (dds.domain.unsupported)."""

from __future__ import annotations

from dds.core.errors import Unsupported
from dds.parts import Parts
from dds.services.connections import node_of
from dds.services.fixed_features import exists


def refuse(parts: Parts, project_id: str, instance_id: str | None, node_id: str | None, reason: str) -> None:
    """404 for an instance or node the project does not have, as everywhere; then the reason."""
    if instance_id is not None:
        exists(parts, project_id, instance_id)
    if node_id is not None:
        node_of(parts, project_id, node_id)
    raise Unsupported(reason)
