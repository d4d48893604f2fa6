"""MongoDB's authorization model: actions, resources, built-in roles, and what a user may do.

The engine authorizes nothing, so the gateway does it with MongoDB's own vocabulary: a role
grants privileges (a resource and actions) and may inherit other roles; a user holds roles.
`Grants` is one user's privileges flattened into lookups, built once per change of the roles
and asked once per command.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

READ = frozenset(
    {"find", "listCollections", "listIndexes", "collStats", "dbStats", "dbHash", "killCursors", "changeStream"}
)
READ_WRITE = READ | {
    "insert",
    "update",
    "remove",
    "createCollection",
    "createIndex",
    "dropIndex",
    "dropCollection",
    "renameCollectionSameDB",
    "convertToCapped",
}
DB_ADMIN = frozenset(
    {
        "bypassDocumentValidation",
        "collMod",
        "collStats",
        "compact",
        "convertToCapped",
        "createCollection",
        "createIndex",
        "dbStats",
        "dropCollection",
        "dropDatabase",
        "dropIndex",
        "enableProfiler",
        "listCollections",
        "listIndexes",
        "reIndex",
        "renameCollectionSameDB",
        "validate",
        "killCursors",
    }
)
USER_ADMIN = frozenset(
    {
        "changeCustomData",
        "changePassword",
        "createRole",
        "createUser",
        "dropRole",
        "dropUser",
        "grantRole",
        "revokeRole",
        "viewRole",
        "viewUser",
    }
)
DB_OWNER = READ_WRITE | DB_ADMIN | USER_ADMIN
CLUSTER_MONITOR = frozenset(
    {
        "serverStatus",
        "listDatabases",
        "inprog",
        "getLog",
        "getCmdLineOpts",
        "hostInfo",
        "replSetGetStatus",
        "replSetGetConfig",
        "getParameter",
        "top",
        "connPoolStats",
        "netstat",
        "listSessions",
    }
)
CLUSTER_MANAGER = frozenset({"killop", "killAnySession", "setParameter", "fsync", "logRotate"})
CLUSTER_ONLY = CLUSTER_MONITOR | CLUSTER_MANAGER | {"shutdown", "dropConnections"}
ANY_ACTION = "anyAction"

# Every action a custom role may name (MongoDB's list, restricted to what the engine can run).
KNOWN_ACTIONS = READ_WRITE | DB_ADMIN | USER_ADMIN | CLUSTER_ONLY | {ANY_ACTION}


@dataclass(frozen=True, slots=True)
class Resource:
    """`{db, collection}` ("" = any) or `{cluster: true}`; `any` is MongoDB's `anyResource`."""

    db: str = ""
    collection: str = ""
    cluster: bool = False
    any: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.any:
            return {"anyResource": True}
        if self.cluster:
            return {"cluster": True}
        return {"db": self.db, "collection": self.collection}

    @staticmethod
    def from_json(value: Any) -> Resource:
        if not isinstance(value, Mapping):
            raise ValueError("a privilege's resource must be a document")
        if value.get("anyResource") is True:
            return Resource(any=True)
        if value.get("cluster") is True:
            return Resource(cluster=True)
        db, coll = value.get("db"), value.get("collection")
        if not isinstance(db, str) or not isinstance(coll, str):
            raise ValueError("a privilege's resource needs string fields db and collection")
        return Resource(db=db, collection=coll)


@dataclass(frozen=True, slots=True)
class Privilege:
    resource: Resource
    actions: frozenset[str]

    def to_json(self) -> dict[str, Any]:
        return {"resource": self.resource.to_json(), "actions": sorted(self.actions)}

    @staticmethod
    def from_json(value: Any) -> Privilege:
        if not isinstance(value, Mapping):
            raise ValueError("a privilege must be a document")
        actions = value.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(a, str) for a in actions):
            raise ValueError("a privilege needs a non-empty array of action names")
        unknown = sorted(set(actions) - KNOWN_ACTIONS)
        if unknown:
            raise ValueError(f"unknown action {unknown[0]!r}")
        return Privilege(Resource.from_json(value.get("resource")), frozenset(actions))


RoleName = tuple[str, str]  # (role, db)


def db_privileges(db: str, actions: frozenset[str]) -> tuple[Privilege, ...]:
    return (Privilege(Resource(db=db), actions),)


def any_db_privileges(actions: frozenset[str], cluster: frozenset[str] = frozenset()) -> tuple[Privilege, ...]:
    out = [Privilege(Resource(), actions)]
    if cluster:
        out.append(Privilege(Resource(cluster=True), cluster))
    return tuple(out)


