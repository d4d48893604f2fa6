"""`dds tags|logs|quotas|recycle`: the management groups of the REST API from a terminal.

Same profile, output and error handling as the resource commands (dds.cli.commands)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer

from dds.cli.commands import Output, OutputOpt, ProfileOpt, api, err, show


def _listing(
    profile: str, output: Output, path: str, params: dict[str, object], key: str, columns: tuple[str, ...]
) -> None:
    with api(profile) as c:
        data = c.call("GET", path, params=params)
        show(data, output, columns, data.get(key, []))


# --- tags -------------------------------------------------------------------------------------

tags_app = typer.Typer(help="Tags of an instance.", no_args_is_help=True)


@tags_app.command("list")
def tags_list(instance_id: str, profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    _listing(profile, output, f"/instances/{instance_id}/tags", {}, "tags", ("key", "value"))


def _pairs(values: list[str]) -> list[dict[str, str]]:
    pairs = []
    for v in values:
        key, sep, value = v.partition("=")
        if not sep:
            err.print(f"[red]error[/red] {v!r} is not KEY=VALUE")
            raise typer.Exit(2)
        pairs.append({"key": key, "value": value})
    return pairs


@tags_app.command("add")
def tags_add(
    instance_id: str, tags: list[str] = typer.Argument(..., help="KEY=VALUE pairs"), profile: str = ProfileOpt
) -> None:
    with api(profile) as c:
        c.call("POST", f"/instances/{instance_id}/tags/action", json={"action": "create", "tags": _pairs(tags)})


@tags_app.command("remove")
def tags_remove(
    instance_id: str, keys: list[str] = typer.Argument(..., help="tag keys"), profile: str = ProfileOpt
) -> None:
    body = {"action": "delete", "tags": [{"key": k} for k in keys]}
    with api(profile) as c:
        c.call("POST", f"/instances/{instance_id}/tags/action", json=body)


# --- logs -------------------------------------------------------------------------------------

logs_app = typer.Typer(help="Slow and error logs of an instance (newest first).", no_args_is_help=True)
SinceOpt = typer.Option(60, "--since", help="minutes back from now")
LimitOpt = typer.Option(20, "--limit", help="1-100 entries")


def _window(minutes: int, limit: int) -> dict[str, object]:
    end = datetime.now(UTC) + timedelta(minutes=1)
    start = end - timedelta(minutes=minutes + 1)
    stamp = "%Y-%m-%dT%H:%M:%S+0000"
    return {"start_date": start.strftime(stamp), "end_date": end.strftime(stamp), "offset": 0, "limit": limit}


@logs_app.command("slow")
def logs_slow(
    instance_id: str,
    since: int = SinceOpt,
    limit: int = LimitOpt,
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
) -> None:
    """Commands slower than the instance's slowOpThresholdMs."""
    columns = ("start_time", "time", "type", "database", "query_sample")
    _listing(profile, output, f"/instances/{instance_id}/slowlog", _window(since, limit), "slow_log_list", columns)


@logs_app.command("errors")
def logs_errors(
    instance_id: str,
    since: int = SinceOpt,
    limit: int = LimitOpt,
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
) -> None:
    """Failed commands and refused logins."""
    columns = ("time", "level", "content")
    _listing(profile, output, f"/instances/{instance_id}/errorlog", _window(since, limit), "error_log_list", columns)


# --- quotas and the recycle bin ---------------------------------------------------------------


def quotas(profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    """The project's quotas and what is used of them."""
    with api(profile) as c:
        data = c.call("GET", "/quotas")
        show(data, output, ("type", "quota", "used"), (data.get("quotas") or {}).get("resources", []))


recycle_app = typer.Typer(help="The recycle bin: deleted instances kept as a backup.", no_args_is_help=True)


@recycle_app.command("list")
def recycle_list(profile: str = ProfileOpt, output: Output = OutputOpt) -> None:
    """Deleted instances in the bin: restore one with `dds restores new NAME --backup BACKUP_ID`."""
    columns = ("id", "name", "backup_id", "deleted_at", "retained_until")
    _listing(profile, output, "/recycle-instances", {}, "instances", columns)


@recycle_app.command("policy")
def recycle_policy(
    enable: bool = typer.Option(None, "--enable/--disable", help="change the policy (omit to show it)"),
    days: int = typer.Option(None, "--days", help="retention, 1-7 days"),
    profile: str = ProfileOpt,
    output: Output = OutputOpt,
) -> None:
    with api(profile) as c:
        if enable is not None:
            policy: dict[str, object] = {"enabled": enable}
            if days is not None:
                policy["retention_period_in_days"] = days
            c.call("PUT", "/instances/recycle-policy", json={"recycle_policy": policy})
        data = c.call("GET", "/instances/recycle-policy")
        show(data, output, ("enabled", "retention_period_in_days"), [data.get("recycle_policy", {})])


def register(app: typer.Typer) -> None:
    app.add_typer(tags_app, name="tags")
    app.add_typer(logs_app, name="logs")
    app.add_typer(recycle_app, name="recycle")
    app.command("quotas")(quotas)
