"""Users and roles travel with backups: a restore brings back the backup's users with their
grants and custom roles, except the service's login and rwuser, which keep the target's; on both
storages of a replica set (on PostgreSQL storage a restore onto the instance goes through the wire
and brings the users' rows along: `backup/users.py`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pymongo.errors import OperationFailure

from tests.backup_helpers import backup, ready_instance, recover, restore_new
from tests.conftest import PASSWORD, Service
from tests.helpers import connect, logs_in

USER_PW = "Reader#2024x"
LATE_PW = "Late#Pass_2024"
TARGET_PW = "Target#Pass_02"


def _refused(call: Any) -> None:
    with pytest.raises(OperationFailure) as err:
        call()
    assert err.value.code == 13, err.value.details


def _check_backup_grants(svc: Service, inst: dict[str, Any]) -> None:
    """What the source had at backup time: `reader` reads shop, `narrow` reads shop.orders only."""
    with connect(inst, USER_PW, user="reader", auth_db="shop") as client:
        assert client.shop.orders.count_documents({}) == 5
        _refused(lambda: client.shop.orders.insert_one({"i": 99}))
        roles = client.shop.command("connectionStatus")["authInfo"]["authenticatedUserRoles"]
        assert roles == [{"role": "read", "db": "shop"}]
    with connect(inst, USER_PW, user="narrow", auth_db="shop") as client:
        assert client.shop.orders.count_documents({}) == 5
        _refused(lambda: client.shop.secrets.find_one())
    with svc.client() as api:  # the API sees the same users and roles as the shell
        listed = api.get(svc.path(f"/instances/{inst['id']}/db-user/detail"), params={"db_name": "shop"}).json()
        roles = api.get(svc.path(f"/instances/{inst['id']}/db-roles"), params={"db_name": "shop"}).json()
    assert {u["user"] for u in json.loads(listed["users"])} == {"reader", "narrow"}
    assert [r["role"] for r in json.loads(roles["roles"])] == ["ordersReader"]


@pytest.fixture(params=["sqlite", "postgresql"])
def svc(request: pytest.FixtureRequest, service: Service) -> Service:
    return service if request.param == "sqlite" else request.getfixturevalue("pg_service")


def test_users_and_roles_come_back_with_the_backup(svc: Service) -> None:
    service = svc
    source = ready_instance(service, "users-src")
    with connect(source, PASSWORD) as root:
        root.shop.orders.insert_many([{"i": i} for i in range(5)])
        root.shop.secrets.insert_one({"k": "v"})
        root.shop.command("createUser", "reader", pwd=USER_PW, roles=[{"role": "read", "db": "shop"}])
        root.shop.command(
            "createRole",
            "ordersReader",
            privileges=[{"resource": {"db": "shop", "collection": "orders"}, "actions": ["find"]}],
            roles=[],
        )
        root.shop.command("createUser", "narrow", pwd=USER_PW, roles=["ordersReader"])
    backup_id = backup(service, source["id"], "users-bk")

    # After the backup: reader loses its role, a new user appears with readWrite.
    with connect(source, PASSWORD) as root:
        root.shop.command("revokeRolesFromUser", "reader", roles=[{"role": "read", "db": "shop"}])
        root.shop.command("createUser", "late", pwd=LATE_PW, roles=[{"role": "readWrite", "db": "shop"}])
        root.shop.command("dropRole", "ordersReader")

    # A new instance from the backup: the backup's users and grants, the new rwuser password.
    created = restore_new(service, backup_id, "users-new")
    restored = service.instance(created["id"])
    _check_backup_grants(service, restored)
    assert not logs_in(restored, "late", LATE_PW, auth_db="shop")
    with connect(restored, PASSWORD) as root:  # rwuser: the password the restore request gave
        assert root.shop.command("connectionStatus")["authInfo"]["authenticatedUserRoles"] == [
            {"role": "root", "db": "admin"}
        ]

    # Onto the original: the same, and what came after the backup is undone.
    with service.client() as api:
        r = api.put(service.path(f"/instances/{source['id']}/reset-password"), json={"user_pwd": TARGET_PW})
        assert r.status_code == 200, r.text
    recover(service, source["id"], backup_id, source["id"])
    source = service.instance(source["id"])
    _check_backup_grants(service, source)
    assert not logs_in(source, "late", LATE_PW, auth_db="shop")
    with connect(source, TARGET_PW) as root:  # rwuser keeps the target's current password
        # A user made again under the old name starts with no grants: none were left waiting.
        root.shop.command("createUser", "late", pwd=LATE_PW, roles=[])
    with connect(source, LATE_PW, user="late", auth_db="shop") as client:
        _refused(lambda: client.shop.orders.find_one())
    aside = list(service.parts.settings.instances_dir.glob(f"{source['id']}/*.pre-restore"))
    assert aside == []  # the target's old grants are not left behind

    for iid in (created["id"], source["id"]):
        service.delete_instance(iid)
