"""Tenant isolation: a caller of project A can neither see nor touch anything of project B.

Two ways in are tried for every route group: B's resource ids under A's own
path (must look absent: 404, or an empty listing), and B's project id in the
path (403). After every attempt B's resources are checked unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from dds.api.deps import current_project
from tests.client_support import BACKUPS, BACKUPS_REASON, api_routes, has_route
from tests.conftest import PASSWORD, Service
from tests.iam_helpers import Tenant, add_tenant, password_auth

#: The tenant API. (Signed backup download links, /backup-files/..., carry their own signature instead.)
_SCOPED = re.compile(r"^/v3(\.1)?/\{project_id\}/")


@pytest.fixture(scope="module")
def a(service: Service) -> Tenant:
    return add_tenant(service, "iso-a")


@pytest.fixture(scope="module")
def b(service: Service) -> Tenant:
    return add_tenant(service, "iso-b")


@pytest.fixture(scope="module")
def a_client(a: Tenant) -> Iterator[httpx.Client]:
    with a.token_client() as c:
        yield c


@pytest.fixture(scope="module")
def b_client(b: Tenant) -> Iterator[httpx.Client]:
    with b.token_client() as c:
        yield c


def _wait(c: httpx.Client, t: Tenant, job_id: str) -> dict[str, Any]:
    import time

    for _ in range(900):
        job = c.get(t.path("/jobs"), params={"id": job_id}).json()["job"]
        if job["status"] != "Running":
            return job  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError("job did not finish")


@pytest.fixture(scope="module")
def b_instance(service: Service, b: Tenant, b_client: httpx.Client) -> Iterator[dict[str, Any]]:
    body = {
        "name": "iso-b-single",
        "datastore": {"type": "DDS-Community", "version": "4.0", "storage_engine": "wiredTiger"},
        "region": "local-1",
        "availability_zone": "local-1a",
        "vpc_id": "v",
        "subnet_id": "s",
        "security_group_id": "g",
        "password": PASSWORD,
        "mode": "Single",
        "flavor": [
            {
                "type": "single",
                "num": 1,
                "storage": "ULTRAHIGH",
                "size": "10",
                "spec_code": "dds.mongodb.s2.medium.4.single",
            }
        ],
    }
    r = b_client.post(b.path("/instances"), json=body)
    assert r.status_code == 202, r.text
    created = r.json()
    assert _wait(b_client, b, created["job_id"])["status"] == "Completed"
    yield created
    r = b_client.delete(b.path(f"/instances/{created['id']}"))
    assert r.status_code == 202, r.text
    _wait(b_client, b, r.json()["job_id"])


def snapshot(c: httpx.Client, t: Tenant, instance_id: str) -> dict[str, Any]:
    r = c.get(t.path("/instances"), params={"id": instance_id})
    assert r.status_code == 200 and r.json()["total_count"] == 1, r.text
    inst = r.json()["instances"][0]
    return {k: inst[k] for k in ("name", "status", "port", "remark", "actions", "groups")}


def test_every_project_route_checks_the_caller() -> None:
    """Structural: each `/v3*/{project_id}/...` route depends on `current_project`,
    so groups added later are covered without editing this test."""
    scoped = [r for r in api_routes() if _SCOPED.match(r.path)]
    assert len(scoped) >= 15
    for route in scoped:
        calls = set()
        stack = list(route.dependant.dependencies)
        while stack:
            dep = stack.pop()
            calls.add(dep.call)
            stack.extend(dep.dependencies)
        assert current_project in calls, f"{route.methods} {route.path} does not check the caller's project"


def _routes() -> list[tuple[str, str]]:
    return sorted((m, r.path) for r in api_routes() if _SCOPED.match(r.path) for m in r.methods)


@pytest.mark.parametrize("method,path", _routes())
def test_other_projects_path_is_403_and_no_credentials_401(
    method: str, path: str, a_client: httpx.Client, b: Tenant, service: Service
) -> None:
    url = re.sub(r"\{(\w+)\}", lambda m: b.project_id if m[1] == "project_id" else "x" * 36, path)
    body = {} if method in ("POST", "PUT") else None
    r = a_client.request(method, url, json=body)
    assert r.status_code == 403, (method, url, r.text)
    assert set(r.json()) >= {"error_code", "error_msg"}
    r = httpx.request(method, service.url + url, json=body)
    assert r.status_code == 401 and r.json()["error_code"] == "APIGW.0301", (method, url, r.text)


def test_instances_and_jobs_of_b_are_invisible_to_a(
    a: Tenant, a_client: httpx.Client, b: Tenant, b_client: httpx.Client, b_instance: dict[str, Any]
) -> None:
    iid, job = b_instance["id"], b_instance["job_id"]
    before = snapshot(b_client, b, iid)
    c = a_client

    # Read
    assert c.get(a.path("/instances"), params={"id": iid}).json() == {"instances": [], "total_count": 0}
    assert all(i["id"] != iid for i in c.get(a.path("/instances")).json()["instances"])
    assert c.get(a.path(f"/instances/{iid}/disk-usage")).status_code == 404
    for rest, params in [  # point-in-time recovery reads
        ("restore-time", {"date": "2026-01-01"}),
        ("restore-database", {"restore_time": "1"}),
        ("restore-collection", {"db_name": "app", "restore_time": "1"}),
        ("backups/policy", {}),
    ]:
        r = c.get(a.path(f"/instances/{iid}/{rest}"), params=params)
        assert r.status_code == 404, (rest, r.text)
    r = c.get(a.path("/jobs"), params={"id": job})
    assert r.status_code == 404 and r.json()["error_code"] == "DBS.280016"
    assert c.get(f"/v3.1/{a.project_id}/jobs", params={"id": job}).json()["total_count"] == 0
    # Change and delete
    for method, rest, body in [
        ("PUT", f"/instances/{iid}/modify-name", {"new_instance_name": "stolen"}),
        ("PUT", f"/instances/{iid}/remark", {"remark": "stolen"}),
        ("POST", f"/instances/{iid}/modify-port", {"port": 8636}),
        ("PUT", f"/instances/{iid}/reset-password", {"user_pwd": "Other#Pass_2"}),
        ("POST", f"/instances/{iid}/restart", {}),
        ("POST", f"/instances/{iid}/enlarge-volume", {"volume": {"size": 20}}),
        (
            "POST",
            f"/instances/{iid}/resize",
            {
                "resize": {
                    "target_type": "single",
                    "target_id": iid,
                    "target_spec_code": "dds.mongodb.s2.large.4.single",
                }
            },
        ),
        (
            "POST",
            f"/instances/{iid}/restore/collections",
            {
                "restore_collections": [
                    {"database": "app", "restore_database_time": "1", "collections": [{"old_name": "c"}]}
                ]
            },
        ),
        (
            "PUT",
            f"/instances/{iid}/backups/policy",
            {"backup_policy": {"keep_days": "7", "start_time": "01:00-02:00", "enable_incremental_backup": True}},
        ),
        ("DELETE", f"/instances/{iid}", None),
    ]:
        r = c.request(method, a.path(rest), json=body)
        assert r.status_code == 404, (method, rest, r.text)
        assert r.json()["error_code"] == "DBS.200002"
    assert snapshot(b_client, b, iid) == before
    assert _wait(b_client, b, job)["status"] == "Completed"  # B still sees its job


@pytest.mark.skipif(not BACKUPS, reason=BACKUPS_REASON)
def test_backups_downloads_and_restores_of_b_are_invisible_to_a(
    a: Tenant,
    a_client: httpx.Client,
    b: Tenant,
    b_client: httpx.Client,
    b_instance: dict[str, Any],
) -> None:
    iid = b_instance["id"]
    r = b_client.post(b.path("/backups"), json={"backup": {"instance_id": iid, "name": "iso-b-backup"}})
    assert r.status_code == 200, r.text
    bid = r.json()["backup_id"]
    assert _wait(b_client, b, r.json()["job_id"])["status"] == "Completed"
    before_instance = snapshot(b_client, b, iid)
    before_backups = b_client.get(b.path("/backups"), params={"instance_id": iid}).json()
    c = a_client

    # Read
    assert c.get(a.path("/backups"), params={"instance_id": iid}).json().get("total_count", 0) == 0
    assert c.get(a.path("/backups"), params={"backup_id": bid}).json().get("total_count", 0) == 0
    assert all(x["id"] != bid for x in c.get(a.path("/backups")).json().get("backups", []))
    # Download
    r = c.get(a.path("/backups/download-file"), params={"instance_id": iid, "backup_id": bid})
    assert r.status_code == 404, r.text
    # Back up someone else's instance
    r = c.post(a.path("/backups"), json={"backup": {"instance_id": iid, "name": "a-steals"}})
    assert r.status_code == 404, r.text
    # Restore from someone else's backup, to a new instance and in place
    restore = {
        "name": "a-restored",
        "region": "local-1",
        "availability_zone": "local-1a",
        "vpc_id": "v",
        "subnet_id": "s",
        "security_group_id": "g",
        "password": PASSWORD,
        "flavor": [
            {
                "type": "single",
                "num": 1,
                "storage": "ULTRAHIGH",
                "size": "10",
                "spec_code": "dds.mongodb.s2.medium.4.single",
            }
        ],
        "restore_point": {"instance_id": iid, "backup_id": bid},
    }
    r = c.post(a.path("/instances"), json=restore)
    assert r.status_code == 404, r.text
    assert c.get(a.path("/instances"), params={"name": "a-restored"}).json()["total_count"] == 0
    if has_route("/v3/{project_id}/instances/recovery", "POST"):
        r = c.post(
            a.path("/instances/recovery"),
            json={"source": {"instance_id": iid, "type": "backup", "backup_id": bid}, "target": {"instance_id": iid}},
        )
        assert r.status_code == 404, r.text
    # Policy
    if has_route("/v3/{project_id}/instances/{instance_id}/backups/policy", "PUT"):
        assert c.get(a.path(f"/instances/{iid}/backups/policy")).status_code == 404
        r = c.put(a.path(f"/instances/{iid}/backups/policy"), json={"backup_policy": {"keep_days": 0}})
        assert r.status_code == 404, r.text
    # Delete
    r = c.delete(a.path(f"/backups/{bid}"))
    assert r.status_code == 404, r.text

    assert snapshot(b_client, b, iid) == before_instance
    assert b_client.get(b.path("/backups"), params={"instance_id": iid}).json() == before_backups


def _domain_token(t: Tenant) -> str:
    body = password_auth(t.user, t.password)
    body["auth"]["scope"] = {"domain": {"name": "Default"}}
    r = httpx.post(f"{t.url}/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert "project" not in token and token["domain"]["name"] == "Default"
    assert {e["type"] for e in token["catalog"]} == {"identity"}  # no project, so no DDS endpoint
    return r.headers["X-Subject-Token"]


@pytest.fixture(scope="module")
def a_domain_client(a: Tenant) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=a.url, headers={"X-Auth-Token": _domain_token(a)}, timeout=60) as c:
        yield c


@pytest.mark.parametrize("method,path", _routes())
def test_a_domain_scoped_token_acts_on_no_project_path(
    method: str, path: str, a_domain_client: httpx.Client, a: Tenant
) -> None:
    """Not even its own user's project: Keystone's domain scope grants no project role."""
    url = re.sub(r"\{(\w+)\}", lambda m: a.project_id if m[1] == "project_id" else "x" * 36, path)
    r = a_domain_client.request(method, url, json={} if method in ("POST", "PUT") else None)
    assert r.status_code == 403, (method, url, r.text)


def test_iam_projects_list_only_the_callers_project(
    a: Tenant, b: Tenant, a_client: httpx.Client, a_domain_client: httpx.Client
) -> None:
    for client in (a_client, a_domain_client):
        projects = client.get("/v3/projects").json()["projects"]
        assert [p["id"] for p in projects] == [a.project_id]
        assert client.get("/v3/projects", params={"name": "local-1"}).json()["projects"][0]["id"] == a.project_id
        assert client.get("/v3/projects", params={"name": b.project_name}).json()["projects"] == []
        assert client.get("/v3/auth/projects").json()["projects"][0]["name"] == a.project_name
    assert httpx.get(f"{a.url}/v3/projects").status_code == 401


def test_logs_and_connections_of_b_are_invisible_to_a(
    a: Tenant, a_client: httpx.Client, b: Tenant, b_client: httpx.Client, b_instance: dict[str, Any]
) -> None:
    """Logs, sessions, kill-op rules, client networks and TLS of B's instance: 404 under A's path."""
    iid = b_instance["id"]
    nid = b_client.get(b.path("/instances"), params={"id": iid}).json()["instances"][0]["groups"][0]["nodes"][0]["id"]
    before = b_client.get(b.path(f"/instances/{iid}/client-network")).json()
    window = {"start_date": "2020-01-01T00:00:00+0000", "end_date": "2100-01-01T00:00:00+0000"}
    for method, rest, params, body in [
        ("GET", f"/instances/{iid}/slowlog", window, None),
        ("POST", f"/instances/{iid}/slowlog-download", None, {}),
        ("GET", f"/instances/{iid}/errorlog", window, None),
        ("POST", f"/instances/{iid}/errorlog-download", None, {}),
        ("GET", f"/instances/{iid}/auditlog-policy", None, None),
        ("POST", f"/instances/{iid}/auditlog-policy", None, {"keep_days": 7}),
        ("GET", f"/instances/{iid}/auditlog", None, None),
        ("DELETE", f"/instances/{iid}/auditlog", None, {"file_names": [f"{nid}_audit.log"]}),
        ("POST", f"/instances/{iid}/auditlog-links", None, {"ids": [f"{nid}_audit.log"]}),
        ("GET", f"/instances/{iid}/conn-statistics", None, None),
        ("POST", f"/instances/{iid}/kill-op-rule", None, {"operation_types": ["query"], "max_concurrency": 1}),
        ("GET", f"/instances/{iid}/kill-op-rule", None, None),
        ("PUT", f"/instances/{iid}/kill-op-rule", None, {"action": "ENABLED", "ids": ["x"]}),
        ("DELETE", f"/instances/{iid}/kill-op-rule", None, {"ids": ["x"]}),
        ("GET", f"/instances/{iid}/client-network", None, None),
        ("POST", f"/instances/{iid}/client-network", None, {"client_network_ranges": ["10.0.0.0/8"]}),
        ("POST", f"/instances/{iid}/switch-ssl", None, {"ssl_option": "1"}),
        ("GET", f"/instances/{iid}/ssl-cert/download-link", None, None),
    ]:
        r = a_client.request(method, a.path(rest), params=params, json=body)
        assert r.status_code == 404 and r.json()["error_code"] == "DBS.200002", (method, rest, r.text)
    for method, rest, body in [
        ("GET", f"/nodes/{nid}/sessions", None),
        ("POST", f"/nodes/{nid}/session", {"sessions": ["1"]}),
    ]:
        r = a_client.request(method, a.path(rest), json=body)
        assert r.status_code == 404, (method, rest, r.text)
    assert b_client.get(b.path(f"/instances/{iid}/client-network")).json() == before
    assert b_client.get(b.path(f"/instances/{iid}/auditlog-policy")).json() == {"keep_days": 0}
    assert snapshot(b_client, b, iid)["status"] == "normal"
    # B's own signed links do not open another instance's files: the HMAC names instance and node.
    link = b_client.post(b.path(f"/instances/{iid}/slowlog-download"), json={}).json()
    for item in link.get("list", []):
        assert httpx.get(item["file_link"].replace(iid, "x" * len(iid))).status_code == 403


def test_users_and_roles_of_b_are_invisible_to_a(
    a: Tenant, a_client: httpx.Client, b: Tenant, b_client: httpx.Client, b_instance: dict[str, Any]
) -> None:
    """Databases, users, roles and password checks of B's instance: 404 under A's path, nothing changed."""
    iid = b_instance["id"]
    before = b_client.get(b.path(f"/instances/{iid}/db-user/detail")).json()
    user = {
        "user_name": "intruder",
        "user_pwd": "Other#Pass_2",
        "roles": [{"role_name": "root", "role_db_name": "admin"}],
    }
    for method, rest, body in [
        ("GET", f"/instances/{iid}/databases", None),
        ("GET", f"/instances/{iid}/db-user/detail", None),
        ("POST", f"/instances/{iid}/db-user", user),
        ("DELETE", f"/instances/{iid}/db-user", {"user_name": "rwuser2"}),
        ("GET", f"/instances/{iid}/db-roles", None),
        ("POST", f"/instances/{iid}/db-role", {"role_name": "stolen", "roles": []}),
        ("DELETE", f"/instances/{iid}/db-role", {"role_name": "stolen"}),
        ("POST", f"/instances/{iid}/check-password", {"user_pwd": "Other#Pass_2"}),
    ]:
        r = a_client.request(method, a.path(rest), json=body)
        assert r.status_code == 404 and r.json()["error_code"] == "DBS.200002", (method, rest, r.text)
    assert b_client.get(b.path(f"/instances/{iid}/db-user/detail")).json() == before
    assert b_client.get(b.path(f"/instances/{iid}/db-roles")).json()["total_count"] == 0


def test_parameter_templates_of_b_are_invisible_to_a(
    a: Tenant, a_client: httpx.Client, b: Tenant, b_client: httpx.Client, b_instance: dict[str, Any]
) -> None:
    """B's templates and B's instance parameters: not found under A's path, nothing changed."""
    made = b_client.post(
        b.path("/configurations"),
        json={"name": "b-private", "datastore": {"version": "4.0", "node_type": "replica"}, "parameter_values": {}},
    )
    assert made.status_code == 200, made.text
    cid, iid = made.json()["configuration"]["id"], b_instance["id"]
    assert cid not in {c["id"] for c in a_client.get(a.path("/configurations")).json()["configurations"]}
    assert a_client.get(a.path("/configurations/name-validation"), params={"name": "b-private"}).json() == {
        "is_existed": False
    }
    for method, rest, body in [
        ("GET", f"/configurations/{cid}", None),
        ("PUT", f"/configurations/{cid}", {"description": "stolen"}),
        ("DELETE", f"/configurations/{cid}", None),
        ("POST", f"/configurations/{cid}/copy", {"name": "stolen-copy"}),
        ("POST", f"/configurations/{cid}/reset", None),
        ("GET", f"/configurations/{cid}/histories", None),
        ("GET", f"/configurations/{cid}/applied-histories", None),
        ("GET", f"/configurations/{cid}/applicable-instances", None),
        ("PUT", f"/configurations/{cid}/apply", {"entity_ids": [iid]}),
    ]:
        r = a_client.request(method, a.path(rest), json=body)
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.212013", (method, rest, r.text)
    for method, rest, body in [
        ("GET", f"/instances/{iid}/configurations", None),
        (
            "PUT",
            f"/instances/{iid}/configurations",
            {"entity_id": iid, "parameter_values": {"net.maxIncomingConnections": "1"}},
        ),
        ("GET", f"/instances/{iid}/configuration-histories", None),
    ]:
        r = a_client.request(method, a.path(rest), json=body)
        assert r.status_code == 404 and r.json()["error_code"] == "DBS.200002", (method, rest, r.text)
    # A's own template cannot be applied to B's instance either.
    own = a_client.post(
        a.path("/configurations"), json={"name": "a-own", "datastore": {"version": "4.0", "node_type": "replica"}}
    )
    r = a_client.put(a.path(f"/configurations/{own.json()['configuration']['id']}/apply"), json={"entity_ids": [iid]})
    assert r.status_code == 404 and r.json()["error_code"] == "DBS.200002", r.text
    assert b_client.get(b.path(f"/configurations/{cid}")).json()["description"] == ""
    assert b_client.get(b.path(f"/instances/{iid}/configuration-histories")).json()["total_count"] == 0


