"""The Huawei Cloud Python SDK (huaweicloudsdkdds), unchanged, against this service with AK/SK.

Only the endpoint differs from cloud use: `BasicCredentials(ak, sk, project_id)`
(with the project id given, the SDK never calls IAM) and `with_endpoint(url)`.
Type-conversion warnings from the SDK's deserializer are errors here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdds.v3 import (
    CreateInstanceFlavorOption,
    CreateInstanceRequest,
    CreateInstanceRequestBody,
    CreateManualBackupOption,
    CreateManualBackupRequest,
    CreateManualBackupRequestBody,
    Datastore,
    DdsClient,
    DeleteInstanceRequest,
    ListBackupDownloadPolicyRequest,
    ListBackupsRequest,
    ListDatastoreVersionsRequest,
    ListFlavorsRequest,
    ListInstancesRequest,
    RestoreNewInstanceFlavorOption,
    RestoreNewInstanceRequest,
    RestoreNewInstanceRequestBody,
    RestorePoint,
    SaveBackupDownloadPolicyRequest,
    SaveBackupDownloadPolicyRequestBody,
    ShowBackupDownloadLinkRequest,
    StopBackupRequest,
    StopBackupRequestBody,
    UpdateBackupDownloadPolicyRequest,
    UpdateBackupDownloadPolicyRequestBody,
)

from tests.client_support import BACKUPS, BACKUPS_REASON, assert_model_types
from tests.conftest import PASSWORD, Service
from tests.helpers import connect
from tests.huawei_support import sdk_client, wait
from tests.iam_helpers import Tenant, add_tenant, delete_instance, start_own

pytestmark = [
    pytest.mark.filterwarnings("error::huaweicloudsdkcore.warning.warning.SdkWarning"),
]

NET = {
    "vpc_id": "674e9b42-cd8d-4d25-a2e6-5abcc565b961",
    "subnet_id": "f1df08c5-71d1-406a-aff0-de435a51007b",
    "security_group_id": "7aa51dbf-5b63-40db-9724-dad3c4828b58",
}
SPEC = "dds.mongodb.s2.medium.4.single"


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc, stop = start_own(tmp_path_factory, "dds-hwsdk")
    yield svc
    stop()


@pytest.fixture(scope="module")
def tenant(own: Service) -> Tenant:
    return add_tenant(own, "hwsdk")


@pytest.fixture(scope="module")
def client(tenant: Tenant) -> DdsClient:
    return sdk_client(tenant)


def find(client: DdsClient, instance_id: str) -> Any:
    resp = client.list_instances(ListInstancesRequest(id=instance_id))
    assert_model_types(resp, "list_instances")
    assert resp.total_count == len(resp.instances) == 1
    return resp.instances[0]


@pytest.fixture(scope="module")
def instance(client: DdsClient, tenant: Tenant) -> Iterator[dict[str, Any]]:
    """An instance created through the SDK; deleted at the end if a test did not."""
    body = CreateInstanceRequestBody(
        name="sdk-single",
        datastore=Datastore(type="DDS-Community", version="4.0", storage_engine="wiredTiger"),
        region="local-1",
        availability_zone="local-1a",
        password=PASSWORD,
        mode="Single",
        flavor=[CreateInstanceFlavorOption(type="single", num="1", storage="ULTRAHIGH", size="10", spec_code=SPEC)],
        **NET,
    )
    resp = client.create_instance(CreateInstanceRequest(body=body))
    assert_model_types(resp, "create_instance")
    state = {"id": resp.id, "job_id": resp.job_id, "create": resp, "deleted": False}
    yield state
    if not state["deleted"]:
        delete_instance(tenant, state["id"])


def test_list_datastore_versions_and_flavors(client: DdsClient) -> None:
    versions = client.list_datastore_versions(ListDatastoreVersionsRequest(datastore_name="DDS-Community"))
    assert_model_types(versions, "versions")
    assert "4.0" in versions.versions
    flavors = client.list_flavors(ListFlavorsRequest(region="local-1", engine_name="DDS-Community"))
    assert_model_types(flavors, "flavors")
    codes = {f.spec_code for f in flavors.flavors}
    assert SPEC in codes and all(f.engine_name == "DDS-Community" for f in flavors.flavors)
    with pytest.raises(ClientRequestException) as err:
        client.list_datastore_versions(ListDatastoreVersionsRequest(datastore_name="MySQL"))
    assert err.value.status_code == 400 and err.value.error_code == "DBS.280235"


def test_create_instance_job_and_listing(client: DdsClient, instance: dict[str, Any]) -> None:
    created = instance["create"]
    assert created.name == "sdk-single" and created.status == "creating" and created.mode == "Single"
    assert created.datastore.version == "4.0" and created.flavor[0].spec_code == SPEC
    job = wait(client, instance["job_id"])
    assert job.status == "Completed", job
    assert job.name == "CreateMongoDB" and job.instance.id == instance["id"]
    found = find(client, instance["id"])
    assert found.name == "sdk-single" and found.status == "normal" and found.mode == "Single"
    assert found.datastore.type == "DDS-Community" and found.groups[0].nodes[0].role == "Primary"
    assert int(found.port) > 0


@pytest.mark.skipif(not BACKUPS, reason=BACKUPS_REASON)
def test_manual_backup_download_link_and_restore(client: DdsClient, tenant: Tenant, instance: dict[str, Any]) -> None:
    assert wait(client, instance["job_id"]).status == "Completed"
    with tenant.token_client() as c:
        wire = c.get(tenant.path("/instances"), params={"id": instance["id"]}).json()["instances"][0]
    with connect(wire, PASSWORD) as mongo:
        mongo.shop.orders.insert_one({"_id": 1, "item": "tea"})
    made = client.create_manual_backup(
        CreateManualBackupRequest(
            body=CreateManualBackupRequestBody(
                backup=CreateManualBackupOption(instance_id=instance["id"], name="sdk-backup-1", description="by sdk")
            )
        )
    )
    assert_model_types(made, "create_manual_backup")
    assert made.backup_id and made.job_id
    assert wait(client, made.job_id).status == "Completed"

    listed = client.list_backups(ListBackupsRequest(instance_id=instance["id"]))
    assert_model_types(listed, "list_backups")
    mine = [b for b in listed.backups if b.id == made.backup_id]
    assert len(mine) == 1 and mine[0].name == "sdk-backup-1" and mine[0].status == "COMPLETED"

    link = client.show_backup_download_link(
        ShowBackupDownloadLinkRequest(instance_id=instance["id"], backup_id=made.backup_id)
    )
    assert_model_types(link, "download_link")
    assert link.files and link.files[0].download_link.startswith("http")

    restored = client.restore_new_instance(
        RestoreNewInstanceRequest(
            body=RestoreNewInstanceRequestBody(
                name="sdk-restored",
                availability_zone="local-1a",
                password=PASSWORD,
                flavor=[RestoreNewInstanceFlavorOption(type="single", num="1", size="10", spec_code=SPEC)],
                restore_point=RestorePoint(instance_id=instance["id"], backup_id=made.backup_id),
                **NET,
            )
        )
    )
    assert_model_types(restored, "restore_new_instance")
    assert restored.name == "sdk-restored" and restored.id != instance["id"]
    try:
        job = wait(client, restored.job_id)
        assert job.status == "Completed", job
        assert find(client, restored.id).status == "normal"
        with tenant.token_client() as c:
            wire = c.get(tenant.path("/instances"), params={"id": restored.id}).json()["instances"][0]
        with connect(wire, PASSWORD) as mongo:
            assert mongo.shop.orders.find_one({"_id": 1}) == {"_id": 1, "item": "tea"}
    finally:
        delete_instance(tenant, restored.id)


@pytest.mark.skipif(not BACKUPS, reason=BACKUPS_REASON)
def test_stop_backup(client: DdsClient, own: Service, instance: dict[str, Any]) -> None:
    assert wait(client, instance["job_id"]).status == "Completed"
    with own.parts.locks.of(instance["id"]):  # the backup job waits at its freeze step meanwhile
        made = client.create_manual_backup(
            CreateManualBackupRequest(
                body=CreateManualBackupRequestBody(
                    backup=CreateManualBackupOption(instance_id=instance["id"], name="sdk-stopped-1")
                )
            )
        )
        stopped = client.stop_backup(
            StopBackupRequest(backup_id=made.backup_id, body=StopBackupRequestBody(action="stop"))
        )
    assert_model_types(stopped, "stop_backup")
    assert stopped.job_id and wait(client, stopped.job_id).status == "Completed"
    assert wait(client, made.job_id).status == "Failed"
    listed = client.list_backups(ListBackupsRequest(backup_id=made.backup_id))
    assert listed.backups[0].status == "FAILED"
    with pytest.raises(ClientRequestException) as refused:
        client.stop_backup(StopBackupRequest(backup_id=made.backup_id, body=StopBackupRequestBody(action="stop")))
    assert refused.value.status_code == 400 and refused.value.error_code == "DBS.201202"


@pytest.mark.skipif(not BACKUPS, reason=BACKUPS_REASON)
def test_backup_download_policy(client: DdsClient) -> None:
    shown = client.list_backup_download_policy(ListBackupDownloadPolicyRequest())
    assert_model_types(shown, "list_backup_download_policy")
    assert shown.action == "open"
    saved = client.save_backup_download_policy(
        SaveBackupDownloadPolicyRequest(body=SaveBackupDownloadPolicyRequestBody(action="close"))
    )
    assert_model_types(saved, "save_backup_download_policy")
    shown = client.list_backup_download_policy(ListBackupDownloadPolicyRequest())
    assert shown.action == "close" and shown.id
    updated = client.update_backup_download_policy(
        UpdateBackupDownloadPolicyRequest(body=UpdateBackupDownloadPolicyRequestBody(id=shown.id, action="open"))
    )
    assert_model_types(updated, "update_backup_download_policy")
    assert client.list_backup_download_policy(ListBackupDownloadPolicyRequest()).action == "open"


def test_logs_and_connection_management(client: DdsClient, tenant: Tenant, instance: dict[str, Any]) -> None:
    """Every log and connection-management call of the SDK parses; kill-op rules and client
    networks round-trip; sessions list the SDK user's own connection."""
    import huaweicloudsdkdds.v3 as m

    assert wait(client, instance["job_id"]).status == "Completed"
    iid = instance["id"]
    node = find(client, iid).groups[0].nodes[0]
    window = {"start_date": "2020-01-01T00:00:00+0000", "end_date": "2100-01-01T00:00:00+0000"}
    with connect(
        {"groups": [{"nodes": [{"private_ip": node.private_ip}]}], "port": find(client, iid).port}, PASSWORD
    ) as mongo:
        mongo.t.c.insert_many([{"i": i} for i in range(20000)])  # slow: > 100 ms
        calls = [
            ("slow", client.list_slow_logs(m.ListSlowLogsRequest(instance_id=iid, **window))),
            ("slowdl", client.download_slowlog(m.DownloadSlowlogRequest(iid, m.DownloadSlowlogRequestBody()))),
            ("error", client.list_error_logs(m.ListErrorLogsRequest(instance_id=iid, **window))),
            ("errordl", client.download_errorlog(m.DownloadErrorlogRequest(iid, m.DownloadErrorlogRequestBody()))),
            ("stats", client.show_connection_statistics(m.ShowConnectionStatisticsRequest(instance_id=iid))),
            ("sessions", client.list_sessions(m.ListSessionsRequest(node_id=node.id))),
        ]
        for name, resp in calls:
            assert_model_types(resp, name)
        assert dict(calls)["slow"].total_record >= 1 and dict(calls)["slowdl"].list[0].file_link.startswith("http")
        assert dict(calls)["stats"].total_connections >= 1 and dict(calls)["sessions"].total_count >= 1
    policy = m.SetAuditlogPolicyRequestBody(keep_days=7, audit_types=["auth"])
    assert_model_types(client.set_auditlog_policy(m.SetAuditlogPolicyRequest(iid, policy)), "set_audit")
    shown = client.show_auditlog_policy(m.ShowAuditlogPolicyRequest(instance_id=iid))
    assert_model_types(shown, "audit_policy")
    assert shown.keep_days == 7
    audit = client.list_auditlogs(m.ListAuditlogsRequest(instance_id=iid))
    assert_model_types(audit, "auditlogs")
    rule = m.CreateKillOpRuleRequestBody(operation_types=["query"], namespaces=["t.c"], max_concurrency=5)
    client.create_kill_op_rule(m.CreateKillOpRuleRequest(iid, rule))
    rules = client.show_kill_op_rule_rule_list(m.ShowKillOpRuleRuleListRequest(instance_id=iid))
    assert_model_types(rules, "rules")
    assert rules.total_count == 1 and rules.rules[0].status == "DISABLED"
    ids = [rules.rules[0].id]
    # `action` as the reference and the SDK's docstring spell it: enable / disable.
    enabled = client.update_kill_op_rule(
        m.UpdateKillOpRuleRequest(iid, m.UpdateKillOpRuleRequestBody(ids=ids, action="enable"))
    )
    assert_model_types(enabled, "update_kill_op_rule")
    listed = client.show_kill_op_rule_rule_list(m.ShowKillOpRuleRuleListRequest(instance_id=iid, status="ENABLED"))
    assert listed.total_count == 1 and listed.rules[0].id == ids[0] and listed.rules[0].status == "ENABLED"
    with pytest.raises(ClientRequestException) as refused:  # an enabled rule cannot be deleted
        client.delete_kill_op_rule_list(m.DeleteKillOpRuleListRequest(iid, m.DeleteKillOpRuleListRequestBody(ids=ids)))
    assert refused.value.status_code == 403 and refused.value.error_code == "DBS.200011"
    kept = client.show_kill_op_rule_rule_list(m.ShowKillOpRuleRuleListRequest(instance_id=iid))
    assert kept.total_count == 1 and kept.rules[0].status == "ENABLED"
    client.update_kill_op_rule(m.UpdateKillOpRuleRequest(iid, m.UpdateKillOpRuleRequestBody(ids=ids, action="disable")))
    deleted = client.delete_kill_op_rule_list(
        m.DeleteKillOpRuleListRequest(iid, m.DeleteKillOpRuleListRequestBody(ids=ids))
    )
    assert_model_types(deleted, "delete_kill_op_rule_list")
    assert client.show_kill_op_rule_rule_list(m.ShowKillOpRuleRuleListRequest(instance_id=iid)).total_count == 0
    nets = m.ClientNetworkRequestBody(client_network_ranges=["127.0.0.0/8"])
    client.update_client_network(m.UpdateClientNetworkRequest(iid, nets))
    shown_nets = client.show_client_network(m.ShowClientNetworkRequest(instance_id=iid))
    assert_model_types(shown_nets, "client_network")
    assert shown_nets.client_network_ranges == ["127.0.0.0/8"]
    certs = client.list_ssl_cert_download_address(m.ListSslCertDownloadAddressRequest(instance_id=iid))
    assert_model_types(certs, "certs")
    assert certs.certs[0].download_link.startswith("http")
    switched = client.switch_ssl(m.SwitchSslRequest(iid, m.SwitchSslRequestBody(ssl_option="1")))
    assert_model_types(switched, "switch_ssl")
    assert wait(client, switched.job_id).status == "Completed" and find(client, iid).ssl == 1
    with pytest.raises(ClientRequestException) as err:
        client.list_sessions(m.ListSessionsRequest(node_id="no-such-node"))
    assert err.value.status_code == 404