_DB_ROLES: dict[str, frozenset[str]] = {
    "read": READ,
    "readWrite": READ_WRITE,
    "dbAdmin": DB_ADMIN,
    "userAdmin": USER_ADMIN,
    "dbOwner": DB_OWNER,
}
_LIST = frozenset({"listDatabases"})
_ADMIN_ROLES: dict[str, tuple[Privilege, ...]] = {
    "readAnyDatabase": any_db_privileges(READ, _LIST),
    "readWriteAnyDatabase": any_db_privileges(READ_WRITE, _LIST),
    "userAdminAnyDatabase": any_db_privileges(USER_ADMIN, _LIST),
    "dbAdminAnyDatabase": any_db_privileges(DB_ADMIN, _LIST),
    "clusterMonitor": any_db_privileges(
        frozenset({"collStats", "dbStats", "listCollections", "listIndexes"}), CLUSTER_MONITOR
    ),
    "clusterManager": any_db_privileges(frozenset({"collStats", "dbStats"}), CLUSTER_MONITOR | CLUSTER_MANAGER),
    "clusterAdmin": any_db_privileges(DB_ADMIN, CLUSTER_ONLY),
    "hostManager": (Privilege(Resource(cluster=True), CLUSTER_MANAGER | {"shutdown"}),),
    "backup": any_db_privileges(READ, _LIST),
    "restore": any_db_privileges(READ_WRITE | USER_ADMIN, _LIST),
    "root": (Privilege(Resource(any=True), frozenset({ANY_ACTION})),),
}
BUILTIN_ADMIN_ROLES = frozenset(_ADMIN_ROLES)
BUILTIN_DB_ROLES = frozenset(_DB_ROLES)


def builtin(role: str, db: str) -> tuple[Privilege, ...] | None:
    """The privileges of a built-in role, or None when (role, db) names none.

    Database roles exist in every database; the cluster-wide ones only in `admin`, as in MongoDB.
    """
    if role in _DB_ROLES:
        return db_privileges(db, _DB_ROLES[role])
    if db == "admin" and role in _ADMIN_ROLES:
        return _ADMIN_ROLES[role]
    return None


@dataclass(frozen=True, slots=True)
class CustomRole:
    name: str
    db: str
    privileges: tuple[Privilege, ...] = ()
    roles: tuple[RoleName, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "role": self.name,
            "db": self.db,
            "privileges": [p.to_json() for p in self.privileges],
            "roles": [{"role": r, "db": d} for r, d in self.roles],
        }


@dataclass(slots=True)
class Grants:
    """One user's effective privileges, flattened for lookups."""

    everything: bool = False
    cluster: set[str] = field(default_factory=set)
    any_db: set[str] = field(default_factory=set)
    per_db: dict[str, set[str]] = field(default_factory=dict)
    per_collection: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    any_db_collection: dict[str, set[str]] = field(default_factory=dict)

    def add(self, privilege: Privilege) -> None:
        res, actions = privilege.resource, privilege.actions
        if ANY_ACTION in actions and res.any:
            self.everything = True
        elif res.any:
            self.any_db |= actions
            self.cluster |= actions
        elif res.cluster:
            self.cluster |= actions
        elif not res.db and not res.collection:
            self.any_db |= actions
        elif not res.collection:
            self.per_db.setdefault(res.db, set()).update(actions)
        elif not res.db:
            self.any_db_collection.setdefault(res.collection, set()).update(actions)
        else:
            self.per_collection.setdefault((res.db, res.collection), set()).update(actions)

    def allows(self, action: str, db: str | None, collection: str | None = None) -> bool:
        """May the user do `action` on db.collection (db None: the cluster)?"""
        if self.everything:
            return True
        if db is None:
            return action in self.cluster or ANY_ACTION in self.cluster
        for actions in (self.any_db, self.per_db.get(db)):
            if actions and (action in actions or ANY_ACTION in actions):
                return True
        if collection:
            for actions in (self.per_collection.get((db, collection)), self.any_db_collection.get(collection)):
                if actions and (action in actions or ANY_ACTION in actions):
                    return True
        return False

    def touches_db(self, db: str) -> bool:
        """Any privilege at all in `db` (what `listDatabases` without the action shows)."""
        return (
            self.everything
            or bool(self.any_db)
            or bool(self.per_db.get(db))
            or any(d == db for d, _ in self.per_collection)
            or bool(self.any_db_collection)
        )


def resolve(roles: Iterable[RoleName], custom: Mapping[RoleName, CustomRole]) -> tuple[list[RoleName], list[Privilege]]:
    """All roles reached from `roles` through inheritance (each once, cycles cut) and their privileges."""
    seen: list[RoleName] = []
    privileges: list[Privilege] = []
    stack = list(roles)
    while stack:
        name = stack.pop(0)
        if name in seen:
            continue
        seen.append(name)
        fixed = builtin(*name)
        if fixed is not None:
            privileges.extend(fixed)
            continue
        role = custom.get(name)
        if role is not None:
            privileges.extend(role.privileges)
            stack.extend(role.roles)
    return seen, privileges


def grants_of(roles: Iterable[RoleName], custom: Mapping[RoleName, CustomRole]) -> Grants:
    grants = Grants()
    for privilege in resolve(roles, custom)[1]:
        grants.add(privilege)
    return grants


def role_exists(name: RoleName, custom: Mapping[RoleName, CustomRole]) -> bool:
    return builtin(*name) is not None or name in custom
