"""Run pymongo's own test suite against a DDS instance and report pass/fail/skip counts per file.

    .venv/bin/python scripts/pymongo-suite.py                        # the default files
    .venv/bin/python scripts/pymongo-suite.py test_crud_unified.py --timeout 300

What it does (see docs/pymongo-suite.md):

1. downloads the sdist of the installed pymongo version (`pip download --no-binary :all:`) into
   `test-artifacts/pymongo-suite/` (git-ignored) and extracts its `test/` directory unmodified;
2. starts `dds serve` as the README's quickstart does (tests/helpers.py `ServiceProcess(readme_only=True)`:
   a temporary working directory, only `DDS_PORT`/`DDS_PORT_RANGE` set), creates the README's
   ReplicaSet instance with the development token and waits until it is `normal`;
3. runs each test file in its own `pytest` (pymongo's own pytest settings, one time limit per file,
   `--junitxml`) with `DB_IP`/`DB_PORT`/`DB_USER`/`DB_PASSWORD` naming the instance and `rwuser`,
   plus one harness shim (below), then prints passed/failed/errors/skipped per file and in total;
4. stops the service, and so its instances, at the end: also on Ctrl-C or SIGTERM.

The shim: pymongo's harness (test/__init__.py, `ClientContext._init_client`) reads
`getParameter: "*"` and indexes `["enableTestCommands"]`; FerretDB answers without that key, so
every test would error in set-up with a KeyError. The pytest plugin written next to the tests adds
`enableTestCommands: false` to that one answer while the harness connects (test commands such as
`configureFailPoint` do not exist on our instances, so tests needing them are skipped).

Exit status: 0 whatever the tests do (this is a report, not a gate); 1 when the suite could not
be fetched or the service or its instance could not be started; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.helpers import ServiceProcess

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv"
DEFAULT_CACHE = ROOT / "test-artifacts" / "pymongo-suite"
DEFAULT_FILES = [
    "test_examples.py",
    "test_collection.py",
    "test_cursor.py",
    "test_database.py",
    "test_crud_unified.py",
    "test_bulk.py",
    "test_transactions_unified.py",
    "test_change_stream.py",
    "test_session.py",
    "test_collation.py",
    "test_decimal128.py",
    "test_retryable_writes.py",
]
DEV_TOKEN = "dds-dev-token"  # the README's development token (acts for the default project)
TENANT_USER = "rwuser"
PLUGIN = "dds_pymongo_harness"

PLUGIN_SOURCE = '''\
"""Written by scripts/pymongo-suite.py; loaded into pymongo's own test run with `-p dds_pymongo_harness`.

