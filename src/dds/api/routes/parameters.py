"""Parameter configuration: templates, an instance's parameters, and their histories."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from dds.api.deps import PartsDep, ProjectDep, paging
from dds.parts import Parts
from dds.services import iam, parameters
from dds.wire import models as w

router = APIRouter(tags=["Parameter configuration"])


def _caller(request: Request) -> str:
    parts: Parts = request.app.state.parts
    return iam.caller_label(parts, request.headers)


CallerName = Annotated[str, Depends(_caller)]


@router.get(
    "/v3/{project_id}/configurations", response_model=w.ListConfigurationsResponse, response_model_exclude_unset=True
)
def list_configurations(
    project_id: ProjectDep, parts: PartsDep, offset: str | None = None, limit: str | None = None
) -> w.ListConfigurationsResponse:
    return parameters.list_templates(parts, project_id, *paging(offset, limit))


@router.post(
    "/v3/{project_id}/configurations", response_model=w.CreateConfigurationResponse, response_model_exclude_unset=True
)
def create_configuration(
    body: w.CreateConfigurationRequestBody, project_id: ProjectDep, parts: PartsDep, who: CallerName
) -> w.CreateConfigurationResponse:
    return parameters.create_template(parts, project_id, who, body)


@router.get(
    "/v3/{project_id}/configurations/name-validation",
    response_model=w.ValidateConfigurationNameResponse,
    response_model_exclude_unset=True,
)
def validate_configuration_name(
    project_id: ProjectDep, parts: PartsDep, name: str | None = None
) -> w.ValidateConfigurationNameResponse:
    return w.ValidateConfigurationNameResponse(is_existed=parameters.name_exists(parts, project_id, name))


@router.post(
    "/v3/{project_id}/configurations/comparison",
    response_model=w.CompareConfigurationResponse,
    response_model_exclude_unset=True,
)
def compare_configuration(
    body: w.DiffConfigurationRequest, project_id: ProjectDep, parts: PartsDep
) -> w.CompareConfigurationResponse:
    return parameters.compare_templates(parts, project_id, body)


@router.get(
    "/v3/{project_id}/configurations/{config_id}",
    response_model=w.ShowConfigurationParameterResponse,
    response_model_exclude_unset=True,
)
def show_configuration_parameter(
    config_id: str, project_id: ProjectDep, parts: PartsDep
) -> w.ShowConfigurationParameterResponse:
    return parameters.show_template(parts, project_id, config_id)


@router.put(
    "/v3/{project_id}/configurations/{config_id}",
    response_model=w.UpdateConfigurationParameterResponse,
    response_model_exclude_unset=True,
)
def update_configuration_parameter(
    config_id: str,
    body: w.UpdateConfigurationParameterRequestBody,
    project_id: ProjectDep,
    parts: PartsDep,
    who: CallerName,
) -> w.UpdateConfigurationParameterResponse:
    parameters.update_template(parts, project_id, who, config_id, body)
    return w.UpdateConfigurationParameterResponse()


@router.delete(
    "/v3/{project_id}/configurations/{config_id}",
    response_model=w.DeleteConfigurationResponse,
    response_model_exclude_unset=True,
)
def delete_configuration(config_id: str, project_id: ProjectDep, parts: PartsDep) -> w.DeleteConfigurationResponse:
    parameters.delete_template(parts, project_id, config_id)
    return w.DeleteConfigurationResponse()


@router.post(
    "/v3/{project_id}/configurations/{config_id}/copy",
    response_model=w.CopyConfigurationResponse,
    response_model_exclude_unset=True,
)
def copy_configuration(
    config_id: str, body: w.CopyConfigurationRequestBody, project_id: ProjectDep, parts: PartsDep, who: CallerName
) -> w.CopyConfigurationResponse:
    return parameters.copy_template(parts, project_id, who, config_id, body)


@router.post(
    "/v3/{project_id}/configurations/{config_id}/reset",
    response_model=w.ResetConfigurationResponse,
    response_model_exclude_unset=True,
)
def reset_configuration(
    config_id: str, project_id: ProjectDep, parts: PartsDep, who: CallerName
) -> w.ResetConfigurationResponse:
    parameters.reset_template(parts, project_id, who, config_id)
    return w.ResetConfigurationResponse()


@router.get(
    "/v3/{project_id}/configurations/{config_id}/applicable-instances",
    response_model=w.ListAppliedInstancesResponse,
    response_model_exclude_unset=True,
)
def list_applied_instances(
    config_id: str, project_id: ProjectDep, parts: PartsDep, offset: str | None = None, limit: str | None = None
) -> w.ListAppliedInstancesResponse:
    return parameters.applicable_instances(parts, project_id, config_id, *paging(offset, limit))


@router.get(
    "/v3/{project_id}/configurations/{config_id}/applied-histories",
    response_model=w.ShowConfigurationAppliedHistoryResponse,
    response_model_exclude_unset=True,
)
def show_configuration_applied_history(
    config_id: str, project_id: ProjectDep, parts: PartsDep, offset: str | None = None, limit: str | None = None
) -> w.ShowConfigurationAppliedHistoryResponse:
    return parameters.applied_history(parts, project_id, config_id, *paging(offset, limit))


@router.get(
    "/v3/{project_id}/configurations/{config_id}/histories",
    response_model=w.ShowConfigurationModifyHistoryResponse,
    response_model_exclude_unset=True,
)
def show_configuration_modify_history(
    config_id: str, project_id: ProjectDep, parts: PartsDep, offset: str | None = None, limit: str | None = None
) -> w.ShowConfigurationModifyHistoryResponse:
    return parameters.template_history(parts, project_id, config_id, *paging(offset, limit))


@router.put(
    "/v3/{project_id}/configurations/{config_id}/apply",
    response_model=w.SwitchConfigurationResponse,
    response_model_exclude_unset=True,
)
def switch_configuration(
    config_id: str, body: w.ApplyConfigurationRequestBody, project_id: ProjectDep, parts: PartsDep, who: CallerName
) -> w.SwitchConfigurationResponse:
    return w.SwitchConfigurationResponse(job_id=parameters.apply_template(parts, project_id, who, config_id, body))


@router.get(
    "/v3/{project_id}/instances/{instance_id}/configurations",
    response_model=w.ShowEntityConfigurationResponse,
    response_model_exclude_unset=True,
)
def show_entity_configuration(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, entity_id: str | None = None
) -> w.ShowEntityConfigurationResponse:
    return parameters.show_instance(parts, project_id, instance_id)


@router.put(
    "/v3/{project_id}/instances/{instance_id}/configurations",
    response_model=w.UpdateEntityConfigurationResponse,
    response_model_exclude_unset=True,
)
def update_entity_configuration(
    instance_id: str,
    body: w.UpdateConfigurationParameterResult,
    project_id: ProjectDep,
    parts: PartsDep,
    who: CallerName,
) -> w.UpdateEntityConfigurationResponse:
    job_id, restart = parameters.update_instance(parts, project_id, who, instance_id, body)
    return w.UpdateEntityConfigurationResponse(job_id=job_id, restart_required=restart)


@router.get(
    "/v3/{project_id}/instances/{instance_id}/configuration-histories",
    response_model=w.ShowInstanceConfigurationModifyHistoryResponse,
    response_model_exclude_unset=True,
)
def show_instance_configuration_modify_history(
    instance_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    entity_id: str | None = None,
    offset: str | None = None,
    limit: str | None = None,
) -> w.ShowInstanceConfigurationModifyHistoryResponse:
    return parameters.instance_history(parts, project_id, instance_id, *paging(offset, limit))
