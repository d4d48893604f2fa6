"""The `dds` command-line client, run as a user would (the installed entry point, a subprocess)
against a real service: create → wait → backup → download → restore → delete, JSON parsed."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from tests.conftest import PASSWORD, ROOT, Service
from tests.helpers import connect
from tests.iam_helpers import add_tenant
from tests.pitr_support import POLICY as PITR_POLICY
from tests.pitr_support import mark, now_ms, wait_covered

DDS = str(ROOT / ".venv" / "bin" / "dds")


def run(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([DDS, *args], env=env, capture_output=True, text=True, timeout=300)
    if ok:
        assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r


def out(env: dict[str, str], *args: str) -> Any:
    return json.loads(run(env, *args, "--output", "json").stdout)


@pytest.fixture
def env(service: Service, tmp_path: Path) -> dict[str, str]:
    """Token profile from the environment (the dev token); no config file."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DDS_")}
    return {
        **clean,
        "DDS_CONFIG": str(tmp_path / "none.toml"),
        "DDS_ENDPOINT": service.url,
        "DDS_TOKEN": service.token,
        "DDS_PROJECT_ID": service.project_id,
        "DDS_INSTANCE_PASSWORD": PASSWORD,
        "COLUMNS": "200",
    }


def test_create_wait_backup_download_restore_delete(env: dict[str, str], tmp_path: Path) -> None:
    created = out(env, "instances", "create", "cli-src", "--wait")
    assert created["job"]["status"] == "Completed"
    iid = created["id"]
    shown = out(env, "instances", "show", iid)
    assert shown["status"] == "normal" and shown["name"] == "cli-src"
    with connect(shown, PASSWORD) as client:
        client.shop.items.insert_many([{"n": i} for i in range(25)])
    url = run(env, "connect", iid).stdout.strip()
    assert url.startswith("mongodb://rwuser:<password>@") and f":{shown['port']}/" in url

    backup = out(env, "backups", "create", iid, "--name", "cli-backup-1", "--wait")
    assert backup["job"]["status"] == "Completed"
    listed = out(env, "backups", "list", "--instance", iid)
    assert [b["id"] for b in listed["backups"]] == [backup["backup_id"]]
    files = run(env, "backups", "download", backup["backup_id"], "--to", str(tmp_path / "dl")).stdout.split()
    assert len(files) == 1 and files[0].endswith(".physical.tar.zst")
    with open(files[0], "rb") as f:
        assert f.read(4) == b"\x28\xb5\x2f\xfd"  # a zstd frame: the real archive, not an error page

    restored = out(env, "restores", "new", "cli-copy", "--backup", backup["backup_id"], "--wait")
    assert restored["job"]["status"] == "Completed"
    with connect(out(env, "instances", "show", restored["id"]), PASSWORD) as client:
        assert client.shop.items.count_documents({}) == 25

    table = run(env, "instances", "list").stdout
    assert "cli-src" in table and "cli-copy" in table  # the default output is a table
    for instance_id in (restored["id"], iid):
        assert out(env, "instances", "delete", instance_id, "--wait")["job"]["status"] == "Completed"
    names = [i["name"] for i in out(env, "instances", "list")["instances"]]
    assert "cli-src" not in names and "cli-copy" not in names
    assert out(env, "jobs", "list", "--name", "CreateMongoDB")["jobs"]


def test_errors_exit_non_zero_with_the_dds_code(env: dict[str, str]) -> None:
    r = run(env, "instances", "show", "no-such-instance", ok=False)
    assert r.returncode == 1 and "DBS.200002" in r.stderr
    r = run(env, "instances", "create", "x", ok=False)  # name too short
    assert r.returncode == 1 and "DBS.280234" in r.stderr
    bad = {**env, "DDS_ENDPOINT": "http://127.0.0.1:9"}
    r = run(bad, "flavors", ok=False)
    assert r.returncode == 1 and "cannot reach" in r.stderr


