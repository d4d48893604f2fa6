"""`dds admin ...`: identity management straight on the metadata store.

Works whether or not the service runs (same `DDS_DATA_DIR`/`DDS_DATABASE_URL`),
so scripts can provision tenants before first start. Secrets are printed once
on stdout and never taken from argv (passwords come from stdin or a prompt).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session

from dds.core.clock import Clock
from dds.core.errors import DDSError
from dds.core.settings import get_settings
from dds.db.identity import AccessKey, User
from dds.db.management import ProjectQuota
from dds.db.models import Project
from dds.db.session import Database
from dds.iam import directory
from dds.iam.secrets import SecretBox
from dds.services import quotas

app = typer.Typer(help="Manage projects, users and AK/SK credentials.", no_args_is_help=True)
credentials_app = typer.Typer(help="AK/SK credentials.", no_args_is_help=True)
user_app = typer.Typer(help="Password users (for POST /v3/auth/tokens).", no_args_is_help=True)
project_app = typer.Typer(help="Projects.", no_args_is_help=True)
app.add_typer(credentials_app, name="credentials")
app.add_typer(user_app, name="user")
quota_app = typer.Typer(help="Project quotas (instances, total volume GB, manual backups).", no_args_is_help=True)
app.add_typer(project_app, name="project")
app.add_typer(quota_app, name="quota")
err = Console(stderr=True)
_create_data_dir = False


@app.callback()
def _options(
    create: bool = typer.Option(
        False, "--create-data-dir", help="start a new data directory if DDS_DATA_DIR holds none (else refuse)"
    ),
) -> None:
    """Manage projects, users, AK/SK credentials and quotas."""
    global _create_data_dir
    _create_data_dir = create


class Output(StrEnum):
    text = "text"
    json = "json"


@contextmanager
def _store() -> Iterator[tuple[Session, SecretBox]]:
    """One transaction on the service's metadata store (schema brought up to date first)."""
    settings = get_settings()
    fresh = settings.database_url is None and not (settings.data_dir / "meta.db").exists()
    if fresh and not _create_data_dir:
        # Run from the wrong directory, `./var` would be a new, empty store whose credentials the
        # running service does not know: refuse rather than hand them out.
        err.print(
            f"[red]error[/red] {settings.data_dir.resolve()} is not a DDS data directory (no meta.db). "
            "Set DDS_DATA_DIR to the service's, or pass --create-data-dir to start a new one."
        )
        raise typer.Exit(2)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.metadata_url)
    try:
        db.migrate()
        with db.session() as s:
            yield s, SecretBox(settings.key_file)
    except DDSError as e:
        err.print(f"[red]error[/red] {e.code}: {e.message}")
        raise typer.Exit(1) from None
    finally:
        db.dispose()


def _emit(output: Output, data: dict[str, str], text: str) -> None:
    if output is Output.json:
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        sys.stdout.write(text + "\n")


@credentials_app.command("create")
def credentials_create(
    project: str = typer.Option(..., "--project", help="project name (created if missing)"),
    description: str = typer.Option("", help="free text kept with the key"),
    output: Output = typer.Option(Output.text, "--output", "-o"),
) -> None:
    """Create an AK/SK pair for PROJECT. The secret key is shown only now."""
    with _store() as (s, box):
        proj = directory.ensure_project(s, project, Clock().now(), get_settings().region)
        cred = directory.create_access_key(s, box, proj, Clock().now(), description)
    data = {
        "project_id": cred.project_id,
        "project_name": cred.project_name,
        "access_key": cred.access_key,
        "secret_key": cred.secret_key,
    }
    _emit(output, data, "\n".join(f"{k}: {v}" for k, v in data.items()))


