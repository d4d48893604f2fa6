"""Auto-enlarge volume policies: grow an instance's volume before it fills up.

The supervisor asks `due()` each tick; an instance whose engine files use `threshold` % of its
volume gets an ordinary enlarge-volume job (visible in the task list) of `step` % (rounded up to
10 GB, as volumes come), never past the policy's `size` limit, well before it would turn read-only.
"""

from __future__ import annotations

import math

from sqlalchemy import select

from dds.core.errors import InvalidParameter
from dds.db.management import AutoEnlargePolicy
from dds.db.models import Instance
from dds.domain import catalog
from dds.domain.states import ALLOWED
from dds.fleet import nodes
from dds.parts import Parts
from dds.services import instances
from dds.wire import models as w

THRESHOLDS = (80, 85, 90, 95)
STEPS = (10, 15, 20)


def set_policies(parts: Parts, project_id: str, body: w.SetAutoEnlargePoliciesRequestBody) -> None:
    if body.switch_option not in ("on", "off"):
        raise InvalidParameter("switch_option must be on or off.")
    if not body.policies:
        raise InvalidParameter("policies must name at least one instance.")
    with parts.db.session() as s:
        for policy in body.policies:
            inst = instances.get(s, project_id, policy.instance_id or "")
            row = s.get(AutoEnlargePolicy, inst.id)
            if body.switch_option == "off":
                if row is not None:
                    s.delete(row)
                continue
            high = catalog.VOLUME_LIMITS_GB[catalog.MODE_FLAVOR_TYPE[inst.mode]][1]
            if policy.threshold not in THRESHOLDS:
                raise InvalidParameter(f"threshold must be one of {', '.join(map(str, THRESHOLDS))} (%).")
            if policy.step not in STEPS:
                raise InvalidParameter(f"step must be one of {', '.join(map(str, STEPS))} (%).")
            if policy.size is None or not inst.volume_gb < policy.size <= high:
                raise InvalidParameter(
                    f"size (the limit) must be more than the current {inst.volume_gb} GB and at most {high} GB."
                )
            if row is None:
                row = AutoEnlargePolicy(instance_id=inst.id)
                s.add(row)
            row.threshold, row.step, row.limit_gb = policy.threshold, policy.step, policy.size


def show_policy(parts: Parts, project_id: str, instance_id: str) -> w.ShowAutoEnlargePolicyResponse:
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        row = s.get(AutoEnlargePolicy, inst.id)
        if row is None:
            return w.ShowAutoEnlargePolicyResponse(switch_option="off")
        return w.ShowAutoEnlargePolicyResponse(
            switch_option="on",
            policy=w.DiskAutoExpansionPolicy(
                instance_id=inst.id, threshold=row.threshold, step=row.step, size=row.limit_gb
            ),
        )


def next_size(volume_gb: int, step: int, limit_gb: int) -> int:
    grown = math.ceil(volume_gb * (1 + step / 100) / 10) * 10
    return min(max(grown, volume_gb + 10), limit_gb)


def enlarge_due(parts: Parts, busy: set[str]) -> list[str]:
    """Start an enlarge job for every instance past its threshold; returns their ids."""
    unit = parts.settings.volume_unit_bytes
    started = []
    with parts.db.session() as s:
        rows = s.execute(
            select(Instance, AutoEnlargePolicy).join(AutoEnlargePolicy, AutoEnlargePolicy.instance_id == Instance.id)
        ).all()
        due = []
        for inst, policy in rows:
            if inst.id in busy or inst.status not in ALLOWED["enlarge_volume"] or inst.volume_gb >= policy.limit_gb:
                continue
            used = nodes.data_bytes(parts, inst)
            if used * 100 >= policy.threshold * inst.volume_gb * unit:
                due.append((inst.project_id, inst.id, next_size(inst.volume_gb, policy.step, policy.limit_gb)))
    for project_id, instance_id, size in due:
        try:
            instances.enlarge_volume(parts, project_id, instance_id, size)
        except Exception:  # noqa: BLE001 - quota or a race: the next tick looks again
            continue
        started.append(instance_id)
    return started
