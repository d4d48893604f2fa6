"""The web console in a real browser: Debian's chromium driven by Playwright (no browser download).

Log in, create an instance and see it become normal, take a backup, click its download button
and get the file, restore it to a new instance whose data is the source's. Screenshots go to
test-artifacts/browser/. Every request the page makes stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from pymongo.errors import OperationFailure

from tests.conftest import PASSWORD, ROOT, Service
from tests.helpers import connect, logs_in
from tests.pitr_support import POLICY as PITR_POLICY
from tests.pitr_support import mark, now_ms, wait_covered

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
# Skipped only outside CI: `make test` installs chromium, and CI must never pass by skipping.
pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium is not installed (`make test` installs it)"
)


@pytest.fixture
def page(service: Service) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 900})
        pg = context.new_page()
        pg.set_default_timeout(90_000)
        pg.requests = []  # type: ignore[attr-defined]
        pg.on("request", lambda r: pg.requests.append(r.url))  # type: ignore[attr-defined]
        yield pg
        context.close()
        browser.close()


def _status(page: object, selector: str, wanted: str) -> None:
    page.wait_for_function(  # type: ignore[attr-defined]
        "([sel, want]) => { const c = document.querySelector(sel); return c && c.textContent.trim() === want; }",
        arg=[selector, wanted],
        timeout=120_000,
    )


def test_console_create_backup_download_restore(service: Service, page: object, tmp_path: Path) -> None:
    pg = page  # playwright's Page
    pg.goto(service.url + "/console/")  # type: ignore[attr-defined]
    pg.fill("#token-input", service.token)  # type: ignore[attr-defined]
    pg.click("#token-login")  # type: ignore[attr-defined]
    pg.wait_for_selector("#instances:not([hidden])")  # type: ignore[attr-defined]

    pg.fill("#create-instance input[name=name]", "web-console-1")  # type: ignore[attr-defined]
    pg.fill("#create-instance input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    pg.click("#create-instance button[type=submit]")  # type: ignore[attr-defined]
    _status(pg, 'tr[data-instance="web-console-1"] td.status', "normal")
    pg.click('tr[data-instance="web-console-1"] a')  # type: ignore[attr-defined]
    conn = pg.inner_text("#instance-detail .conn")  # type: ignore[attr-defined]
    assert conn.startswith("mongodb://rwuser:<password>@") and "replicaSet=replica" in conn, conn
    pg.screenshot(path=str(ARTIFACTS / "1-instance-normal.png"))  # type: ignore[attr-defined]

    source = next(i for i in service_instances(service) if i["name"] == "web-console-1")
    with connect(source, PASSWORD) as client:
        client.web.items.insert_many([{"n": i} for i in range(30)])

    pg.click('button[data-view="backups"]')  # type: ignore[attr-defined]
    pg.select_option("#create-backup select[name=instance]", source["id"])  # type: ignore[attr-defined]
    pg.fill("#create-backup input[name=name]", "web-backup-1")  # type: ignore[attr-defined]
    pg.click("#create-backup button[type=submit]")  # type: ignore[attr-defined]
    _status(pg, 'tr[data-backup="web-backup-1"] td.status', "COMPLETED")
    button = 'tr[data-backup="web-backup-1"] a.download[data-file$=".physical.tar.zst"]'
    pg.wait_for_selector(button)  # type: ignore[attr-defined]
    pg.screenshot(path=str(ARTIFACTS / "2-backup-completed.png"))  # type: ignore[attr-defined]
    with pg.expect_download() as caught:  # type: ignore[attr-defined]
        pg.click(button)  # type: ignore[attr-defined]
    saved = tmp_path / caught.value.suggested_filename
    caught.value.save_as(saved)
    assert saved.name.endswith(".physical.tar.zst") and saved.read_bytes()[:4] == b"\x28\xb5\x2f\xfd"

    answers = iter(["web-restored-1", PASSWORD])
    pg.on("dialog", lambda d: d.accept(next(answers)))  # type: ignore[attr-defined]
    pg.click('tr[data-backup="web-backup-1"] button.restore-new')  # type: ignore[attr-defined]
    pg.click('button[data-view="instances"]')  # type: ignore[attr-defined]
    _status(pg, 'tr[data-instance="web-restored-1"] td.status', "normal")
    pg.click('button[data-view="jobs"]')  # type: ignore[attr-defined]
    pg.wait_for_selector("#job-table tr[data-job]")  # type: ignore[attr-defined]
    pg.screenshot(path=str(ARTIFACTS / "3-restored-and-jobs.png"))  # type: ignore[attr-defined]

    restored = next(i for i in service_instances(service) if i["name"] == "web-restored-1")
    with connect(restored, PASSWORD) as client:
        assert client.web.items.count_documents({}) == 30

    hosts = {urlsplit(url).hostname for url in pg.requests}  # type: ignore[attr-defined]
    assert hosts == {"127.0.0.1"}, hosts  # nothing fetched from outside
    for inst in (restored, source):
        service.delete_instance(inst["id"])


def test_console_point_in_time_timeline_and_restore(service: Service, page: object) -> None:
    """The restorable ranges drawn on the day's timeline; a restore to a new instance as of a time
    picked in it brings back exactly the data of that moment."""
    created = service.create_instance("web-pitr-src")
    assert service.wait_job(created["job_id"])["status"] == "Completed"
    iid = created["id"]
    policy = {"backup_policy": {**PITR_POLICY, "enable_incremental_backup": True}}
    with connect(service.instance(iid), PASSWORD) as client, service.client() as c:
        assert c.put(service.path(f"/instances/{iid}/backups/policy"), json=policy).status_code == 200
        client.web.items.insert_many([{"n": i} for i in range(12)])
        at = mark(c, service.path(""), iid)
        client.web.items.insert_many([{"n": i} for i in range(12, 20)])
        wait_covered(c, service.path(""), iid, now_ms())

    pg = page  # playwright's Page
    pg.goto(service.url + "/console/")  # type: ignore[attr-defined]
    pg.fill("#token-input", service.token)  # type: ignore[attr-defined]
    pg.click("#token-login")  # type: ignore[attr-defined]
    pg.wait_for_selector("#instances:not([hidden])")  # type: ignore[attr-defined]
    pg.click('button[data-view="pitr"]')  # type: ignore[attr-defined]
    pg.wait_for_selector(f'#pitr-form select[name=instance] option[value="{iid}"]', state="attached")  # type: ignore[attr-defined]
    pg.select_option("#pitr-form select[name=instance]", iid)  # type: ignore[attr-defined]
    pg.click("#pitr-form button[type=submit]")  # type: ignore[attr-defined]
    pg.wait_for_selector("#timeline .range")  # type: ignore[attr-defined]
    pg.wait_for_selector("#pitr-restore:not([hidden])")  # type: ignore[attr-defined]
    latest = int(pg.input_value("#pitr-restore input[name=time]"))  # type: ignore[attr-defined]
    assert latest >= at  # the form starts at the latest restorable moment
    listed = pg.inner_text("#ranges")  # type: ignore[attr-defined]
    assert str(latest) in listed and "Z –" in listed  # each range also in words (ISO, UTC)
    pg.screenshot(path=str(ARTIFACTS / "4-pitr-timeline.png"))  # type: ignore[attr-defined]

    pg.fill("#pitr-restore input[name=time]", str(at))  # type: ignore[attr-defined]
    pg.fill("#pitr-restore input[name=name]", "web-pitr-copy")  # type: ignore[attr-defined]
    pg.fill("#pitr-restore input[name=password]", PASSWORD)  # type: ignore[attr-defined]
    pg.click('#pitr-restore button[value="new"]')  # type: ignore[attr-defined]
    pg.wait_for_function(  # type: ignore[attr-defined]
        "() => document.querySelector('#message').textContent.includes('point-in-time restore started')"
    )
    pg.click('button[data-view="instances"]')  # type: ignore[attr-defined]
    _status(pg, 'tr[data-instance="web-pitr-copy"] td.status', "normal")
    copy = next(i for i in service_instances(service) if i["name"] == "web-pitr-copy")
    with connect(copy, PASSWORD) as client:
        assert sorted(d["n"] for d in client.web.items.find()) == list(range(12))
    hosts = {urlsplit(url).hostname for url in pg.requests}  # type: ignore[attr-defined]
    assert hosts == {"127.0.0.1"}, hosts
    for inst_id in (str(copy["id"]), iid):
        service.delete_instance(inst_id)


def test_console_instance_users_tags_parameters_and_slow_log(service: Service, page: object) -> None:
    """The instance's detail panels act through the API on the real engine: a user created in the
    console reads exactly its database, a tag lands, a parameter change makes every command slow
    and the slow log shows it, a deleted user can no longer log in."""
    with service.ready_instance("web-panels") as inst:
        with connect(inst, PASSWORD) as client:
            client.shop.orders.insert_many([{"n": i} for i in range(7)])
        pg = page
        pg.on("dialog", lambda d: d.accept())  # type: ignore[attr-defined]
        pg.goto(service.url + "/console/")  # type: ignore[attr-defined]
        pg.fill("#token-input", service.token)  # type: ignore[attr-defined]
        pg.click("#token-login")  # type: ignore[attr-defined]
        pg.click('tr[data-instance="web-panels"] a')  # type: ignore[attr-defined]
        pg.wait_for_selector('#panel-users tr[data-user="rwuser"]')  # type: ignore[attr-defined]

        pg.fill("#create-user input[name=name]", "webreader")  # type: ignore[attr-defined]
        pg.fill("#create-user input[name=password]", "Web#Reader_01")  # type: ignore[attr-defined]
        pg.fill("#create-user input[name=db]", "shop")  # type: ignore[attr-defined]
        pg.fill("#create-user input[name=roles]", "read")  # type: ignore[attr-defined]
        pg.click("#create-user button[type=submit]")  # type: ignore[attr-defined]
        row = pg.wait_for_selector('#panel-users tr[data-user="webreader"]')  # type: ignore[attr-defined]
        assert "read@shop" in row.inner_text()
        with connect(inst, "Web#Reader_01", user="webreader", auth_db="shop") as client:
            assert client.shop.orders.count_documents({}) == 7
            with pytest.raises(OperationFailure):
                client.shop.orders.insert_one({"n": 99})

        pg.fill("#add-tag input[name=key]", "team")  # type: ignore[attr-defined]
        pg.fill("#add-tag input[name=value]", "web")  # type: ignore[attr-defined]
        pg.click("#add-tag button[type=submit]")  # type: ignore[attr-defined]
        pg.wait_for_selector('#panel-tags [data-tag="team"]')  # type: ignore[attr-defined]
        with service.client() as api:
            assert api.get(service.path(f"/instances/{inst['id']}/tags")).json()["tags"] == [
                {"key": "team", "value": "web"}
            ]

        field = '#instance-params tr[data-param="operationProfiling.slowOpThresholdMs"] input'
        pg.fill(field, "0")  # type: ignore[attr-defined]
        pg.click("#instance-params button[type=submit]")  # type: ignore[attr-defined]
        pg.wait_for_function(  # type: ignore[attr-defined]
            "() => document.querySelector('#message').textContent.startsWith('parameters applied')"
        )
        assert pg.inner_text("#message").endswith(": Completed)")  # type: ignore[attr-defined]
        assert pg.get_attribute(field, "data-was") == "0"  # type: ignore[attr-defined]  # redrawn before said
        with connect(inst, PASSWORD) as client:
            client.shop.web_marker.find_one({"n": 1})  # fast, but slow by a threshold of 0
        pg.wait_for_function(  # type: ignore[attr-defined]
            """() => { document.querySelector('#panel-slowlog button').click();
                       return document.querySelector('#panel-slowlog').textContent.includes('web_marker'); }""",
            polling=1000,
            timeout=30_000,
        )
        pg.screenshot(path=str(ARTIFACTS / "5-instance-panels.png"))  # type: ignore[attr-defined]

        pg.click('#panel-users tr[data-user="webreader"] button.delete')  # type: ignore[attr-defined]
        pg.wait_for_selector('#panel-users tr[data-user="webreader"]', state="detached")  # type: ignore[attr-defined]
        assert not logs_in(inst, "webreader", "Web#Reader_01", auth_db="shop")


def service_instances(service: Service) -> list[dict[str, object]]:
    with service.client() as api:
        return api.get(service.path("/instances")).json()["instances"]  # type: ignore[no-any-return]
