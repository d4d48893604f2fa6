"""`dds instances|backups|restores|jobs|flavors|versions|connect`: the REST API from a terminal.

Every command prints a table (default) or the API's JSON (`--output json`); anything that
returns a job takes `--wait`, which follows the job with a progress bar and exits non-zero if it
fails. Errors print the DDS error code and message and exit 1.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dds.cli.client import ApiError, Client, load_profile

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class Output(StrEnum):
    table = "table"
    json = "json"


ProfileOpt = typer.Option(
    None, "--profile", "-p", help="profile in ~/.config/dds/config.toml (DDS_* variables override)"
)
OutputOpt = typer.Option(Output.table, "--output", "-o")
WaitOpt = typer.Option(False, "--wait", "-w", help="follow the job until it ends")


@contextmanager
def api(profile: str | None) -> Iterator[Client]:
    """A client for the profile; DDS errors become a message and exit code 1."""
    client: Client | None = None
    try:
        client = Client(load_profile(profile))
        yield client
    except ApiError as exc:
        err.print(f"[red]error[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1) from None
    finally:
        if client is not None:
            client.close()


def show(data: Any, output: Output, columns: Sequence[str] = (), rows: Sequence[dict[str, Any]] | None = None) -> None:
    if output is Output.json or not columns:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    table = Table(*columns)
    for row in rows if rows is not None else [data]:
        table.add_row(*[_cell(row, c) for c in columns])
    out.print(table)


def _cell(row: dict[str, Any], column: str) -> str:
    value: Any = row
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return "" if value is None else str(value)


def follow(client: Client, job_id: str, output: Output) -> dict[str, Any]:
    """Poll the job, with a live progress bar on a terminal; exit 1 if it fails."""
    job: dict[str, Any] = {}
    quiet = output is Output.json or not err.is_terminal
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        disable=quiet,
    ) as bar:
        task = bar.add_task(f"job {job_id[:8]}", total=100)
        while True:
            job = client.call("GET", "/jobs", params={"id": job_id})["job"]
            progress = str(job.get("progress") or "0").rstrip("%")
            bar.update(
                task, completed=float(progress or 0), description=f"{job.get('name', 'job')} {job.get('status')}"
            )
            if job.get("status") != "Running":
                break
            time.sleep(0.5)
    if job.get("status") != "Completed":
        err.print(f"[red]job {job_id} {job.get('status')}[/red]: {job.get('fail_reason', '')}")
        raise typer.Exit(1)
    return job


def _job_result(client: Client, data: dict[str, Any], wait: bool, output: Output, columns: Sequence[str]) -> None:
    if wait and data.get("job_id"):
        data = {**data, "job": follow(client, str(data["job_id"]), output)}
    show(data, output, columns)


# --- instances --------------------------------------------------------------------------------


def instance_body(
    name: str, password: str, mode: str, version: str = "4.0", size: int = 10, flavor: str | None = None
) -> dict[str, Any]:
    """A create body as the cloud's clients send it (network fields are required there, unused here)."""
    replica = mode == "ReplicaSet"
    spec = flavor or f"dds.mongodb.s2.medium.4.{'repset' if replica else 'single'}"
    return {
        "name": name,
        "datastore": {"type": "DDS-Community", "version": version, "storage_engine": "wiredTiger"},
        "region": "local-1",
        "availability_zone": "local-1a",
        "vpc_id": "local",
        "subnet_id": "local",
        "security_group_id": "local",
        "password": password,
        "mode": mode,
        "flavor": [
            {
                "type": "replica" if replica else "single",
                "num": 1,
                "storage": "ULTRAHIGH",
                "size": str(size),
                "spec_code": spec,
            }
        ],
    }


instances_app = typer.Typer(help="DB instances.", no_args_is_help=True)
INSTANCE_COLUMNS = ("id", "name", "status", "mode", "datastore.version", "port")


def _instance(client: Client, instance_id: str) -> dict[str, Any]:
    found = client.call("GET", "/instances", params={"id": instance_id})["instances"]
    if not found:
        raise ApiError(404, "DBS.200002", f"The DB instance {instance_id} does not exist.")
    return found[0]  # type: ignore[no-any-return]