pymongo's harness (test/__init__.py, ClientContext._init_client) does
`client.admin.command("getParameter", "*")["enableTestCommands"]`. Our instances (FerretDB) answer
without that key, so the harness would raise KeyError and every test would error in set-up. While
the harness connects (and only then), the answer to that one command gets `enableTestCommands:
false` added when it lacks the key: the server has no test commands.
"""

from __future__ import annotations

import functools
import sys
from typing import Any


def _fill(command: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any) -> Any:
    value = args[0] if args else kwargs.get("value")
    if command == "getParameter" and value == "*" and "enableTestCommands" not in result:
        result["enableTestCommands"] = False
    return result


def _patch_sync(context_class: Any) -> None:
    from pymongo.synchronous.database import Database

    original = context_class._init_client
    if getattr(original, "_dds_shim", False):
        return

    @functools.wraps(original)
    def _init_client(self: Any) -> None:
        command = Database.command

        def shimmed(db: Any, cmd: Any, *args: Any, **kwargs: Any) -> Any:
            return _fill(cmd, args, kwargs, command(db, cmd, *args, **kwargs))

        Database.command = shimmed  # type: ignore[method-assign,assignment]
        try:
            original(self)
        finally:
            Database.command = command  # type: ignore[method-assign]

    _init_client._dds_shim = True  # type: ignore[attr-defined]
    context_class._init_client = _init_client


def _patch_async(context_class: Any) -> None:
    from pymongo.asynchronous.database import AsyncDatabase

    original = context_class._init_client
    if getattr(original, "_dds_shim", False):
        return

    @functools.wraps(original)
    async def _init_client(self: Any) -> None:
        command = AsyncDatabase.command

        async def shimmed(db: Any, cmd: Any, *args: Any, **kwargs: Any) -> Any:
            return _fill(cmd, args, kwargs, await command(db, cmd, *args, **kwargs))

        AsyncDatabase.command = shimmed  # type: ignore[method-assign,assignment]
        try:
            await original(self)
        finally:
            AsyncDatabase.command = command  # type: ignore[method-assign]

    _init_client._dds_shim = True  # type: ignore[attr-defined]
    context_class._init_client = _init_client


def pytest_collection_finish(session: Any) -> None:
    sync = sys.modules.get("test")
    if sync is not None and hasattr(sync, "ClientContext"):
        _patch_sync(sync.ClientContext)
    asynchronous = sys.modules.get("test.asynchronous")
    if asynchronous is not None and hasattr(asynchronous, "AsyncClientContext"):
        _patch_async(asynchronous.AsyncClientContext)
'''


class SetupError(Exception):
    """The suite cannot run: no sdist, no service, no instance."""


class Stopped(Exception):
    """SIGTERM: unwind as for Ctrl-C, so the service is stopped."""


@dataclass
class FileResult:
    name: str
    passed: int = 0
    failed: int = 0
    errors: int = 0
    skipped: int = 0
    seconds: float = 0.0
    note: str = ""
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    interrupted: bool = False

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.errors + self.skipped


@dataclass
class Target:
    host: str
    port: int
    password: str
    instance_id: str


def log(message: str) -> None:
    print(f"[pymongo-suite] {message}", flush=True)


# --- 1. pymongo's tests ------------------------------------------------------------------------


def installed_pymongo_version() -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import pymongo; print(pymongo.__version__)"], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def fetch_sdist(version: str, cache: Path) -> Path:
    sdist = cache / f"pymongo-{version}.tar.gz"
    if sdist.is_file():
        return sdist
    cache.mkdir(parents=True, exist_ok=True)
    log(f"downloading the pymongo {version} sdist into {cache}")
    argv = [sys.executable, "-m", "pip", "download", f"pymongo=={version}", "--no-binary", ":all:", "--no-deps"]
    done = subprocess.run([*argv, "-d", str(cache)], capture_output=True, text=True)
    if done.returncode != 0 or not sdist.is_file():
        raise SetupError(f"pip download failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return sdist


def extract_tests(sdist: Path, version: str, cache: Path) -> tuple[Path, dict[str, Any]]:
    """`test/` of the sdist, unmodified, under `cache/pymongo-VERSION/`; and pymongo's pytest settings
    (`[tool.pytest.ini_options]` of its pyproject.toml)."""
    top = f"pymongo-{version}"
    source = cache / top
    with tarfile.open(sdist) as tar:
        pyproject = tar.extractfile(f"{top}/pyproject.toml")
        if pyproject is None:
            raise SetupError(f"{sdist} has no pyproject.toml")
        settings: dict[str, Any] = tomllib.load(pyproject)["tool"]["pytest"]["ini_options"]
        if not (source / ".test-extracted").is_file():
            log(f"extracting {top}/test/ into {source}")
            partial = Path(tempfile.mkdtemp(prefix=".extract-", dir=cache))
            try:
                members = [m for m in tar.getmembers() if m.name.startswith(f"{top}/test/")]
                tar.extractall(partial, members=members, filter="data")
                shutil.rmtree(source / "test", ignore_errors=True)
                source.mkdir(parents=True, exist_ok=True)
                (partial / top / "test").rename(source / "test")
            finally:
                shutil.rmtree(partial, ignore_errors=True)
            (source / ".test-extracted").touch()
    return source, settings


def write_pytest_config(source: Path, settings: dict[str, Any]) -> Path:
    """pymongo's own pytest settings, minus the junit path of its CI (each run names its own) and,
    when pytest-asyncio is not installed, its `asyncio_*` options (only the asynchronous tests need
    that plugin; with `--strict-config` an unknown option would stop every run). Each value is
    valid TOML as JSON (strings, booleans, numbers, lists of strings)."""
    has_asyncio = subprocess.run([sys.executable, "-c", "import pytest_asyncio"], capture_output=True).returncode == 0
    lines = ["# Written by scripts/pymongo-suite.py from pymongo's pyproject.toml.", "[tool.pytest.ini_options]"]
    for key, value in settings.items():
        if key.startswith("asyncio_") and not has_asyncio:
            continue
        if key == "addopts":
            value = [opt for opt in value if not opt.startswith("--junitxml")]
        lines.append(f"{key} = {json.dumps(value)}")
    config = source / "dds-pytest.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def write_plugin(cache: Path) -> Path:
    plugin_dir = cache / "harness"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    (plugin_dir / f"{PLUGIN}.py").write_text(PLUGIN_SOURCE)
    return plugin_dir


# --- 2. the service and one instance -----------------------------------------------------------


def readme_create_body() -> dict[str, Any]:
    """The create request of the README's quickstart (its `curl ... -X POST .../instances -d '{...}'`)."""
    readme = (ROOT / "README.md").read_text()
    found = re.search(r"-X POST http://127\.0\.0\.1:8080/v3/\$P/instances -d '(\{.*?\})'", readme, re.S)
    if not found:
        raise SetupError("README.md has no quickstart create request (curl -X POST .../v3/$P/instances -d '{...}')")
    body: dict[str, Any] = json.loads(found.group(1))
    return body


