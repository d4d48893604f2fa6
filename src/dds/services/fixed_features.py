"""Instance switches of the cloud that have one possible position here, answered truthfully.

Infrastructure tools read them on every refresh (second-level monitoring, slow-log
desensitization, log-service configurations, zones to migrate to); a 404 or a refusal there
would break a plan that never asked to change anything. Setting the position they already have
is accepted; the other position gets the reason it cannot be.
"""

from __future__ import annotations

from dds.core.errors import InvalidParameter, Unsupported
from dds.domain import unsupported
from dds.parts import Parts
from dds.services import instances
from dds.wire import models as w

DESENSITIZATION = "on"  # the gateways' slow log keeps command shapes, never literal values


def exists(parts: Parts, project_id: str, instance_id: str) -> None:
    with parts.db.session() as s:
        instances.get(s, project_id, instance_id)


def second_level_monitoring(
    parts: Parts, project_id: str, instance_id: str
) -> w.ShowSecondLevelMonitoringStatusResponse:
    exists(parts, project_id, instance_id)
    return w.ShowSecondLevelMonitoringStatusResponse(enabled=False)


def switch_second_level_monitoring(
    parts: Parts, project_id: str, instance_id: str, body: w.SwitchSecondLevelMonitoringRequestBody
) -> None:
    exists(parts, project_id, instance_id)
    if body.enabled is None:
        raise InvalidParameter("enabled is required.")
    if body.enabled:
        raise Unsupported(unsupported.CLOUD_EYE)


def slowlog_desensitization(
    parts: Parts, project_id: str, instance_id: str
) -> w.ShowSlowlogDesensitizationSwitchResponse:
    exists(parts, project_id, instance_id)
    return w.ShowSlowlogDesensitizationSwitchResponse(status=DESENSITIZATION)


def switch_slowlog_desensitization(parts: Parts, project_id: str, instance_id: str, status: str) -> None:
    exists(parts, project_id, instance_id)
    if status not in ("on", "off"):
        raise InvalidParameter("status must be on or off.")
    if status != DESENSITIZATION:
        raise Unsupported(unsupported.DESENSITIZE)


def lts_configs(offset: int, limit: int) -> w.ListLtsConfigsResponse:
    """No instance ships its logs to a log service: the list is empty (paging still checked)."""
    del offset, limit
    return w.ListLtsConfigsResponse(instance_lts_configs=[], total_count=0)


def zones_to_migrate_to(parts: Parts, project_id: str, instance_id: str) -> w.ListAz2MigrateResponse:
    exists(parts, project_id, instance_id)
    return w.ListAz2MigrateResponse(az_list=[])