def test_delete_instance(client: DdsClient, instance: dict[str, Any]) -> None:
    assert wait(client, instance["job_id"]).status == "Completed"
    resp = client.delete_instance(DeleteInstanceRequest(instance_id=instance["id"]))
    assert_model_types(resp, "delete_instance")
    job = wait(client, resp.job_id)
    assert job.status == "Completed" and job.name == "DeleteMongoDB"
    instance["deleted"] = True
    assert client.list_instances(ListInstancesRequest(id=instance["id"])).total_count == 0
    with pytest.raises(ClientRequestException) as err:
        client.delete_instance(DeleteInstanceRequest(instance_id=instance["id"]))
    assert err.value.status_code == 404 and err.value.error_code == "DBS.200002"


def test_project_id_found_through_iam_like_on_the_cloud(tenant: Tenant) -> None:
    """`BasicCredentials(ak, sk)` without a project id: the SDK asks IAM `GET /v3/projects?name=<region>`."""
    from huaweicloudsdkcore.region.region import Region

    creds = BasicCredentials(tenant.access_key, tenant.secret_key).with_iam_endpoint(tenant.url)
    client = DdsClient.new_builder().with_credentials(creds).with_region(Region("local-1", tenant.url)).build()
    resp = client.list_instances(ListInstancesRequest())
    assert_model_types(resp, "list_instances")
    assert creds.project_id == tenant.project_id
