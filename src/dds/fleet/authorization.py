"""An instance's role grants and custom roles across backups and restores.

The users (and their SCRAM keys) are in the engine's admin files and travel with them; which
roles each user holds, and what the custom roles grant, are in the gateway's file beside the
instance (`layout.roles_file`). A backup records that file in its manifest; a restore replaces
it with the backup's, setting the target's aside first so a failed restore puts it back.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dds.core.settings import Settings
from dds.fleet import layout
from dds.fleet.secrets import SERVICE_USER, TENANT_ADMIN
from dds.gateway import roles_store
from dds.gateway.roles_store import Authorization, RolesStore

ASIDE = ".pre-restore"  # suffix of the target's file while a restore replaces it
# The users a restore keeps as the target has them (credentials and roles): the service's own
# login, and the tenant's administrator with the password the target has or was created with.
KEPT_USERS = (("admin", SERVICE_USER), ("admin", TENANT_ADMIN))


def current(settings: Settings, instance_id: str) -> dict[str, Any]:
    """The instance's grants and roles now, as the manifest records them."""
    return RolesStore(layout.roles_file(settings, instance_id)).current().to_json()


def _aside(path: Path) -> Path:
    return path.with_name(path.name + ASIDE)


def replace(
    settings: Settings,
    instance_id: str,
    wanted: dict[str, Any],
    users: set[tuple[str, str]],
) -> None:
    """Make `wanted` the instance's grants and roles: only for `users` (the users the restored
    files hold, so a grant never waits for a later user of the same name), and with the roles of
    the kept users as the target had them. Runs again after a crash with the same result: the
    target's file is set aside once, and read from there."""
    path = layout.roles_file(settings, instance_id)
    aside = _aside(path)
    if not aside.exists():
        roles_store.save(aside, RolesStore(path).current().to_json())
    before = Authorization.from_json(json.loads(aside.read_text()))
    after = Authorization.from_json(wanted)
    restored = {key: roles for key, roles in after.users.items() if key in users and key not in KEPT_USERS}
    restored.update({key: before.users[key] for key in KEPT_USERS if key in before.users})

    def edit(auth: Authorization) -> None:
        auth.users, auth.roles = restored, after.roles

    RolesStore(path).change(edit)


def put_back(settings: Settings, instance_id: str) -> None:
    """A failed restore: the target's own file again (if a restore had replaced it)."""
    path = layout.roles_file(settings, instance_id)
    aside = _aside(path)
    if aside.exists():
        os.replace(aside, path)
        roles_store.record(path, RolesStore(path).current().to_json())  # in force again from now


def begin_history(settings: Settings, instance_id: str) -> None:
    """A new instance's grants as its first version: a point in time after this is covered."""
    path = layout.roles_file(settings, instance_id)
    if not any(roles_store.history_dir(path).glob("[0-9]*.json")):
        roles_store.record(path, RolesStore(path).current().to_json())


def as_of(settings: Settings, instance_id: str, at_ms: int) -> dict[str, Any]:
    """The grants in force at `at_ms`; the current ones when the history does not reach back
    (an instance made before grants were kept as versions)."""
    path = layout.roles_file(settings, instance_id)
    found = roles_store.as_of(path, at_ms)
    return found if found is not None else current(settings, instance_id)


def forget_aside(settings: Settings, instance_id: str) -> None:
    """A finished restore: the target's old file is no longer needed."""
    _aside(layout.roles_file(settings, instance_id)).unlink(missing_ok=True)
