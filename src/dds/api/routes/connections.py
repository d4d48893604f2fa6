"""Connection management: sessions, connection statistics, kill-op rules, client networks, SSL."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from dds.api.deps import PartsDep, ProjectDep, query
from dds.services import connections
from dds.wire import models as w

router = APIRouter(tags=["Connection management"])


@router.get(
    "/v3/{project_id}/nodes/{node_id}/sessions",
    response_model=w.ListSessionsResponse,
    response_model_exclude_unset=True,
)
def list_sessions(
    node_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    q: Annotated[connections.SessionQuery, Depends(query(connections.SessionQuery))],
) -> w.ListSessionsResponse:
    return connections.list_sessions(parts, project_id, node_id, q)


@router.post(
    "/v3/{project_id}/nodes/{node_id}/session",
    response_model=w.DeleteSessionResponse,
    response_model_exclude_unset=True,
)
def delete_session(
    node_id: str, body: w.DeleteSessionRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.DeleteSessionResponse:
    connections.kill_sessions(parts, project_id, node_id, body.sessions)
    return w.DeleteSessionResponse()


@router.get(
    "/v3/{project_id}/instances/{instance_id}/conn-statistics",
    response_model=w.ShowConnectionStatisticsResponse,
    response_model_exclude_unset=True,
)
def show_connection_statistics(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, node_id: str | None = None
) -> w.ShowConnectionStatisticsResponse:
    return connections.connection_statistics(parts, project_id, instance_id, node_id)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/kill-op-rule",
    response_model=w.CreateKillOpRuleResponse,
    response_model_exclude_unset=True,
)
def create_kill_op_rule(
    instance_id: str, body: w.CreateKillOpRuleRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.CreateKillOpRuleResponse:
    connections.create_kill_op_rule(parts, project_id, instance_id, body)
    return w.CreateKillOpRuleResponse()


@router.get(
    "/v3/{project_id}/instances/{instance_id}/kill-op-rule",
    response_model=w.ShowKillOpRuleRuleListResponse,
    response_model_exclude_unset=True,
)
def show_kill_op_rule_rule_list(
    instance_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    q: Annotated[connections.RuleQuery, Depends(query(connections.RuleQuery))],
) -> w.ShowKillOpRuleRuleListResponse:
    return connections.list_kill_op_rules(parts, project_id, instance_id, q)


@router.put(
    "/v3/{project_id}/instances/{instance_id}/kill-op-rule",
    response_model=w.UpdateKillOpRuleResponse,
    response_model_exclude_unset=True,
)
def update_kill_op_rule(
    instance_id: str, body: w.UpdateKillOpRuleRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.UpdateKillOpRuleResponse:
    connections.update_kill_op_rules(parts, project_id, instance_id, body.action, body.ids)
    return w.UpdateKillOpRuleResponse()


@router.delete(
    "/v3/{project_id}/instances/{instance_id}/kill-op-rule",
    response_model=w.DeleteKillOpRuleListResponse,
    response_model_exclude_unset=True,
)
def delete_kill_op_rule_list(
    instance_id: str, body: w.DeleteKillOpRuleListRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.DeleteKillOpRuleListResponse:
    connections.delete_kill_op_rules(parts, project_id, instance_id, body.ids)
    return w.DeleteKillOpRuleListResponse()


@router.get(
    "/v3/{project_id}/instances/{instance_id}/client-network",
    response_model=w.ShowClientNetworkResponse,
    response_model_exclude_unset=True,
)
def show_client_network(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> w.ShowClientNetworkResponse:
    return connections.show_client_network(parts, project_id, instance_id)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/client-network",
    response_model=w.UpdateClientNetworkResponse,
    response_model_exclude_unset=True,
)
def update_client_network(
    instance_id: str, body: w.ClientNetworkRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.UpdateClientNetworkResponse:
    connections.update_client_network(parts, project_id, instance_id, body.client_network_ranges)
    return w.UpdateClientNetworkResponse()


@router.post(
    "/v3/{project_id}/instances/{instance_id}/switch-ssl",
    status_code=202,
    response_model=w.SwitchSslResponse,
    response_model_exclude_unset=True,
)
def switch_ssl(
    instance_id: str, body: w.SwitchSslRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.SwitchSslResponse:
    job = connections.switch_ssl(parts, project_id, instance_id, body.ssl_option)
    return w.SwitchSslResponse(job_id=job.id, ssl_option=body.ssl_option)


@router.get(
    "/v3/{project_id}/instances/{instance_id}/ssl-cert/download-link",
    response_model=w.ListSslCertDownloadAddressResponse,
    response_model_exclude_unset=True,
)
def list_ssl_cert_download_address(
    instance_id: str, project_id: ProjectDep, parts: PartsDep
) -> w.ListSslCertDownloadAddressResponse:
    return connections.ssl_cert_links(parts, project_id, instance_id)


@router.get("/ssl-certs/{project_id}/{instance_id}/{name}")
def download_ssl_cert(
    project_id: str, instance_id: str, name: str, parts: PartsDep, expires: str = "", signature: str = ""
) -> Response:
    """Serves the CA certificate by a link signed above. The signature is the credential."""
    pem = connections.open_ca(parts, project_id, instance_id, name, expires, signature)
    return Response(
        pem, media_type="application/x-pem-file", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