def start_service(home: Path) -> ServiceProcess:
    from tests.helpers import ServiceProcess

    service = ServiceProcess(home, readme_only=True)
    log(f"starting `dds serve` in {home} (DDS_PORT={service.port}, DDS_PORT_RANGE={service.env['DDS_PORT_RANGE']})")
    try:
        service.start()
    except AssertionError as exc:
        raise SetupError(f"the service did not start: {exc}") from exc
    return service


def project_of(service: ServiceProcess) -> str:
    try:
        return service.project_id()
    except AssertionError as exc:
        raise SetupError(f"the service printed no `Project '...': <id>` line: {exc}") from exc


def create_instance(service: ServiceProcess) -> Target:
    import httpx
    from tests.helpers import wait_job

    project = project_of(service)
    body = readme_create_body()
    api = httpx.Client(
        base_url=f"{service.url}/v3/{project}", headers={"X-Auth-Token": DEV_TOKEN}, timeout=60, trust_env=False
    )
    with api:
        created = api.post("/instances", json=body)
        if created.status_code != 202:
            raise SetupError(f"create instance: HTTP {created.status_code} {created.text}")
        instance_id, job_id = created.json()["id"], created.json()["job_id"]
        log(f"creating ReplicaSet instance {instance_id} (job {job_id})")
        try:
            job = wait_job(api, job_id, timeout=300)
        except AssertionError as exc:
            raise SetupError(str(exc)) from exc
        if job["status"] != "Completed":
            raise SetupError(f"the create job ended {job['status']}: {job}")
        deadline = time.monotonic() + 120
        while True:
            (instance,) = api.get("/instances", params={"id": instance_id}).json()["instances"]
            if instance["status"] == "normal":
                break
            if time.monotonic() > deadline:
                raise SetupError(f"instance {instance_id} is {instance['status']}, not normal")
            time.sleep(0.5)
    node = instance["groups"][0]["nodes"][0]
    return Target(
        host=node["private_ip"], port=int(instance["port"]), password=body["password"], instance_id=instance_id
    )


