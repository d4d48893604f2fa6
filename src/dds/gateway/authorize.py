"""Which privileges a command needs, and the check against a user's grants.

Commands are mapped to MongoDB's action names on a database, a collection or the cluster. A
command the table does not know needs `anyAction` (root): refusing what we cannot classify is
the safe side of an authorization layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dds.gateway.errors import ErrorCode, Refusal
from dds.gateway.fields import ARRAY, Fields
from dds.gateway.privileges import ANY_ACTION, Grants
from dds.gateway.wire import Request

Need = tuple[str, str | None, str | None]  # (action, db or None for the cluster, collection)

# Anyone authenticated (or answered by the gateway itself for the caller's own identity).
FREE = frozenset(
    {
        "hello",
        "isMaster",
        "ismaster",
        "ping",
        "buildInfo",
        "buildinfo",
        "saslStart",
        "saslContinue",
        "logout",
        "getnonce",
        "endSessions",
        "whatsmyuri",
        "connectionStatus",
        "getLastError",
        "getlasterror",
        "listCommands",
        "startSession",
        "refreshSessions",
        "killAllSessions",
        "commitTransaction",
        "abortTransaction",
        "getFreeMonitoringStatus",
        "atlasVersion",
        "lockInfo",
    }
)
# Commands on the collection their value names.
_ON_COLLECTION: dict[str, tuple[str, ...]] = {
    "find": ("find",),
    "count": ("find",),
    "distinct": ("find",),
    "dataSize": ("find",),
    "insert": ("insert",),
    "update": ("update",),
    "delete": ("remove",),
    "listIndexes": ("listIndexes",),
    "collStats": ("collStats",),
    "validate": ("validate",),
    "create": ("createCollection",),
    "createIndexes": ("createIndex",),
    "drop": ("dropCollection",),
    "dropIndexes": ("dropIndex",),
    "deleteIndexes": ("dropIndex",),
    "reIndex": ("reIndex",),
    "collMod": ("collMod",),
    "compact": ("compact",),
    "convertToCapped": ("convertToCapped",),
    "killCursors": ("killCursors",),
}
# Commands on the database they run in.
_ON_DATABASE: dict[str, tuple[str, ...]] = {
    "listCollections": ("listCollections",),
    "dbStats": ("dbStats",),
    "dropDatabase": ("dropDatabase",),
    "profile": ("enableProfiler",),
    "createUser": ("createUser",),
    "dropUser": ("dropUser",),
    "dropAllUsersFromDatabase": ("dropUser",),
    "grantRolesToUser": ("grantRole",),
    "revokeRolesFromUser": ("revokeRole",),
    "createRole": ("createRole",),
    "updateRole": ("grantRole", "revokeRole"),
    "dropRole": ("dropRole",),
    "dropAllRolesFromDatabase": ("dropRole",),
    "grantPrivilegesToRole": ("grantRole",),
    "revokePrivilegesFromRole": ("revokeRole",),
    "grantRolesToRole": ("grantRole",),
    "revokeRolesFromRole": ("revokeRole",),
    "rolesInfo": ("viewRole",),
}
# Commands on the whole deployment.
_ON_CLUSTER: dict[str, tuple[str, ...]] = {
    "serverStatus": ("serverStatus",),
    "currentOp": ("inprog",),
    "killOp": ("killop",),
    "getLog": ("getLog",),
    "getCmdLineOpts": ("getCmdLineOpts",),
    "hostInfo": ("hostInfo",),
    "replSetGetStatus": ("replSetGetStatus",),
    "replSetGetConfig": ("replSetGetConfig",),
    "getParameter": ("getParameter",),
    "setParameter": ("setParameter",),
    "top": ("top",),
    "shutdown": ("shutdown",),
    "fsync": ("fsync",),
    "logRotate": ("logRotate",),
    "connPoolStats": ("connPoolStats",),
    "listSessions": ("listSessions",),
}
_FOREIGN_STAGES = {"$lookup": "from", "$graphLookup": "from", "$unionWith": "coll"}
_MAX_DEPTH = 12


def _unauthorized(db: str | None, command: str) -> Refusal:
    where = db if db is not None else "admin"
    message = f"not authorized on {where} to execute command {{ {command}: ... }}"
    return Refusal(ErrorCode.Unauthorized, message, audit=True)


def needs(request: Request) -> list[Need] | None:
    """What the command needs; None for commands every authenticated user may run."""
    command = request.command
    if command in FREE:
        return None
    body, db = request.body, request.db or "admin"
    if command in _ON_COLLECTION:
        coll = body.get_str(command)
        return [(action, db, coll) for action in _ON_COLLECTION[command]]
    if command in _ON_DATABASE:
        return [(action, db, None) for action in _ON_DATABASE[command]]
    if command in _ON_CLUSTER:
        return [(action, None, None) for action in _ON_CLUSTER[command]]
    special = _SPECIAL.get(command)
    if special is not None:
        return special(body, db)
    return [(ANY_ACTION, None, None)]


def _get_more(body: Fields, db: str) -> list[Need]:
    coll = body.get_str("collection")
    if coll == "$cmd.aggregate":  # the cursor of a database's (or the deployment's) change stream
        return [("find", db, None)] if db != "admin" else [("find", None, None)]
    return [("find", db, coll)]


def _find_and_modify(body: Fields, db: str) -> list[Need]:
    coll = body.get_str(body.first or "findAndModify")
    write = "remove" if body.get("remove") in (True, 1) else "update"
    return [("find", db, coll), (write, db, coll)]


def _aggregate(body: Fields, db: str) -> list[Need]:
    coll = body.get_str("aggregate")
    out: list[Need] = [("find", db, coll)] if coll is not None else [("find", db, None)]
    if coll is None and db == "admin":  # client.watch(): every database's changes
        out = [("find", None, None)]
    if body.kind("pipeline") == ARRAY:
        _pipeline_needs(body.get("pipeline"), db, out, 0)
    return out


def _pipeline_needs(value: Any, db: str, out: list[Need], depth: int) -> None:
    if depth > _MAX_DEPTH:
        out.append((ANY_ACTION, None, None))
        return
    if isinstance(value, list):
        for item in value:
            _pipeline_needs(item, db, out, depth + 1)
        return
    if not isinstance(value, Mapping):
        return
    for key, item in value.items():
        if key in _FOREIGN_STAGES:
            name = item.get(_FOREIGN_STAGES[key]) if isinstance(item, Mapping) else item
            if isinstance(name, str):
                out.append(("find", db, name))
        elif key in ("$out", "$merge"):
            target = item if isinstance(item, str) else None
            if isinstance(item, Mapping):
                into = item.get("into", item.get("coll"))
                target = into if isinstance(into, str) else None
            out.extend([("insert", db, target), ("remove", db, target)])
        elif key == "$currentOp":
            out.append(("inprog", None, None))
        _pipeline_needs(item, db, out, depth + 1)


def _explain(body: Fields, db: str) -> list[Need]:
    inner = body.sub("explain")
    if inner is None or inner.first is None or inner.first == "explain":
        return [(ANY_ACTION, None, None)]
    command = inner.first
    if command in _ON_COLLECTION:
        return [(action, db, inner.get_str(command)) for action in _ON_COLLECTION[command]]
    special = _SPECIAL.get(command)
    return special(inner, db) if special is not None else [(ANY_ACTION, None, None)]


def _rename(body: Fields, _db: str) -> list[Need]:
    source, target = body.get_str("renameCollection"), body.get_str("to")
    if source is None or target is None or "." not in source or "." not in target:
        return [(ANY_ACTION, None, None)]
    sdb, scoll = source.split(".", 1)
    tdb, tcoll = target.split(".", 1)
    if sdb == tdb:
        return [("renameCollectionSameDB", sdb, scoll), ("renameCollectionSameDB", sdb, tcoll)]
    return [("find", sdb, scoll), ("dropCollection", sdb, scoll), ("insert", tdb, tcoll), ("createIndex", tdb, tcoll)]


def _list_databases(_body: Fields, _db: str) -> list[Need]:
    return []  # everyone may ask; the reply shows only databases the user has privileges in


def _users_info(_body: Fields, db: str) -> list[Need]:
    return [("viewUser", db, None)]  # the caller's own entry is let through in `check`


def _update_user(body: Fields, db: str) -> list[Need]:
    out: list[Need] = []
    if "pwd" in body:
        out.append(("changePassword", db, None))
    if "customData" in body:
        out.append(("changeCustomData", db, None))
    if "roles" in body:
        out.extend([("grantRole", db, None), ("revokeRole", db, None)])
    return out or [("changePassword", db, None)]


_SPECIAL = {
    "getMore": _get_more,
    "findAndModify": _find_and_modify,
    "findandmodify": _find_and_modify,
    "aggregate": _aggregate,
    "explain": _explain,
    "renameCollection": _rename,
    "listDatabases": _list_databases,
    "usersInfo": _users_info,
    "updateUser": _update_user,
}


def asks_only_about(request: Request, user: str | None, user_db: str | None) -> bool:
    """usersInfo for exactly the caller's own user (MongoDB lets everyone see themselves)."""
    body = request.body
    value = body.get("usersInfo")
    if isinstance(value, str):
        return value == user and request.db == user_db
    if isinstance(value, Mapping):
        return value.get("user") == user and value.get("db") == user_db
    return False


def check(request: Request, grants: Grants, user: str | None, user_db: str | None) -> None:
    """Raise Unauthorized (code 13) when the grants do not cover the command."""
    wanted = needs(request)
    if not wanted:
        return
    if request.command == "usersInfo" and asks_only_about(request, user, user_db):
        return
    for action, db, coll in wanted:
        if not grants.allows(action, db, coll):
            raise _unauthorized(request.db, request.command)
