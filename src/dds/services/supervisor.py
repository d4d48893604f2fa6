"""Keeps engines alive and volumes honest.

Every few seconds: a node whose engine died is restarted (the instance shows
`abnormal` meanwhile); an instance over its volume is switched to read-only
(`data_disk_full`) until enlarge-volume gives it room.
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from dds.db.models import Instance, Job
from dds.domain.states import InstanceStatus, JobStatus, NodeStatus
from dds.services import nodes
from dds.services.periodic import Periodic

log = logging.getLogger(__name__)

_WATCHED = (InstanceStatus.NORMAL, InstanceStatus.ABNORMAL, InstanceStatus.DATA_DISK_FULL)


class Supervisor(Periodic):
    name = "dds-supervisor"

    def interval(self) -> float:
        return self.rt.settings.supervise_interval

    def reconcile(self) -> None:
        """At start-up: stop engines a previous run left behind, then start every
        instance the metadata says should serve. Nothing runs that metadata does not know."""
        rt = self.rt
        # Instance engines, and temporary engines of backups a crash interrupted.
        leftovers = rt.provisioner.orphans(rt.settings.instances_dir)
        if rt.settings.backup_staging_dir.exists():
            leftovers += rt.provisioner.orphans(rt.settings.backup_staging_dir)
        for orphan in leftovers:
            log.info("stopping engine left by a previous run in %s", orphan)
            rt.provisioner.stop(orphan)
        with rt.db.session() as s:
            known = set(s.scalars(select(Instance.id)))
        for d in rt.settings.instances_dir.iterdir():
            if d.is_dir() and d.name not in known:
                nodes.remove_instance_files(rt, d.name)
        self.tick()

    def tick(self) -> None:
        rt = self.rt
        with rt.db.session() as s:
            busy = set(s.scalars(select(Job.instance_id).where(Job.status == JobStatus.RUNNING)))
            ids = [i for i in s.scalars(select(Instance.id).where(Instance.status.in_(_WATCHED))) if i not in busy]
        for instance_id in ids:
            lock = rt.instance_lock(instance_id)
            if not lock.acquire(blocking=False):
                continue
            try:
                self._check(instance_id)
            finally:
                lock.release()

    def _check(self, instance_id: str) -> None:
        rt = self.rt
        with rt.db.session() as s:
            inst = s.get(Instance, instance_id)
            if inst is None or inst.status not in _WATCHED:
                return
            quota = inst.volume_gb * rt.settings.volume_unit_bytes
            full = nodes.data_bytes(rt, inst) >= quota
            if full and not inst.read_only:
                log.warning("instance %s is over its volume; switching to read-only", inst.id)
                inst.read_only = True
                inst.status = InstanceStatus.DATA_DISK_FULL
                s.flush()
                for node in inst.nodes:
                    self._restart(inst, node, reason="volume full")
                return
            for node in inst.nodes:
                if not nodes.is_running(rt, node):
                    log.warning("engine of node %s is not running; restarting", node.id)
                    node.status = NodeStatus.ABNORMAL
                    inst.status = InstanceStatus.ABNORMAL
                    s.commit()
                    self._restart(inst, node, reason="engine exited")
                    node.restarts += 1
            if all(n.status == NodeStatus.NORMAL for n in inst.nodes):
                inst.status = InstanceStatus.DATA_DISK_FULL if inst.read_only else InstanceStatus.NORMAL

    def _restart(self, inst: Instance, node, reason: str) -> None:  # type: ignore[no-untyped-def]
        try:
            node.pid = nodes.start_node(self.rt, inst, node)
            node.status = NodeStatus.NORMAL
        except Exception as exc:
            log.error("restart of node %s (%s) failed: %s", node.id, reason, exc)
            node.status = NodeStatus.ABNORMAL
            inst.status = InstanceStatus.ABNORMAL