def probe(target: Target) -> None:
    """What pymongo's harness will see: the server's version, replica set, and getParameter '*'."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(
        target.host,
        target.port,
        username=TENANT_USER,
        password=target.password,
        authSource="admin",
        directConnection=True,
        serverSelectionTimeoutMS=10000,
    )
    with client:
        hello = client.admin.command("hello")
        version = client.server_info().get("version")
        params = client.admin.command("getParameter", "*")
    log(f"instance at {target.host}:{target.port}: version {version}, setName {hello.get('setName')!r}")
    keys = sorted(k for k in params if k != "ok")
    if "enableTestCommands" in params:
        log(f"getParameter '*' answers enableTestCommands={params['enableTestCommands']!r}")
    else:
        log(f"getParameter '*' answers {keys} without enableTestCommands: the harness shim adds it as false")


# --- 3. the runs -------------------------------------------------------------------------------


def interrupt(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT first (pytest then ends the session and still writes its junit XML), then SIGKILL."""
    for sig, grace in ((signal.SIGINT, 60), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def reason_of(element: ET.Element) -> str:
    """The first line of a failure's message (else the last line of its traceback), addresses masked."""
    text = element.get("message") or next(iter((element.text or "").strip().splitlines()[-1:]), "")
    text = text.strip().splitlines()[0] if text.strip() else element.tag
    text = re.sub(r", full error: .*", "", text)  # OperationFailure repeats the server's answer
    text = re.sub(r"0x[0-9a-f]+", "0x…", text)
    text = re.sub(r"\s+", " ", text)
    return text[:200]


def parse_junit(xml: Path, result: FileResult) -> None:
    """Each test case counted once: failed, else error, else skipped, else passed."""
    root = ET.parse(xml).getroot()
    for case in root.iter("testcase"):
        tags = {child.tag: child for child in case}
        if "failure" in tags:
            result.failed += 1
            result.reasons[reason_of(tags["failure"])] += 1
        elif "error" in tags:
            result.errors += 1
            result.reasons[reason_of(tags["error"])] += 1
        elif "skipped" in tags:
            result.skipped += 1
        else:
            result.passed += 1


def run_file(
    name: str, source: Path, config: Path, env: dict[str, str], out: Path, timeout: float, extra: list[str]
) -> FileResult:
    path = name if name.startswith("test/") else f"test/{name}"
    result = FileResult(name=path.removeprefix("test/"))
    if not (source / path.split("::")[0]).exists():
        result.note = "no such file in the sdist"
        return result
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", result.name).removesuffix(".py")
    xml, output = out / "junit" / f"{stem}.xml", out / "logs" / f"{stem}.log"
    argv = [sys.executable, "-m", "pytest", "-c", str(config), "--rootdir", str(source), "-p", "no:cacheprovider"]
    argv += ["-p", PLUGIN, f"--junitxml={xml}", *extra, path]
    log(f"running {path} (at most {timeout:.0f} s; output in {output})")
    started = time.monotonic()
    with output.open("wb") as sink:
        proc = subprocess.Popen(
            argv, cwd=source, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            interrupt(proc)
            code = proc.returncode
            result.note = f"timeout after {timeout:.0f} s (partial)"
        except (KeyboardInterrupt, Stopped):
            interrupt(proc)  # pytest still writes what ran
            code = proc.returncode
            result.note, result.interrupted = "interrupted (partial)", True
        except BaseException:
            interrupt(proc)
            raise
    result.seconds = time.monotonic() - started
    if xml.is_file():
        parse_junit(xml, result)
        if not result.note and code not in (0, 1):
            result.note = f"pytest exit {code}"
    else:
        result.note = (result.note or f"pytest exit {code}") + ", no junit XML"
    return result


def table(results: list[FileResult]) -> str:
    header = ("file", "passed", "failed", "errors", "skipped", "total", "seconds", "note")
    rows: list[tuple[str, ...]] = [
        (r.name, str(r.passed), str(r.failed), str(r.errors), str(r.skipped), str(r.total), f"{r.seconds:.0f}", r.note)
        for r in results
    ]
    totals = [sum(getattr(r, k) for r in results) for k in ("passed", "failed", "errors", "skipped", "total")]
    rows.append(("TOTAL", *map(str, totals), f"{sum(r.seconds for r in results):.0f}", ""))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        cells = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:7], widths[1:7], strict=True)), row[7]]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths[:7])
    return "\n".join([line(header), rule, *map(line, rows[:-1]), rule, line(rows[-1])])


