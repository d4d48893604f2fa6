"""Databases and users (DDS "Managing Databases and Users"): the engine's users, the roles file.

Users and their SCRAM credentials are the engine's (`createUser` through the service's own
engine connection, so no password is ever stored by us); the roles a user holds and custom roles
are in the instance's roles file, the one its gateway enforces. The API and MongoDB's own user
commands through the gateway therefore act on the same two places and always agree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from dds.core.errors import InternalError, InvalidCredentials, InvalidParameter, InvalidUsername
from dds.db.models import Instance
from dds.domain import rules
from dds.fleet import layout, nodes
from dds.fleet.addresses import dial_host
from dds.fleet.secrets import SERVICE_USER
from dds.gateway.privileges import CustomRole, role_exists
from dds.gateway.roles_store import Authorization, RolesStore
from dds.gateway.user_admin import remove_roles, role_info, users_info_reply
from dds.parts import Parts
from dds.services.instances import get, require
from dds.wire import models as w

_USER = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_DB = re.compile(r"^[A-Za-z0-9_]{1,64}$")
RESERVED_USERS = frozenset({SERVICE_USER, "drsFull", "drsIncremental", "__system"})
ADMIN_USER = "rwuser"
# What a weak-password check refuses besides the complexity rule: the commonest choices.
_WEAK = frozenset(
    {
        "Admin@123",
        "Admin#123",
        "Password1!",
        "Password@1",
        "Password@123",
        "P@ssw0rd",
        "P@ssw0rd1",
        "P@ssword123",
        "Qwerty@123",
        "Abc@1234",
        "Abcd@1234",
        "Test@123",
        "Test#123",
        "Huawei@123",
        "Root@123",
        "Welcome@123",
        "Changeme@123",
        "Mongo@123",
        "Mongodb@123",
    }
)


@dataclass(frozen=True)
class Paging:
    offset: int = 0
    limit: int = 100


def store(parts: Parts, inst: Instance) -> RolesStore:
    return RolesStore(layout.roles_file(parts.settings, inst.id))


def _user_name(value: str | None) -> str:
    if not value or not _USER.match(value) or value in RESERVED_USERS:
        raise InvalidUsername(
            "The user name must be 1 to 64 letters, digits, hyphens (-), underscores (_) or periods (.), "
            "and not a reserved name."
        )
    return value


def _db_name(value: str | None, default: str = "admin") -> str:
    name = value or default
    if not _DB.match(name):
        raise InvalidParameter("The database name must be 1 to 64 letters, digits or underscores (_).")
    return name


def _role_name(value: str | None) -> str:
    if not value or not _USER.match(value):
        raise InvalidParameter(
            "The role name must be 1 to 64 letters, digits, hyphens (-), underscores (_) or periods (.)."
        )
    return value


def _roles(options: list[w.RolesOption] | None, auth: Authorization, *, required: bool) -> tuple[tuple[str, str], ...]:
    if options is None:
        if required:
            raise InvalidParameter("roles is required (an empty list gives the user no privileges).")
        return ()
    out = []
    for option in options:
        name = (_role_name(option.role_name), _db_name(option.role_db_name))
        if not role_exists(name, auth.roles):
            raise InvalidParameter(f"The role {name[0]}@{name[1]} does not exist.")
        out.append(name)
    return tuple(dict.fromkeys(out))


def _serving(parts: Parts, project_id: str, instance_id: str, action: str = "reset_password") -> Instance:
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        require(inst, action)
        _ = inst.nodes
        s.expunge(inst)
        return inst


def _engine_call(what: str, call: Any) -> Any:
    """An engine command's failure as a DDS error, never a 500 with a driver trace."""
    try:
        return call()
    except OperationFailure as exc:
        raise InvalidParameter(f"{what}: {exc.details.get('errmsg') if exc.details else exc}") from None
    except PyMongoError as exc:
        raise InternalError(f"{what}: the instance's engine did not answer ({type(exc).__name__}).") from None


def list_databases(parts: Parts, project_id: str, instance_id: str, paging: Paging) -> w.ListDatabasesResponse:
    inst = _serving(parts, project_id, instance_id)
    items = []
    with nodes.admin_client(parts, inst) as client:
        listed = _engine_call("listDatabases", lambda: client.admin.command("listDatabases"))["databases"]
        names = sorted(d["name"] for d in listed)
        for name in names[paging.offset : paging.offset + paging.limit]:
            stats = _engine_call("dbStats", lambda n=name: client[n].command("dbStats"))
            items.append(
                w.DatabaseInfoItem(
                    name=name,
                    data_size=str(int(stats.get("dataSize", 0))),
                    storage_size=str(int(stats.get("storageSize", 0))),
                    collection_num=int(stats.get("collections", 0)),
                )
            )
    return w.ListDatabasesResponse(databases=items, total_count=len(names))


def create_user(parts: Parts, project_id: str, instance_id: str, body: w.CreateDatabaseUserRequestBody) -> None:
    user, db = _user_name(body.user_name), _db_name(body.db_name)
    password = rules.check_password(body.user_pwd)
    inst = _serving(parts, project_id, instance_id)
    roles_store = store(parts, inst)
    roles = _roles(body.roles, roles_store.current(), required=True)
    with nodes.admin_client(parts, inst) as client:
        existing = _engine_call("usersInfo", lambda: client[db].command("usersInfo", user))["users"]
        if existing:
            raise InvalidParameter(f"The user {user!r} already exists in database {db!r}.")
        _engine_call("createUser", lambda: client[db].command("createUser", user, pwd=password, roles=[]))
    roles_store.change(lambda auth: auth.users.__setitem__((db, user), roles))