@credentials_app.command("list")
def credentials_list(
    project: str = typer.Option(None, "--project"), output: Output = typer.Option(Output.text, "--output", "-o")
) -> None:
    """Access keys (never their secrets)."""
    with _store() as (s, _):
        q = select(AccessKey, Project).join(Project, Project.id == AccessKey.project_id)
        if project:
            q = q.where(Project.name == project)
        rows = [
            {
                "access_key": k.access_key,
                "project_id": p.id,
                "project_name": p.name,
                "enabled": k.enabled,
                "created": k.created.isoformat(),
            }
            for k, p in s.execute(q).all()
        ]
    if output is Output.json:
        sys.stdout.write(json.dumps(rows) + "\n")
    else:
        for r in rows:
            sys.stdout.write(f"{r['access_key']}  {r['project_name']} ({r['project_id']})\n")


@credentials_app.command("delete")
def credentials_delete(access_key: str) -> None:
    """Delete an access key; services stop accepting it within `auth_cache_seconds`."""
    with _store() as (s, _):
        row = s.get(AccessKey, access_key)
        if row is None:
            err.print("no such access key")
            raise typer.Exit(1)
        s.delete(row)


@user_app.command("create")
def user_create(
    project: str = typer.Option(..., "--project", help="project name (created if missing)"),
    name: str = typer.Option(..., "--name"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    output: Output = typer.Option(Output.text, "--output", "-o"),
) -> None:
    """Create a password user in PROJECT (or set the password of that existing user)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with _store() as (s, _):
        proj = directory.ensure_project(s, project, Clock().now(), get_settings().region)
        user, created = directory.set_user(s, proj, name, password, Clock().now())
        data = {
            "user_id": user.id,
            "name": user.name,
            "project_id": proj.id,
            "project_name": proj.name,
            "domain": get_settings().identity_domain,
            "created": "true" if created else "false",
        }
    _emit(output, data, f"user {name} {'created' if created else 'updated'} in project {project} ({proj.id})")


@user_app.command("delete")
def user_delete(name: str = typer.Option(..., "--name")) -> None:
    """Delete a user; its tokens go with it."""
    with _store() as (s, _):
        user = s.scalar(select(User).where(User.name == name))
        if user is None:
            err.print("no such user")
            raise typer.Exit(1)
        s.delete(user)


@project_app.command("list")
def project_list(output: Output = typer.Option(Output.text, "--output", "-o")) -> None:
    with _store() as (s, _):
        rows = [{"id": p.id, "name": p.name} for p in s.scalars(select(Project).order_by(Project.name))]
    if output is Output.json:
        sys.stdout.write(json.dumps(rows) + "\n")
    else:
        for r in rows:
            sys.stdout.write(f"{r['id']}  {r['name']}\n")


@project_app.command("rename")
def project_rename(old: str, new: str) -> None:
    """Rename a project (one made by an earlier release, e.g. `demo`, to `<region>_<name>`); its id,
    instances, users and keys stay; clients that log in by project name use the new one."""
    with _store() as (s, _):
        proj = directory.rename_project(s, old, new, get_settings().region)
        sys.stdout.write(f"project {old} is now {proj.name} ({proj.id})\n")


@quota_app.command("set")
def quota_set(
    project: str = typer.Option(..., "--project", help="project name"),
    instances: int = typer.Option(None, "--instances", min=0),
    volume_gb: int = typer.Option(None, "--volume-gb", min=0),
    backups: int = typer.Option(None, "--backups", min=0),
) -> None:
    """Give PROJECT its own limits; an option left out keeps the service default (DDS_QUOTA_*)."""
    with _store() as (s, _):
        proj = s.scalar(select(Project).where(Project.name == project))
        if proj is None:
            err.print("no such project")
            raise typer.Exit(1)
        s.merge(ProjectQuota(project_id=proj.id, instances=instances, volume_gb=volume_gb, backups=backups))


@quota_app.command("show")
def quota_show(project: str = typer.Option(..., "--project")) -> None:
    """The limits PROJECT runs with (its own, else the defaults)."""
    settings = get_settings()
    with _store() as (s, _):
        proj = s.scalar(select(Project).where(Project.name == project))
        if proj is None:
            err.print("no such project")
            raise typer.Exit(1)
        data = vars(quotas.limits(settings, s, proj.id))
    sys.stdout.write(json.dumps(data) + "\n")
