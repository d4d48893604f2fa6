"""The README's configuration table names every setting the service reads (and no other)."""

from __future__ import annotations

import re

from dds.core.settings import Settings
from tests.conftest import ROOT


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`DDS_([A-Z0-9_]+)`", section))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - documented == set(), "settings missing from the README's Configuration table"
    assert documented - fields == set(), "README documents settings that do not exist"
