"""The replica set name of a ReplicaSet instance: shown, and changed by restarting its node."""

from __future__ import annotations

import re

from dds.core.errors import InvalidParameter
from dds.domain.jobs import JobName
from dds.domain.states import InstanceStatus
from dds.fleet.gateways import repl_set_name
from dds.parts import Parts
from dds.services import instances
from dds.wire import models as w

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{2,127}$")


def show(parts: Parts, project_id: str, instance_id: str) -> w.ShowReplSetNameResponse:
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        name = repl_set_name(inst)
        if name is None:
            raise InvalidParameter("Only replica set instances have a replica set name.")
        return w.ShowReplSetNameResponse(name=name)


def update(parts: Parts, project_id: str, instance_id: str, name: str | None) -> str:
    """New name, then a restart job: the engine and the gateway (what `hello` says) take it up."""
    if not name or not _NAME.match(name):
        raise InvalidParameter(
            "The replica set name must be 3 to 128 characters, start with a letter and contain only letters, "
            "digits and underscores."
        )
    with parts.db.session() as s:
        inst = instances.get(s, project_id, instance_id)
        if repl_set_name(inst) is None:
            raise InvalidParameter("Only replica set instances have a replica set name.")
        instances.require(inst, "restart")
        inst.extra = {**inst.extra, "repl_set_name": name}
        job = instances.start_job(parts, s, inst, JobName.RESTART, InstanceStatus.REBOOTING)
        job_id = job.id
    parts.wakeup.set()
    return job_id
