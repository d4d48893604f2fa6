"""The grants file's versions: what a point-in-time restore reads for the moment it restores."""

from __future__ import annotations

from pathlib import Path

import pytest

from dds.gateway import roles_store
from dds.gateway.roles_store import RolesStore


def _grant(db: str, user: str, role: str) -> object:
    return lambda auth: auth.users.__setitem__((db, user), ((role, db),))


def test_every_change_is_kept_and_found_by_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "authz.json"
    store = RolesStore(path)
    now = [1_000]
    monkeypatch.setattr(roles_store.time, "time", lambda: now[0] / 1000)
    store.change(_grant("shop", "reader", "read"))  # type: ignore[arg-type]
    now[0] = 2_000
    store.change(_grant("shop", "reader", "readWrite"))  # type: ignore[arg-type]

    assert roles_store.as_of(path, 999) is None  # before the history: the caller decides
    at_1 = roles_store.as_of(path, 1_500)
    assert at_1 is not None and at_1["users"][0]["roles"] == [{"role": "read", "db": "shop"}]
    at_2 = roles_store.as_of(path, 2_000)
    assert at_2 is not None and at_2["users"][0]["roles"] == [{"role": "readWrite", "db": "shop"}]
    assert roles_store.as_of(path, 10**13) == store.current().to_json()

    now[0] = 2_000  # two changes in one millisecond: the later one is the version of that time
    store.change(_grant("shop", "reader", "dbOwner"))  # type: ignore[arg-type]
    again = roles_store.as_of(path, 2_000)
    assert again is not None and again["users"][0]["roles"] == [{"role": "dbOwner", "db": "shop"}]


def test_history_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "authz.json"
    monkeypatch.setattr(roles_store, "HISTORY_KEPT", 3)
    for ms in range(1, 6):
        roles_store.record(path, {"users": [], "roles": [], "n": ms}, at_ms=ms)
    kept = sorted(p.name for p in roles_store.history_dir(path).iterdir())
    assert kept == ["000000000000003.json", "000000000000004.json", "000000000000005.json"]
    assert roles_store.as_of(path, 2) is None
