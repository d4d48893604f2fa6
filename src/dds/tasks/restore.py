"""Job kinds of restores: a backup (or the archive as of a time, see `tasks.pitr`) into a new
instance, or onto an existing one; and collections as of a time into a running instance.

The archive is streamed from the store and every checksum verified before any instance is
touched. A physical backup is restored by putting its engine files in place of the target's
(the engine stopped meanwhile): the backup's users and role grants come back, except the
service's login and the tenant's rwuser, which keep the target's credentials; the oplog stays the
target's. An older
mongodump-layout backup is loaded through the wire protocol as before. A restore onto an
existing instance sets the target's files aside first and puts them back if anything fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from dds.backup import archive, base_backup, dump, load, logins, physical, users
from dds.backup.hashed import HashedStream
from dds.backup.manifest import PHYSICAL_POSTGRESQL
from dds.core import copies
from dds.core.errors import BackupCorrupt, BackupNotFound, InstanceNotFound
from dds.db.models import Instance
from dds.domain.jobs import JobName
from dds.domain.states import BackupStatus, InstanceStatus, NodeStatus, settled, transition
from dds.fleet import as_of, authorization, layout, members, nodes, secrets, staging_server, temporary
from dds.fleet.authorization import KEPT_USERS
from dds.jobs.registry import JobContext, JobKind
from dds.parts import Parts
from dds.tasks import pitr
from dds.tasks.backup_files import backup_of
from dds.tasks.pitr import by_source
from dds.tasks.steps import (
    clear_staging,
    create_failed,
    ensure_oplog,
    ensure_running,
    finish_create,
    init_engine,
    start_nodes,
)

SNAPSHOT = "data.pre-restore"  # a node's engine files as they were before a restore
BUILDING = "data.restore"  # the restored files being put together
READY = "data.ready"  # ... and once they are complete
INCOMING = "data.incoming"  # a copy of the staged files, before it is whole
PHYSICAL, DUMP = "physical", "dump"  # payload["format"]: how the verified backup is applied
BASE = "base_backup"  # ... a base backup, in place as the new instance's first member
_KEPT = tuple(f"{db}.{user}" for db, user in KEPT_USERS)  # users a restore leaves as the target has them


def _fresh_staging(ctx: JobContext) -> Path:
    work = layout.staging(ctx.parts.settings, ctx.job_id)
    archive.clear(work)
    work.mkdir(parents=True)
    return work


def _restorable(ctx: JobContext) -> tuple[str, str, int, str, str, str]:
    """The job's backup, if it can be restored: (key, file name, size, sha256, format, instance)."""
    with ctx.parts.db.session() as s:
        b = backup_of(s, ctx)
        if b.status != BackupStatus.COMPLETED:
            raise BackupCorrupt(f"The backup is {b.status} and cannot be restored.")
        found = (b.object_key, b.file_name, b.size_bytes, b.sha256, str((b.manifest or {}).get("format", "")))
        instance_id = b.instance_id
    if ctx.parts.store.size(found[0]) is None:
        raise BackupCorrupt("The backup file is missing from the backup store.")
    return (*found, instance_id)


def fetch_verify(ctx: JobContext) -> None:
    """Stream the archive from the store into staging, checking every checksum; the target is
    not touched yet. The format is told by the archive itself (zstd: physical; gzip: dump)."""
    parts = ctx.parts
    work = _fresh_staging(ctx)
    key, file_name, size, digest, fmt, instance_id = _restorable(ctx)
    if fmt == PHYSICAL_POSTGRESQL:
        _dump_base_backup(ctx, instance_id, key, size, digest, work)
        return
    stream = HashedStream(parts.store.read(key), size, digest)
    if physical.is_physical(stream.peek()):
        manifest = stream.unpacked(lambda reader: physical.unpack(reader, work / "x"))
        ctx.payload["format"] = PHYSICAL
        ctx.payload["authorization"] = manifest.authorization  # None: an archive made before
        return
    local = work / file_name
    with local.open("wb") as out:
        for chunk in stream.chunks:
            out.write(chunk)
    archive.verify_archive(local, size, digest)
    archive.unpack(local, work / "x")
    local.unlink()
    ctx.payload["format"] = DUMP


