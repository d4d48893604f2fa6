"""Time-driven behaviour on the runtime's injectable clock: link expiry, automated backups, retention."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.backup_helpers import backup, download, ready_instance, tenant
from tests.helpers import wait_for


def test_link_expires_after_15_minutes(make_service: Any) -> None:
    svc = make_service()
    inst = ready_instance(svc, "bk-expiry", mode="Single")
    with tenant(svc, inst) as client:
        client.a.b.insert_one({"_id": 1})
    backup_id = backup(svc, inst["id"], "bk-expiry-1")
    body, _ = download(svc, inst["id"], backup_id)
    link = body["files"][0]["download_link"]
    svc.clock.advance(timedelta(minutes=14, seconds=50))
    assert httpx.get(link).status_code == 200
    svc.clock.advance(timedelta(seconds=15))
    refused = httpx.get(link)
    assert refused.status_code == 403 and refused.json()["error_code"] == "DBS.280032"


@pytest.mark.parametrize("storage", ["sqlite", "postgresql"])
def test_policy_takes_backup_in_window_and_prunes_after_keep_days(make_service: Any, storage: str) -> None:
    svc = make_service(scheduler_interval=0.2, replica_set_storage=storage)
    inst = ready_instance(svc, "bk-auto")
    assert inst["groups"][0]["nodes"] and len(inst["groups"][0]["nodes"]) == (3 if storage == "postgresql" else 1)
    with tenant(svc, inst) as client:
        client.a.b.insert_one({"_id": 1})
    now = svc.clock.now()
    # Move to the next quarter hour (+1 min): a window that opens after the instance was created.
    start = now.replace(second=0, microsecond=0) + timedelta(minutes=15 - now.minute % 15)
    window = f"{start:%H:%M}-{(start + timedelta(hours=1)):%H:%M}"
    today = str(start.isoweekday())
    other_day = str(start.isoweekday() % 7 + 1)

    def autos() -> list[dict[str, Any]]:
        with svc.client() as c:
            r = c.get(svc.path("/backups"), params={"instance_id": inst["id"], "backup_type": "Auto"})
        return r.json()["backups"]  # type: ignore[no-any-return]

    with svc.client() as c:
        path = svc.path(f"/instances/{inst['id']}/backups/policy")
        assert (
            c.put(path, json={"backup_policy": {"keep_days": 7, "start_time": window, "period": other_day}}).status_code
            == 200
        )
        svc.clock.advance(start - now + timedelta(minutes=1))
        time.sleep(1.5)
        assert autos() == [], "a backup was taken on a day outside the period"
        assert (
            c.put(
                path, json={"backup_policy": {"keep_days": 7, "start_time": window, "period": f"{today},{other_day}"}}
            ).status_code
            == 200
        )
    first = wait_for(lambda: [b for b in autos() if b["status"] == "COMPLETED"])
    assert len(first) == 1 and first[0]["type"] == "Auto"
    time.sleep(1.0)
    assert len(autos()) == 1, "one backup per window"

    with svc.client() as c:  # automated backups cannot be deleted by request
        r = c.delete(svc.path(f"/backups/{first[0]['id']}"))
        assert r.status_code == 400 and r.json()["error_code"] == "DBS.280124"

    svc.clock.advance(timedelta(hours=2))  # outside the window: nothing new, nothing pruned
    time.sleep(1.0)
    assert [b["id"] for b in autos()] == [first[0]["id"]]
    svc.clock.advance(timedelta(days=7))
    wait_for(lambda: first[0]["id"] not in {b["id"] for b in autos()})

    manual = backup(svc, inst["id"], "bk-auto-manual")
    svc.clock.advance(timedelta(days=1) - timedelta(hours=2))  # the next day's window opens
    wait_for(lambda: autos())
    wait_for(lambda: all(b["status"] == "COMPLETED" for b in autos()))
    svc.delete_instance(inst["id"])  # automated backups go with the instance, manual ones stay
    with svc.client() as c:
        left = c.get(svc.path("/backups"), params={"instance_id": inst["id"]}).json()["backups"]
    assert [b["id"] for b in left] == [manual]
