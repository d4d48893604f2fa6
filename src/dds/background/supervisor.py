"""Keeps nodes alive and volumes honest.

Every few seconds: a node whose engine or gateway died gets it back (the instance shows
`abnormal` meanwhile); an instance over its volume is switched to read-only
(`data_disk_full`) until enlarge-volume gives it room.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from dds.background.periodic import Periodic
from dds.db.models import Instance, Job, Node
from dds.domain.states import InstanceStatus, JobStatus, NodeStatus, settled, transition
from dds.fleet import gateways, layout, nodes
from dds.services import instances, volume_policies

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
        all_normal = all(n.status == NodeStatus.NORMAL for n in inst.nodes)
        return all_normal and inst.status != settled(inst.read_only)

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
        except Exception as exc:
            log.error("restart of node %s (%s) failed: %s", node.id, reason, exc)
            transition(node, NodeStatus.ABNORMAL)
            transition(inst, InstanceStatus.ABNORMAL)