def top_reasons(results: list[FileResult], count: int) -> str:
    reasons: collections.Counter[str] = collections.Counter()
    for r in results:
        reasons.update(r.reasons)
    return "\n".join(f"{n:5d}  {reason}" for reason, n in reasons.most_common(count))


# --- 4. the whole, with clean-up ---------------------------------------------------------------


def stop_service(service: ServiceProcess) -> None:
    from tests.helpers import process_pids

    log("stopping the service")
    try:
        service.stop()
    except subprocess.TimeoutExpired:
        service.kill9()
    for program in ("ferretdb", "dds.gateway", "dds.archiver", "litestream"):
        for pid in process_pids(service.data_dir, program):  # left by a service that did not stop cleanly
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Stopped


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("files", nargs="*", default=DEFAULT_FILES, help="test files of pymongo's test/ directory")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per file (default 600)")
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}")
    parser.add_argument("--pytest-arg", action="append", default=[], help="passed to each pytest run (repeatable)")
    parser.add_argument("--reasons", type=int, default=10, help="how many most common failure messages to print")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    cache: Path = args.cache_dir.resolve()
    version = installed_pymongo_version()
    sdist = fetch_sdist(version, cache)
    source, settings = extract_tests(sdist, version, cache)
    config = write_pytest_config(source, settings)
    plugin_dir = write_plugin(cache)
    out = cache / "results" / time.strftime("%Y%m%d-%H%M%S")
    (out / "junit").mkdir(parents=True)
    (out / "logs").mkdir()

    home = Path(tempfile.mkdtemp(prefix="dds-pymongo-suite-"))
    service: ServiceProcess | None = None
    results: list[FileResult] = []
    started = time.monotonic()
    try:
        service = start_service(home)
        target = create_instance(service)
        probe(target)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DDS_", "PYTHONPATH"))}
        env |= {
            "DB_IP": target.host,
            "DB_PORT": str(target.port),
            "DB_USER": TENANT_USER,
            "DB_PASSWORD": target.password,
            "PYTHONPATH": str(plugin_dir),
        }
        log(f"pymongo {version}: {len(args.files)} file(s); junit XML and logs in {out}")
        for name in args.files:
            results.append(run_file(name, source, config, env, out, args.timeout, args.pytest_arg))
            if results[-1].interrupted:
                break
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(sig, signal.SIG_IGN)
        if service is not None:
            with_log = home / "service.log"
            stop_service(service)
            if with_log.is_file():
                shutil.copy(with_log, out / "service.log")
        shutil.rmtree(home, ignore_errors=True)

    report = [
        f"pymongo {version} test suite against a DDS ReplicaSet instance ({time.monotonic() - started:.0f} s)",
        "",
        table(results),
    ]
    if args.reasons and any(r.reasons for r in results):
        report += ["", f"most common failure/error messages (top {args.reasons}):", top_reasons(results, args.reasons)]
    text = "\n".join(report)
    (out / "summary.txt").write_text(text + "\n")
    print("\n" + text)
    if results and results[-1].interrupted:
        log("interrupted; the service was stopped")
        return 130
    return 0


def reexec_in_venv() -> None:
    """Run under the project's virtual environment (the service's package and pymongo live there)."""
    python = VENV / "bin" / "python"
    if Path(sys.prefix).resolve() != VENV.resolve() and python.exists():
        os.execv(python, [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


if __name__ == "__main__":
    reexec_in_venv()
    sys.path.insert(0, str(ROOT))
    signal.signal(signal.SIGTERM, on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background
    try:
        sys.exit(main(sys.argv[1:]))
    except SetupError as exc:
        log(f"cannot run the suite: {exc}")
        sys.exit(1)
    except (KeyboardInterrupt, Stopped):
        log("interrupted; the service was stopped")
        sys.exit(130)
