"""The Huawei Cloud Python SDK drives tags, quotas, recycle policy and bin, maintenance window,
scheduled tasks, auto-enlarge policies and the replica set name unchanged; every response
parses into the SDK's models."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdds.v3 import (
    BatchOperateInstanceTagRequestBody,
    BatchTagActionRequest,
    CancelScheduledTaskRequest,
    ChangeOpsWindowRequest,
    DdsClient,
    DiskSetAutoExpansionPolicy,
    ListAz2MigrateRequest,
    ListInstancesByTagsRequest,
    ListInstancesByTagsRequestBody,
    ListInstanceTagsRequest,
    ListLtsConfigsRequest,
    ListProjectTagsRequest,
    ListRecycleInstancesRequest,
    ListScheduledTasksRequest,
    MongoUpdateReplSetV3RequestBody,
    OpsWindowRequestBody,
    QueryTagItem,
    RecyclePolicy,
    RecyclePolicyRequestBody,
    SetAutoEnlargePoliciesRequest,
    SetAutoEnlargePoliciesRequestBody,
    SetRecyclePolicyRequest,
    ShowAutoEnlargePolicyRequest,
    ShowQuotasRequest,
    ShowRecyclePolicyRequest,
    ShowReplSetNameRequest,
    ShowSecondLevelMonitoringStatusRequest,
    ShowSlowlogDesensitizationSwitchRequest,
    SwitchoverReplicaSetRequest,
    SwitchSlowlogDesensitizationRequest,
    TagItem,
    UpdateReplSetNameRequest,
)

from tests.client_support import assert_model_types
from tests.conftest import PASSWORD, Service
from tests.huawei_support import create_replica_set, sdk_client
from tests.iam_helpers import Tenant, add_tenant, delete_instance, start_own

pytestmark = [pytest.mark.filterwarnings("error::huaweicloudsdkcore.warning.warning.SdkWarning")]


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc, stop = start_own(tmp_path_factory, "dds-hwsdk-mgmt")
    yield svc
    stop()


@pytest.fixture(scope="module")
def tenant(own: Service) -> Tenant:
    return add_tenant(own, "hwsdk-mgmt")


@pytest.fixture(scope="module")
def client(tenant: Tenant) -> DdsClient:
    return sdk_client(tenant)


@pytest.fixture(scope="module")
def instance_id(client: DdsClient, tenant: Tenant, own: Service) -> Iterator[str]:
    iid = create_replica_set(client, "sdk-mgmt", PASSWORD)
    yield iid
    delete_instance(tenant, iid)


def test_management_through_the_sdk(client: DdsClient, instance_id: str) -> None:
    tagged = client.batch_tag_action(
        BatchTagActionRequest(
            instance_id=instance_id,
            body=BatchOperateInstanceTagRequestBody(action="create", tags=[TagItem(key="env", value="prod")]),
        )
    )
    assert_model_types(tagged, "batch_tag_action")
    tags = client.list_instance_tags(ListInstanceTagsRequest(instance_id=instance_id))
    assert_model_types(tags, "list_instance_tags")
    assert [(t.key, t.value) for t in tags.tags] == [("env", "prod")]
    project = client.list_project_tags(ListProjectTagsRequest())
    assert_model_types(project, "list_project_tags")
    assert {t.key: t.values for t in project.tags}["env"] == ["prod"]
    found = client.list_instances_by_tags(
        ListInstancesByTagsRequest(
            body=ListInstancesByTagsRequestBody(
                action="filter", offset="0", limit="10", tags=[QueryTagItem(key="env", values=["prod"])]
            )
        )
    )
    assert_model_types(found, "list_instances_by_tags")
    assert [i.instance_id for i in found.instances] == [instance_id]
    for item in found.instances:
        assert_model_types(item, "instance_item")

    quotas = client.show_quotas(ShowQuotasRequest())
    assert_model_types(quotas, "show_quotas")
    assert {r.type: r.used for r in quotas.quotas.resources}["instance"] == 1

    set_policy = client.set_recycle_policy(
        SetRecyclePolicyRequest(
            body=RecyclePolicyRequestBody(recycle_policy=RecyclePolicy(enabled=True, retention_period_in_days=2))
        )
    )
    assert_model_types(set_policy, "set_recycle_policy")
    shown = client.show_recycle_policy(ShowRecyclePolicyRequest())
    assert_model_types(shown, "show_recycle_policy")
    assert (shown.recycle_policy.enabled, shown.recycle_policy.retention_period_in_days) == (True, 2)
    recycled = client.list_recycle_instances(ListRecycleInstancesRequest())
    assert_model_types(recycled, "list_recycle_instances")
    assert recycled.total_count == 0

    window = client.change_ops_window(
        ChangeOpsWindowRequest(instance_id=instance_id, body=OpsWindowRequestBody(start_time="22:00", end_time="02:00"))
    )
    assert_model_types(window, "change_ops_window")
    tasks = client.list_scheduled_tasks(ListScheduledTasksRequest(instance_id=instance_id))
    assert_model_types(tasks, "list_scheduled_tasks")
    assert tasks.total_count == 0

    enlarge = client.set_auto_enlarge_policies(
        SetAutoEnlargePoliciesRequest(
            body=SetAutoEnlargePoliciesRequestBody(
                switch_option="on",
                policies=[DiskSetAutoExpansionPolicy(instance_id=instance_id, threshold=90, step=10, size=200)],
            )
        )
    )
    assert_model_types(enlarge, "set_auto_enlarge_policies")
    policy = client.show_auto_enlarge_policy(ShowAutoEnlargePolicyRequest(instance_id=instance_id))
    assert_model_types(policy, "show_auto_enlarge_policy")
    assert_model_types(policy.policy, "policy")
    assert (policy.switch_option, policy.policy.threshold, policy.policy.size) == ("on", 90, 200)

    name = client.show_repl_set_name(ShowReplSetNameRequest(instance_id=instance_id))
    assert_model_types(name, "show_repl_set_name")
    assert name.name == "replica"
    renamed = client.update_repl_set_name(
        UpdateReplSetNameRequest(instance_id=instance_id, body=MongoUpdateReplSetV3RequestBody(name="sdk_rs"))
    )
    assert_model_types(renamed, "update_repl_set_name")
    deadline_name = None
    for _ in range(300):
        deadline_name = client.show_repl_set_name(ShowReplSetNameRequest(instance_id=instance_id)).name
        if deadline_name == "sdk_rs":
            break
    assert deadline_name == "sdk_rs"


def test_cancelling_an_unknown_task_is_a_dds_error(client: DdsClient) -> None:
    from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException

    with pytest.raises(ClientRequestException) as err:
        client.cancel_scheduled_task(CancelScheduledTaskRequest(job_id="00000000-0000-0000-0000-000000000000"))
    assert err.value.status_code == 404 and err.value.error_code.startswith("DBS.")


def test_fixed_switches_parse_and_refusals_carry_the_reason(client: DdsClient, instance_id: str) -> None:
    """The reads infrastructure tools make on every refresh answer truthfully through the SDK;
    an operation this service cannot offer raises the SDK's exception with DBS.280342."""
    monitoring = client.show_second_level_monitoring_status(
        ShowSecondLevelMonitoringStatusRequest(instance_id=instance_id)
    )
    assert_model_types(monitoring, "show_second_level_monitoring_status")
    assert monitoring.enabled is False
    desensitized = client.show_slowlog_desensitization_switch(
        ShowSlowlogDesensitizationSwitchRequest(instance_id=instance_id)
    )
    assert_model_types(desensitized, "show_slowlog_desensitization_switch")
    assert desensitized.status == "on"
    kept = client.switch_slowlog_desensitization(
        SwitchSlowlogDesensitizationRequest(instance_id=instance_id, status="on")
    )
    assert_model_types(kept, "switch_slowlog_desensitization")
    lts = client.list_lts_configs(ListLtsConfigsRequest())
    assert_model_types(lts, "list_lts_configs")
    assert lts.total_count == 0 and lts.instance_lts_configs == []
    zones = client.list_az2_migrate(ListAz2MigrateRequest(instance_id=instance_id))
    assert_model_types(zones, "list_az2_migrate")
    assert zones.az_list == []
    with pytest.raises(ClientRequestException) as refused:
        client.switchover_replica_set(SwitchoverReplicaSetRequest(instance_id=instance_id))
    assert refused.value.status_code == 400 and refused.value.error_code == "DBS.280342"
    assert "one engine node" in refused.value.error_msg
