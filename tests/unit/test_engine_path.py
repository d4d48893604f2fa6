"""The engine is found with no setting at all, the way `make run` starts the service; a missing
engine stops `dds serve` with one line that says what to do."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from dds.core.settings import Settings
from tests.conftest import ROOT


def test_the_default_engine_is_the_one_the_set_up_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DDS_ENGINE_BIN", raising=False)
    assert Settings().engine_path == ROOT / "bin" / "ferretdb"
    assert Settings().engine_path.is_file(), "run `make setup` first"


def test_serve_without_an_engine_says_which_file_and_how_to_build_it(tmp_path: object) -> None:
    missing = f"{tmp_path}/no-such-ferretdb"
    env = {**os.environ, "DDS_ENGINE_BIN": missing, "DDS_DATA_DIR": f"{tmp_path}/var", "DDS_PORT": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "dds.cli.main", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 1
    lines = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert missing in lines[0] and "make setup" in lines[0]
    assert not os.path.exists(f"{tmp_path}/var"), "nothing is created before the check"
