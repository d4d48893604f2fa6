"""Projects, users and access keys in the metadata store (used by the API and `dds admin`)."""

from __future__ import annotations

import re
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dds.core import ids
from dds.core.errors import Conflict, InvalidParameter
from dds.db.identity import AccessKey, User
from dds.db.models import Project
from dds.iam.passwords import hash_password
from dds.iam.secrets import SecretBox

_PROJECT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_PROJECT_SUFFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_AK_ALPHABET = string.ascii_uppercase + string.digits
_SK_ALPHABET = string.ascii_letters + string.digits
MIN_PASSWORD = 8


@dataclass(frozen=True)
class NewCredentials:
    """Shown once, at creation: the secret key is not retrievable afterwards through any API."""

    project_id: str
    project_name: str
    access_key: str
    secret_key: str


def check_project_name(name: str, region: str) -> None:
    """Project names as the cloud's IAM has them, `<region>` or `<region>_<name>`: clients such as
    the Terraform provider take the region from the name (the part before the first `_`) and look
    their endpoints up in it, so a name of any other form leaves them with no endpoint at all."""
    prefix = f"{region}_"
    suffix = name[len(prefix) :] if name.startswith(prefix) else None
    fits = name == region or (suffix is not None and bool(_PROJECT_SUFFIX.match(suffix)))
    if not fits or not _PROJECT_NAME.match(name):
        raise InvalidParameter(
            f"Invalid project name {name!r}: it must be the region name or start with it and '_' "
            f"({region!r} or '{region}_<name>', 64 characters at most, letters, digits, '_', '.', '-'), "
            "as on the cloud, where clients such as Terraform take their region from the project name."
        )


def ensure_project(s: Session, name: str, now: datetime, region: str) -> Project:
    """The project of that name; a new one must have a name of the cloud's form. Projects made by
    earlier releases keep any name they have (`rename_project` gives them one of the form)."""
    project = s.scalar(select(Project).where(Project.name == name))
    if project is None:
        check_project_name(name, region)
        project = Project(id=ids.project_id(), name=name, created=now)
        s.add(project)
        s.flush()
    return project


def rename_project(s: Session, old: str, new: str, region: str) -> Project:
    project = s.scalar(select(Project).where(Project.name == old))
    if project is None:
        raise InvalidParameter(f"No project named {old!r}.")
    check_project_name(new, region)
    if s.scalar(select(Project).where(Project.name == new)) is not None:
        raise Conflict(f"A project named {new!r} already exists.")
    project.name = new
    return project


def project_by_ref(s: Session, *, id: str | None = None, name: str | None = None) -> Project | None:
    if id:
        return s.get(Project, id)
    if name:
        return s.scalar(select(Project).where(Project.name == name))
    return None


def create_access_key(
    s: Session, box: SecretBox, project: Project, now: datetime, description: str = ""
) -> NewCredentials:
    """A new AK/SK pair in the shape the cloud uses: 20-character AK, 40-character SK."""
    ak = "".join(secrets.choice(_AK_ALPHABET) for _ in range(20))
    sk = "".join(secrets.choice(_SK_ALPHABET) for _ in range(40))
    s.add(
        AccessKey(
            access_key=ak,
            project_id=project.id,
            secret_encrypted=box.seal(sk),
            description=description[:255],
            enabled=True,
            created=now,
        )
    )
    s.flush()
    return NewCredentials(project.id, project.name, ak, sk)


def access_key(s: Session, ak: str) -> AccessKey | None:
    return s.get(AccessKey, ak)


def set_user(s: Session, project: Project, name: str, password: str, now: datetime) -> tuple[User, bool]:
    """Create the user, or set the password of the same user in the same project; True if created.

    User names are unique across projects (one Keystone domain), so a name
    taken in another project is a conflict rather than a silent move.
    """
    if not _USER_NAME.match(name):
        raise InvalidParameter("Invalid user name: 1-64 letters, digits, '_', '.', '@', '-'.")
    if len(password) < MIN_PASSWORD:
        raise InvalidParameter(f"The password must have at least {MIN_PASSWORD} characters.")
    user = s.scalar(select(User).where(User.name == name))
    if user is not None and user.project_id != project.id:
        raise Conflict(f"User {name} already exists in another project.")
    if user is None:
        user = User(
            id=uuid.uuid4().hex,
            name=name,
            project_id=project.id,
            password_hash=hash_password(password),
            enabled=True,
            created=now,
        )
        s.add(user)
        s.flush()
        return user, True
    user.password_hash = hash_password(password)
    return user, False


def user_by_ref(s: Session, *, id: str | None = None, name: str | None = None) -> User | None:
    if id:
        return s.get(User, id)
    if name:
        return s.scalar(select(User).where(User.name == name))
    return None
