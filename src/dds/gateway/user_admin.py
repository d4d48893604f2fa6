"""MongoDB's user and role commands, answered with the engine's users and the roles store.

The engine keeps users and their SCRAM credentials but refuses any role. So a `createUser`
reaches it with `roles: []` and, once it succeeded, the roles are recorded in the store; role
commands (`createRole`, `grantRolesToUser`, ...) are answered by the gateway from the store;
`usersInfo` replies get the recorded roles added. Commands about a user the gateway cannot
vouch for ask the engine first (a `usersInfo` probe) so a typo never creates a grant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dds.gateway.errors import ErrorCode, Refusal
from dds.gateway.privileges import (
    BUILTIN_ADMIN_ROLES,
    BUILTIN_DB_ROLES,
    CustomRole,
    Privilege,
    RoleName,
    builtin,
    resolve,
    role_exists,
)
from dds.gateway.roles_store import Authorization, RolesStore, role_names
from dds.gateway.wire import Request

AfterReply = Callable[[dict[str, Any]], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Handled:
    """What to do with a user/role command: answer it here, or forward (maybe rewritten) and then look."""

    reply: dict[str, Any] | None = None  # the answer, made here
    body: dict[str, Any] | None = None  # forward this instead of the client's command
    after: AfterReply | None = None  # sees the engine's reply; returns the client's reply (None: as is)


def _error(code: ErrorCode, message: str) -> dict[str, Any]:
    return {"ok": 0.0, "errmsg": message, "code": int(code), "codeName": code.name}


def _role_docs(names: Iterable[RoleName]) -> list[dict[str, str]]:
    return [{"role": r, "db": d} for r, d in names]


def _privilege_docs(privileges: Iterable[Privilege]) -> list[dict[str, Any]]:
    merged: dict[tuple[Any, ...], set[str]] = {}
    for p in privileges:
        key = tuple(sorted(p.resource.to_json().items()))
        merged.setdefault(key, set()).update(p.actions)
    return [{"resource": dict(key), "actions": sorted(actions)} for key, actions in merged.items()]


def _parse_roles(value: Any, db: str, auth: Authorization) -> tuple[RoleName, ...]:
    try:
        names = role_names(value, db)
    except ValueError as exc:
        raise Refusal(ErrorCode.BadValue, str(exc)) from None
    for name in names:
        if not role_exists(name, auth.roles):
            raise Refusal(ErrorCode.RoleNotFound, f"Could not find role: {name[0]}@{name[1]}")
    return tuple(dict.fromkeys(names))


def _parse_privileges(value: Any, db: str) -> tuple[Privilege, ...]:
    if not isinstance(value, list):
        raise Refusal(ErrorCode.BadValue, "privileges must be an array")
    try:
        privileges = tuple(Privilege.from_json(item) for item in value)
    except ValueError as exc:
        raise Refusal(ErrorCode.BadValue, str(exc)) from None
    if db != "admin":
        for p in privileges:
            if p.resource.cluster or p.resource.any or p.resource.db != db:
                raise Refusal(
                    ErrorCode.InvalidRoleModification,
                    f"Roles on the {db!r} database cannot be granted privileges that target other databases "
                    "or the cluster",
                )
    return privileges


def users_info_reply(reply: dict[str, Any], auth: Authorization, show_privileges: bool) -> dict[str, Any]:
    """The engine's usersInfo reply with each user's roles as recorded (what MongoDB would show)."""
    users = reply.get("users")
    if reply.get("ok") != 1 or not isinstance(users, list):
        return reply
    out = []
    for user in users:
        if not isinstance(user, Mapping):
            continue
        name, db = user.get("user"), user.get("db")
        roles = auth.roles_of(str(db), str(name))
        reached, privileges = resolve(roles, auth.roles)
        entry = {**user, "roles": _role_docs(roles), "inheritedRoles": _role_docs(reached)}
        if show_privileges:
            entry["inheritedPrivileges"] = _privilege_docs(privileges)
        out.append(entry)
    return {**reply, "users": out}


def role_info(role: RoleName, auth: Authorization, show_privileges: bool) -> dict[str, Any]:
    custom = auth.roles.get(role)
    direct = custom.roles if custom else ()
    reached, privileges = resolve([role], auth.roles)
    doc: dict[str, Any] = {
        "_id": f"{role[1]}.{role[0]}",
        "role": role[0],
        "db": role[1],
        "isBuiltin": custom is None,
        "roles": _role_docs(direct),
        "inheritedRoles": _role_docs([r for r in reached if r != role]),
    }
    if show_privileges:
        own = custom.privileges if custom else builtin(*role) or ()
        doc["privileges"] = _privilege_docs(own)
        doc["inheritedPrivileges"] = _privilege_docs(privileges)
    return doc


def connection_status(
    auth: Authorization | None, user: str | None, db: str | None, show_privileges: bool
) -> dict[str, Any]:
    info: dict[str, Any] = {"authenticatedUsers": [], "authenticatedUserRoles": []}
    if user is not None and db is not None and auth is not None:
        reached, privileges = resolve(auth.roles_of(db, user), auth.roles)
        info = {"authenticatedUsers": [{"user": user, "db": db}], "authenticatedUserRoles": _role_docs(reached)}
        if show_privileges:
            info["authenticatedUserPrivileges"] = _privilege_docs(privileges)
    return {"authInfo": info, "ok": 1.0}


class UserAdmin:
    """Turns user and role commands into engine commands and store changes for one gateway."""

    COMMANDS = frozenset(
        {
            "createUser",
            "updateUser",
            "dropUser",
            "dropAllUsersFromDatabase",
            "grantRolesToUser",
            "revokeRolesFromUser",
            "usersInfo",
            "createRole",
            "updateRole",
            "dropRole",
            "dropAllRolesFromDatabase",
            "grantPrivilegesToRole",
            "revokePrivilegesFromRole",
            "grantRolesToRole",
            "revokeRolesFromRole",
            "rolesInfo",
        }
    )

    def __init__(self, store: RolesStore) -> None:
        self.store = store

    def handle(self, request: Request) -> Handled | None:
        """None: forward unchanged. Raises Refusal for bad input (nothing changed)."""
        command = request.command
        if command not in self.COMMANDS:
            return None
        db = request.db or "admin"
        doc = request.body.decode()
        method: Callable[[dict[str, Any], str], Handled] = getattr(self, "_" + command)
        return method(doc, db)

    # --- users ----------------------------------------------------------------------------

    def _name(self, doc: Mapping[str, Any], command: str, what: str = "user") -> str:
        value = doc.get(command)
        if not isinstance(value, str) or not value:
            raise Refusal(ErrorCode.BadValue, f"{command} needs a {what} name")
        return value

    def _createUser(self, doc: dict[str, Any], db: str) -> Handled:
        user = self._name(doc, "createUser")
        roles = _parse_roles(doc.get("roles", []), db, self.store.current())
        body = {**doc, "roles": []}

        def record(reply: dict[str, Any]) -> None:
            if reply.get("ok") == 1:
                self.store.change(lambda auth: auth.users.__setitem__((db, user), roles))

        return Handled(body=body, after=_passing(record))

    def _updateUser(self, doc: dict[str, Any], db: str) -> Handled:
        user = self._name(doc, "updateUser")
        if "roles" not in doc:
            return Handled()
        roles = _parse_roles(doc["roles"], db, self.store.current())
        rest = {k: v for k, v in doc.items() if k != "roles"}
        if set(rest) - {"updateUser", "$db", "lsid", "$clusterTime", "writeConcern", "$readPreference"}:

            def record(reply: dict[str, Any]) -> None:
                if reply.get("ok") == 1:
                    self.store.change(lambda auth: auth.users.__setitem__((db, user), roles))

            return Handled(body=rest, after=_passing(record))
        return self._probe(db, user, lambda auth: auth.users.__setitem__((db, user), roles))

    def _dropUser(self, doc: dict[str, Any], db: str) -> Handled:
        user = self._name(doc, "dropUser")

        def forget(reply: dict[str, Any]) -> None:
            if reply.get("ok") == 1:
                self.store.change(lambda auth: auth.users.pop((db, user), None))

        return Handled(after=_passing(forget))

    def _dropAllUsersFromDatabase(self, doc: dict[str, Any], db: str) -> Handled:
        def forget(reply: dict[str, Any]) -> None:
            if reply.get("ok") == 1:

                def edit(auth: Authorization) -> None:
                    for key in [k for k in auth.users if k[0] == db]:
                        del auth.users[key]

                self.store.change(edit)

        return Handled(after=_passing(forget))

    def _grantRolesToUser(self, doc: dict[str, Any], db: str) -> Handled:
        user = self._name(doc, "grantRolesToUser")
        roles = _parse_roles(doc.get("roles"), db, self.store.current())

        def edit(auth: Authorization) -> None:
            auth.users[(db, user)] = tuple(dict.fromkeys([*auth.roles_of(db, user), *roles]))

        return self._probe(db, user, edit)

    def _revokeRolesFromUser(self, doc: dict[str, Any], db: str) -> Handled:
        user = self._name(doc, "revokeRolesFromUser")
        try:
            roles = set(role_names(doc.get("roles"), db))
        except ValueError as exc:
            raise Refusal(ErrorCode.BadValue, str(exc)) from None

        def edit(auth: Authorization) -> None:
            auth.users[(db, user)] = tuple(r for r in auth.roles_of(db, user) if r not in roles)

        return self._probe(db, user, edit)

    def _probe(self, db: str, user: str, edit: Callable[[Authorization], None]) -> Handled:
        """Ask the engine whether the user exists, then change the store and answer ok."""
        probe = {"usersInfo": {"user": user, "db": db}, "$db": db}

        def apply(reply: dict[str, Any]) -> dict[str, Any]:
            if reply.get("ok") != 1:
                return reply
            if not reply.get("users"):
                return _error(ErrorCode.UserNotFound, f'Could not find user "{user}" for db "{db}"')
            self.store.change(edit)
            return {"ok": 1.0}

        return Handled(body=probe, after=apply)

    def _usersInfo(self, doc: dict[str, Any], db: str) -> Handled:
        show = doc.get("showPrivileges") in (True, 1)
        return Handled(after=lambda reply: users_info_reply(reply, self.store.current(), show))

    # --- roles ----------------------------------------------------------------------------

    def _local(self, edit: Callable[[Authorization], dict[str, Any] | None]) -> Handled:
        """Run a change of the store; a Refusal raised by `edit` leaves the file as it was."""
        result: list[dict[str, Any] | None] = []
        self.store.change(lambda auth: result.append(edit(auth)))
        return Handled(reply=result[0] or {"ok": 1.0})

    def _custom(self, auth: Authorization, name: RoleName) -> CustomRole:
        role = auth.roles.get(name)
        if role is None:
            if builtin(*name) is not None:
                raise Refusal(ErrorCode.InvalidRoleModification, f"Cannot modify built-in role {name[0]}@{name[1]}")
            raise Refusal(ErrorCode.RoleNotFound, f"Could not find role: {name[0]}@{name[1]}")
        return role

    def _inherits(self, value: Any, db: str, auth: Authorization) -> tuple[RoleName, ...]:
        roles = _parse_roles(value, db, auth)
        if db != "admin" and any(d != db for _, d in roles):
            raise Refusal(
                ErrorCode.InvalidRoleModification,
                f"Roles on the {db!r} database cannot inherit from roles on other databases",
            )
        return roles

    def _createRole(self, doc: dict[str, Any], db: str) -> Handled:
        name = (self._name(doc, "createRole", "role"), db)
        privileges = _parse_privileges(doc.get("privileges"), db)

        def edit(auth: Authorization) -> None:
            if builtin(*name) is not None or name in auth.roles:
                raise Refusal(ErrorCode.DuplicateKey, f'Role "{name[0]}@{db}" already exists')
            inherited = self._inherits(doc.get("roles", []), db, auth)
            auth.roles[name] = CustomRole(name[0], db, privileges, inherited)

        return self._local(lambda auth: edit(auth))

    def _updateRole(self, doc: dict[str, Any], db: str) -> Handled:
        name = (self._name(doc, "updateRole", "role"), db)
        privileges = _parse_privileges(doc["privileges"], db) if "privileges" in doc else None

        def edit(auth: Authorization) -> None:
            role = self._custom(auth, name)
            inherited = self._inherits(doc["roles"], db, auth) if "roles" in doc else role.roles
            auth.roles[name] = CustomRole(name[0], db, role.privileges if privileges is None else privileges, inherited)

        return self._local(lambda auth: edit(auth))

    def _dropRole(self, doc: dict[str, Any], db: str) -> Handled:
        name = (self._name(doc, "dropRole", "role"), db)

        def edit(auth: Authorization) -> None:
            self._custom(auth, name)
            remove_roles(auth, {name})

        return self._local(lambda auth: edit(auth))

    def _dropAllRolesFromDatabase(self, doc: dict[str, Any], db: str) -> Handled:
        def edit(auth: Authorization) -> dict[str, Any]:
            gone = {key for key in auth.roles if key[1] == db}
            remove_roles(auth, gone)
            return {"n": len(gone), "ok": 1.0}

        return self._local(edit)

    def _grantPrivilegesToRole(self, doc: dict[str, Any], db: str) -> Handled:
        return self._privileges(doc, db, "grantPrivilegesToRole", grant=True)

    def _revokePrivilegesFromRole(self, doc: dict[str, Any], db: str) -> Handled:
        return self._privileges(doc, db, "revokePrivilegesFromRole", grant=False)

    def _privileges(self, doc: dict[str, Any], db: str, command: str, grant: bool) -> Handled:
        name = (self._name(doc, command, "role"), db)
        changes = _parse_privileges(doc.get("privileges"), db)

        def edit(auth: Authorization) -> None:
            role = self._custom(auth, name)
            current = {p.resource: set(p.actions) for p in role.privileges}
            for p in changes:
                actions = current.setdefault(p.resource, set())
                if grant:
                    actions |= p.actions
                else:
                    actions -= p.actions
            kept = tuple(Privilege(res, frozenset(acts)) for res, acts in current.items() if acts)
            auth.roles[name] = CustomRole(name[0], db, kept, role.roles)

        return self._local(lambda auth: edit(auth))

    def _grantRolesToRole(self, doc: dict[str, Any], db: str) -> Handled:
        return self._role_roles(doc, db, "grantRolesToRole", grant=True)

    def _revokeRolesFromRole(self, doc: dict[str, Any], db: str) -> Handled:
        return self._role_roles(doc, db, "revokeRolesFromRole", grant=False)

    def _role_roles(self, doc: dict[str, Any], db: str, command: str, grant: bool) -> Handled:
        name = (self._name(doc, command, "role"), db)

        def edit(auth: Authorization) -> None:
            role = self._custom(auth, name)
            if grant:
                changed = tuple(dict.fromkeys([*role.roles, *self._inherits(doc.get("roles"), db, auth)]))
            else:
                try:
                    gone = set(role_names(doc.get("roles"), db))
                except ValueError as exc:
                    raise Refusal(ErrorCode.BadValue, str(exc)) from None
                changed = tuple(r for r in role.roles if r not in gone)
            auth.roles[name] = CustomRole(name[0], db, role.privileges, changed)

        return self._local(lambda auth: edit(auth))

    def _rolesInfo(self, doc: dict[str, Any], db: str) -> Handled:
        auth = self.store.current()
        show = doc.get("showPrivileges") in (True, 1)
        value = doc.get("rolesInfo")
        if value in (1, True) or isinstance(value, float):
            names = [key for key in sorted(auth.roles) if key[1] == db]
            if doc.get("showBuiltinRoles") in (True, 1):
                extra = BUILTIN_DB_ROLES | (BUILTIN_ADMIN_ROLES if db == "admin" else frozenset())
                names = [(r, db) for r in sorted(extra)] + names
        else:
            try:
                names = role_names(value if isinstance(value, list) else [value], db)
            except ValueError as exc:
                raise Refusal(ErrorCode.BadValue, str(exc)) from None
            names = [n for n in names if role_exists(n, auth.roles)]
        return Handled(reply={"roles": [role_info(n, auth, show) for n in names], "ok": 1.0})


def _passing(look: Callable[[dict[str, Any]], None]) -> AfterReply:
    def after(reply: dict[str, Any]) -> None:
        look(reply)

    return after


def remove_roles(auth: Authorization, gone: set[RoleName]) -> None:
    """Drop roles and every grant of them, to users and to other roles (as MongoDB does)."""
    for key in gone:
        auth.roles.pop(key, None)
    for key, roles in list(auth.users.items()):
        auth.users[key] = tuple(r for r in roles if r not in gone)
    for key, role in list(auth.roles.items()):
        if any(r in gone for r in role.roles):
            kept = tuple(r for r in role.roles if r not in gone)
            auth.roles[key] = CustomRole(role.name, role.db, role.privileges, kept)
