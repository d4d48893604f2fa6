"""Database users and roles, enforced by the gateway: through pymongo, as a tenant's code would."""

from __future__ import annotations

import json
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


# --- the DDS API on the same users and roles ------------------------------------------------


def test_api_users_and_roles_are_the_ones_the_engine_enforces(service: Service, instance: dict[str, Any]) -> None:
    base = f"/instances/{instance['id']}"
    with service.client() as api:
        r = api.post(
            service.path(base + "/db-role"),
            json={
                "role_name": "shopReader",
                "db_name": "shop",
                "roles": [{"role_name": "read", "role_db_name": "shop"}],
            },
        )
        assert r.status_code == 200 and r.json() == {}, r.text
        r = api.post(
            service.path(base + "/db-user"),
            json={
                "user_name": "api.user",
                "user_pwd": USER_PW,
                "db_name": "shop",
                "roles": [{"role_name": "shopReader", "role_db_name": "shop"}],
            },
        )
        assert r.status_code == 200 and r.json() == {}, r.text
        with _as(instance, "api.user", "shop") as client:
            assert client.shop.orders.count_documents({}) >= 5
            _refused(lambda: client.shop.orders.insert_one({"api": 1}))
        listed = api.get(service.path(base + "/db-user/detail"), params={"db_name": "shop"}).json()
        users = json.loads(listed["users"])
        with connect(instance, PASSWORD) as root:
            native = root.shop.command("usersInfo", showPrivileges=True)["users"]
        assert listed["total_count"] == len(native) == len(users)
        by_name = {u["user"]: u for u in users}
        for u in native:
            assert by_name[u["user"]]["roles"] == u["roles"]
            assert by_name[u["user"]]["inheritedRoles"] == u["inheritedRoles"]
        assert by_name["api.user"]["inheritedRoles"] == [
            {"role": "shopReader", "db": "shop"},
            {"role": "read", "db": "shop"},
        ]
        roles = api.get(service.path(base + "/db-roles"), params={"db_name": "shop", "role_name": "shopReader"}).json()
        assert roles["total_count"] == 1
        assert json.loads(roles["roles"])[0]["roles"] == [{"role": "read", "db": "shop"}]
        with connect(instance, PASSWORD) as root:
            shell_view = root.shop.command("rolesInfo", "shopReader")["roles"][0]
        assert shell_view["roles"] == [{"role": "read", "db": "shop"}]

        ok = api.post(
            service.path(base + "/check-password"),
            json={"user_name": "api.user", "user_pwd": USER_PW, "db_name": "shop"},
        )
        assert ok.status_code == 200 and ok.json() == {}, ok.text
        bad = api.post(
            service.path(base + "/check-password"),
            json={"user_name": "api.user", "user_pwd": "Wrong#2024x", "db_name": "shop"},
        )
        assert bad.status_code == 400 and bad.json()["error_code"] == "DBS.200029", bad.text

        # Deleting the role takes it from the user: the next command is refused.
        r = api.request("DELETE", service.path(base + "/db-role"), json={"role_name": "shopReader", "db_name": "shop"})
        assert r.status_code == 200, r.text
        with _as(instance, "api.user", "shop") as client:
            _refused(lambda: client.shop.orders.find_one())
        r = api.request("DELETE", service.path(base + "/db-user"), json={"user_name": "api.user", "db_name": "shop"})
        assert r.status_code == 200, r.text
        with connect(instance, PASSWORD) as root:
            assert "api.user" not in {u["user"] for u in root.shop.command("usersInfo")["users"]}


def test_api_databases_and_weak_passwords(service: Service, instance: dict[str, Any]) -> None:
    with service.client() as api:
        r = api.get(service.path(f"/instances/{instance['id']}/databases"))
        assert r.status_code == 200, r.text
        dbs = {d["name"]: d for d in r.json()["databases"]}
        assert {"shop", "other"} <= set(dbs) and r.json()["total_count"] == len(dbs)
        assert dbs["shop"]["collection_num"] >= 2 and int(dbs["shop"]["data_size"]) >= 0
        assert api.post(service.path("/weak-password-verification"), json={"password": "Admin@123"}).json() == {
            "weak": True
        }
        assert api.post(service.path("/weak-password-verification"), json={"password": "abc"}).json() == {"weak": True}
        strong = api.post(service.path("/weak-password-verification"), json={"password": "Xq7#tLm2-Vz"})
        assert strong.json() == {"weak": False}