def fetch_verify_new(ctx: JobContext) -> None:
    """`fetch_verify` for a new instance; a base backup restored into a new replica set on
    PostgreSQL storage becomes its first member's server directory (`_seed_from_base_backup`)."""
    with ctx.parts.db.session() as s:
        fmt = str((backup_of(s, ctx).manifest or {}).get("format", ""))
    if fmt == PHYSICAL_POSTGRESQL and _target_on_postgresql(ctx):
        _seed_from_base_backup(ctx)
    else:
        fetch_verify(ctx)


def _seed_from_base_backup(ctx: JobContext) -> None:
    """Physical restore: the verified base backup, detached from its source's replication, is
    made the first member's server directory (`_seed`)."""
    key, _, size, digest, _, _ = _restorable(ctx)
    work = _fresh_staging(ctx)
    manifest = HashedStream(ctx.parts.store.read(key), size, digest).unpacked(lambda r: base_backup.unpack(r, work))
    base_backup.detach(work / base_backup.PGDATA)
    _seed(ctx, work, manifest.authorization)


def _seed(ctx: JobContext, work: Path, grants: dict[str, Any] | None) -> None:
    """The copy in `work/pgdata` is brought up once by a server of our own (the WAL it carries
    replayed; the service user and rwuser given the new instance's passwords), stopped cleanly
    and left where every member is created from (`members.seed_dir`): pg_auto_failover registers
    the first as the primary and the others as its standbys, which start from their copies
    instead of a base backup each over the replication protocol (measured: restoring 339 MB of
    server files, making the members took 16.9 s with two base backups and 6.9 s with copies).
    The copies are made from the first member's place, so the one sync that ends them covers
    its move there too."""
    parts = ctx.parts
    with parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            raise BackupNotFound("The target instance no longer exists.")
        seeds = [members.seed_dir(parts, n) for n in inst.nodes]
    pgdata = work / base_backup.PGDATA
    settings = parts.settings
    with staging_server.serving(parts, pgdata) as port:
        logins.reset_in_postgresql(port, secrets.service_password(settings, ctx.instance_id))
        tenant = secrets.pending_password(settings, ctx.instance_id)
        logins.reset_in_postgresql(port, tenant, logins.TENANT_ID, required=False)
    for seed in seeds:
        archive.clear(seed)
        seed.mkdir(parents=True)
    first = seeds[0] / base_backup.PGDATA
    pgdata.rename(first)
    copies.copy_synced(first, [seed / base_backup.PGDATA for seed in seeds[1:]])
    ctx.payload["format"] = BASE
    ctx.payload["authorization"] = grants


def _open_base_backup(ctx: JobContext) -> None:
    """The new replica set runs on the backup's data: its own oplog (not the source's history),
    the backup's role grants for the users it holds."""
    parts = ctx.parts
    with parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            raise BackupNotFound("The target instance no longer exists.")
        _ = inst.nodes
    with nodes.admin_client(parts, inst, timeout_ms=30000) as client:
        client.local.drop_collection("oplog.rs")
        ensure_oplog(parts, inst, client)
        found = client.admin.command("usersInfo", {"forAllDBs": True})["users"]
        ctx.payload["databases"] = len(client.list_database_names())
    wanted = ctx.payload.get("authorization")
    if wanted is not None:
        authorization.replace(parts.settings, inst.id, wanted, {(u["db"], u["user"]) for u in found})


def _dump_base_backup(ctx: JobContext, instance_id: str, key: str, size: int, digest: str, work: Path) -> None:
    """A base backup (PostgreSQL storage) is restored through the wire (`_dump_copy`)."""
    stream = HashedStream(ctx.parts.store.read(key), size, digest)
    manifest = stream.unpacked(lambda r: base_backup.unpack(r, work / "pg"))
    _dump_copy(ctx, instance_id, work, manifest.authorization)


