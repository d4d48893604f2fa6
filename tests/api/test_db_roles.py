"""Database users and roles, enforced by the gateway: through pymongo, as a tenant's code would."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from tests.conftest import PASSWORD, Service
from tests.helpers import connect

USER_PW = "Reader#2024x"


def _as(instance: dict[str, Any], user: str, db: str = "admin", password: str = USER_PW) -> MongoClient:  # type: ignore[type-arg]
    node = instance["groups"][0]["nodes"][0]
    return MongoClient(
        f"mongodb://{user}:{quote_plus(password)}@{node['private_ip']}:{instance['port']}/"
        f"?authSource={db}&directConnection=true",
        serverSelectionTimeoutMS=5000,
    )


def _refused(call: Any) -> None:
    with pytest.raises(OperationFailure) as err:
        call()
    assert err.value.code == 13, err.value.details


@pytest.fixture(scope="module")
def instance(service: Service) -> Iterator[dict[str, Any]]:
    created = service.create_instance("roles-1")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    inst = service.instance(created["id"])
    with connect(inst, PASSWORD) as root:
        root.shop.orders.insert_many([{"i": i} for i in range(5)])
        root.shop.secrets.insert_one({"k": "v"})
        root.other.things.insert_one({"x": 1})
    yield inst
    service.delete_instance(created["id"])


def test_read_user_reads_only(instance: dict[str, Any]) -> None:
    with connect(instance, PASSWORD) as root:
        root.shop.command("createUser", "reader", pwd=USER_PW, roles=[{"role": "read", "db": "shop"}])
    with _as(instance, "reader", "shop") as client:
        assert client.shop.orders.count_documents({}) == 5
        assert sorted(client.shop.list_collection_names()) == ["orders", "secrets"]
        _refused(lambda: client.shop.orders.insert_one({"i": 99}))
        _refused(lambda: client.shop.orders.delete_many({}))
        _refused(lambda: client.shop.orders.drop())
        _refused(lambda: client.shop.command("createUser", "evil", pwd=USER_PW, roles=[]))
        _refused(lambda: client.other.things.find_one())
        _refused(lambda: client.admin.command("serverStatus"))
        assert client.list_database_names() == ["shop"]  # only where it holds a privilege
        status = client.shop.command("connectionStatus")["authInfo"]
        assert status["authenticatedUsers"] == [{"user": "reader", "db": "shop"}]
        assert status["authenticatedUserRoles"] == [{"role": "read", "db": "shop"}]
    with connect(instance, PASSWORD) as root:
        assert root.shop.orders.count_documents({}) == 5  # nothing the refused commands did landed


def test_custom_role_reads_exactly_one_collection(instance: dict[str, Any]) -> None:
    with connect(instance, PASSWORD) as root:
        root.shop.command(
            "createRole",
            "ordersReader",
            privileges=[{"resource": {"db": "shop", "collection": "orders"}, "actions": ["find"]}],
            roles=[],
        )
        root.shop.command("createUser", "narrow", pwd=USER_PW, roles=["ordersReader"])
        info = root.shop.command("rolesInfo", "ordersReader", showPrivileges=True)["roles"][0]
        assert info["privileges"] == [{"resource": {"db": "shop", "collection": "orders"}, "actions": ["find"]}]
    with _as(instance, "narrow", "shop") as client:
        assert client.shop.orders.count_documents({}) == 5
        _refused(lambda: client.shop.secrets.find_one())
        _refused(lambda: client.shop.orders.insert_one({"i": 1}))


def test_role_changes_take_effect_on_the_next_command(instance: dict[str, Any]) -> None:
    with connect(instance, PASSWORD) as root:
        root.shop.command("createUser", "grower", pwd=USER_PW, roles=[])
        with _as(instance, "grower", "shop") as client:
            _refused(lambda: client.shop.orders.find_one())
            root.shop.command("grantRolesToUser", "grower", roles=[{"role": "readWrite", "db": "shop"}])
            assert client.shop.orders.find_one() is not None  # same connection, next command
            client.shop.orders.insert_one({"i": 100})
            root.shop.command("revokeRolesFromUser", "grower", roles=["readWrite"])
            _refused(lambda: client.shop.orders.insert_one({"i": 101}))
            root.shop.command("grantRolesToUser", "grower", roles=["read"])
            assert client.shop.orders.count_documents({"i": 100}) == 1
            root.shop.command("dropUser", "grower")
        assert root.shop.orders.count_documents({"i": 101}) == 0


def test_users_info_shows_the_roles_and_errors_are_mongodb_s(instance: dict[str, Any]) -> None:
    with connect(instance, PASSWORD) as root:
        root.shop.command("createUser", "both", pwd=USER_PW, roles=["read", {"role": "readWrite", "db": "other"}])
        users = {u["user"]: u for u in root.shop.command("usersInfo")["users"]}
        assert users["both"]["roles"] == [{"role": "read", "db": "shop"}, {"role": "readWrite", "db": "other"}]
        admin_users = root.admin.command("usersInfo")["users"]
        assert [u["user"] for u in admin_users] == ["rwuser"]  # the service's own user stays hidden
        assert admin_users[0]["roles"] == [{"role": "root", "db": "admin"}]
        with pytest.raises(OperationFailure) as err:
            root.shop.command("createUser", "bad", pwd=USER_PW, roles=["noSuchRole"])
        assert err.value.code == 31
        with pytest.raises(OperationFailure) as err:
            root.shop.command("grantRolesToUser", "nobody", roles=["read"])
        assert err.value.code == 11
        with pytest.raises(OperationFailure) as err:
            cluster = [{"resource": {"cluster": True}, "actions": ["shutdown"]}]
            root.shop.command("createRole", "leaky", privileges=cluster, roles=[])
        assert err.value.code == 49
        assert "bad" not in {u["user"] for u in root.shop.command("usersInfo")["users"]}


def test_user_admin_can_manage_users_but_not_read(instance: dict[str, Any]) -> None:
    with connect(instance, PASSWORD) as root:
        root.shop.command("createUser", "keeper", pwd=USER_PW, roles=["userAdmin"])
    with _as(instance, "keeper", "shop") as client:
        client.shop.command("createUser", "made", pwd=USER_PW, roles=["read"])
        _refused(lambda: client.shop.orders.find_one())
        _refused(lambda: client.other.command("createUser", "x", pwd=USER_PW, roles=[]))
    with _as(instance, "made", "shop") as client:
        assert client.shop.orders.count_documents({}) >= 5