def delete_user(parts: Parts, project_id: str, instance_id: str, body: w.DeleteDatabaseUserRequestBody) -> None:
    user, db = _user_name(body.user_name), _db_name(body.db_name)
    if (db, user) == ("admin", ADMIN_USER):
        raise InvalidUsername("The administrator rwuser cannot be deleted.")
    inst = _serving(parts, project_id, instance_id)
    with nodes.admin_client(parts, inst) as client:
        if not _engine_call("usersInfo", lambda: client[db].command("usersInfo", user))["users"]:
            raise InvalidUsername(f"The user {user!r} does not exist in database {db!r}.")
        _engine_call("dropUser", lambda: client[db].command("dropUser", user))
    store(parts, inst).change(lambda auth: auth.users.pop((db, user), None))


def list_users(
    parts: Parts, project_id: str, instance_id: str, user_name: str | None, db_name: str | None, paging: Paging
) -> w.ListDatabaseUsersResponse:
    """The users as `usersInfo` shows them through the gateway (DDS returns the engine's own format)."""
    db = _db_name(db_name)
    if user_name is not None:
        _user_name(user_name)
    inst = _serving(parts, project_id, instance_id)
    with nodes.admin_client(parts, inst) as client:
        reply = _engine_call("usersInfo", lambda: client[db].command("usersInfo", user_name or 1))
    reply = users_info_reply(dict(reply), store(parts, inst).current(), show_privileges=True)
    users = [_plain(u) for u in reply["users"] if u.get("user") not in RESERVED_USERS]
    users.sort(key=lambda u: str(u.get("user")))
    page = users[paging.offset : paging.offset + paging.limit]
    return w.ListDatabaseUsersResponse(users=json.dumps(page), total_count=len(users))


def _plain(doc: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe, without credentials (usersInfo never shows them unless asked; belt and braces)."""
    out = {k: v for k, v in doc.items() if k not in ("credentials", "userId")}
    return json.loads(json.dumps(out, default=str))  # type: ignore[no-any-return]


def create_role(parts: Parts, project_id: str, instance_id: str, body: w.CreateDatabaseRoleRequestBody) -> None:
    name, db = _role_name(body.role_name), _db_name(body.db_name)
    inst = _serving(parts, project_id, instance_id)

    def edit(auth: Authorization) -> None:
        if role_exists((name, db), auth.roles):
            raise InvalidParameter(f"The role {name}@{db} already exists.")
        inherited = _roles(body.roles, auth, required=False)
        if db != "admin" and any(d != db for _, d in inherited):
            raise InvalidParameter(f"A role in database {db!r} can only inherit roles of the same database.")
        auth.roles[(name, db)] = CustomRole(name, db, (), inherited)

    store(parts, inst).change(edit)


def delete_role(parts: Parts, project_id: str, instance_id: str, body: w.DeleteDatabaseRoleRequestBody) -> None:
    name, db = _role_name(body.role_name), _db_name(body.db_name)
    inst = _serving(parts, project_id, instance_id)

    def edit(auth: Authorization) -> None:
        if (name, db) not in auth.roles:
            raise InvalidParameter(f"The role {name}@{db} does not exist (built-in roles cannot be deleted).")
        remove_roles(auth, {(name, db)})

    store(parts, inst).change(edit)


def list_roles(
    parts: Parts, project_id: str, instance_id: str, role_name: str | None, db_name: str | None, paging: Paging
) -> w.ListDatabaseRolesResponse:
    """Custom roles of a database in `rolesInfo`'s format (with privileges), as DDS returns them."""
    db = _db_name(db_name)
    if role_name is not None:
        _role_name(role_name)
    inst = _serving(parts, project_id, instance_id)
    auth = store(parts, inst).current()
    names = [key for key in sorted(auth.roles) if key[1] == db and (role_name is None or key[0] == role_name)]
    roles = [role_info(key, auth, show_privileges=True) for key in names]
    page = roles[paging.offset : paging.offset + paging.limit]
    return w.ListDatabaseRolesResponse(roles=json.dumps(page), total_count=len(roles))


def check_password(parts: Parts, project_id: str, instance_id: str, body: w.CheckPasswordRequestBody) -> None:
    """Logs in as the user, through the instance's own engine: right password or DBS.200029."""
    user, db = _user_name(body.user_name or ADMIN_USER), _db_name(body.db_name)
    if not body.user_pwd:
        raise InvalidCredentials()
    inst = _serving(parts, project_id, instance_id)
    node = nodes.primary(inst)
    client: MongoClient[dict[str, Any]] = MongoClient(
        host=dial_host(node.engine_host),
        port=node.engine_port,
        username=user,
        password=body.user_pwd,
        authSource=db,
        directConnection=True,
        serverSelectionTimeoutMS=5000,
    )
    try:
        client.admin.command("ping")
    except (OperationFailure, ValueError):  # ValueError: no SASLprep form (prohibited characters)
        raise InvalidCredentials() from None
    except PyMongoError as exc:
        raise InternalError(f"the instance's engine did not answer ({type(exc).__name__}).") from None
    finally:
        client.close()


def is_weak(password: str | None) -> bool:
    """Weak: fails DDS's complexity rule, or is one of the commonest passwords."""
    if not password:
        return True
    try:
        rules.check_password(password)
    except InvalidParameter:
        return True
    return password in _WEAK or password.lower() in {p.lower() for p in _WEAK}