def _dump_copy(ctx: JobContext, instance_id: str, work: Path, grants: dict[str, Any] | None) -> None:
    """The copy in `work/pg/pgdata` is brought up by a server of its own, dumped by a temporary
    engine in the mongodump layout and loaded like a dump. Its users (`backup.users`) and
    `grants` come along into a target on PostgreSQL storage (`_take_users`)."""
    dumped = work / "x" / "dump"
    with temporary.serve_base_backup(ctx.parts, instance_id, work / "pg", users_into=dumped) as client:
        dump.dump(client, dumped)
    archive.clear(work / "pg")
    ctx.payload["format"] = DUMP
    ctx.payload["authorization"] = grants


def fetch_as_of_new(ctx: JobContext) -> None:
    """`fetch_as_of` for a new instance: a replica set on PostgreSQL storage restored as of a time
    into another is seeded physically (`_seed`)."""
    if not (_source_on_postgresql(ctx) and _target_on_postgresql(ctx)):
        fetch_as_of(ctx)
        return
    source, at = str(ctx.payload["source_instance_id"]), int(ctx.payload["restore_time_ms"])
    work = _fresh_staging(ctx)
    as_of.recover(ctx.parts, source, at, work)
    _seed(ctx, work, authorization.as_of(ctx.parts.settings, source, at))


def _source_on_postgresql(ctx: JobContext) -> bool:
    with ctx.parts.db.session() as s:
        inst = s.get(Instance, ctx.payload["source_instance_id"])
        if inst is None:
            raise InstanceNotFound("The source instance of the point-in-time restore no longer exists.")
        return members.uses_postgresql(inst)


def fetch_as_of(ctx: JobContext) -> None:
    """Point in time: the source's files as of the time, restored from its archive into staging
    where a physical backup's files would be; they are then put in place the same way. A replica
    set on PostgreSQL storage is recovered from a base backup and its WAL archive (`as_of`) and
    read through the wire (`_dump_copy`)."""
    parts = ctx.parts
    p = ctx.payload
    if _source_on_postgresql(ctx):
        work = _fresh_staging(ctx)
        source, at = str(p["source_instance_id"]), int(p["restore_time_ms"])
        as_of.recover(parts, source, at, work / "pg")
        _dump_copy(ctx, source, work, authorization.as_of(parts.settings, source, at))
        return
    archive.clear(layout.staging(parts.settings, ctx.job_id))
    pitr.restore_into(parts, p["source_instance_id"], int(p["restore_time_ms"]), staged_dir(parts, ctx) / physical.DATA)
    ctx.payload["format"] = PHYSICAL
    # The users are the archive's as of the time, the grants the source's version of then.
    at = int(p["restore_time_ms"])
    ctx.payload["authorization"] = authorization.as_of(parts.settings, p["source_instance_id"], at)


def as_dump_for_postgresql(ctx: JobContext) -> None:
    """A target on PostgreSQL storage takes data only through the wire: the verified engine files
    (a SQLite instance's backup, or its archive as of a time) are dumped by a temporary engine
    into the mongodump layout, then loaded like a dump. The target's users stay."""
    if ctx.payload.get("format") != PHYSICAL or not _target_on_postgresql(ctx):
        return
    parts = ctx.parts
    source = ctx.payload.get("source_instance_id")
    if source is None:
        with parts.db.session() as s:
            source = backup_of(s, ctx).instance_id
    staged = staged_dir(parts, ctx)
    archive.clear(staged / "dump")
    with temporary.serve_restored(parts, str(source), staged) as client:
        dump.dump(client, staged / "dump")
    archive.clear(staged / physical.DATA)
    ctx.payload["format"] = DUMP


def _target_on_postgresql(ctx: JobContext) -> bool:
    with ctx.parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        return inst is not None and members.uses_postgresql(inst)


