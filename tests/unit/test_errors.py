"""The one error table against the DDS API reference's error-code appendix (docs/dds-reference-notes.md §6, §6.1)."""

from __future__ import annotations

import re

from dds.core.errors import error_table
from tests.conftest import ROOT

#: Deliberate departures from the appendix, each with its reason. Anything else must match it exactly.
DEVIATIONS: dict[str, tuple[str, int, str]] = {
    "NotFound": ("DBS.280016", 404, "absent and other projects' resources answer 404 (issue 4); appendix: 400"),
    "JobNotFound": ("DBS.280016", 404, "as NotFound"),
    "BackupNotFound": ("DBS.201204", 404, "as NotFound; appendix: 400"),
    "PortInUse": ("DBS.200001", 409, "HTTP conflict for a taken port; appendix has no port code"),
    "RangeNotSatisfiable": ("DBS.200001", 416, "HTTP Range on backup download; not a DDS API case"),
    "QuotaExceeded": ("DBS.200046", 413, "DDS documents no quota code; RDS's shared DBS code"),
}


def appendix() -> dict[str, set[int]]:
    text = (ROOT / "docs" / "dds-reference-notes.md").read_text()
    section = text[text.index("## 6. DDS error codes") : text.index("## 7. Enumerations")]
    codes: dict[str, set[int]] = {}
    for status, code in re.findall(r"^\| (\d{3}) \| (DBS\.\d{6}) \|", section, flags=re.M):
        codes.setdefault(code, set()).add(int(status))
    assert "HTTP **401**" in section and "APIGW.0301" in section  # gateway authentication failures, §6.1
    codes["APIGW.0301"] = {401}
    assert len(codes) > 100
    return codes


def test_every_error_type_maps_to_the_appendix() -> None:
    documented = appendix()
    for cls, code, status, message in error_table():
        if cls.__name__ in DEVIATIONS:
            assert DEVIATIONS[cls.__name__][:2] == (code, status), cls
            continue
        assert code in documented, f"{cls.__name__}: {code} is not in the DDS error-code appendix"
        assert status in documented[code], f"{cls.__name__}: {code} is {documented[code]} there, not {status}"
        assert message


def test_every_error_body_has_code_and_message() -> None:
    for cls, code, _, _ in error_table():
        body = cls().body()
        assert body["error_code"] == code and body["error_msg"], cls
