"""Point-in-time helpers shared by the PITR tests: restorable ranges and marks, through the API."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx

# A daily backup policy; tests add `"enable_incremental_backup": True` to it.
POLICY = {"keep_days": "7", "start_time": "23:00-00:00", "period": "1,2,3,4,5,6,7"}


def now_ms() -> int:
    return int(time.time() * 1000)


def ranges_on(c: httpx.Client, prefix: str, iid: str, at: int) -> list[dict[str, int]]:
    """`prefix` is `/v3/<project_id>` on a client of that project."""
    day = datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d")
    r = c.get(f"{prefix}/instances/{iid}/restore-time", params={"date": day})
    assert r.status_code == 200, r.text
    return r.json()["restore_time"]  # type: ignore[no-any-return]


def covered(c: httpx.Client, prefix: str, iid: str, at: int, timeout: float = 30) -> bool:
    """Whether `at` becomes restorable within `timeout` (the archive trails the writes by ~2 s)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r["start_time"] <= at <= r["end_time"] for r in ranges_on(c, prefix, iid, at)):
            return True
        time.sleep(0.3)
    return False


def wait_covered(c: httpx.Client, prefix: str, iid: str, at: int, timeout: float = 30) -> None:
    assert covered(c, prefix, iid, at, timeout), f"{at} not covered: {ranges_on(c, prefix, iid, at)}"


def mark(c: httpx.Client, prefix: str, iid: str) -> int:
    """A wall-clock mark strictly between two groups of writes, at a restorable time. Right after a
    database is created or dropped the archiver restarts and a few seconds are an honest gap, so a
    mark is the first moment (0.3 s steps) that the archive shows covered."""
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        time.sleep(0.3)
        at = now_ms()
        if covered(c, prefix, iid, at, timeout=6):
            return at
    raise AssertionError("no restorable moment in 40 s")


def s3_keys(s3_server: dict[str, str], prefix: str) -> list[str]:
    """The keys under `prefix` in the test S3 server's bucket (`s3_server`: the settings overrides)."""
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server["s3_endpoint_url"],
        aws_access_key_id=s3_server["s3_access_key"],
        aws_secret_access_key=s3_server["s3_secret_key"],
        region_name="us-east-1",
    )
    return [o["Key"] for o in s3.list_objects_v2(Bucket=s3_server["s3_bucket"], Prefix=prefix).get("Contents", [])]
