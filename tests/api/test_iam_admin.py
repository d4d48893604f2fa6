"""`dds admin` through the real CLI (subprocess), on the same data directory as a service, before and while it runs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import conftest
from tests.iam_helpers import Tenant, signed

DDS = [sys.executable, "-m", "dds.cli.main"]


def dds(data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DDS_DATA_DIR": str(data_dir)}
    cmd = [*DDS, "admin", "--create-data-dir", *args]
    return subprocess.run(cmd, input=stdin, env=env, capture_output=True, text=True, timeout=60)


def test_admin_refuses_a_directory_that_is_not_a_data_directory(tmp_path: Path) -> None:
    """Run from the wrong place, `dds admin` must not start an empty store and hand out keys for it."""
    env = {**os.environ, "DDS_DATA_DIR": str(tmp_path / "nothing-here")}
    r = subprocess.run(
        [*DDS, "admin", "credentials", "create", "--project", "local-1_p1", "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2 and "not a DDS data directory" in r.stderr, r.stderr
    assert r.stdout == "" and not (tmp_path / "nothing-here").exists()


def created(data_dir: Path, project: str) -> dict[str, Any]:
    r = dds(data_dir, "credentials", "create", "--project", project, "--output", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)  # exactly one JSON object on stdout
    assert {"project_id", "access_key", "secret_key"} <= set(data)
    assert len(data["project_id"]) == 32 and int(data["project_id"], 16) >= 0
    return data  # type: ignore[no-any-return]


def test_admin_commands_before_and_while_the_service_runs(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    first = created(data_dir, "local-1_scripted")
    r = dds(
        data_dir,
        "user",
        "create",
        "--project",
        "local-1_scripted",
        "--name",
        "ops",
        "--password-stdin",
        stdin="Ops#Pass_123\n",
    )
    assert r.returncode == 0, r.stderr
    assert "Ops#Pass_123" not in r.stdout + r.stderr

    svc, stop = conftest.run_service(conftest.test_settings(data_dir))
    try:
        tenant = Tenant(
            svc.url,
            first["project_id"],
            "local-1_scripted",
            first["access_key"],
            first["secret_key"],
            "ops",
            "Ops#Pass_123",
        )
        assert signed(tenant, "GET", "/instances").json() == {"instances": [], "total_count": 0}
        token = tenant.token()
        assert httpx.get(f"{svc.url}{tenant.path('/instances')}", headers={"X-Auth-Token": token}).status_code == 200

        # While it runs: a new key for the demo project the service created on first start.
        demo = created(data_dir, "local-1")
        assert demo["project_id"] == svc.project_id
        demo_tenant = Tenant(svc.url, demo["project_id"], "local-1", demo["access_key"], demo["secret_key"], "", "")
        assert signed(demo_tenant, "GET", "/instances").status_code == 200

        # Listing never shows secrets; deleting a key revokes it.
        r = dds(data_dir, "credentials", "list", "--output", "json")
        assert first["access_key"] in r.stdout and first["secret_key"] not in r.stdout
        assert dds(data_dir, "credentials", "delete", demo["access_key"]).returncode == 0
        svc.parts.settings.auth_cache_seconds = 0
        assert signed(demo_tenant, "GET", "/instances").status_code == 401
    finally:
        stop()


@pytest.mark.parametrize(
    "args,stdin",
    [
        (["user", "create", "--project", "local-1_p1", "--name", "short", "--password-stdin"], "short\n"),
        (["user", "create", "--project", "bad name!", "--name", "u", "--password-stdin"], "Long#Enough_1\n"),
        (["credentials", "create", "--project", ""], None),
        (["credentials", "create", "--project", "team-a"], None),  # no region: Terraform would find no endpoint
        (["credentials", "create", "--project", "local-1-team"], None),
        (["credentials", "create", "--project", "local-1_"], None),
    ],
)
def test_admin_rejects_bad_input_without_side_effects(tmp_path: Path, args: list[str], stdin: str | None) -> None:
    r = dds(tmp_path, *args, stdin=stdin)
    assert r.returncode == 1 and "DBS.200001" in r.stderr, (r.stdout, r.stderr)
    projects = dds(tmp_path, "project", "list", "--output", "json")
    assert json.loads(projects.stdout) == []


def test_user_names_are_unique_across_projects(tmp_path: Path) -> None:
    ok = dds(
        tmp_path,
        "user",
        "create",
        "--project",
        "local-1_one",
        "--name",
        "sam",
        "--password-stdin",
        stdin="Sam#Pass_12\n",
    )
    assert ok.returncode == 0, ok.stderr
    clash = dds(
        tmp_path,
        "user",
        "create",
        "--project",
        "local-1_two",
        "--name",
        "sam",
        "--password-stdin",
        stdin="Sam#Pass_12\n",
    )
    assert clash.returncode == 1 and "another project" in clash.stderr


def test_quota_set_and_show(tmp_path: Path) -> None:
    created(tmp_path, "local-1_quota-team")
    r = dds(tmp_path, "quota", "set", "--project", "local-1_quota-team", "--instances", "3", "--backups", "7")
    assert r.returncode == 0, r.stderr
    r = dds(tmp_path, "quota", "show", "--project", "local-1_quota-team")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"instances": 3, "volume_gb": 10000, "backups": 7}  # volume: the default
    assert dds(tmp_path, "quota", "show", "--project", "nobody").returncode == 1


def test_project_names_carry_the_region_and_old_ones_can_be_renamed(tmp_path: Path) -> None:
    """`<region>` and `<region>_<name>` are made; a name of another form is refused with what to
    use instead; a project of an earlier release keeps its name until renamed (id and keys stay)."""
    r = dds(tmp_path, "credentials", "create", "--project", "team-a", "--output", "json")
    assert r.returncode == 1 and "'local-1_<name>'" in r.stderr and "Terraform" in r.stderr, r.stderr
    assert created(tmp_path, "local-1")["project_name"] == "local-1"
    made = created(tmp_path, "local-1_team-a")
    with sqlite3.connect(tmp_path / "meta.db") as db:  # as an earlier release named it
        db.execute("update projects set name = 'team-a' where id = ?", (made["project_id"],))
    again = created(tmp_path, "team-a")  # an existing project: its name is kept and it still works
    assert again["project_id"] == made["project_id"]
    assert dds(tmp_path, "project", "rename", "team-a", "team-b").returncode == 1  # the new name must fit too
    assert dds(tmp_path, "project", "rename", "team-a", "local-1").returncode == 1  # taken
    renamed = dds(tmp_path, "project", "rename", "team-a", "local-1_team-a")
    assert renamed.returncode == 0, renamed.stderr
    listed = {p["name"]: p["id"] for p in json.loads(dds(tmp_path, "project", "list", "--output", "json").stdout)}
    assert listed == {"local-1": listed["local-1"], "local-1_team-a": made["project_id"]}
