"""The Huawei Cloud SDK drives a replica set on PostgreSQL storage (`DDS_REPLICA_SET_STORAGE=postgresql`)
unchanged: switchover, promotion of a chosen secondary, two more members and back, a read replica
added and deleted, a rolling restart, a backup with its download link restored into a new replica
set; every response parses into the SDK's models and each job
ends `Completed` with the members the API then shows."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from huaweicloudsdkdds.v3 import (
    AddReadonlyNodeRequest,
    AddReadonlyNodeRequestBody,
    CreateManualBackupOption,
    CreateManualBackupRequest,
    CreateManualBackupRequestBody,
    DdsClient,
    DeleteReadonlyNodeRequest,
    DeleteReadonlyNodeRequestBody,
    EnlargeReplicasetNodeRequestBody,
    ExpandReplicasetNodeRequest,
    ListBackupsRequest,
    ListInstancesRequest,
    ReduceInstanceNodeRequestBody,
    RestartInstanceRequest,
    RestartInstanceRequestBody,
    RestoreNewInstanceFlavorOption,
    RestoreNewInstanceRequest,
    RestoreNewInstanceRequestBody,
    RestorePoint,
    ShowBackupDownloadLinkRequest,
    ShrinkInstanceNodesRequest,
    SwitchInstancePrimaryRequest,
    SwitchoverReplicaSetRequest,
    SwitchoverReplicaSetRequestBody,
)

from tests.client_support import assert_model_types
from tests.conftest import PASSWORD, Service
from tests.helpers import connect, wait_for
from tests.huawei_support import create_replica_set, sdk_client, wait
from tests.iam_helpers import Tenant, add_tenant, delete_instance, start_own

pytestmark = [
    pytest.mark.filterwarnings("error::huaweicloudsdkcore.warning.warning.SdkWarning"),
    pytest.mark.skipif(shutil.which("pg_autoctl") is None, reason="pg_auto_failover is not installed"),
]


REPLICA_SPEC = "dds.mongodb.s2.medium.4.repset"


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc, stop = start_own(tmp_path_factory, "dds-hwsdk-rs", replica_set_storage="postgresql")
    yield svc
    stop()


@pytest.fixture(scope="module")
def tenant(own: Service) -> Tenant:
    return add_tenant(own, "hwsdk-rs")


@pytest.fixture(scope="module")
def client(tenant: Tenant) -> DdsClient:
    return sdk_client(tenant)


@pytest.fixture(scope="module")
def instance_id(client: DdsClient, tenant: Tenant) -> Iterator[str]:
    iid = create_replica_set(client, "hwsdk-pg-rs", PASSWORD)
    yield iid
    delete_instance(tenant, iid)


def _nodes(client: DdsClient, instance_id: str) -> list[Any]:
    found = client.list_instances(ListInstancesRequest(id=instance_id)).instances[0]
    return [n for g in found.groups for n in g.nodes]


def _status(client: DdsClient, instance_id: str) -> str:
    found = client.list_instances(ListInstancesRequest(id=instance_id)).instances[0]
    return str(found.status) if not found.actions else "busy"


def _roles(client: DdsClient, instance_id: str) -> dict[str, str]:
    return {n.id: n.role for n in _nodes(client, instance_id)}


def test_switchover_and_promotion(client: DdsClient, instance_id: str) -> None:
    before = _roles(client, instance_id)
    assert sorted(before.values()) == ["Primary", "Secondary", "Secondary"]
    resp = client.switchover_replica_set(
        SwitchoverReplicaSetRequest(instance_id=instance_id, body=SwitchoverReplicaSetRequestBody())
    )
    assert_model_types(resp, "switchover_replica_set")
    assert wait(client, resp.job_id, timeout=180).status == "Completed"
    after = _roles(client, instance_id)
    assert [i for i, r in after.items() if r == "Primary"] != [i for i, r in before.items() if r == "Primary"]
    chosen = next(i for i, r in after.items() if r == "Secondary")
    promoted = client.switch_instance_primary(SwitchInstancePrimaryRequest(instance_id=instance_id, node_id=chosen))
    assert_model_types(promoted, "switch_instance_primary")  # `{}` for the SDK: it reads no job id
    wait_for(lambda: _roles(client, instance_id)[chosen] == "Primary", timeout=180, what="the promotion")
    wait_for(lambda: _status(client, instance_id) == "normal", timeout=180, what="the instance normal")


def test_two_more_members_and_back(client: DdsClient, instance_id: str) -> None:
    resp = client.expand_replicaset_node(
        ExpandReplicasetNodeRequest(instance_id=instance_id, body=EnlargeReplicasetNodeRequestBody(num=2))
    )
    assert_model_types(resp, "expand_replicaset_node")
    assert wait(client, resp.job_id, timeout=300).status == "Completed"
    assert len(_nodes(client, instance_id)) == 5
    shrunk = client.shrink_instance_nodes(
        ShrinkInstanceNodesRequest(instance_id=instance_id, body=ReduceInstanceNodeRequestBody(num=2))
    )
    assert_model_types(shrunk, "shrink_instance_nodes")
    assert wait(client, shrunk.job_id, timeout=300).status == "Completed"
    assert sorted(_roles(client, instance_id).values()) == ["Primary", "Secondary", "Secondary"]


def test_read_replica_added_and_deleted(client: DdsClient, instance_id: str) -> None:
    body = AddReadonlyNodeRequestBody(spec_code="dds.mongodb.s2.medium.4.rr", num=1, delay=0)
    resp = client.add_readonly_node(AddReadonlyNodeRequest(instance_id=instance_id, body=body))
    assert_model_types(resp, "add_readonly_node")
    assert wait(client, resp.job_id, timeout=300).status == "Completed"
    replica = next(n for n in _nodes(client, instance_id) if n.role == "ReadOnly")
    assert replica.spec_code == "dds.mongodb.s2.medium.4.rr" and replica.status == "normal"
    gone = client.delete_readonly_node(
        DeleteReadonlyNodeRequest(instance_id=instance_id, body=DeleteReadonlyNodeRequestBody(node_list=[replica.id]))
    )
    assert_model_types(gone, "delete_readonly_node")
    assert wait(client, gone.job_id, timeout=300).status == "Completed"
    assert "ReadOnly" not in _roles(client, instance_id).values()


def test_rolling_restart(client: DdsClient, instance_id: str) -> None:
    resp = client.restart_instance(
        RestartInstanceRequest(instance_id=instance_id, body=RestartInstanceRequestBody(target_id=instance_id))
    )
    assert wait(client, resp.job_id, timeout=300).status == "Completed"
    assert sorted(_roles(client, instance_id).values()) == ["Primary", "Secondary", "Secondary"]


def test_backup_download_link_and_restore(client: DdsClient, tenant: Tenant, instance_id: str) -> None:
    """A manual backup (a base backup of a secondary), its download link and a restore into a new
    replica set, through the SDK's own calls and models."""
    with tenant.token_client() as c:
        wire = c.get(tenant.path("/instances"), params={"id": instance_id}).json()["instances"][0]
    with connect(wire, PASSWORD) as mongo:
        mongo.shop.orders.insert_one({"_id": 1, "item": "tea"})
    made = client.create_manual_backup(
        CreateManualBackupRequest(
            body=CreateManualBackupRequestBody(
                backup=CreateManualBackupOption(instance_id=instance_id, name="sdk-pg-backup", description="by sdk")
            )
        )
    )
    assert_model_types(made, "create_manual_backup")
    assert wait(client, made.job_id).status == "Completed"
    listed = client.list_backups(ListBackupsRequest(instance_id=instance_id))
    assert_model_types(listed, "list_backups")
    assert [b.status for b in listed.backups if b.id == made.backup_id] == ["COMPLETED"]
    link = client.show_backup_download_link(
        ShowBackupDownloadLinkRequest(instance_id=instance_id, backup_id=made.backup_id)
    )
    assert_model_types(link, "download_link")
    assert link.files[0].name == f"{made.backup_id}.physical.tar.zst"
    got = httpx.get(link.files[0].download_link, timeout=60)
    assert got.status_code == 200 and (len(got.content) + 1023) // 1024 == link.files[0].size

    restored = client.restore_new_instance(
        RestoreNewInstanceRequest(
            body=RestoreNewInstanceRequestBody(
                name="sdk-pg-restored",
                availability_zone="local-1a",
                password=PASSWORD,
                flavor=[RestoreNewInstanceFlavorOption(type="replica", num="1", size="10", spec_code=REPLICA_SPEC)],
                restore_point=RestorePoint(instance_id=instance_id, backup_id=made.backup_id),
                vpc_id="674e9b42-cd8d-4d25-a2e6-5abcc565b961",
                subnet_id="f1df08c5-71d1-406a-aff0-de435a51007b",
                security_group_id="7aa51dbf-5b63-40db-9724-dad3c4828b58",
            )
        )
    )
    assert_model_types(restored, "restore_new_instance")
    try:
        assert wait(client, restored.job_id, timeout=300).status == "Completed"
        assert sorted(n.role for n in _nodes(client, restored.id)) == ["Primary", "Secondary", "Secondary"]
        with tenant.token_client() as c:
            wire = c.get(tenant.path("/instances"), params={"id": restored.id}).json()["instances"][0]
        with connect(wire, PASSWORD) as mongo:
            assert mongo.shop.orders.find_one({"_id": 1}) == {"_id": 1, "item": "tea"}
    finally:
        delete_instance(tenant, restored.id)
