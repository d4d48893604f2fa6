"""Instance operations: validate, write rows and the job in one transaction."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from dds.core import ids
from dds.core.errors import (
    Conflict,
    InstanceNotFound,
    InvalidEngine,
    InvalidMode,
    InvalidNodeNumber,
    InvalidNodeType,
    InvalidParameter,
    InvalidSpecifications,
    InvalidStorageSize,
    InvalidStorageType,
    InvalidUsername,
    InvalidVersion,
    PortInUse,
    SpecificationsMatch,
    StorageNotMultipleOfTen,
    StorageOutOfRange,
    Unsupported,
)
from dds.db.models import Instance, Job, Node
from dds.domain import catalog, rules, tags
from dds.domain.backup_policy import parse_keep_days, parse_window
from dds.domain.jobs import CHANGING_JOBS, JobName
from dds.domain.rules import check_paging
from dds.domain.states import ALLOWED, InstanceStatus, JobStatus, NodeStatus, can_transition, transition
from dds.fleet import addresses, layout, nodes, secrets
from dds.jobs.queue import enqueue
from dds.parts import Parts
from dds.provision import ports
from dds.services import quotas
from dds.wire import models as w

allocation = threading.Lock()  # port choice and its commit happen together


def get(s: Session, project_id: str, instance_id: str) -> Instance:
    """The project's instance, or 404 as if others' did not exist."""
    inst = s.get(Instance, instance_id)
    if inst is None or inst.project_id != project_id:
        raise InstanceNotFound()
    return inst


def require(inst: Instance, action: str) -> None:
    if inst.status not in ALLOWED[action]:
        raise Conflict(f"The DB instance status ({inst.status}) does not allow this operation.")


def require_sqlite(inst: Instance, what: str) -> None:
    """Backups, restores and port changes of replica sets on PostgreSQL storage come with their own
    tools (base backups, WAL archiving); until then they are refused, never half done."""
    if inst.storage == "postgresql":
        raise Unsupported(f"{what} is not available yet for replica sets on PostgreSQL storage.")


def _flavor(req: w.CreateInstanceRequestBody) -> tuple[catalog.Flavor, str, int]:
    if req.mode == "Sharding":
        raise Unsupported("Cluster (Sharding) instances are not supported by the bundled engine (FerretDB).")
    if req.mode not in catalog.MODE_FLAVOR_TYPE:
        raise InvalidMode("Invalid DB instance mode. Valid values: ReplicaSet, Single.")
    want = catalog.MODE_FLAVOR_TYPE[req.mode]
    if not req.flavor or len(req.flavor) != 1:
        raise InvalidNodeType(f"Mode {req.mode} takes exactly one flavor of type {want}.")
    f = req.flavor[0]
    if f.type != want:
        raise InvalidNodeType(f"Invalid node type for mode {req.mode}: expected {want}.")
    flavor = catalog.FLAVORS.get(str(f.spec_code))
    if flavor is None or flavor.type != want:
        raise InvalidSpecifications(f"Invalid specifications {f.spec_code!r}.")
    storage = str(f.storage or catalog.STORAGE_TYPES[0])
    if storage not in catalog.STORAGE_TYPES:
        raise InvalidStorageType(f"Invalid storage type {storage!r}.")
    size = _volume(f.size, want)
    # OTC sends num 1 for a replica set (three members), Huawei 3/5/7.
    if str(f.num or "1") not in (("1", "3", "5", "7") if want == "replica" else ("1",)):
        raise InvalidNodeNumber()
    return flavor, storage, size


def member_count(req: w.CreateInstanceRequestBody) -> int:
    """Members of a replica set on PostgreSQL storage: the flavor's `num`, three for OTC's 1."""
    num = int(str(req.flavor[0].num or "1")) if req.flavor else 1
    return 3 if num == 1 else num


def _volume(value: Any, flavor_type: str, current: int = 0) -> int:
    size = rules.parse_int(value, "volume size")
    low, high = catalog.VOLUME_LIMITS_GB[flavor_type]
    if size % 10:
        raise StorageNotMultipleOfTen()
    if not low <= size <= high:
        raise StorageOutOfRange(f"The storage space is out of range ({low}-{high} GB).")
    return size


def _taken_ports(s: Session) -> set[int]:
    taken: set[int] = set()
    for port, eport, dport, sport in s.execute(select(Node.port, Node.engine_port, Node.debug_port, Node.storage_port)):
        taken.update(p for p in (port, eport, dport, sport) if p is not None)
    for (monitor,) in s.execute(select(Instance.monitor_port)):
        if monitor is not None:
            taken.add(monitor)
    return taken


def add_member_nodes(
    parts: Parts, s: Session, inst: Instance, count: int, role: str = "Secondary", kind: str = ""
) -> list[Node]:
    """`count` more members for a replica set on PostgreSQL storage, as creation makes them: an
    address of their own with the instance's port where the service is on loopback (else a client
    port each), an engine, a debug and a PostgreSQL port each; named `<name>_<kind>_node_<k>`
    (`kind` the mode's flavor type unless given). The caller holds `allocation`."""
    hosts = addresses.member_hosts(parts.settings.client_host, parts.settings.engine_host, len(inst.nodes) + count)
    free_hosts = [h for h in hosts or [] if h not in {n.host for n in inst.nodes}]
    wanted = (3 if hosts else 4) * count
    low, high = parts.settings.port_bounds
    chosen = ports.pick(parts.settings.engine_host, low, high, _taken_ports(s), wanted)
    if len(chosen) != wanted:
        raise Conflict("No free port is left in the configured range.")
    spare = iter(chosen)
    names = {n.name for n in inst.nodes}
    role_type = kind or catalog.MODE_FLAVOR_TYPE[inst.mode]
    added = []
    for i in range(count):
        k = len(names) + 1
        while f"{inst.name}_{role_type}_node_{k}" in names:
            k += 1
        names.add(f"{inst.name}_{role_type}_node_{k}")
        node = Node(
            id=ids.node_id(),
            name=f"{inst.name}_{role_type}_node_{k}",
            role=role,
            status=NodeStatus.CREATING,
            host=free_hosts[i] if hosts else parts.settings.client_host,
            port=inst.port if hosts else next(spare),
            engine_host=addresses.ENGINE_HOST,
            engine_port=next(spare),
            debug_port=next(spare),
            storage_port=next(spare),
        )
        inst.nodes.append(node)
        added.append(node)
    s.flush()
    return added


def separate_engine_ports(parts: Parts) -> int:
    """Nodes created before gateways existed have their engine on the client port: give each
    engine a private loopback port so a gateway can take the client port (start-up only)."""
    low, high = parts.settings.port_bounds
    moved = 0
    with allocation, parts.db.session() as s:
        for node in s.scalars(select(Node).where(Node.engine_port == Node.port)):
            picked = ports.pick(parts.settings.engine_host, low, high, _taken_ports(s), 1)
            if not picked:
                raise Conflict("No free port is left in the configured range.")
            node.engine_host, node.engine_port = addresses.ENGINE_HOST, picked[0]
            s.flush()
            moved += 1
    return moved


def _check_port_free(parts: Parts, s: Session, port: int) -> None:
    if port in _taken_ports(s) or not ports.is_free(parts.settings.engine_host, port):
        raise PortInUse(f"The port {port} is already in use.")


@dataclass
class ValidCreate:
    """A create request that passed every check; what `provision` needs."""

    name: str
    password: str
    mode: str
    flavor: catalog.Flavor
    storage: str
    size: int
    version: str
    port: int | None
    keep_days: int
    start_time: str


def validate_create(req: w.CreateInstanceRequestBody) -> ValidCreate:
    """Every create rule (also used by restore-to-new, which fills mode and datastore)."""
    name = rules.check_instance_name(req.name)
    password = rules.check_password(req.password)
    flavor, storage, size = _flavor(req)
    ds = req.datastore or w.Datastore()
    if ds.type != catalog.DATASTORE:
        raise InvalidEngine(f"Invalid DB engine. Valid value: {catalog.DATASTORE}.")
    if str(ds.version) not in catalog.VERSIONS:
        raise InvalidVersion(f"Invalid database version. Valid values: {', '.join(catalog.VERSIONS)}.")
    requested_port = rules.check_port(req.port)
    keep_days, start_time = _backup_strategy(req.backup_strategy)
    return ValidCreate(
        name, password, str(req.mode), flavor, storage, size, str(ds.version), requested_port, keep_days, start_time
    )


def create(parts: Parts, project_id: str, req: w.CreateInstanceRequestBody) -> tuple[Instance, Job]:
    """Validate everything first; then instance, node and job commit together."""
    return provision(parts, project_id, req, validate_create(req), job_name=JobName.CREATE)


def provision(
    parts: Parts,
    project_id: str,
    req: w.CreateInstanceRequestBody,
    v: ValidCreate,
    *,
    job_name: str,
    payload: dict[str, Any] | None = None,
) -> tuple[Instance, Job]:
    """Instance, node and job (`job_name`, e.g. create or restore-to-new) in one transaction."""
    name, password, flavor, storage, size = v.name, v.password, v.flavor, v.storage, v.size
    requested_port, keep_days, start_time = v.port, v.keep_days, v.start_time
    given_tags = tags.from_request(req.tags)
    now = parts.clock.now()
    low, high = parts.settings.port_bounds
    with allocation, parts.db.session() as s:
        taken = _taken_ports(s)
        on_postgresql = (
            v.mode == "ReplicaSet"
            and parts.settings.replica_set_storage == "postgresql"
            and job_name in (JobName.CREATE, JobName.RESTORE_NEW)
        )
        # Single and SQLite: one node (client, engine, debug port). PostgreSQL: per member a client,
        # engine, debug and PostgreSQL port, and the monitor's.
        count = member_count(req) if on_postgresql else 1
        own_hosts = addresses.member_hosts(parts.settings.client_host, parts.settings.engine_host, count)
        wanted = 4 * count + 1 - (count - 1 if own_hosts else 0) if on_postgresql else 3
        if requested_port is not None:
            _check_port_free(parts, s, requested_port)
            picked = ports.pick(parts.settings.engine_host, low, high, taken | {requested_port}, wanted - 1)
            chosen = [requested_port, *picked]
        else:
            chosen = ports.pick(parts.settings.engine_host, low, high, taken, wanted)
        if len(chosen) != wanted:
            raise Conflict("No free port is left in the configured range.")
        quotas.check_room(parts, s, project_id, instances=1, volume_gb=size)
        port = chosen[0]
        inst = Instance(
            id=ids.instance_id(),
            project_id=project_id,
            name=name,
            mode=v.mode,
            status=InstanceStatus.CREATING,
            datastore_type=catalog.DATASTORE,
            datastore_version=v.version,
            spec_code=flavor.spec_code,
            storage_type=storage,
            volume_gb=size,
            port=port,
            region=req.region or parts.settings.region,
            availability_zone=req.availability_zone or parts.settings.availability_zone,
            vpc_id=req.vpc_id or "",
            subnet_id=req.subnet_id or "",
            security_group_id=req.security_group_id or "",
            ssl_option=str(req.ssl_option or "0"),
            backup_keep_days=keep_days,
            backup_start_time=start_time,
            incremental_backup=bool(parts.settings.incremental_backup_default and keep_days and v.mode == "ReplicaSet"),
            tags=given_tags,
            extra=req.model_dump(exclude={"password", "restore_point"}, exclude_none=True),
            storage="postgresql" if on_postgresql else "sqlite",
            monitor_port=chosen[-1] if on_postgresql else None,
            created=now,
            updated=now,
        )
        role_type = catalog.MODE_FLAVOR_TYPE[v.mode]
        spare = iter(chosen[1:-1] if on_postgresql else chosen[1:])
        for i in range(count):
            # the client's port (the gateway's), the engine's private one, its debug, the member's PostgreSQL
            client = port if i == 0 or own_hosts else next(spare)
            engine_port, debug_port = next(spare), next(spare)
            inst.nodes.append(
                Node(
                    id=ids.node_id(),
                    name=f"{name}_{role_type}_node_{i + 1}",
                    role="Primary" if i == 0 else "Secondary",
                    status=NodeStatus.CREATING,
                    host=own_hosts[i] if own_hosts and on_postgresql else parts.settings.client_host,
                    port=client,
                    engine_host=addresses.ENGINE_HOST,
                    engine_port=engine_port,
                    debug_port=debug_port,
                    storage_port=next(spare) if on_postgresql else None,
                )
            )
        s.add(inst)
        job = enqueue(
            s,
            name=job_name,
            project_id=project_id,
            now=now,
            instance_id=inst.id,
            instance_name=name,
            payload=payload,
        )
        # The password reaches the job through a 0600 file, never the job row.
        secrets.hand_over_password(parts.settings, inst.id, password)
        try:
            s.flush()
        except Exception:
            layout.remove_instance_files(parts.settings, inst.id)
            raise
    parts.wakeup.set()
    return inst, job


def _backup_strategy(value: w.BackupStrategy | None) -> tuple[int, str]:
    value = value or w.BackupStrategy()
    keep = parse_keep_days(7 if value.keep_days is None else value.keep_days)
    start = parse_window(value.start_time or "00:00-01:00")
    return keep, start


@dataclass
class InstanceQuery:
    """Filters and paging of the instance list, as the DDS query string names them."""

    id: str | None = None
    name: str | None = None
    mode: str | None = None
    datastore_type: str | None = None
    vpc_id: str | None = None
    subnet_id: str | None = None
    offset: int = 0
    limit: int = 100


def listing(parts: Parts, project_id: str, query: InstanceQuery) -> tuple[list[Instance], int]:
    offset, limit, name = query.offset, query.limit, query.name
    check_paging(offset, limit)
    q = select(Instance).where(Instance.project_id == project_id)
    for col, val in (
        (Instance.id, query.id),
        (Instance.mode, query.mode),
        (Instance.datastore_type, query.datastore_type),
        (Instance.vpc_id, query.vpc_id),
        (Instance.subnet_id, query.subnet_id),
    ):
        if val:
            q = q.where(col == val)
    if name:
        q = q.where(Instance.name.contains(name))
    with parts.db.session() as s:
        page = q.options(selectinload(Instance.nodes)).order_by(Instance.created.desc()).offset(offset).limit(limit)
        rows = list(s.scalars(page).all())
        if offset == 0 and len(rows) < limit:  # the page holds everything: no second query
            return rows, len(rows)
        return rows, s.scalar(select(func.count()).select_from(q.subquery())) or 0


def claim(parts: Parts, s: Session, inst: Instance, status: InstanceStatus) -> None:
    """Make the instance this request's alone, or refuse with nothing changed: no changing job
    may be running on it, and of two requests that read it at the same moment only one gets it
    (the row must still hold the status and `updated` it was read with when this transaction
    writes it; the metadata store serializes writers, so the loser sees the winner's row)."""
    running = s.scalar(
        select(Job.name)
        .where(Job.instance_id == inst.id, Job.status == JobStatus.RUNNING, Job.name.in_(CHANGING_JOBS))
        .limit(1)
    )
    if running:
        raise Conflict(f"The DB instance is busy with a {running} job; try again when it has ended.")
    if not can_transition(inst.status, status):
        raise Conflict(f"The DB instance status ({inst.status}) does not allow this operation.")
    now = parts.clock.now()
    written = s.execute(
        update(Instance)
        .where(Instance.id == inst.id, Instance.status == inst.status, Instance.updated == inst.updated)
        .values(status=status, updated=now)
        .execution_options(synchronize_session=False)
    )
    if written.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("The DB instance was changed by another request at the same time; try again.")
    transition(inst, status)
    inst.updated = now


def start_job(
    parts: Parts, s: Session, inst: Instance, kind: str, status: InstanceStatus, payload: dict[str, Any] | None = None
) -> Job:
    """The instance's new status and the job that ends it, in the caller's one transaction."""
    claim(parts, s, inst, status)
    return enqueue(
        s,
        name=kind,
        project_id=inst.project_id,
        now=parts.clock.now(),
        instance_id=inst.id,
        instance_name=inst.name,
        payload=payload,
    )


def delete(parts: Parts, project_id: str, instance_id: str) -> Job:
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        require(inst, "delete")
        job = start_job(parts, s, inst, JobName.DELETE, InstanceStatus.DELETING)
    parts.wakeup.set()
    return job


def restart(parts: Parts, project_id: str, instance_id: str, target_id: str | None = None) -> Job:
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        valid_targets = {inst.id, *(n.id for n in inst.nodes)}
        if target_id and target_id not in valid_targets:
            raise InvalidParameter(f"Invalid target_id {target_id!r}.")
        require(inst, "restart")
        payload = {"target_id": target_id} if target_id and target_id != inst.id else {}
        job = start_job(parts, s, inst, JobName.RESTART, InstanceStatus.REBOOTING, payload)
    parts.wakeup.set()
    return job


def rename(parts: Parts, project_id: str, instance_id: str, new_name: str | None) -> None:
    name = rules.check_instance_name(new_name)
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        require(inst, "rename")
        inst.name = name
        inst.updated = parts.clock.now()


def set_remark(parts: Parts, project_id: str, instance_id: str, remark: str | None) -> None:
    if remark is None or len(remark) > 64 or any(c in remark for c in "><\"'&"):
        raise InvalidParameter("The remark may have at most 64 characters and none of > < \" ' &.")
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        require(inst, "remark")
        inst.remark = remark
        inst.updated = parts.clock.now()


def modify_port(parts: Parts, project_id: str, instance_id: str, port: Any) -> tuple[Job, int]:
    new_port = rules.check_port(port)
    if new_port is None:
        raise InvalidParameter("The port is required.")
    with allocation, parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        require_sqlite(inst, "A port change")
        require(inst, "modify_port")
        if new_port == inst.port:
            raise InvalidParameter("The new port is the same as the current port.")
        _check_port_free(parts, s, new_port)
        job = start_job(
            parts,
            s,
            inst,
            JobName.MODIFY_PORT,
            InstanceStatus.RESIZING,
            {"port": new_port, "old_port": inst.port},
        )
    parts.wakeup.set()
    return job, new_port


def enlarge_volume(parts: Parts, project_id: str, instance_id: str, size: Any) -> Job:
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        flavor_type = catalog.MODE_FLAVOR_TYPE[inst.mode]
        new_size = _volume(size, flavor_type)
        if new_size <= inst.volume_gb:
            raise InvalidStorageSize("The new volume size must be larger than the current size.")
        require(inst, "enlarge_volume")
        quotas.check_room(parts, s, project_id, volume_gb=new_size - inst.volume_gb)
        job = start_job(parts, s, inst, JobName.ENLARGE, InstanceStatus.RESIZING, {"volume_gb": new_size})
    parts.wakeup.set()
    return job


def check_resize(inst: Instance, spec_code: Any) -> str:
    """The flavor a resize would give the instance (its spec code), or the DDS error."""
    flavor = catalog.FLAVORS.get(str(spec_code))
    if flavor is None or flavor.type != catalog.MODE_FLAVOR_TYPE[inst.mode]:
        raise InvalidSpecifications(f"Invalid specifications {spec_code!r}.")
    if flavor.spec_code == inst.spec_code:
        raise SpecificationsMatch("The new flavor is the same as the current flavor.")
    return flavor.spec_code


def resize(parts: Parts, project_id: str, instance_id: str, spec_code: Any) -> Job:
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        new_spec = check_resize(inst, spec_code)
        require(inst, "resize")
        job = start_job(parts, s, inst, JobName.RESIZE, InstanceStatus.RESIZING, {"spec_code": new_spec})
    parts.wakeup.set()
    return job


def reset_password(
    parts: Parts, project_id: str, instance_id: str, user: str | None, password: str | None, db_name: str | None = None
) -> None:
    """Synchronous, as DDS documents: the engine user's password changes at once."""
    pw = rules.check_password(password)
    user = user or "rwuser"
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        require(inst, "reset_password")
        if user == secrets.SERVICE_USER:
            raise InvalidUsername(f"Invalid username {user!r}.")
        with nodes.admin_client(parts, inst) as client:
            db = client[db_name or "admin"]
            known = {u["user"] for u in db.command("usersInfo")["users"]}
            if user not in known:
                raise InvalidUsername(f"The user {user!r} does not exist in database {db.name!r}.")
            db.command("updateUser", user, pwd=pw)


def used_bytes(parts: Parts, inst: Instance) -> int:
    """Bytes the instance's engine files take on disk (what its volume quota counts)."""
    return nodes.data_bytes(parts, inst)


def disk_usage(parts: Parts, project_id: str, instance_id: str) -> tuple[Instance, int]:
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        _ = inst.nodes
        return inst, nodes.data_bytes(parts, inst)
