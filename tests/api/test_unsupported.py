"""Documented DDS operations this service cannot offer answer why (DBS.280342), after the usual
404 for an instance or node the project does not have; the one-position switches answer truly."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from dds.domain.unsupported import OPERATIONS
from tests.conftest import Service

MISSING = "0" * 32


@pytest.fixture(scope="module")
def instance(service: Service) -> Iterator[dict[str, Any]]:
    with service.ready_instance("not-offered") as inst:
        yield inst


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_refused_with_the_reason_and_nothing_changed(service: Service, instance: dict[str, Any], op: Any) -> None:
    node_id = instance["groups"][0]["nodes"][0]["id"]
    own = {"project_id": service.project_id, "instance_id": instance["id"], "node_id": node_id}

    def url(values: dict[str, str]) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "start"), op.path)

    before = service.instance(instance["id"])
    with service.client() as c:
        r = c.request(op.method, url(own), json={} if op.method in ("POST", "PUT") else None)
        assert r.status_code == 400, r.text
        assert r.json() == {"error_code": "DBS.280342", "error_msg": op.reason}
        for missing in ("instance_id", "node_id"):
            if "{" + missing + "}" in op.path:
                r = c.request(op.method, url({**own, missing: MISSING}), json={} if op.method != "GET" else None)
                assert r.status_code == 404, (missing, r.text)
    after = service.instance(instance["id"])
    assert {k: after[k] for k in ("status", "port", "groups")} == {k: before[k] for k in ("status", "port", "groups")}


def test_switches_with_one_position(service: Service, instance: dict[str, Any]) -> None:
    base = service.path(f"/instances/{instance['id']}")
    with service.client() as c:
        assert c.get(f"{base}/monitoring-by-seconds/switch").json() == {"enabled": False}
        assert c.put(f"{base}/monitoring-by-seconds/switch", json={"enabled": False}).status_code == 200
        r = c.put(f"{base}/monitoring-by-seconds/switch", json={"enabled": True})
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.280342" and "/metrics" in r.json()["error_msg"]
        r = c.put(f"{base}/monitoring-by-seconds/switch", json={})
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001"

        assert c.get(f"{base}/slowlog-desensitization/status").json() == {"status": "on"}
        assert c.put(f"{base}/slowlog-desensitization/on").status_code == 200
        r = c.put(f"{base}/slowlog-desensitization/off")
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.280342"
        r = c.put(f"{base}/slowlog-desensitization/maybe")
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001"

        assert c.get(f"{base}/migrate/az").json() == {"az_list": []}
        lts = c.get(service.path("/instances/logs/lts-configs"))
        assert lts.json() == {"instance_lts_configs": [], "total_count": 0}
        assert c.get(service.path("/instances/logs/lts-configs"), params={"limit": 0}).status_code == 400
        missing = service.path(f"/instances/{MISSING}")
        for path in ("monitoring-by-seconds/switch", "slowlog-desensitization/status", "migrate/az"):
            r = c.get(f"{missing}/{path}")
            assert r.status_code == 404 and r.json()["error_code"] == "DBS.200002", (path, r.text)
