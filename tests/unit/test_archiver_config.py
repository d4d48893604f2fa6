"""Rendering litestream's config and launch: paths per incarnation, secrets only in the environment."""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

from dds.archiver.catalog import Incarnation
from dds.archiver.config import (
    ArchiveConfig,
    DirReplica,
    S3Replica,
    SidecarPlan,
    launch,
    render,
    replica_url,
    secrets_env,
    write_config,
)

INCS = (
    Incarnation(name="app", id="0000000001000-a", created_ms=1000, ino=10),
    Incarnation(name="admin", id="0000000000500-b", created_ms=500, ino=11),
)
PLAN = SidecarPlan(heartbeat_id="0000000000400-c", incarnations=INCS)


def _s3_config(tmp_path: Path) -> ArchiveConfig:
    replica = S3Replica(
        bucket="pitr",
        prefix="/inst-1/node-1/",
        endpoint="http://127.0.0.1:9000",
        access_key="AKIA1",
        secret_key="s3cr3t!",
    )
    return ArchiveConfig(data_dir=tmp_path / "data", state_dir=tmp_path / "archiver", replica=replica)


def test_dir_replica_config(tmp_path: Path) -> None:
    config = ArchiveConfig(
        data_dir=tmp_path / "data",
        state_dir=tmp_path / "archiver",
        replica=DirReplica(tmp_path / "replica"),
        sync_interval=timedelta(milliseconds=250),
        retention=timedelta(days=2),
        snapshot_interval=timedelta(hours=6),
    )
    doc = yaml.safe_load(render(config, PLAN))
    assert doc["l0-retention"] == doc["snapshot"]["retention"] == f"{(48 + 6) * 3600 * 1000}ms"
    assert doc["snapshot"]["interval"] == f"{6 * 3600 * 1000}ms"
    by_path = {d["path"]: d for d in doc["dbs"]}
    assert set(by_path) == {
        str((tmp_path / "archiver/heartbeat.db").resolve()),
        str((tmp_path / "data/app.sqlite").resolve()),
        str((tmp_path / "data/admin.sqlite").resolve()),
    }
    app = by_path[str((tmp_path / "data/app.sqlite").resolve())]
    assert app["replica"] == {
        "type": "file",
        "path": str((tmp_path / "replica/dbs/app/0000000001000-a").resolve()),
        "sync-interval": "250ms",
    }
    # litestream's own state for each incarnation stays out of the engine's data directory
    assert app["meta-path"] == str((tmp_path / "archiver/meta/dbs/app/0000000001000-a").resolve())
    assert app["monitor-interval"] == "500ms"


def test_s3_config_has_no_secrets_and_launch_passes_them_in_env(tmp_path: Path) -> None:
    config = _s3_config(tmp_path)
    text = render(config, PLAN)
    assert "s3cr3t" not in text and "AKIA1" not in text
    doc = yaml.safe_load(text)
    replica = next(d for d in doc["dbs"] if d["path"].endswith("app.sqlite"))["replica"]
    assert replica == {
        "type": "s3",
        "bucket": "pitr",
        "path": "inst-1/node-1/dbs/app/0000000001000-a",
        "region": "us-east-1",
        "endpoint": "http://127.0.0.1:9000",
        "force-path-style": True,
        "sync-interval": "1000ms",
    }
    spec = launch(config, python="/venv/bin/python")
    assert not any("s3cr3t" in a or "AKIA1" in a for a in spec.argv)
    assert spec.env["LITESTREAM_SECRET_ACCESS_KEY"] == spec.env["AWS_SECRET_ACCESS_KEY"] == "s3cr3t!"
    assert spec.env["LITESTREAM_ACCESS_KEY_ID"] == "AKIA1"
    assert spec.argv[1:5] == ["replicate", "-config", str(config.config_path.resolve()), "-no-expand-env"]
    beat = spec.argv[spec.argv.index("-exec") + 1]
    assert beat.startswith("/venv/bin/python -m dds.archiver.heartbeat ") and beat.endswith(" 1000")


def test_paths_are_quoted_for_yaml_and_the_exec_line(tmp_path: Path) -> None:
    odd = tmp_path / 'we ird: $HOME "dir"'
    config = ArchiveConfig(data_dir=odd / "data", state_dir=odd / "st", replica=DirReplica(odd / "rep"))
    doc = yaml.safe_load(render(config, PLAN))
    assert any(d["path"] == str((odd / "data/app.sqlite").resolve()) for d in doc["dbs"])
    assert "'" in launch(config).argv[-1]  # shell-quoted for litestream's shellwords split


def test_write_config_is_owner_only(tmp_path: Path) -> None:
    path = write_config(_s3_config(tmp_path), PLAN)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_replica_urls_for_restore(tmp_path: Path) -> None:
    assert replica_url(DirReplica(tmp_path / "r"), "dbs/app/1-a") == f"file://{(tmp_path / 'r/dbs/app/1-a').resolve()}"
    url = urlsplit(replica_url(_s3_config(tmp_path).replica, "dbs/app/1-a"))
    assert (url.scheme, url.netloc, url.path) == ("s3", "pitr", "/inst-1/node-1/dbs/app/1-a")
    assert parse_qs(url.query) == {
        "region": ["us-east-1"],
        "endpoint": ["http://127.0.0.1:9000"],
        "forcePathStyle": ["true"],
    }


def test_ca_bundle_is_blanked_for_s3_only(tmp_path: Path) -> None:
    assert secrets_env(DirReplica(tmp_path)) == {}
    assert secrets_env(S3Replica(bucket="b"))["AWS_CA_BUNDLE"] == ""
