"""Documented DDS operations this service cannot offer: routes that answer why (DBS.280342)
instead of "URL not found", after the same project and instance checks as every route.

Also the switches with one possible position (dds.services.fixed_features), answered truthfully.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable

from fastapi import APIRouter

from dds.api.deps import PartsDep, ProjectDep, paging
from dds.domain.unsupported import OPERATIONS, Operation
from dds.parts import Parts
from dds.services import fixed_features, unsupported
from dds.wire import models as w

router = APIRouter(tags=["Not offered by this service"])


def _refusal(op: Operation) -> Callable[..., None]:
    """An endpoint whose signature names the operation's path parameters, so they are documented."""

    def refuse(project_id: str, parts: Parts, **path: str) -> None:
        unsupported.refuse(parts, project_id, path.get("instance_id"), path.get("node_id"), op.reason)

    names = [n for n in re.findall(r"\{(\w+)\}", op.path) if n != "project_id"]
    params = [
        inspect.Parameter("project_id", inspect.Parameter.KEYWORD_ONLY, annotation=ProjectDep),
        inspect.Parameter("parts", inspect.Parameter.KEYWORD_ONLY, annotation=PartsDep),
        *(inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=str) for n in names),
    ]
    refuse.__signature__ = inspect.Signature(params, return_annotation=None)  # type: ignore[attr-defined]
    refuse.__name__ = op.name
    return refuse


for _op in OPERATIONS:
    router.add_api_route(
        _op.path,
        _refusal(_op),
        methods=[_op.method],
        name=_op.name,
        summary=f"{_op.name}: not offered",
        description=_op.reason,
        status_code=400,
        responses={400: {"description": _op.reason}},
    )


@router.get(
    "/v3/{project_id}/instances/{instance_id}/monitoring-by-seconds/switch",
    response_model=w.ShowSecondLevelMonitoringStatusResponse,
    response_model_exclude_unset=True,
    tags=["DB instance management"],
)
def show_second_level_monitoring_status(
    instance_id: str, project_id: ProjectDep, parts: PartsDep
) -> w.ShowSecondLevelMonitoringStatusResponse:
    return fixed_features.second_level_monitoring(parts, project_id, instance_id)


@router.put(
    "/v3/{project_id}/instances/{instance_id}/monitoring-by-seconds/switch",
    response_model=w.SwitchSecondLevelMonitoringResponse,
    tags=["DB instance management"],
)
def switch_second_level_monitoring(
    instance_id: str, body: w.SwitchSecondLevelMonitoringRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.SwitchSecondLevelMonitoringResponse:
    fixed_features.switch_second_level_monitoring(parts, project_id, instance_id, body)
    return w.SwitchSecondLevelMonitoringResponse()


@router.get(
    "/v3/{project_id}/instances/{instance_id}/slowlog-desensitization/status",
    response_model=w.ShowSlowlogDesensitizationSwitchResponse,
    response_model_exclude_unset=True,
    tags=["Log information"],
)
def show_slowlog_desensitization_switch(
    instance_id: str, project_id: ProjectDep, parts: PartsDep
) -> w.ShowSlowlogDesensitizationSwitchResponse:
    return fixed_features.slowlog_desensitization(parts, project_id, instance_id)


@router.put(
    "/v3/{project_id}/instances/{instance_id}/slowlog-desensitization/{status}",
    response_model=w.SwitchSlowlogDesensitizationResponse,
    tags=["Log information"],
)
def switch_slowlog_desensitization(
    instance_id: str, status: str, project_id: ProjectDep, parts: PartsDep
) -> w.SwitchSlowlogDesensitizationResponse:
    fixed_features.switch_slowlog_desensitization(parts, project_id, instance_id, status)
    return w.SwitchSlowlogDesensitizationResponse()


@router.get(
    "/v3/{project_id}/instances/logs/lts-configs",
    response_model=w.ListLtsConfigsResponse,
    tags=["Log information"],
)
def list_lts_configs(
    project_id: ProjectDep, parts: PartsDep, offset: str | None = None, limit: str | None = None
) -> w.ListLtsConfigsResponse:
    return fixed_features.lts_configs(*paging(offset, limit))


@router.get(
    "/v3/{project_id}/instances/{instance_id}/migrate/az",
    response_model=w.ListAz2MigrateResponse,
    tags=["DB instance management"],
)
def list_az2_migrate(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> w.ListAz2MigrateResponse:
    return fixed_features.zones_to_migrate_to(parts, project_id, instance_id)
