"""The README's quickstart, run literally as a newcomer would.

`dds serve` (the console command `make run` starts) runs as a child process in a directory of its
own, with its data where the README's default puts it (`./var`, a relative path) and only the
settings the README names for a second service on one machine — free ports — and nothing from the
other tiers' fixtures (no data directory, no engine path, no short intervals). The README's own shell commands are read
out of README.md and run by bash with its placeholders filled in; where the README changes, this
tier follows it (and fails when a command no longer works).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest
from pymongo import MongoClient
from tests.conftest import ROOT
from tests.helpers import ServiceProcess, wait_job

README = (ROOT / "README.md").read_text()
VENV_BIN = ROOT / ".venv" / "bin"
MONGOSH = ROOT / "tests" / "js" / "node_modules" / ".bin" / "mongosh"
PASSWORD = "Test#Pass_01"  # the README's


def sh_block(containing: str) -> list[str]:
    """The commands of the README's `sh` block that contains `containing`: comment lines
    dropped, a command that goes on over several lines (an open quote, a trailing backslash)
    joined into one."""
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", README, re.S) if containing in b]
    assert len(blocks) == 1, f"the README has no single sh block with {containing!r}"
    commands: list[str] = []
    current = ""
    for line in blocks[0].splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current += line + "\n"
        if current.count("'") % 2 == 0 and not line.rstrip().endswith("\\"):
            commands.append(current.strip())
            current = ""
    assert not current, f"unterminated command in the README: {current!r}"
    return commands


def the(commands: list[str], marker: str) -> str:
    found = [c for c in commands if marker in c]
    assert len(found) == 1, f"the README should have one command with {marker!r}: {found}"
    return found[0]


class Newcomer:
    """A shell in which the README's commands run against the service under test."""

    def __init__(self, service: ServiceProcess, project_id: str) -> None:
        self.service = service
        self.project_id = project_id
        self.env = {**service.env, "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}

    def fill(self, command: str, **placeholders: str) -> str:
        command = command.replace("http://127.0.0.1:8080", self.service.url)
        for name, value in placeholders.items():
            command = command.replace(f"<{name}>", value)
        assert not re.search(r"<[a-z ]+>", command.replace("<password>", "")), command
        return command

    def sh(self, command: str, **placeholders: str) -> str:
        script = f"set -euo pipefail\nP={self.project_id}\n{self.fill(command, **placeholders)}"
        r = subprocess.run(["bash", "-c", script], env=self.env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (script, r.stdout, r.stderr)
        return r.stdout

    def json(self, command: str, **placeholders: str) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(self.sh(command, **placeholders))
        assert "error_code" not in out, out
        return out

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.service.url}/v3/{self.project_id}", headers={"X-Auth-Token": "dds-dev-token"}, timeout=60
        )

    def wait_job(self, job_id: str, timeout: float = 180) -> dict[str, Any]:
        with self.api() as api:
            return wait_job(api, job_id, timeout)

    def instance(self, instance_id: str) -> dict[str, Any]:
        with self.api() as api:
            items: list[dict[str, Any]] = api.get("/instances", params={"id": instance_id}).json()["instances"]
        assert len(items) == 1, items
        return items[0]


@pytest.fixture(scope="module")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Newcomer]:
    service = ServiceProcess(tmp_path_factory.mktemp("quickstart"), readme_only=True)
    service.start()
    try:
        yield Newcomer(service, service.project_id())
    finally:
        service.stop()


def test_the_readme_quickstart_end_to_end(newcomer: Newcomer) -> None:
    """Create as the README says, connect with mongosh and pymongo by the printed connection
    strings, back up, download by the link, restore to a new instance and onto the original,
    delete."""
    quick = sh_block("P=<project id printed by make run>")
    created = newcomer.json(the(quick, "-X POST"))
    assert newcomer.wait_job(created["job_id"])["status"] == "Completed"
    listed = newcomer.json(the(quick, '"http://127.0.0.1:8080/v3/$P/instances"'))
    (inst,) = [i for i in listed["instances"] if i["id"] == created["id"]]
    assert inst["status"] == "normal" and PASSWORD in the(quick, "-X POST")

    mongosh = the(quick, "mongosh ").replace("mongosh ", f"{MONGOSH} --quiet --eval 'db.runCommand({{ping: 1}}).ok' ")
    assert newcomer.sh(mongosh, port=str(inst["port"])).strip() == "1"

    client_block = sh_block("dds connect <instance id>")
    export = the(client_block, "export DDS_ENDPOINT=")
    url = newcomer.sh(f"{export}\n{the(client_block, 'dds connect')}", **{"instance id": inst["id"]}).strip()
    url = url.replace("<password>", quote_plus(PASSWORD))
    assert newcomer.sh(f"{MONGOSH} --quiet --eval 'db.runCommand({{ping: 1}}).ok' '{url}'").strip() == "1"
    with MongoClient(url, serverSelectionTimeoutMS=10000) as client:
        client.shop.orders.insert_many([{"n": i} for i in range(100)])

    backups = sh_block("B=http://127.0.0.1:8080/v3/$P")
    prelude = backups[0]
    taken = newcomer.json(f"{prelude}\n{the(backups, '/backups -d')}", id=inst["id"])
    assert newcomer.wait_job(taken["job_id"])["status"] == "Completed"
    links = newcomer.json(
        f"{prelude}\n{the(backups, 'download-file')}", id=inst["id"], **{"backup id": taken["backup_id"]}
    )
    archive = httpx.get(links["files"][0]["download_link"], timeout=60)
    assert archive.status_code == 200 and len(archive.content) > 0
    with MongoClient(url, serverSelectionTimeoutMS=10000) as client:
        client.shop.orders.insert_many([{"n": i} for i in range(100, 150)])  # after the backup

    restored = newcomer.json(f"{prelude}\n{the(backups, 'restore_point')}", **{"backup id": taken["backup_id"]})
    assert newcomer.wait_job(restored["job_id"])["status"] == "Completed"
    copy = newcomer.instance(restored["id"])
    copy_url = url.replace(f":{inst['port']}/", f":{copy['port']}/")
    with MongoClient(copy_url, serverSelectionTimeoutMS=10000) as client:
        assert client.shop.orders.count_documents({}) == 100

    onto = newcomer.json(
        f"{prelude}\n{the(backups, '/instances/recovery')}", id=inst["id"], **{"backup id": taken["backup_id"]}
    )
    assert newcomer.wait_job(onto["job_id"])["status"] == "Completed"
    with MongoClient(url, serverSelectionTimeoutMS=10000) as client:
        assert client.shop.orders.count_documents({}) == 100

    delete = the(client_block, "dds instances delete")
    for instance_id in (inst["id"], copy["id"]):
        newcomer.sh(f"{export}\n{delete}", **{"instance id": instance_id})
    with newcomer.api() as api:
        assert api.get("/instances").json()["total_count"] == 0