@instances_app.command("list")
def instances_list(name: str = typer.Option(None), profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    with api(profile) as c:
        data = c.call("GET", "/instances", params={"name": name})
        show(data, output, INSTANCE_COLUMNS, data["instances"])


@instances_app.command("show")
def instances_show(instance_id: str, profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    with api(profile) as c:
        inst = _instance(c, instance_id)
        show(inst, output, (*INSTANCE_COLUMNS, "groups"), [{**inst, "groups": _nodes(inst)}])


def _nodes(inst: dict[str, Any]) -> str:
    return ", ".join(
        f"{n['name']} {n['role']} {n['status']}" for g in inst.get("groups", []) for n in g.get("nodes", [])
    )


@instances_app.command("create")
def instances_create(
    name: str,
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, envvar="DDS_INSTANCE_PASSWORD", help="rwuser's password"
    ),
    mode: str = typer.Option("ReplicaSet", help="ReplicaSet or Single"),
    version: str = typer.Option("4.0"),
    flavor: str = typer.Option(None, help="spec code (default: the smallest of the mode)"),
    size: int = typer.Option(10, help="volume GB"),
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
    wait: bool = WaitOpt,
) -> None:
    body = instance_body(name, password, mode, version, size, flavor)
    with api(profile) as c:
        _job_result(c, c.call("POST", "/instances", json=body), wait, output, ("id", "name", "job_id", "status"))


@instances_app.command("delete")
def instances_delete(
    instance_id: str, profile: str = ProfileOpt, output: Output = OutputOpt, wait: bool = WaitOpt
) -> None:
    with api(profile) as c:
        _job_result(c, c.call("DELETE", f"/instances/{instance_id}"), wait, output, ("job_id",))


@instances_app.command("restart")
def instances_restart(
    instance_id: str, profile: str = ProfileOpt, output: Output = OutputOpt, wait: bool = WaitOpt
) -> None:
    with api(profile) as c:
        _job_result(c, c.call("POST", f"/instances/{instance_id}/restart", json={}), wait, output, ("job_id",))


@instances_app.command("resize")
def instances_resize(
    instance_id: str,
    flavor: str = typer.Option(..., help="the new spec code"),
    in_window: bool = typer.Option(False, "--in-maintenance-window", help="run it in the maintenance window"),
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
    wait: bool = WaitOpt,
) -> None:
    body: dict[str, Any] = {"resize": {"target_type": "replica", "target_id": instance_id, "target_spec_code": flavor}}
    if in_window:
        body["is_delay"] = True
        wait = False  # a scheduled task, not a job yet
    with api(profile) as c:
        _job_result(c, c.call("POST", f"/instances/{instance_id}/resize", json=body), wait, output, ("job_id",))


def connect(
    instance_id: str,
    user: str = typer.Option("rwuser"),
    profile: str = ProfileOpt,
) -> None:
    """Print the instance's connection string (the password is left for you to fill in)."""
    with api(profile) as c:
        inst = _instance(c, instance_id)
        replica_set = (
            c.call("GET", f"/instances/{instance_id}/replica-set/name").get("name") or "replica"
            if inst["mode"] == "ReplicaSet"
            else None
        )
    node = inst["groups"][0]["nodes"][0]
    options = "authSource=admin" + (f"&replicaSet={replica_set}" if replica_set else "")
    if inst.get("ssl") in (1, "1", True):
        options += "&tls=true"
    sys.stdout.write(f"mongodb://{quote_plus(user)}:<password>@{node['private_ip']}:{inst['port']}/?{options}\n")


# --- backups and restores ----------------------------------------------------------------------

backups_app = typer.Typer(help="Backups: take, list, download, delete.", no_args_is_help=True)
BACKUP_COLUMNS = ("id", "name", "instance_id", "type", "status", "size", "begin_time")


@backups_app.command("list")
def backups_list(
    instance_id: str = typer.Option(None, "--instance"), profile: str = ProfileOpt, output: Output = OutputOpt
) -> None:
    with api(profile) as c:
        data = c.call("GET", "/backups", params={"instance_id": instance_id})
        show(data, output, BACKUP_COLUMNS, data["backups"])


@backups_app.command("create")
def backups_create(
    instance_id: str,
    name: str = typer.Option(..., help="4-64 characters"),
    description: str = typer.Option(""),
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
    wait: bool = WaitOpt,
) -> None:
    body = {"backup": {"instance_id": instance_id, "name": name, "description": description}}
    with api(profile) as c:
        _job_result(c, c.call("POST", "/backups", json=body), wait, output, ("backup_id", "job_id"))


@backups_app.command("delete")
def backups_delete(backup_id: str, profile: str = ProfileOpt, output: Output = OutputOpt, wait: bool = WaitOpt) -> None:
    with api(profile) as c:
        _job_result(c, c.call("DELETE", f"/backups/{backup_id}"), wait, output, ("job_id",))


def _download_files(c: Client, backup_id: str) -> dict[str, Any]:
    found = c.call("GET", "/backups", params={"backup_id": backup_id})["backups"]
    if not found:
        raise ApiError(404, "DBS.201204", f"The backup {backup_id} does not exist.")
    params = {"instance_id": found[0]["instance_id"], "backup_id": backup_id}
    return c.call("GET", "/backups/download-file", params=params)  # type: ignore[no-any-return]


@backups_app.command("links")
def backups_links(backup_id: str, profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    """Signed download links (valid 15 minutes) of each file of the backup."""
    with api(profile) as c:
        data = _download_files(c, backup_id)
        show(data, output, ("name", "size", "download_link"), data.get("files", []))


@backups_app.command("download")
def backups_download(
    backup_id: str,
    to: Path = typer.Option(Path("."), "--to", help="directory to write the files into"),
    which: str = typer.Option("physical", help="physical (what restores use), mongodump, or all"),
    profile: str = ProfileOpt,
) -> None:
    with api(profile) as c:
        files = _download_files(c, backup_id).get("files", [])
    chosen = [f for f in files if which == "all" or which in f["name"]]
    if not chosen:
        err.print(f"[red]error[/red] no {which} file for backup {backup_id} (yet)")
        raise typer.Exit(1)
    to.mkdir(parents=True, exist_ok=True)
    for f in chosen:
        target = to / f["name"]
        with httpx.stream("GET", f["download_link"], timeout=600) as r, target.open("wb") as sink:
            if r.status_code != 200:
                err.print(f"[red]error[/red] HTTP {r.status_code} for {f['name']}")
                raise typer.Exit(1)
            for chunk in r.iter_bytes(1 << 20):
                sink.write(chunk)
        sys.stdout.write(f"{target}\n")


restores_app = typer.Typer(
    help="Restores: to a new instance, onto an existing one, or as of a time.", no_args_is_help=True
)


@restores_app.command("new")
def restores_new(
    name: str,
    backup_id: str = typer.Option(None, "--backup"),
    source: str = typer.Option(None, "--source", help="with --time: the instance to restore as of that time"),
    at: int = typer.Option(None, "--time", help="UTC milliseconds (point in time)"),
    password: str = typer.Option(..., prompt=True, hide_input=True, envvar="DDS_INSTANCE_PASSWORD"),
    mode: str = typer.Option("ReplicaSet"),
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
    wait: bool = WaitOpt,
) -> None:
    """A new instance from a backup (--backup) or as of a time (--source + --time)."""
    if (backup_id is None) == (at is None):
        err.print("[red]error[/red] give --backup, or --source and --time")
        raise typer.Exit(2)
    point = {"backup_id": backup_id} if backup_id else {"type": "timestamp", "instance_id": source, "restore_time": at}
    body = {**instance_body(name, password, mode), "restore_point": point}
    with api(profile) as c:
        _job_result(c, c.call("POST", "/instances", json=body), wait, output, ("id", "name", "job_id"))


@restores_app.command("onto")
def restores_onto(
    target: str,
    backup_id: str = typer.Option(None, "--backup"),
    at: int = typer.Option(None, "--time", help="UTC milliseconds: the instance itself as of that time"),
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
    wait: bool = WaitOpt,
) -> None:
    """Restore onto an existing instance: a backup, or (with --time) the instance itself as of a time."""
    if (backup_id is None) == (at is None):
        err.print("[red]error[/red] give --backup or --time")
        raise typer.Exit(2)
    source = (
        {"type": "backup", "backup_id": backup_id}
        if backup_id
        else {"type": "timestamp", "instance_id": target, "restore_time": at}
    )
    body = {"source": source, "target": {"instance_id": target}}
    with api(profile) as c:
        _job_result(c, c.call("POST", "/instances/recovery", json=body), wait, output, ("job_id",))


@restores_app.command("times")
def restores_times(
    instance_id: str,
    date: str = typer.Option(..., help="YYYY-MM-DD (UTC)"),
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
) -> None:
    """Point-in-time ranges the archive covers on that day (UTC milliseconds)."""
    with api(profile) as c:
        data = c.call("GET", f"/instances/{instance_id}/restore-time", params={"date": date})
        show(data, output, ("start_time", "end_time"), data.get("restore_time", []))


# --- jobs, flavors, versions ----------------------------------------------------------------

jobs_app = typer.Typer(help="Jobs (tasks).", no_args_is_help=True)


@jobs_app.command("show")
def jobs_show(job_id: str, profile: str = ProfileOpt, output: Output = OutputOpt, wait: bool = WaitOpt) -> None:
    with api(profile) as c:
        job = follow(c, job_id, output) if wait else c.call("GET", "/jobs", params={"id": job_id})["job"]
        show(job, output, ("id", "name", "status", "progress", "instance.id", "fail_reason"))


@jobs_app.command("list")
def jobs_list(
    status: str = typer.Option(None),
    name: str = typer.Option(None),
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
) -> None:
    with api(profile) as c:
        data = c.call("GET", f"/v3.1/{c.project_id}/jobs", params={"status": status, "name": name})
        show(data, output, ("id", "name", "status", "progress", "instance_id", "created_at"), data.get("jobs", []))


def flavors(profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    """Instance flavors (spec codes)."""
    with api(profile) as c:
        data = c.call("GET", "/flavors", params={"engine_name": "DDS-Community"})
        show(data, output, ("spec_code", "type", "vcpus", "ram"), data.get("flavors", []))


def versions(profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    """Datastore versions."""
    with api(profile) as c:
        data = c.call("GET", "/datastores/DDS-Community/versions")
        show(data, output, ("version",), [{"version": v} for v in data.get("versions", [])])


# --- database users, parameters, anything else ---------------------------------------------

users_app = typer.Typer(help="Database users and roles of an instance.", no_args_is_help=True)


@users_app.command("list")
def users_list(
    instance_id: str, db: str = typer.Option("admin", "--db"), profile: str = ProfileOpt, output: Output = OutputOpt
) -> None:
    with api(profile) as c:
        data = c.call("GET", f"/instances/{instance_id}/db-user/detail", params={"db_name": db})
        users = json.loads(data.get("users") or "[]")
        show({"users": users, "total_count": data.get("total_count")}, output, ("user", "db", "roles"), users)


@users_app.command("create")
def users_create(
    instance_id: str,
    name: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, envvar="DDS_USER_PASSWORD"),
    db: str = typer.Option("admin", "--db"),
    role: list[str] = typer.Option([], "--role", help="ROLE or ROLE@DB (repeatable); none: no privileges"),
    profile: str = ProfileOpt,
) -> None:
    roles = [{"role_name": r.split("@", 1)[0], "role_db_name": r.split("@", 1)[1] if "@" in r else db} for r in role]
    body = {"user_name": name, "user_pwd": password, "db_name": db, "roles": roles}
    with api(profile) as c:
        c.call("POST", f"/instances/{instance_id}/db-user", json=body)


@users_app.command("delete")
def users_delete(
    instance_id: str, name: str, db: str = typer.Option("admin", "--db"), profile: str = ProfileOpt
) -> None:
    with api(profile) as c:
        c.call("DELETE", f"/instances/{instance_id}/db-user", json={"user_name": name, "db_name": db})


params_app = typer.Typer(help="Parameter templates and an instance's parameters.", no_args_is_help=True)


@params_app.command("templates")
def params_templates(profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    with api(profile) as c:
        data = c.call("GET", "/configurations")
        show(data, output, ("id", "name", "datastore_version", "node_type", "user_defined"), data["configurations"])


@params_app.command("show")
def params_show(instance_id: str, profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    """The instance's parameters: value, range, whether a change restarts the engine."""
    with api(profile) as c:
        data = c.call("GET", f"/instances/{instance_id}/configurations")
        show(data, output, ("name", "value", "value_range", "restart_required"), data["parameters"])


@params_app.command("set")
def params_set(
    instance_id: str,
    values: list[str] = typer.Argument(..., help="NAME=VALUE pairs"),
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
    wait: bool = WaitOpt,
) -> None:
    pairs = dict(v.split("=", 1) for v in values if "=" in v)
    body = {"entity_id": instance_id, "parameter_values": pairs}
    with api(profile) as c:
        _job_result(
            c,
            c.call("PUT", f"/instances/{instance_id}/configurations", json=body),
            wait,
            output,
            ("job_id", "restart_required"),
        )


def raw(
    method: str,
    path: str,
    data: str = typer.Option(None, "--data", "-d", help="JSON body"),
    profile: str = ProfileOpt,
    wait: bool = WaitOpt,
) -> None:
    """Any operation: `dds api GET /instances/ID/tags` (paths below /v3/{project_id}, or /v3.1/...)."""
    with api(profile) as c:
        result = c.call(method.upper(), path, json=json.loads(data) if data else None)
        if wait and isinstance(result, dict) and result.get("job_id"):
            result = {**result, "job": follow(c, str(result["job_id"]), Output.json)}
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    app.add_typer(instances_app, name="instances")
    app.add_typer(backups_app, name="backups")
    app.add_typer(restores_app, name="restores")
    app.add_typer(jobs_app, name="jobs")
    app.add_typer(users_app, name="users")
    app.add_typer(params_app, name="params")
    commands: dict[str, Callable[..., None]] = {
        "connect": connect,
        "flavors": flavors,
        "versions": versions,
        "api": raw,
    }
    for name, fn in commands.items():
        app.command(name)(fn)
