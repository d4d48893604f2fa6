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

from tests.conftest import PASSWORD, ROOT, Service
from tests.helpers import connect

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
    assert "mongodb://rwuser:<password>@" in pg.inner_text("#instance-detail .conn")  # type: ignore[attr-defined]
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


def service_instances(service: Service) -> list[dict[str, object]]:
    with service.client() as api:
        return api.get(service.path("/instances")).json()["instances"]  # type: ignore[no-any-return]
