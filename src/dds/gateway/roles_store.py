"""The instance's role grants and custom roles: one JSON file, shared by its gateways and the service.

Users and their SCRAM credentials live in the engine (`admin.system.users`, what it authenticates
against); the engine has no roles, so which roles a user holds and what custom roles grant live
here. Writers (a gateway answering `grantRolesToUser`, the service answering the API) take an
exclusive lock and replace the file atomically; readers notice a new file by its stat and reload,
so a change takes effect on the next command everywhere.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dds.gateway.privileges import CustomRole, Grants, Privilege, RoleName, grants_of

# The tenant's administrator: DDS gives `rwuser` root; it holds it even before anything is written.
DEFAULT_USERS: dict[tuple[str, str], tuple[RoleName, ...]] = {("admin", "rwuser"): (("root", "admin"),)}


@dataclass
class Authorization:
    """One version of the file: who holds which roles, and the custom roles."""

    users: dict[tuple[str, str], tuple[RoleName, ...]] = field(default_factory=dict)
    roles: dict[RoleName, CustomRole] = field(default_factory=dict)
    _grants: dict[tuple[str, str], Grants] = field(default_factory=dict, repr=False)

    def roles_of(self, db: str, user: str) -> tuple[RoleName, ...]:
        key = (db, user)
        return self.users.get(key, DEFAULT_USERS.get(key, ()))

    def grants(self, db: str, user: str) -> Grants:
        """The user's effective privileges (cached for this version)."""
        key = (db, user)
        found = self._grants.get(key)
        if found is None:
            found = self._grants[key] = grants_of(self.roles_of(db, user), self.roles)
        return found

    def to_json(self) -> dict[str, Any]:
        return {
            "users": [
                {"db": db, "user": user, "roles": [{"role": r, "db": d} for r, d in roles]}
                for (db, user), roles in sorted(self.users.items())
            ],
            "roles": [role.to_json() for _, role in sorted(self.roles.items())],
        }

    @staticmethod
    def from_json(data: Any) -> Authorization:
        out = Authorization()
        for item in data.get("users", []):
            out.users[(item["db"], item["user"])] = tuple(role_names(item.get("roles", [])))
        for item in data.get("roles", []):
            role = CustomRole(
                name=item["role"],
                db=item["db"],
                privileges=tuple(Privilege.from_json(p) for p in item.get("privileges", [])),
                roles=tuple(role_names(item.get("roles", []))),
            )
            out.roles[(role.name, role.db)] = role
        return out


def role_names(value: Any, default_db: str | None = None) -> list[RoleName]:
    """MongoDB's role list: names (in `default_db`) or `{role, db}` documents; ValueError otherwise."""
    if not isinstance(value, list):
        raise ValueError("roles must be an array")
    out: list[RoleName] = []
    for item in value:
        if isinstance(item, str) and default_db is not None:
            out.append((item, default_db))
        elif isinstance(item, dict) and isinstance(item.get("role"), str) and isinstance(item.get("db"), str):
            out.append((item["role"], item["db"]))
        else:
            raise ValueError("each role must be a role name or a document {role: <name>, db: <db>}")
    return out


# Every version of the file is also kept, named by when it took effect (UTC ms), so a
# point-in-time restore can give the users of a moment the grants they held then.
HISTORY_SUFFIX = ".history"
HISTORY_KEPT = 1000  # versions; grants change rarely, and each is a few hundred bytes


def save(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` with `data` whole: readers see the old file or the new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def history_dir(path: Path) -> Path:
    return path.with_name(path.name + HISTORY_SUFFIX)


def record(path: Path, data: dict[str, Any], at_ms: int | None = None) -> None:
    """Keep `data` as the version of `path` in force from `at_ms` (now by default) on."""
    folder = history_dir(path)
    save(folder / f"{at_ms if at_ms is not None else int(time.time() * 1000):015d}.json", data)
    versions = sorted(folder.glob("[0-9]*.json"))
    for old in versions[:-HISTORY_KEPT]:
        old.unlink(missing_ok=True)


def as_of(path: Path, at_ms: int) -> dict[str, Any] | None:
    """The version in force at `at_ms`; None when the history does not reach back that far."""
    folder = history_dir(path)
    older = [v for v in sorted(folder.glob("[0-9]*.json")) if int(v.stem) <= at_ms] if folder.is_dir() else []
    if not older:
        return None
    found: dict[str, Any] = json.loads(older[-1].read_text())
    return found


class RolesStore:
    """The file of one instance, with the last version read kept in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")
        self._stamp: tuple[int, int, int] | None = None
        self._current = Authorization()

    def current(self) -> Authorization:
        """The latest version: one stat per call, a read only when the file changed."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            if self._stamp is not None:
                self._stamp, self._current = None, Authorization()
            return self._current
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp != self._stamp:
            self._current = self._read()
            self._stamp = stamp
        return self._current

    def _read(self) -> Authorization:
        try:
            return Authorization.from_json(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return Authorization()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def change(self, edit: Callable[[Authorization], object]) -> Authorization:
        """Read the newest version under the lock, apply `edit` (which may raise: nothing is written), save."""
        with self._locked():
            auth = self._read()
            edit(auth)
            auth._grants.clear()
            save(self.path, auth.to_json())
            record(self.path, auth.to_json())
        return self.current()
