"""The Huawei Cloud Python SDK drives parameter templates unchanged: list, create, show, update,
name check, compare, copy, reset, applicable instances, apply, histories, instance parameters,
delete. Every response parses into the SDK's models, and the applied value is really in force."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from huaweicloudsdkdds.v3 import (
    ApplyConfigurationRequestBody,
    CompareConfigurationRequest,
    CopyConfigurationRequest,
    CopyConfigurationRequestBody,
    CreateConfigurationRequest,
    CreateConfigurationRequestBody,
    DatastoreResult,
    DdsClient,
    DeleteConfigurationRequest,
    DiffConfigurationRequest,
    ListAppliedInstancesRequest,
    ListConfigurationsRequest,
    ResetConfigurationRequest,
    ShowConfigurationAppliedHistoryRequest,
    ShowConfigurationModifyHistoryRequest,
    ShowConfigurationParameterRequest,
    ShowEntityConfigurationRequest,
    ShowInstanceConfigurationModifyHistoryRequest,
    SwitchConfigurationRequest,
    UpdateConfigurationParameterRequest,
    UpdateConfigurationParameterRequestBody,
    UpdateConfigurationParameterResult,
    UpdateEntityConfigurationRequest,
    ValidateConfigurationNameRequest,
)

from tests.client_support import assert_model_types
from tests.conftest import PASSWORD, Service
from tests.huawei_support import create_replica_set, sdk_client, wait
from tests.iam_helpers import Tenant, add_tenant, delete_instance, start_own

pytestmark = [pytest.mark.filterwarnings("error::huaweicloudsdkcore.warning.warning.SdkWarning")]


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc, stop = start_own(tmp_path_factory, "dds-hwsdk-params")
    yield svc
    stop()


@pytest.fixture(scope="module")
def tenant(own: Service) -> Tenant:
    return add_tenant(own, "hwsdk-params")


@pytest.fixture(scope="module")
def client(tenant: Tenant) -> DdsClient:
    return sdk_client(tenant)


@pytest.fixture(scope="module")
def instance_id(client: DdsClient, tenant: Tenant) -> Iterator[str]:
    iid = create_replica_set(client, "sdk-params", PASSWORD)
    yield iid
    delete_instance(tenant, iid)


def test_parameter_templates_through_the_sdk(client: DdsClient, instance_id: str) -> None:
    listed = client.list_configurations(ListConfigurationsRequest())
    assert_model_types(listed, "list_configurations")
    for item in listed.configurations:
        assert_model_types(item, "configuration")
    default = next(
        c
        for c in listed.configurations
        if not c.user_defined and c.datastore_version == "4.0" and c.node_type == "replica"
    )

    made = client.create_configuration(
        CreateConfigurationRequest(
            body=CreateConfigurationRequestBody(
                name="sdk-template",
                description="from the SDK",
                datastore=DatastoreResult(version="4.0", node_type="replica"),
                parameter_values={"operationProfiling.slowOpThresholdMs": "250"},
            )
        )
    )
    assert_model_types(made, "create_configuration")
    assert_model_types(made.configuration, "configuration")
    cid = made.configuration.id

    shown = client.show_configuration_parameter(ShowConfigurationParameterRequest(config_id=cid))
    assert_model_types(shown, "show_configuration_parameter")
    for p in shown.parameters:
        assert_model_types(p, "parameter")
    assert {p.name: p.value for p in shown.parameters}["operationProfiling.slowOpThresholdMs"] == "250"

    updated = client.update_configuration_parameter(
        UpdateConfigurationParameterRequest(
            config_id=cid,
            body=UpdateConfigurationParameterRequestBody(
                parameter_values={"operationProfiling.slowOpThresholdMs": "300"}
            ),
        )
    )
    assert_model_types(updated, "update_configuration_parameter")
    exists = client.validate_configuration_name(ValidateConfigurationNameRequest(name="sdk-template"))
    assert_model_types(exists, "validate_configuration_name")
    assert exists.is_existed is True
    diff = client.compare_configuration(
        CompareConfigurationRequest(
            body=DiffConfigurationRequest(source_configuration_id=default.id, target_configuration_id=cid)
        )
    )
    assert_model_types(diff, "compare_configuration")
    assert [(d.parameter_name, d.source_value, d.target_value) for d in diff.differences] == [
        ("operationProfiling.slowOpThresholdMs", "100", "300")
    ]
    copied = client.copy_configuration(
        CopyConfigurationRequest(
            config_id=cid, body=CopyConfigurationRequestBody(name="sdk-template-copy", description="copy")
        )
    )
    assert_model_types(copied, "copy_configuration")
    reset = client.reset_configuration(ResetConfigurationRequest(config_id=copied.configuration_id))
    assert_model_types(reset, "reset_configuration")
    history = client.show_configuration_modify_history(ShowConfigurationModifyHistoryRequest(config_id=cid))
    assert_model_types(history, "show_configuration_modify_history")
    assert history.histories[0].new_value == "300"
    applicable = client.list_applied_instances(ListAppliedInstancesRequest(config_id=cid))
    assert_model_types(applicable, "list_applied_instances")
    assert instance_id in {i.instance_id for i in applicable.instances}

    applied = client.switch_configuration(
        SwitchConfigurationRequest(config_id=cid, body=ApplyConfigurationRequestBody(entity_ids=[instance_id]))
    )
    assert_model_types(applied, "switch_configuration")
    assert wait(client, applied.job_id).status == "Completed"
    records = client.show_configuration_applied_history(ShowConfigurationAppliedHistoryRequest(config_id=cid))
    assert_model_types(records, "show_configuration_applied_history")
    assert records.total_count == 1 and records.histories[0].apply_result == "SUCCESS"

    entity = client.show_entity_configuration(
        ShowEntityConfigurationRequest(instance_id=instance_id, entity_id=instance_id)
    )
    assert_model_types(entity, "show_entity_configuration")
    assert {p.name: p.value for p in entity.parameters}["operationProfiling.slowOpThresholdMs"] == "300"
    changed = client.update_entity_configuration(
        UpdateEntityConfigurationRequest(
            instance_id=instance_id,
            body=UpdateConfigurationParameterResult(
                entity_id=instance_id, parameter_values={"net.maxIncomingConnections": "500"}
            ),
        )
    )
    assert_model_types(changed, "update_entity_configuration")
    assert changed.restart_required is False
    assert wait(client, changed.job_id).status == "Completed"
    instance_history = client.show_instance_configuration_modify_history(
        ShowInstanceConfigurationModifyHistoryRequest(instance_id=instance_id, entity_id=instance_id)
    )
    assert_model_types(instance_history, "show_instance_configuration_modify_history")
    assert instance_history.histories[0].parameter_name == "net.maxIncomingConnections"
    assert instance_history.histories[0].applied is True

    deleted = client.delete_configuration(DeleteConfigurationRequest(config_id=copied.configuration_id))
    assert_model_types(deleted, "delete_configuration")
