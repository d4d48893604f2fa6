"""Bad input gets a DDS error body with the documented code, and changes nothing."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.conftest import PASSWORD, Service
from tests.helpers import engine_pids

GOOD: dict[str, Any] = {
    "name": "badinput-ok",
    "datastore": {"type": "DDS-Community", "version": "4.0", "storage_engine": "wiredTiger"},
    "region": "r",
    "availability_zone": "az",
    "vpc_id": "v",
    "subnet_id": "s",
    "security_group_id": "g",
    "password": PASSWORD,
    "mode": "ReplicaSet",
    "flavor": [
        {
            "type": "replica",
            "num": 1,
            "storage": "ULTRAHIGH",
            "size": "10",
            "spec_code": "dds.mongodb.s2.medium.4.repset",
        }
    ],
}


def _with(path: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(GOOD)
    target = body
    keys = path.split(".")
    for k in keys[:-1]:
        target = target[int(k)] if k.isdigit() else target[k]
    target[keys[-1]] = value
    return body


CASES = [
    ("short password", _with("password", "Ab#1"), "DBS.200052"),
    ("two classes", _with("password", "abcdefgh12"), "DBS.200052"),
    ("bad char in password", _with("password", "Abc#12345 "), "DBS.200052"),
    ("name too short", _with("name", "ab"), "DBS.280234"),
    ("name starts with digit", _with("name", "1abc"), "DBS.280234"),
    ("name bad char", _with("name", "abc$def"), "DBS.280234"),
    ("unknown flavor", _with("flavor.0.spec_code", "dds.mongodb.zz.huge.9.repset"), "DBS.280239"),
    ("single flavor in replica set", _with("flavor.0.spec_code", "dds.mongodb.s2.medium.4.single"), "DBS.280239"),
    ("unknown version", _with("datastore.version", "9.9"), "DBS.280236"),
    ("unknown engine", _with("datastore.type", "MySQL"), "DBS.280235"),
    ("unknown mode", _with("mode", "Galaxy"), "DBS.280342"),
    ("sharding unsupported", _with("mode", "Sharding"), "DBS.280342"),
    ("size not multiple of 10", _with("flavor.0.size", "15"), "DBS.200302"),
    ("size out of range", _with("flavor.0.size", "99990"), "DBS.280242"),
    ("bad keep_days", _with("backup_strategy", {"start_time": "01:00-02:00", "keep_days": "9999"}), "DBS.280214"),
    ("bad window", _with("backup_strategy", {"start_time": "01:00-05:00"}), "DBS.280216"),
    ("bad port", _with("port", "80"), "DBS.200001"),
    ("wrong type", _with("flavor", "not-a-list"), "DBS.200001"),
]


@pytest.mark.parametrize("label,body,code", CASES, ids=[c[0] for c in CASES])
def test_create_rejects_bad_input(service: Service, label: str, body: dict[str, Any], code: str) -> None:
    with service.client() as c:
        before = c.get(service.path("/instances")).json()["total_count"]
        r = c.post(service.path("/instances"), json=body)
        assert r.status_code == 400, r.text
        assert r.json()["error_code"] == code, r.json()
        assert r.json()["error_msg"]
        assert c.get(service.path("/instances")).json()["total_count"] == before
    assert "Sharding" not in label or "not supported" in r.json()["error_msg"]


def test_malformed_json_is_a_dds_error(service: Service) -> None:
    with service.client() as c:
        r = c.post(service.path("/instances"), content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error_code"] == "DBS.200001"


def test_auth_and_project_errors(service: Service) -> None:
    with service.client(**{"X-Auth-Token": "nope"}) as c:
        r = c.get(service.path("/instances"))
    assert r.status_code == 401 and r.json()["error_code"] == "DBS.280056"
    with service.client() as c:
        r = c.get("/v3/0123456789abcdef0123456789abcdef/instances")
    assert r.status_code == 403 and set(r.json()) == {"error_code", "error_msg"}


def test_unknown_resources_are_404(service: Service) -> None:
    missing = "0" * 32 + "in02"
    with service.client() as c:
        for method, rest, body in [
            ("DELETE", f"/instances/{missing}", None),
            ("POST", f"/instances/{missing}/restart", {}),
            ("PUT", f"/instances/{missing}/modify-name", {"new_instance_name": "abcd"}),
            ("GET", f"/instances/{missing}/disk-usage", None),
            ("GET", "/jobs?id=00000000-0000-0000-0000-000000000000", None),
        ]:
            r = c.request(method, service.path(rest), json=body)
            assert r.status_code == 404, (rest, r.text)
            assert r.json()["error_code"] in ("DBS.200002", "DBS.280016")
        r = c.get("/v3/nothing/here/at/all")
        assert r.status_code == 404 and "error_code" in r.json()


def test_state_conflicts_and_port_in_use(service: Service) -> None:
    a = service.create_instance("conflict-a")
    b = service.create_instance("conflict-b")
    with service.client() as c:
        # While creating, restart is not allowed (DDS: 403 DBS.200011).
        r = c.post(service.path(f"/instances/{a['id']}/restart"), json={})
        if r.status_code == 202:
            # The create job was already done: the restart ran; let it finish.
            assert service.wait_job(r.json()["job_id"])["status"] == "Completed"
        else:
            assert r.status_code == 403 and r.json()["error_code"] == "DBS.200011", r.text
        assert service.wait_job(a["job_id"])["status"] == "Completed"
        assert service.wait_job(b["job_id"])["status"] == "Completed"
        r = c.post(service.path(f"/instances/{a['id']}/modify-port"), json={"port": b["port"]})
        assert r.status_code == 409, r.text
        assert service.instance(a["id"])["port"] == str(a["port"])
        r = c.put(service.path(f"/instances/{a['id']}/reset-password"), json={"user_pwd": "weak"})
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.200052"
        r = c.post(service.path(f"/instances/{a['id']}/enlarge-volume"), json={"volume": {"size": 10}})
        assert r.status_code == 400
        r = c.post(
            service.path(f"/instances/{a['id']}/resize"),
            json={"resize": {"target_id": a["id"], "target_spec_code": "dds.mongodb.s2.medium.4.single"}},
        )
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.280239"
        r = c.delete(service.path(f"/instances/{a['id']}"))
        assert r.status_code == 202
        r2 = c.delete(service.path(f"/instances/{a['id']}"))
        assert r2.status_code in (403, 404)  # deleting, or already gone
        service.wait_job(r.json()["job_id"])
    service.delete_instance(b["id"])
    assert not engine_pids(service.parts.settings.instances_dir / a["id"])