def test_aksk_profile_from_the_config_file(service: Service, env: dict[str, str], tmp_path: Path) -> None:
    tenant = add_tenant(service, "cli-aksk")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.team]\nendpoint = "{service.url}"\nproject_id = "{tenant.project_id}"\n'
        f'access_key = "{tenant.access_key}"\nsecret_key = "{tenant.secret_key}"\n'
    )
    signed = {k: v for k, v in env.items() if k not in ("DDS_TOKEN", "DDS_PROJECT_ID", "DDS_ENDPOINT")}
    signed["DDS_CONFIG"] = str(config)
    data = json.loads(run(signed, "instances", "list", "--profile", "team", "--output", "json").stdout)
    assert data["instances"] == []  # the new project's own (empty) list: the signature was accepted
    flavors = json.loads(run(signed, "flavors", "--profile", "team", "-o", "json").stdout)
    assert flavors["flavors"]
    wrong = config.read_text().replace(tenant.secret_key, "0" * len(tenant.secret_key))
    config.write_text(wrong)
    r = run(signed, "instances", "list", "--profile", "team", ok=False)
    assert r.returncode == 1 and ("APIGW" in r.stderr or "DBS" in r.stderr), r.stderr


def test_password_profile_gets_a_token(service: Service, env: dict[str, str], tmp_path: Path) -> None:
    tenant = add_tenant(service, "cli-pw")
    user = {k: v for k, v in env.items() if k not in ("DDS_TOKEN", "DDS_PROJECT_ID")}
    user.update({"DDS_USERNAME": tenant.user, "DDS_PASSWORD": tenant.password, "DDS_PROJECT": tenant.project_name})
    data = json.loads(run(user, "versions", "-o", "json").stdout)
    assert "4.0" in data["versions"]


def test_users_parameters_and_any_operation(env: dict[str, str]) -> None:
    created = out(env, "instances", "create", "cli-more", "--wait")
    iid = created["id"]
    run(
        {**env, "DDS_USER_PASSWORD": "Reader#2024x"}, "users", "create", iid, "reader", "--db", "shop", "--role", "read"
    )
    users = out(env, "users", "list", iid, "--db", "shop")["users"]
    assert [(u["user"], u["roles"]) for u in users] == [("reader", [{"role": "read", "db": "shop"}])]
    changed = out(env, "params", "set", iid, "operationProfiling.slowOpThresholdMs=250", "--wait")
    assert changed["restart_required"] is False and changed["job"]["status"] == "Completed"
    shown = {p["name"]: p["value"] for p in out(env, "params", "show", iid)["parameters"]}
    assert shown["operationProfiling.slowOpThresholdMs"] == "250"
    tagged = json.loads(
        run(
            env,
            "api",
            "POST",
            f"/instances/{iid}/tags/action",
            "-d",
            '{"action": "create", "tags": [{"key": "env", "value": "cli"}]}',
        ).stdout
    )
    assert tagged == {}
    assert json.loads(run(env, "api", "GET", f"/instances/{iid}/tags").stdout) == {
        "tags": [{"key": "env", "value": "cli"}]
    }
    bad = run(env, "params", "set", iid, "net.maxIncomingConnections=0", ok=False)
    assert bad.returncode == 1 and "DBS.212017" in bad.stderr
    run(env, "users", "delete", iid, "reader", "--db", "shop")
    assert out(env, "instances", "delete", iid, "--wait")["job"]["status"] == "Completed"


