"""The instance list's fast path (`api.fastpath`) answers exactly what the routed path answers."""

from __future__ import annotations

from tests.conftest import Service


def test_fast_and_routed_instance_lists_agree(service: Service) -> None:
    created = service.create_instance("fastpath-1")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    with service.client() as c:
        fast = c.get(service.path("/instances"), params={"name": "fastpath-1"})
        # An unknown parameter is left to the route, which ignores it: same answer, other path.
        routed = c.get(service.path("/instances"), params={"name": "fastpath-1", "unknown": "1"})
        assert fast.status_code == routed.status_code == 200
        assert fast.json() == routed.json() and fast.json()["total_count"] == 1
        assert fast.headers["content-type"] == "application/json"
        # Errors are the route's: bad paging, a malformed number, another project's path.
        r = c.get(service.path("/instances"), params={"limit": "0"})
        assert r.status_code == 400 and r.json()["error_code"].startswith("DBS."), r.text
        r = c.get(service.path("/instances"), params={"offset": "x"})
        assert r.status_code == 400 and r.json()["error_code"].startswith("DBS."), r.text
        r = c.get("/v3/" + "0" * 32 + "/instances")
        assert r.status_code == 403, r.text
    service.delete_instance(created["id"])