def staged_dir(parts: Parts, ctx: JobContext) -> Path:
    return layout.staging(parts.settings, ctx.job_id) / "x"


def complete(building: Path, original: Path, backup_users: bool, kept: tuple[str, ...] = _KEPT) -> None:
    """Make the backup's databases in `building` the target's new engine files, in place: the
    oplog (local) and sessions (config) kept from `original`, and in admin the backup's users
    but the kept ones (`backup_users`; archives made before grants were recorded keep all the
    target's users). Every action overwrites what an interrupted earlier run may have left, so
    it can run again."""
    for entry in building.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        elif entry.suffix != ".sqlite":
            entry.unlink()
    for name in sorted(physical.SKIP_DATABASES):  # the oplog (local) and sessions stay the target's
        own = original / f"{name}.sqlite"
        if own.exists():
            physical.copy_database(own, building / own.name)
    admin = original / "admin.sqlite"
    if not admin.exists():
        raise BackupCorrupt("The target instance has no admin database to keep its users from.")
    if (building / admin.name).exists() and backup_users:
        physical.take_users(building / admin.name, admin, kept)
    elif (building / admin.name).exists():
        physical.keep_users(building / admin.name, admin)
    else:
        physical.copy_database(admin, building / admin.name)


def take_staged(staged: Path, node_dir: Path, consume: bool) -> None:
    """The verified files into the node's BUILDING directory, which appears only whole: a rename
    (the staging area is on the data directory's file system) or, failing that, a copy under
    another name renamed when complete. The staged files go only once BUILDING exists."""
    incoming, building = node_dir / INCOMING, node_dir / BUILDING
    shutil.rmtree(incoming, ignore_errors=True)  # an interrupted copy
    if consume:
        try:
            staged.rename(building)
            return
        except OSError:
            pass  # another file system: copy
    shutil.copytree(staged, incoming)
    incoming.rename(building)
    if consume:
        shutil.rmtree(staged, ignore_errors=True)


def _put_files(ctx: JobContext) -> None:
    """Stop the target, put the backup's files in place of its own (set aside, not deleted)
    and start it again; the service's own login and the tenant's rwuser keep working.

    Resumable at every point (a crash may stop it anywhere): per node, staged files → BUILDING
    (whole) → READY (complete) → the data directory, with the original set aside as SNAPSHOT
    first. READY or BUILDING gone with SNAPSHOT present means an earlier run swapped the node."""
    parts = ctx.parts
    staged = staged_dir(parts, ctx) / physical.DATA
    wanted = ctx.payload.get("authorization")  # the backup's grants; None: keep the target's users
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            raise BackupNotFound("The target instance no longer exists.")
        for index, node in enumerate(inst.nodes):
            node_dir = layout.node_dir(parts.settings, node)
            data, snap = layout.data_dir(parts.settings, node), node_dir / SNAPSHOT
            building, ready = node_dir / BUILDING, node_dir / READY
            nodes.stop_node(parts, node)
            if not ready.exists() and not building.exists():
                if staged.is_dir() and any(staged.glob("*.sqlite")):
                    take_staged(staged, node_dir, consume=index == len(inst.nodes) - 1)
                elif snap.exists():
                    continue  # swapped by an earlier run of this job
                else:
                    raise BackupCorrupt("The verified backup is no longer in staging; restart the restore.")
            if not ready.exists():
                complete(building, snap if snap.exists() else data, wanted is not None)
                building.rename(ready)
            if snap.exists():
                shutil.rmtree(data, ignore_errors=True)  # an earlier attempt's files; snap is the original
            elif data.exists():
                data.rename(snap)
            ready.rename(data)
        ctx.payload["databases"] = open_restored(parts, inst, wanted)


