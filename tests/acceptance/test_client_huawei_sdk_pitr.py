"""The Huawei Cloud Python SDK drives the whole point-in-time recovery flow, unchanged, on both
storages of replica sets (SQLite; PostgreSQL with its WAL archive): policy with incremental
backup, a manual backup, restore-time, restore-database, restore-collection, a new instance as of a
time, collections back under new names, and the instance itself back to a time. Every response
parses into the SDK's models (type-conversion warnings are errors)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdds.v3 import (
    BackupPolicy,
    CreateInstanceFlavorOption,
    CreateInstanceRequest,
    CreateInstanceRequestBody,
    CreateManualBackupOption,
    CreateManualBackupRequest,
    CreateManualBackupRequestBody,
    Datastore,
    DdsClient,
    ListInstancesRequest,
    ListRestoreCollectionsRequest,
    ListRestoreDatabasesRequest,
    ListRestoreTimesRequest,
    RestoreInstanceFromCollectionRequest,
    RestoreInstanceFromCollectionRequestBody,
    RestoreInstanceFromCollectionRequestBodyCollections,
    RestoreInstanceFromCollectionRequestBodyRestoreCollections,
    RestoreInstanceRequest,
    RestoreInstanceRequestBody,
    RestoreNewInstanceFlavorOption,
    RestoreNewInstanceRequest,
    RestoreNewInstanceRequestBody,
    RestorePoint,
    SetBackupPolicyRequest,
    SetBackupPolicyRequestBody,
    ShowBackupPolicyRequest,
    Source,
    Target,
)

from tests.client_support import assert_model_types
from tests.conftest import PASSWORD, Service
from tests.helpers import connect
from tests.huawei_support import sdk_client, wait
from tests.iam_helpers import Tenant, add_tenant, delete_instance, start_own

pytestmark = [pytest.mark.filterwarnings("error::huaweicloudsdkcore.warning.warning.SdkWarning")]

NET = {"vpc_id": "v", "subnet_id": "s", "security_group_id": "g"}
SPEC = "dds.mongodb.s2.medium.4.repset"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service per storage of replica sets: the flow is the same on both (on PostgreSQL a restore
    as of a time starts from a base backup, so the flow takes one first)."""
    svc, stop = start_own(tmp_path_factory, "dds-hwsdk-pitr", replica_set_storage=request.param)
    yield svc
    stop()


@pytest.fixture(scope="module")
def tenant(own: Service) -> Tenant:
    return add_tenant(own, "hwsdk-pitr")


@pytest.fixture(scope="module")
def client(tenant: Tenant) -> DdsClient:
    return sdk_client(tenant)


def wire_instance(tenant: Tenant, instance_id: str) -> dict[str, Any]:
    with tenant.token_client() as c:
        return c.get(tenant.path("/instances"), params={"id": instance_id}).json()["instances"][0]  # type: ignore[no-any-return]


def covered(client: DdsClient, instance_id: str, at: int, timeout: float) -> bool:
    day = datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = client.list_restore_times(ListRestoreTimesRequest(instance_id=instance_id, date=day))
        assert_model_types(resp, "list_restore_times")
        if any(r.start_time <= at <= r.end_time for r in resp.restore_time or []):
            return True
        time.sleep(0.3)
    return False


