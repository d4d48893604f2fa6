"""Keeps nodes alive and volumes honest.

Every few seconds: a node whose engine or gateway died gets it back (the instance shows
`abnormal` meanwhile); an instance over its volume is switched to read-only
(`data_disk_full`) until enlarge-volume gives it room.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import object_session, selectinload

from dds.background.periodic import Periodic
from dds.core.errors import Conflict
from dds.db.models import Instance, Job, Node
from dds.domain.states import InstanceStatus, JobStatus, NodeStatus, settled, transition
from dds.fleet import gateways, integrity, layout, members, nodes
from dds.services import instances, recovery, volume_policies

log = logging.getLogger(__name__)

_WATCHED = (InstanceStatus.NORMAL, InstanceStatus.ABNORMAL, InstanceStatus.DATA_DISK_FULL)


class Supervisor(Periodic):
    name = "dds-supervisor"

    def interval(self) -> float:
        return self.parts.settings.supervise_interval

    def reconcile(self) -> None:
        """At start-up: stop processes a previous run left behind, then start every
        instance the metadata says should serve. Nothing runs that metadata does not know."""
        parts = self.parts
        settings = parts.settings
        # A node's processes that outlived a crashed predecessor are adopted: tenants keep their
        # connections. Processes of nodes the metadata does not know, and temporary engines of jobs
        # a crash interrupted, are stopped.
        with parts.db.session() as s:
            known_nodes = {(i, n) for i, n in s.execute(select(Node.instance_id, Node.id))}
            # a replica set's monitor on PostgreSQL storage lives beside its nodes
            on_postgresql = s.scalars(select(Instance.id).where(Instance.storage == "postgresql"))
            known_nodes |= {(i, "monitor") for i in on_postgresql}
        leftovers = parts.provisioner.orphans(settings.instances_dir)
        if settings.backup_staging_dir.exists():
            leftovers += parts.provisioner.orphans(settings.backup_staging_dir)
        for node_dir, role in leftovers:
            if (
                node_dir.parent.parent == settings.instances_dir
                and (node_dir.parent.name, node_dir.name) in known_nodes
            ):
                parts.provisioner.adopt(node_dir, role)
                continue
            log.info("stopping the %s a previous run left in %s", role, node_dir)
            parts.provisioner.stop(node_dir, role)
        for root in (settings.instances_dir, settings.backup_staging_dir):
            swept = parts.provisioner.sweep(root)
            if swept:
                log.warning("killed %d unrecorded process(es) under %s", swept, root)
        moved = instances.separate_engine_ports(parts)
        if moved:
            log.info("gave %d engine(s) a private port behind a gateway", moved)
        with parts.db.session() as s:
            known = set(s.scalars(select(Instance.id)))
        for d in settings.instances_dir.iterdir():
            if d.is_dir() and d.name not in known:
                layout.remove_instance_files(settings, d.name)
        self._start_stopped()
        self.tick()

    def _start_stopped(self) -> None:
        """After a clean stop every node is down, as it should be: start them without a warning
        (the supervisor's tick warns only about processes that die while the service runs)."""
        parts, started = self.parts, 0
        with parts.db.session() as s:
            watched = s.scalars(
                select(Instance).where(Instance.status.in_(_WATCHED)).options(selectinload(Instance.nodes))
            ).all()
            for inst in watched:
                dead = [node for node in inst.nodes if nodes.dead_roles(parts, node)]
                if not dead:
                    # All adopted from a predecessor, running on the configuration it wrote: give them
                    # this release's (roles file, parameters, rules) without dropping a connection.
                    try:
                        gateways.reload_gateways(parts, inst)
                    except Exception as exc:  # noqa: BLE001 - the gateway's own restart path covers it
                        log.info("gateways of %s not reloaded: %s", inst.id, exc)
                    continue
                for node in dead:  # started now, so on the current configuration
                    with parts.locks.of(inst.id):
                        self._revive(inst, node, reason="service start")
                    started += 1
                s.commit()
        if started:
            log.info("started %d node(s) the metadata says should run", started)

    def tick(self) -> None:
        """One read of every watched instance; only those that need action are locked and touched,
        so a quiet fleet costs one query and a few file stats per instance."""
        parts = self.parts
        with parts.db.session() as s:
            busy = set(s.scalars(select(Job.instance_id).where(Job.status == JobStatus.RUNNING)))
        for grown in volume_policies.enlarge_due(parts, busy):
            log.info("instance %s passed its auto-enlarge threshold; enlarging its volume", grown)
            busy.add(grown)
        with parts.db.session() as s:
            watched = s.scalars(
                select(Instance).where(Instance.status.in_(_WATCHED)).options(selectinload(Instance.nodes))
            ).all()
            if any(members.uses_postgresql(inst) for inst in watched):
                for inst in watched:
                    if members.uses_postgresql(inst) and inst.id not in busy:
                        members.sync_roles(parts, inst)  # who is primary, as the monitor says
                s.commit()
            ids = [inst.id for inst in watched if inst.id not in busy and self._needs_action(inst)]
        for instance_id in ids:
            lock = parts.locks.of(instance_id)
            if not lock.acquire(blocking=False):
                continue
            try:
                self._check(instance_id)
            finally:
                lock.release()

    def _needs_action(self, inst: Instance) -> bool:
        parts = self.parts
        if not inst.read_only and nodes.data_bytes(parts, inst) >= inst.volume_gb * parts.settings.volume_unit_bytes:
            return True
        if any(not nodes.is_running(parts, n) for n in inst.nodes):
            return True
        if any(self._data_fault(inst, n) for n in inst.nodes):
            return True
        all_normal = all(n.status == NodeStatus.NORMAL for n in inst.nodes)
        return all_normal and inst.status != settled(inst.read_only)

    def _data_fault(self, inst: Instance, node: Node) -> str | None:
        """A fault already recorded, or one a few stats find (the node's identity or engine files
        gone, even under a running engine). Nodes never stamped are checked when started."""
        if members.uses_postgresql(inst):
            return None  # a member whose server files are gone is rebuilt from the others (a dead role)
        known = integrity.known_fault(inst, node)
        if known:
            return str(known["reason"])
        if integrity.recorded(inst, node) is None:
            return None
        return integrity.fault(self.parts, inst, node, deep=False)

    def _check(self, instance_id: str) -> None:
        parts = self.parts
        with parts.db.session() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or inst.status not in _WATCHED:
                return
            quota = inst.volume_gb * parts.settings.volume_unit_bytes
            full = nodes.data_bytes(parts, inst) >= quota
            if full and not inst.read_only:
                log.warning("instance %s is over its volume; switching to read-only", inst.id)
                inst.read_only = True
                transition(inst, InstanceStatus.DATA_DISK_FULL)
                s.flush()
                for node in inst.nodes:
                    self._revive(inst, node, reason="volume full", restart=True)
                return
            for node in inst.nodes:
                fault = self._data_fault(inst, node)
                if fault:
                    self._lost(inst, node, fault)
                    continue
                dead = nodes.dead_roles(parts, node)
                if dead:
                    log.warning("%s of node %s not running; starting it again", " and ".join(dead), node.id)
                    transition(node, NodeStatus.ABNORMAL)
                    transition(inst, InstanceStatus.ABNORMAL)
                    s.commit()
                    self._revive(inst, node, reason=f"{' and '.join(dead)} exited")
                    node.restarts += 1
            if all(n.status == NodeStatus.NORMAL for n in inst.nodes):
                transition(inst, settled(inst.read_only))

    def _revive(self, inst: Instance, node: Node, reason: str, restart: bool = False) -> None:
        """Start what died (or, with `restart`, restart everything: a changed engine launch)."""
        try:
            start = nodes.start_node if restart else nodes.revive_node
            node.pid = start(self.parts, inst, node)
            transition(node, NodeStatus.NORMAL)
        except integrity.DataFault as exc:
            self._lost(inst, node, exc.reason)
        except Exception as exc:
            log.error("restart of node %s (%s) failed: %s", node.id, reason, exc)
            transition(node, NodeStatus.ABNORMAL)
            transition(inst, InstanceStatus.ABNORMAL)

    def _lost(self, inst: Instance, node: Node, reason: str) -> None:
        """Never start a node on lost or damaged data: stop what runs on it, refuse its clients
        with the reason, show it `abnormal`, and recover it from the instance's backups once."""
        parts = self.parts
        known = integrity.known_fault(inst, node)
        if known is None:
            log.error(
                "node %s of instance %s: its data is missing or damaged (%s); not starting it, refusing its clients",
                node.id,
                inst.id,
                reason,
            )
            integrity.record_fault(inst, node, reason, int(parts.clock.now().timestamp() * 1000))
            parts.provisioner.stop(layout.node_dir(parts.settings, node))
            layout.node_dir(parts.settings, node).mkdir(parents=True, exist_ok=True)
            integrity.note(parts, node, f"data missing or damaged ({reason}); the node is not started")
        transition(node, NodeStatus.ABNORMAL)
        transition(inst, InstanceStatus.ABNORMAL)
        if known is None or "recovery" not in known or str(known["recovery"]).startswith("failed"):
            self._recover(inst, node, reason, set(known.get("tried") or []) if known else set())
        if known is None or gateways.gateway_pid(parts, node) is None:
            try:
                layout.node_dir(parts.settings, node).mkdir(parents=True, exist_ok=True)
                gateways.start_gateway(parts, inst, node)  # refusing: the fault is in its config
            except Exception as exc:  # noqa: BLE001 - tried again on the next look
                log.error("refusing gateway of node %s not started: %s", node.id, exc)

    def _recover(self, inst: Instance, node: Node, reason: str, tried: set[str]) -> None:
        """Start the recovery from the newest state the instance can be brought back to (one whose
        files did not already fail after a rebuild: then the next older one)."""
        parts = self.parts
        s = object_session(inst)
        assert s is not None
        found = recovery.source_for(parts, s, inst, tried)
        if found is None:
            left = "no other backup" if tried else "no backup and no continuous archive"
            log.error("instance %s has %s to recover from", inst.id, left)
            integrity.note(parts, node, f"{left} to recover from: restore one onto it")
            integrity.record_fault(inst, node, reason, 0, recovery=f"none: {left}")
            return
        payload, source = found
        try:
            job = recovery.start(parts, s, inst, payload, source)
        except Conflict as exc:  # a job the service was killed in still holds it: the next look retries
            log.warning("instance %s: its recovery waits: %s", inst.id, exc)
            return
        integrity.record_fault(inst, node, reason, 0, recovery=f"job {job.id} from {source}")
        log.warning("recovering instance %s from %s (job %s)", inst.id, source, job.id)
        integrity.note(parts, node, f"recovering from {source} (job {job.id}); later writes cannot be recovered")
        parts.wakeup.set()