def open_restored(parts: Parts, inst: Instance, wanted: dict[str, Any] | None) -> int:
    """The restored files in place on every node: the backup's grants (`wanted`; None keeps the
    target's), every node started, a replica set's oplog there; returns how many databases the
    service sees (it still logs in)."""
    if wanted is not None:
        users = physical.user_names(layout.data_dir(parts.settings, nodes.primary(inst)) / "admin.sqlite")
        authorization.replace(parts.settings, inst.id, wanted, users)
    for node in inst.nodes:
        node.pid = nodes.start_node(parts, inst, node)
        transition(node, NodeStatus.NORMAL)
    with nodes.admin_client(parts, inst, timeout_ms=30000) as client:
        ensure_oplog(parts, inst, client)
        return len(client.list_database_names())


def _set_aside(ctx: JobContext) -> None:
    """Before a dump is loaded: stop the target, copy its engine files aside, start it again.
    (Physical restores set the files aside when they swap them.)"""
    if ctx.payload.get("format") != DUMP:
        return
    parts = ctx.parts
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            raise BackupNotFound("The target instance no longer exists.")
        if members.uses_postgresql(inst):
            _dump_aside(parts, ctx, inst)
            return
        for node in inst.nodes:
            snap = layout.node_dir(parts.settings, node) / SNAPSHOT
            if snap.exists():
                continue  # taken by an earlier attempt: that copy is the original
            nodes.stop_node(parts, node)
            partial = snap.with_name(SNAPSHOT + ".partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.copytree(layout.data_dir(parts.settings, node), partial)
            partial.rename(snap)
        for node in inst.nodes:
            if not nodes.is_running(parts, node):
                node.pid = nodes.start_node(parts, inst, node)
                transition(node, NodeStatus.NORMAL)


def _aside_dir(parts: Parts, instance_id: str) -> Path:
    """A PostgreSQL-backed target's tenant data as it was before the restore (mongodump layout):
    beside the instance, so it outlives the job's staging area until the restore settles."""
    return layout.instance_dir(parts.settings, instance_id) / SNAPSHOT


def _dump_aside(parts: Parts, ctx: JobContext, inst: Instance) -> None:
    """The target's data set aside before the dump replaces it (its servers keep running: a
    replica set on PostgreSQL storage is never stopped as a whole). Taken once: a resumed job
    keeps the first, whole copy."""
    aside = _aside_dir(parts, inst.id)
    if aside.exists():
        return
    partial = aside.with_name(SNAPSHOT + ".partial")
    archive.clear(partial)
    with nodes.admin_client(parts, inst, timeout_ms=30000) as client:
        dump.dump(client, partial)
    users.save(members.wait_primary(parts, inst).port, partial)
    partial.rename(aside)


def _put_aside_back(parts: Parts, inst: Instance) -> None:
    """A failed restore onto a PostgreSQL-backed target: its data as set aside, loaded again."""
    aside = _aside_dir(parts, inst.id)
    if not aside.exists():
        return
    with nodes.admin_client(parts, inst, timeout_ms=30000) as client:
        load.clear_tenant_data(client)
        load.load(client, aside)
    rows = users.saved(aside)
    if rows is not None:
        users.replace(members.wait_primary(parts, inst).port, rows, kept=())
    archive.clear(aside)


def _load(ctx: JobContext) -> None:
    """Replace the target's tenant data with the verified dump (also undoes an interrupted attempt)."""
    parts = ctx.parts
    root = staged_dir(parts, ctx) / "dump"
    if not root.is_dir():
        raise BackupCorrupt("The verified backup is no longer in staging; restart the restore.")
    ensure_running(ctx)
    with parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            raise BackupNotFound("The target instance no longer exists.")
        _ = inst.nodes
    with nodes.admin_client(parts, inst, timeout_ms=30000) as client:
        load.clear_tenant_data(client)
        counts = load.load(client, root)
    ctx.payload["documents"] = counts["documents"]
    _take_users(ctx, inst, root)


def _take_users(ctx: JobContext, inst: Instance, root: Path) -> None:
    """A dump of a copy on PostgreSQL storage loaded into a target on it: the copy's users (but the
    kept ones) and its grants, as a physical restore brings them. Other dumps keep the target's."""
    rows, wanted = users.saved(root), ctx.payload.get("authorization")
    if rows is None or wanted is None or not members.uses_postgresql(inst):
        return
    found = users.replace(members.wait_primary(ctx.parts, inst).port, rows, _KEPT)
    authorization.replace(ctx.parts.settings, inst.id, wanted, found)


def _apply(ctx: JobContext) -> None:
    """Physical backups: files back in place; mongodump-layout backups: documents re-inserted."""
    if ctx.payload.get("format") == PHYSICAL:
        _put_files(ctx)
    elif ctx.payload.get("format") == BASE:
        _open_base_backup(ctx)
    else:
        _load(ctx)


def _drop_snapshots(parts: Parts, inst: Instance) -> None:
    authorization.forget_aside(parts.settings, inst.id)
    archive.clear(_aside_dir(parts, inst.id))
    for node in inst.nodes:
        for name in (SNAPSHOT, BUILDING, READY, INCOMING):
            shutil.rmtree(layout.node_dir(parts.settings, node) / name, ignore_errors=True)


def _finish_new(ctx: JobContext) -> None:
    with ctx.parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is not None:
            _drop_snapshots(ctx.parts, inst)
    clear_staging(ctx.parts, ctx.job_id)
    finish_create(ctx)


def _restore_new_failed(ctx: JobContext, reason: str) -> None:
    clear_staging(ctx.parts, ctx.job_id)
    create_failed(ctx, reason)


def _finish_recovery(ctx: JobContext) -> None:
    parts = ctx.parts
    with parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is not None:
            _drop_snapshots(parts, inst)
            transition(inst, settled(inst.read_only))
            inst.updated = parts.clock.now()
    clear_staging(parts, ctx.job_id)


def _recovery_failed(ctx: JobContext, reason: str) -> None:
    """Put the set-aside files back (if the target was touched at all) and restart the target."""
    parts = ctx.parts
    clear_staging(parts, ctx.job_id)
    with parts.locks.of(ctx.instance_id), parts.db.session() as s:
        inst = s.get(Instance, ctx.instance_id)
        if inst is None:
            return
        authorization.put_back(parts.settings, inst.id)
        if members.uses_postgresql(inst):
            _put_aside_back(parts, inst)
            transition(inst, settled(inst.read_only))
            return
        for node in inst.nodes:
            node_dir = layout.node_dir(parts.settings, node)
            snap = node_dir / SNAPSHOT
            if snap.exists():
                nodes.stop_node(parts, node)
                data = layout.data_dir(parts.settings, node)
                shutil.rmtree(data, ignore_errors=True)
                snap.rename(data)
            for name in (BUILDING, READY, INCOMING):
                shutil.rmtree(node_dir / name, ignore_errors=True)
        running = True
        for node in inst.nodes:
            if not nodes.is_running(parts, node):
                try:
                    node.pid = nodes.start_node(parts, inst, node)
                    transition(node, NodeStatus.NORMAL)
                except Exception:
                    transition(node, NodeStatus.ABNORMAL)
                    running = False
        transition(inst, settled(inst.read_only) if running else InstanceStatus.ABNORMAL)


KINDS = (
    JobKind(
        JobName.RESTORE_NEW,
        (
            by_source(fetch_verify_new, fetch_as_of_new),
            as_dump_for_postgresql,
            start_nodes,
            init_engine,
            _apply,
            _finish_new,
        ),
        on_failure=_restore_new_failed,
    ),
    JobKind(
        JobName.RESTORE_CURRENT,
        (by_source(fetch_verify, fetch_as_of), as_dump_for_postgresql, _set_aside, _apply, _finish_recovery),
        on_failure=_recovery_failed,
    ),
    JobKind(
        JobName.RESTORE_COLLECTIONS,
        (pitr.fetch_collections, pitr.copy_collections, pitr.finish_collections),
        on_failure=pitr.collections_failed,
    ),
)