def mark(client: DdsClient, instance_id: str) -> int:
    """The first restorable moment after the writes so far (see tests/api/test_pitr.py)."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        time.sleep(0.3)
        at = int(time.time() * 1000)
        if covered(client, instance_id, at, timeout=6):
            return at
    raise AssertionError("no restorable moment in 40 s")


@pytest.fixture(scope="module")
def source(client: DdsClient, tenant: Tenant) -> Iterator[str]:
    body = CreateInstanceRequestBody(
        name="sdk-pitr",
        datastore=Datastore(type="DDS-Community", version="4.0", storage_engine="wiredTiger"),
        region="local-1",
        availability_zone="local-1a",
        password=PASSWORD,
        mode="ReplicaSet",
        flavor=[CreateInstanceFlavorOption(type="replica", num="3", storage="ULTRAHIGH", size="10", spec_code=SPEC)],
        **NET,
    )
    resp = client.create_instance(CreateInstanceRequest(body=body))
    assert wait(client, resp.job_id).status == "Completed"
    yield resp.id
    delete_instance(tenant, resp.id)


def test_the_whole_point_in_time_flow(client: DdsClient, tenant: Tenant, source: str) -> None:
    policy = BackupPolicy(
        keep_days="7", start_time="23:00-00:00", period="1,2,3,4,5,6,7", enable_incremental_backup=True
    )
    set_resp = client.set_backup_policy(
        SetBackupPolicyRequest(instance_id=source, body=SetBackupPolicyRequestBody(backup_policy=policy))
    )
    assert_model_types(set_resp, "set_backup_policy")
    shown = client.show_backup_policy(ShowBackupPolicyRequest(instance_id=source))
    assert_model_types(shown, "show_backup_policy")
    assert shown.backup_policy.enable_incremental_backup is True

    with connect(wire_instance(tenant, source), PASSWORD) as mongo:
        mongo.shop.orders.insert_many([{"_id": i, "item": "tea"} for i in range(20)])
        made = client.create_manual_backup(
            CreateManualBackupRequest(
                body=CreateManualBackupRequestBody(backup=CreateManualBackupOption(instance_id=source, name="sdk-base"))
            )
        )
        assert wait(client, made.job_id).status == "Completed"
        m1 = mark(client, source)
        mongo.shop.orders.delete_many({"_id": {"$gte": 10}})
        mongo.shop.drop_collection("gone")

    dbs = client.list_restore_databases(ListRestoreDatabasesRequest(instance_id=source, restore_time=str(m1)))
    assert_model_types(dbs, "list_restore_databases")
    assert dbs.databases == ["shop"] and dbs.total_count == 1
    colls = client.list_restore_collections(
        ListRestoreCollectionsRequest(instance_id=source, db_name="shop", restore_time=str(m1))
    )
    assert_model_types(colls, "list_restore_collections")
    assert colls.collections == ["orders"] and colls.total_count == 1

    # A time before archiving began is refused with a DDS error.
    with pytest.raises(ClientRequestException) as err:
        client.list_restore_databases(ListRestoreDatabasesRequest(instance_id=source, restore_time="1000"))
    assert err.value.status_code == 400 and err.value.error_code == "DBS.200001"

    # A new instance as of m1.
    made = client.restore_new_instance(
        RestoreNewInstanceRequest(
            body=RestoreNewInstanceRequestBody(
                name="sdk-pitr-new",
                availability_zone="local-1a",
                password=PASSWORD,
                flavor=[RestoreNewInstanceFlavorOption(type="replica", num="3", size="10", spec_code=SPEC)],
                restore_point=RestorePoint(instance_id=source, type="timestamp", restore_time=str(m1)),
                **NET,
            )
        )
    )
    assert_model_types(made, "restore_new_instance")
    try:
        assert wait(client, made.job_id).status == "Completed"
        with connect(wire_instance(tenant, made.id), PASSWORD) as mongo:
            assert mongo.shop.orders.count_documents({}) == 20
    finally:
        delete_instance(tenant, made.id)

    # Orders as of m1 back beside today's, under a new name.
    coll_resp = client.restore_instance_from_collection(
        RestoreInstanceFromCollectionRequest(
            instance_id=source,
            body=RestoreInstanceFromCollectionRequestBody(
                restore_collections=[
                    RestoreInstanceFromCollectionRequestBodyRestoreCollections(
                        database="shop",
                        restore_database_time=str(m1),
                        collections=[
                            RestoreInstanceFromCollectionRequestBodyCollections(old_name="orders", new_name="orders_m1")
                        ],
                    )
                ]
            ),
        )
    )
    assert_model_types(coll_resp, "restore_instance_from_collection")
    assert wait(client, coll_resp.job_id).status == "Completed"
    with connect(wire_instance(tenant, source), PASSWORD) as mongo:
        assert mongo.shop.orders.count_documents({}) == 10
        assert mongo.shop.orders_m1.count_documents({}) == 20

    # The instance itself back to m1.
    back = client.restore_instance(
        RestoreInstanceRequest(
            body=RestoreInstanceRequestBody(
                source=Source(instance_id=source, type="timestamp", restore_time=str(m1)),
                target=Target(instance_id=source),
            )
        )
    )
    assert_model_types(back, "restore_instance")
    assert wait(client, back.job_id).status == "Completed"
    listed = client.list_instances(ListInstancesRequest(id=source))
    assert listed.instances[0].status == "normal"
    with connect(wire_instance(tenant, source), PASSWORD) as mongo:
        assert mongo.shop.orders.count_documents({}) == 20
        assert "orders_m1" not in mongo.shop.list_collection_names()


def test_logs_connections_and_sessions_parse(client: DdsClient, tenant: Tenant, source: str) -> None:
    from huaweicloudsdkdds.v3 import (
        ListErrorLogsRequest,
        ListSessionsRequest,
        ListSlowLogsRequest,
        ShowConnectionStatisticsRequest,
    )

    inst = wire_instance(tenant, source)
    with connect(inst, PASSWORD) as mongo:
        mongo.logs.items.insert_many([{"i": i, "pad": "x" * 200} for i in range(20000)])  # well over 100 ms
        window = {"start_date": "2020-01-01T00:00:00+0000", "end_date": "2099-01-01T00:00:00+0000"}
        slow = client.list_slow_logs(ListSlowLogsRequest(instance_id=source, **window))
        assert_model_types(slow, "list_slow_logs")
        assert slow.total_record >= len(slow.slow_log_list or [])  # content: tests/api/test_gateway_api.py
        errors = client.list_error_logs(ListErrorLogsRequest(instance_id=source, **window))
        assert_model_types(errors, "list_error_logs")
        time.sleep(1.2)  # the gateway's statistics snapshot is at most a second old
        stats = client.show_connection_statistics(ShowConnectionStatisticsRequest(instance_id=source))
        assert_model_types(stats, "show_connection_statistics")
        assert stats.total_connections >= 1
    node = inst["groups"][0]["nodes"][0]["id"]
    sessions = client.list_sessions(ListSessionsRequest(node_id=node))
    assert_model_types(sessions, "list_sessions")
