"""The backup download policy: one switch per project (`open` or `close`).

No saved policy means downloads are open. `close` refuses new download links and the
service-signed links already handed out (S3 presigned URLs, once issued, are the bucket's to
honour until they expire: at most `link_ttl_seconds`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from dds.core.errors import DownloadClosed, InvalidParameter, NotFound
from dds.db.backups import DownloadPolicy
from dds.parts import Parts

ACTIONS = ("open", "close")


@dataclass(frozen=True)
class PolicyView:
    id: str | None  # None until a policy is saved
    action: str


def _check_action(action: str | None) -> str:
    if action not in ACTIONS:
        raise InvalidParameter("action must be 'open' or 'close'.")
    return action


def require_open(s: Session, project_id: str) -> None:
    """Raise DownloadClosed when the project's policy closes backup downloads."""
    row = s.get(DownloadPolicy, project_id)
    if row is not None and row.action == "close":
        raise DownloadClosed()


def show(parts: Parts, project_id: str) -> PolicyView:
    with parts.db.session() as s:
        row = s.get(DownloadPolicy, project_id)
        return PolicyView(None, "open") if row is None else PolicyView(row.id, row.action)


def save(parts: Parts, project_id: str, action: str | None) -> PolicyView:
    """Create the project's policy (saving again changes the one policy, keeping its id)."""
    action = _check_action(action)
    with parts.db.session() as s:
        row = s.get(DownloadPolicy, project_id)
        if row is None:
            row = DownloadPolicy(project_id=project_id, id=uuid.uuid4().hex, action=action, updated=parts.clock.now())
            s.add(row)
        else:
            row.action, row.updated = action, parts.clock.now()
        return PolicyView(row.id, row.action)


def update(parts: Parts, project_id: str, policy_id: str | None, action: str | None) -> PolicyView:
    """Change the policy named by `policy_id` (from the query); another id is not found."""
    action = _check_action(action)
    if not policy_id:
        raise InvalidParameter("id is required.")
    with parts.db.session() as s:
        row = s.get(DownloadPolicy, project_id)
        if row is None or row.id != policy_id:
            raise NotFound("The backup download policy does not exist.")
        row.action, row.updated = action, parts.clock.now()
        return PolicyView(row.id, row.action)
