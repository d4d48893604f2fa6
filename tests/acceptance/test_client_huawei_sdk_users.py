"""The Huawei Cloud Python SDK drives database users and roles unchanged: create a role and a user,
list both, check passwords, list databases, delete. Every response parses into the SDK's models,
and the user it made really is confined to its role when it connects."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import quote_plus

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkdds.v3 import (
    CheckPasswordRequest,
    CheckPasswordRequestBody,
    CheckWeakPasswordRequest,
    CreateDatabaseRoleRequest,
    CreateDatabaseRoleRequestBody,
    CreateDatabaseUserRequest,
    CreateDatabaseUserRequestBody,
    DdsClient,
    DeleteDatabaseRoleRequest,
    DeleteDatabaseRoleRequestBody,
    DeleteDatabaseUserRequest,
    DeleteDatabaseUserRequestBody,
    ListDatabaseRolesRequest,
    ListDatabasesRequest,
    ListDatabaseUsersRequest,
    RolesOption,
    WeakPasswordCheckRequestBody,
)
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from tests.client_support import assert_model_types
from tests.conftest import PASSWORD, Service
from tests.helpers import connect
from tests.huawei_support import create_replica_set, sdk_client
from tests.iam_helpers import Tenant, add_tenant, delete_instance, start_own

pytestmark = [pytest.mark.filterwarnings("error::huaweicloudsdkcore.warning.warning.SdkWarning")]

USER_PW = "Sdk#User2024"


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc, stop = start_own(tmp_path_factory, "dds-hwsdk-users")
    yield svc
    stop()


@pytest.fixture(scope="module")
def tenant(own: Service) -> Tenant:
    return add_tenant(own, "hwsdk-users")


@pytest.fixture(scope="module")
def client(tenant: Tenant) -> DdsClient:
    return sdk_client(tenant)


@pytest.fixture(scope="module")
def instance(client: DdsClient, tenant: Tenant) -> Iterator[dict[str, object]]:
    iid = create_replica_set(client, "sdk-users", PASSWORD)
    with tenant.token_client() as c:
        inst = c.get(tenant.path("/instances"), params={"id": iid}).json()["instances"][0]
    with connect(inst, PASSWORD) as root:
        root.app.items.insert_many([{"n": i} for i in range(3)])
    yield inst
    delete_instance(tenant, iid)


def test_users_and_roles_through_the_sdk(client: DdsClient, instance: dict[str, object]) -> None:
    iid = str(instance["id"])
    made = client.create_database_role(
        CreateDatabaseRoleRequest(
            instance_id=iid,
            body=CreateDatabaseRoleRequestBody(
                role_name="appReader", db_name="app", roles=[RolesOption(role_name="read", role_db_name="app")]
            ),
        )
    )
    assert_model_types(made, "create_database_role")
    roles = client.list_database_roles(ListDatabaseRolesRequest(instance_id=iid, db_name="app"))
    assert_model_types(roles, "list_database_roles")
    assert roles.total_count == 1 and json.loads(roles.roles)[0]["role"] == "appReader"

    user = client.create_database_user(
        CreateDatabaseUserRequest(
            instance_id=iid,
            body=CreateDatabaseUserRequestBody(
                user_name="sdkuser",
                user_pwd=USER_PW,
                db_name="app",
                roles=[RolesOption(role_name="appReader", role_db_name="app")],
            ),
        )
    )
    assert_model_types(user, "create_database_user")
    users = client.list_database_users(ListDatabaseUsersRequest(instance_id=iid, db_name="app", user_name="sdkuser"))
    assert_model_types(users, "list_database_users")
    assert users.total_count == 1
    assert json.loads(users.users)[0]["roles"] == [{"role": "appReader", "db": "app"}]

    node = instance["groups"][0]["nodes"][0]  # type: ignore[index]
    url = f"mongodb://sdkuser:{quote_plus(USER_PW)}@{node['private_ip']}:{instance['port']}/?authSource=app&directConnection=true"
    with MongoClient(url, serverSelectionTimeoutMS=5000) as mongo:
        assert mongo.app.items.count_documents({}) == 3
        with pytest.raises(OperationFailure) as err:
            mongo.app.items.insert_one({"n": 9})
        assert err.value.code == 13

    checked = client.check_password(
        CheckPasswordRequest(
            instance_id=iid, body=CheckPasswordRequestBody(user_name="sdkuser", user_pwd=USER_PW, db_name="app")
        )
    )
    assert_model_types(checked, "check_password")
    with pytest.raises(ClientRequestException) as wrong:
        client.check_password(
            CheckPasswordRequest(
                instance_id=iid,
                body=CheckPasswordRequestBody(user_name="sdkuser", user_pwd="Wrong#2024pw", db_name="app"),
            )
        )
    assert wrong.value.status_code == 400 and wrong.value.error_code == "DBS.200029"
    weak = client.check_weak_password(CheckWeakPasswordRequest(body=WeakPasswordCheckRequestBody(password="Admin@123")))
    assert_model_types(weak, "check_weak_password")
    assert weak.weak is True

    dbs = client.list_databases(ListDatabasesRequest(instance_id=iid))
    assert_model_types(dbs, "list_databases")
    assert "app" in {d.name for d in dbs.databases}
    for d in dbs.databases:
        assert_model_types(d, "database")

    gone = client.delete_database_user(
        DeleteDatabaseUserRequest(
            instance_id=iid, body=DeleteDatabaseUserRequestBody(user_name="sdkuser", db_name="app")
        )
    )
    assert_model_types(gone, "delete_database_user")
    dropped = client.delete_database_role(
        DeleteDatabaseRoleRequest(
            instance_id=iid, body=DeleteDatabaseRoleRequestBody(role_name="appReader", db_name="app")
        )
    )
    assert_model_types(dropped, "delete_database_role")
    assert client.list_database_users(ListDatabaseUsersRequest(instance_id=iid, db_name="app")).total_count == 0
    assert client.list_database_roles(ListDatabaseRolesRequest(instance_id=iid, db_name="app")).total_count == 0