def test_tags_and_instance_management_of_b_are_invisible_to_a(
    a: Tenant, a_client: httpx.Client, b: Tenant, b_client: httpx.Client, b_instance: dict[str, Any]
) -> None:
    """Tags, maintenance window, auto-enlarge, replica set name of B's instance: 404 under A's path;
    project-wide lists (tags, quotas, recycle bin, scheduled tasks) show only A's own."""
    iid = b_instance["id"]
    before = b_client.get(b.path(f"/instances/{iid}/tags")).json()
    name_before = b_client.get(b.path(f"/instances/{iid}/replica-set/name")).json()
    for method, rest, body in [
        ("POST", f"/instances/{iid}/tags/action", {"action": "create", "tags": [{"key": "stolen", "value": "1"}]}),
        ("GET", f"/instances/{iid}/tags", None),
        ("PUT", f"/instances/{iid}/maintenance-window", {"start_time": "01:00", "end_time": "02:00"}),
        ("GET", f"/instances/{iid}/auto-enlarge-volume-policy", None),
        ("GET", f"/instances/{iid}/replica-set/name", None),
        ("PUT", f"/instances/{iid}/replica-set/name", {"name": "stolen_rs"}),
        (
            "POST",
            f"/instances/{iid}/resize",
            {"resize": {"target_spec_code": "dds.mongodb.s2.large.4.repset"}, "is_delay": True},
        ),
        (
            "PUT",
            "/instances/auto-enlarge-volume-policies",
            {"switch_option": "on", "policies": [{"instance_id": iid, "threshold": 80, "step": 10, "size": 100}]},
        ),
    ]:
        r = a_client.request(method, a.path(rest), json=body)
        assert r.status_code == 404 and r.json()["error_code"] == "DBS.200002", (method, rest, r.text)
    assert iid not in str(a_client.post(a.path("/instances/action"), json={"action": "filter"}).json())
    assert "stolen" not in str(a_client.get(a.path("/tags")).json())
    assert iid not in str(a_client.get(a.path("/scheduled-jobs")).json())
    assert iid not in str(a_client.get(a.path("/recycle-instances")).json())
    assert b_client.get(b.path(f"/instances/{iid}/tags")).json() == before
    assert b_client.get(b.path(f"/instances/{iid}/replica-set/name")).json() == name_before
    assert b_client.get(b.path(f"/instances/{iid}/auto-enlarge-volume-policy")).json() == {"switch_option": "off"}
