"""The rest of instance management: quotas, recycle bin, maintenance window and scheduled tasks,
auto-enlarge volume policies, replica set name."""

from __future__ import annotations

from fastapi import APIRouter

from dds.api.deps import PartsDep, ProjectDep, paging
from dds.services import maintenance, quotas, recycle, replica_set, replica_set_nodes, volume_policies
from dds.wire import models as w

router = APIRouter(tags=["DB instance management"])


@router.get("/v3/{project_id}/quotas", response_model=w.ShowQuotasResponse, response_model_exclude_unset=True)
def show_quotas(project_id: ProjectDep, parts: PartsDep) -> w.ShowQuotasResponse:
    return quotas.show(parts, project_id)


@router.get(
    "/v3/{project_id}/instances/recycle-policy",
    response_model=w.ShowRecyclePolicyResponse,
    response_model_exclude_unset=True,
)
def show_recycle_policy(project_id: ProjectDep, parts: PartsDep) -> w.ShowRecyclePolicyResponse:
    return recycle.show_policy(parts, project_id)


@router.put(
    "/v3/{project_id}/instances/recycle-policy",
    response_model=w.SetRecyclePolicyResponse,
    response_model_exclude_unset=True,
)
def set_recycle_policy(
    body: w.RecyclePolicyRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.SetRecyclePolicyResponse:
    recycle.set_policy(parts, project_id, body)
    return w.SetRecyclePolicyResponse()


@router.get(
    "/v3/{project_id}/recycle-instances",
    response_model=w.ListRecycleInstancesResponse,
    response_model_exclude_unset=True,
)
def list_recycle_instances(
    project_id: ProjectDep, parts: PartsDep, offset: str | None = None, limit: str | None = None
) -> w.ListRecycleInstancesResponse:
    return recycle.listing(parts, project_id, *paging(offset, limit))


@router.put(
    "/v3/{project_id}/instances/{instance_id}/maintenance-window",
    response_model=w.ChangeOpsWindowResponse,
    response_model_exclude_unset=True,
)
def change_ops_window(
    instance_id: str, body: w.OpsWindowRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.ChangeOpsWindowResponse:
    maintenance.set_window(parts, project_id, instance_id, body)
    return w.ChangeOpsWindowResponse()


@router.get(
    "/v3/{project_id}/scheduled-jobs", response_model=w.ListScheduledTasksResponse, response_model_exclude_unset=True
)
def list_scheduled_tasks(
    project_id: ProjectDep,
    parts: PartsDep,
    instance_id: str | None = None,
    job_name: str | None = None,
    job_status: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
    offset: str | None = None,
    limit: str | None = None,
) -> w.ListScheduledTasksResponse:
    start, count = paging(offset, limit)
    return maintenance.listing(
        parts, project_id, instance_id=instance_id, job_name=job_name, job_status=job_status, offset=start, limit=count
    )


@router.delete(
    "/v3/{project_id}/scheduled-jobs/{job_id}",
    response_model=w.CancelScheduledTaskResponse,
    response_model_exclude_unset=True,
)
def cancel_scheduled_task(job_id: str, project_id: ProjectDep, parts: PartsDep) -> w.CancelScheduledTaskResponse:
    maintenance.cancel(parts, project_id, job_id)
    return w.CancelScheduledTaskResponse()


@router.put(
    "/v3/{project_id}/instances/auto-enlarge-volume-policies",
    response_model=w.SetAutoEnlargePoliciesResponse,
    response_model_exclude_unset=True,
)
def set_auto_enlarge_policies(
    body: w.SetAutoEnlargePoliciesRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.SetAutoEnlargePoliciesResponse:
    volume_policies.set_policies(parts, project_id, body)
    return w.SetAutoEnlargePoliciesResponse()


@router.get(
    "/v3/{project_id}/instances/{instance_id}/auto-enlarge-volume-policy",
    response_model=w.ShowAutoEnlargePolicyResponse,
    response_model_exclude_unset=True,
)
def show_auto_enlarge_policy(
    instance_id: str, project_id: ProjectDep, parts: PartsDep
) -> w.ShowAutoEnlargePolicyResponse:
    return volume_policies.show_policy(parts, project_id, instance_id)


@router.get(
    "/v3/{project_id}/instances/{instance_id}/replica-set/name",
    response_model=w.ShowReplSetNameResponse,
    response_model_exclude_unset=True,
)
def show_repl_set_name(instance_id: str, project_id: ProjectDep, parts: PartsDep) -> w.ShowReplSetNameResponse:
    return replica_set.show(parts, project_id, instance_id)


class ReplSetNameJob(w.UpdateReplSetNameResponse):
    """DDS answers `{}`; the restart that applies the name is a job, so its id is given too."""

    job_id: str | None = None


@router.put(
    "/v3/{project_id}/instances/{instance_id}/replica-set/name",
    response_model=ReplSetNameJob,
    response_model_exclude_unset=True,
)
def update_repl_set_name(
    instance_id: str, body: w.MongoUpdateReplSetV3RequestBody, project_id: ProjectDep, parts: PartsDep
) -> ReplSetNameJob:
    return ReplSetNameJob(job_id=replica_set.update(parts, project_id, instance_id, body.name))


@router.post(
    "/v3/{project_id}/instances/{instance_id}/switchover",
    status_code=202,
    response_model=w.SwitchoverReplicaSetResponse,
    response_model_exclude_unset=True,
)
def switchover_replica_set(
    instance_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    body: w.SwitchoverReplicaSetRequestBody | None = None,
) -> w.SwitchoverReplicaSetResponse:
    job_id = replica_set.switchover(parts, project_id, instance_id, body.group_id if body else None)
    return w.SwitchoverReplicaSetResponse(job_id=job_id)


class PromotionJob(w.SwitchInstancePrimaryResponse):
    """DDS answers `{}`; the promotion is a job, so its id is given too."""

    job_id: str | None = None


@router.post(
    "/v3/{project_id}/instances/{instance_id}/nodes/{node_id}/primary",
    response_model=PromotionJob,
    response_model_exclude_unset=True,
)
def switch_instance_primary(instance_id: str, node_id: str, project_id: ProjectDep, parts: PartsDep) -> PromotionJob:
    return PromotionJob(job_id=replica_set.promote(parts, project_id, instance_id, node_id))


@router.post(
    "/v3/{project_id}/instances/{instance_id}/replicaset-node",
    status_code=202,
    response_model=w.ExpandReplicasetNodeResponse,
    response_model_exclude_unset=True,
)
def expand_replicaset_node(
    instance_id: str, body: w.EnlargeReplicasetNodeRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.ExpandReplicasetNodeResponse:
    return w.ExpandReplicasetNodeResponse(job_id=replica_set_nodes.enlarge(parts, project_id, instance_id, body.num))


@router.delete(
    "/v3/{project_id}/instances/{instance_id}/nodes",
    status_code=202,
    response_model=w.ShrinkInstanceNodesResponse,
    response_model_exclude_unset=True,
)
def shrink_instance_nodes(
    instance_id: str, body: w.ReduceInstanceNodeRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.ShrinkInstanceNodesResponse:
    job_id = replica_set_nodes.shrink(parts, project_id, instance_id, body.num, body.node_list)
    return w.ShrinkInstanceNodesResponse(job_id=job_id)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/readonly-node",
    status_code=202,
    response_model=w.AddReadonlyNodeResponse,
    response_model_exclude_unset=True,
)
def add_readonly_node(
    instance_id: str, body: w.AddReadonlyNodeRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.AddReadonlyNodeResponse:
    return w.AddReadonlyNodeResponse(job_id=replica_set_nodes.add_read_replicas(parts, project_id, instance_id, body))


@router.delete(
    "/v3/{project_id}/instances/{instance_id}/readonly-node",
    status_code=202,
    response_model=w.DeleteReadonlyNodeResponse,
    response_model_exclude_unset=True,
)
def delete_readonly_node(
    instance_id: str, body: w.DeleteReadonlyNodeRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.DeleteReadonlyNodeResponse:
    job_id = replica_set_nodes.delete_read_replicas(parts, project_id, instance_id, body.node_list)
    return w.DeleteReadonlyNodeResponse(job_id=job_id)