def test_point_in_time_ranges_new_and_onto(service: Service, env: dict[str, str]) -> None:
    """`restores times` shows what the archive covers; `restores new|onto --time` bring that moment back."""
    iid = out(env, "instances", "create", "cli-pitr", "--wait")["id"]
    policy = {"backup_policy": {**PITR_POLICY, "enable_incremental_backup": True}}
    run(env, "api", "PUT", f"/instances/{iid}/backups/policy", "-d", json.dumps(policy))
    with connect(out(env, "instances", "show", iid), PASSWORD) as client, service.client() as c:
        client.shop.items.insert_many([{"n": i} for i in range(10)])
        at = mark(c, service.path(""), iid)
        client.shop.items.insert_many([{"n": i} for i in range(10, 15)])
        wait_covered(c, service.path(""), iid, now_ms())
    day = datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d")
    ranges = out(env, "restores", "times", iid, "--date", day)["restore_time"]
    assert any(r["start_time"] <= at <= r["end_time"] for r in ranges), (at, ranges)
    assert f"{ranges[-1]['start_time']}" in run(env, "restores", "times", iid, "--date", day).stdout  # the table

    copy = out(env, "restores", "new", "cli-pitr-copy", "--source", iid, "--time", str(at), "--wait")
    assert copy["job"]["status"] == "Completed"
    with connect(out(env, "instances", "show", copy["id"]), PASSWORD) as client:
        assert client.shop.items.count_documents({}) == 10
    onto = out(env, "restores", "onto", iid, "--time", str(at), "--wait")
    assert onto["job"]["status"] == "Completed"
    with connect(out(env, "instances", "show", iid), PASSWORD) as client:
        assert sorted(d["n"] for d in client.shop.items.find()) == list(range(10))
    r = run(env, "restores", "onto", iid, "--time", "1000", ok=False)  # 1970: nothing covers it
    assert r.returncode == 1 and "DBS." in r.stderr
    for instance_id in (copy["id"], iid):
        assert out(env, "instances", "delete", instance_id, "--wait")["job"]["status"] == "Completed"


def test_tags_logs_quotas_and_recycle_bin(env: dict[str, str]) -> None:
    iid = out(env, "instances", "create", "cli-manage", "--wait")["id"]
    run(env, "tags", "add", iid, "env=cli", "team=core")
    run(env, "tags", "remove", iid, "team")
    assert out(env, "tags", "list", iid)["tags"] == [{"key": "env", "value": "cli"}]
    bad = run(env, "tags", "add", iid, "no-equals-sign", ok=False)
    assert bad.returncode == 2

    out(env, "params", "set", iid, "operationProfiling.slowOpThresholdMs=0", "--wait")
    with connect(out(env, "instances", "show", iid), PASSWORD) as client:
        client.shop.items.insert_one({"n": 1})
        with pytest.raises(OperationFailure):
            client.shop.command("noSuchCommandHere")
    slow = out(env, "logs", "slow", iid, "--limit", "100")["slow_log_list"]
    assert any(e["database"] == "shop" for e in slow), slow
    errors = out(env, "logs", "errors", iid)["error_log_list"]
    assert any("noSuchCommandHere" in e["content"] for e in errors), errors
    assert "noSuchCommandHere" in run(env, "logs", "errors", iid).stdout  # the table

    renamed = json.loads(
        run(env, "api", "PUT", f"/instances/{iid}/replica-set/name", "-d", '{"name": "cli_rs"}', "--wait").stdout
    )
    assert renamed["job"]["status"] == "Completed"
    url = run(env, "connect", iid).stdout.strip()
    assert "replicaSet=cli_rs" in url  # the instance's own name, which drivers check against `hello`
    with MongoClient(url.replace("<password>", quote_plus(PASSWORD)), serverSelectionTimeoutMS=5000) as client:
        assert client.shop.items.count_documents({}) == 1

    used = {r["type"]: r["used"] for r in out(env, "quotas")["quotas"]["resources"]}
    assert used["instance"] >= 1

    policy = out(env, "recycle", "policy", "--enable", "--days", "2")["recycle_policy"]
    assert policy == {"enabled": True, "retention_period_in_days": 2}
    try:
        assert out(env, "instances", "delete", iid, "--wait")["job"]["status"] == "Completed"
        binned = {i["id"]: i for i in out(env, "recycle", "list")["instances"]}
        assert binned[iid]["name"] == "cli-manage" and binned[iid]["backup_id"]
    finally:
        assert out(env, "recycle", "policy", "--disable")["recycle_policy"]["enabled"] is False