@pytest.mark.parametrize(
    ("method", "rest", "body", "code"),
    [
        ("POST", "/db-user", {"user_name": "bad name", "user_pwd": USER_PW, "roles": []}, "DBS.280292"),
        ("POST", "/db-user", {"user_name": "dds_service", "user_pwd": USER_PW, "roles": []}, "DBS.280292"),
        ("POST", "/db-user", {"user_name": "weakling", "user_pwd": "short", "roles": []}, "DBS.200052"),
        ("POST", "/db-user", {"user_name": "noroles", "user_pwd": USER_PW}, "DBS.200001"),
        (
            "POST",
            "/db-user",
            {"user_name": "ghost", "user_pwd": USER_PW, "roles": [{"role_name": "nope", "role_db_name": "admin"}]},
            "DBS.200001",
        ),
        ("POST", "/db-user", {"user_name": "rwuser", "user_pwd": USER_PW, "roles": []}, "DBS.200001"),
        ("DELETE", "/db-user", {"user_name": "rwuser"}, "DBS.280292"),
        ("DELETE", "/db-user", {"user_name": "never-was", "db_name": "shop"}, "DBS.280292"),
        ("POST", "/db-role", {"role_name": "read", "db_name": "shop", "roles": []}, "DBS.200001"),
        ("DELETE", "/db-role", {"role_name": "read", "db_name": "shop"}, "DBS.200001"),
        ("POST", "/db-role", {"role_name": "x", "db_name": "bad-db", "roles": []}, "DBS.200001"),
    ],
)
def test_api_bad_input_is_refused_and_changes_nothing(
    service: Service, instance: dict[str, Any], method: str, rest: str, body: dict[str, Any], code: str
) -> None:
    base = service.path(f"/instances/{instance['id']}")
    with connect(instance, PASSWORD) as root:
        before = (root.admin.command("usersInfo")["users"], root.shop.command("usersInfo")["users"])
    with service.client() as api:
        r = api.request(method, base + rest, json=body)
    assert r.status_code == 400 and r.json()["error_code"] == code, r.text
    with connect(instance, PASSWORD) as root:
        assert (root.admin.command("usersInfo")["users"], root.shop.command("usersInfo")["users"]) == before


def test_role_modification_commands(instance: dict[str, Any]) -> None:
    """updateRole, grant/revokePrivilegesToRole, grant/revokeRolesToRole, dropRole and
    dropAllRolesFromDatabase through pymongo, each seen by the user's next command."""
    with connect(instance, PASSWORD) as root:
        root.shop.command("createRole", "shaped", privileges=[], roles=[])
        root.shop.command("createUser", "shapeuser", pwd=USER_PW, roles=["shaped"])
        with _as(instance, "shapeuser", "shop") as client:
            _refused(lambda: client.shop.orders.find_one())
            orders = {"resource": {"db": "shop", "collection": "orders"}, "actions": ["find"]}
            root.shop.command("grantPrivilegesToRole", "shaped", privileges=[orders])
            assert client.shop.orders.find_one() is not None
            root.shop.command("revokePrivilegesFromRole", "shaped", privileges=[orders])
            _refused(lambda: client.shop.orders.find_one())
            root.shop.command("grantRolesToRole", "shaped", roles=["readWrite"])
            client.shop.scratch.insert_one({"by": "inherited"})
            root.shop.command("revokeRolesFromRole", "shaped", roles=["readWrite"])
            _refused(lambda: client.shop.scratch.insert_one({"by": "gone"}))
            root.shop.command("updateRole", "shaped", roles=["read"])
            assert client.shop.scratch.count_documents({}) == 1
            info = root.shop.command("rolesInfo", "shaped")["roles"][0]
            assert info["roles"] == [{"role": "read", "db": "shop"}] and info["inheritedRoles"] == info["roles"]
            with pytest.raises(OperationFailure) as err:
                root.shop.command("updateRole", "read", roles=[])
            assert err.value.code == 49  # built-in roles cannot change
            root.shop.command("dropRole", "shaped")
            _refused(lambda: client.shop.orders.find_one())
            user = root.shop.command("usersInfo", "shapeuser")["users"][0]
            assert user["roles"] == []  # the dropped role went from its users too
        root.shop.command("createRole", "tmp1", privileges=[], roles=[])
        root.shop.command("createRole", "tmp2", privileges=[], roles=[])
        dropped = root.shop.command("dropAllRolesFromDatabase", 1)
        assert dropped["n"] >= 2 and root.shop.command("rolesInfo", 1)["roles"] == []
        root.shop.command("dropUser", "shapeuser")
