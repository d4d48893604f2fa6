"""Parameter configuration (DDS "Parameter Configuration"): templates, instance values, histories.

Every value is checked against the catalog before anything is written. Changing an instance's
values (directly or by applying a template) is a job: it writes the values, reloads the gateways
(connection limit, slow log) and restarts the engine only when an engine parameter changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dds.core import ids
from dds.core.errors import (
    ConfigurationInUse,
    ConfigurationNameExists,
    ConfigurationNotFound,
    ConfigurationNotPermitted,
    InstanceNotFound,
    InvalidConfigurationDescription,
    InvalidConfigurationName,
    InvalidParameter,
    InvalidParameterValue,
)
from dds.db.models import Instance, Job, Node
from dds.db.parameters import Configuration, ConfigurationApplication, InstanceParameters, ParameterChange
from dds.domain import parameters as catalog
from dds.domain.jobs import JobName
from dds.domain.states import InstanceStatus
from dds.jobs.queue import enqueue
from dds.parts import Parts
from dds.services.instances import claim, require
from dds.services.instances import get as get_instance
from dds.services.paging import page
from dds.wire import models as w

_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
DATASTORE = "mongodb"


@dataclass(frozen=True)
class Template:
    """A template as the API shows it: a built-in default or a tenant's row."""

    id: str
    name: str
    description: str
    version: str
    node_type: str
    values: dict[str, str]
    user_defined: bool
    created: datetime | None
    updated: datetime | None


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S+0000") if value else "2020-01-01T00:00:00+0000"


def _default(config_id: str) -> Template | None:
    found = catalog.DEFAULT_TEMPLATES.get(config_id)
    if found is None:
        return None
    version, node_type = found
    name = catalog.default_template_name(version, node_type)
    return Template(
        config_id,
        name,
        f"Default parameter template for DDS {version} {node_type}",
        version,
        node_type,
        {},
        False,
        None,
        None,
    )


def _of_row(row: Configuration) -> Template:
    return Template(
        row.id,
        row.name,
        row.description,
        row.datastore_version,
        row.node_type,
        dict(row.values),
        True,
        row.created,
        row.updated,
    )


def _template(s: Session, project_id: str, config_id: str) -> Template:
    found = _default(config_id)
    if found is not None:
        return found
    row = s.get(Configuration, config_id)
    if row is None or row.project_id != project_id:
        raise ConfigurationNotFound()
    return _of_row(row)


def _own(s: Session, project_id: str, config_id: str) -> Configuration:
    if config_id in catalog.DEFAULT_TEMPLATES:
        raise ConfigurationNotPermitted("Default parameter templates cannot be changed or deleted.")
    row = s.get(Configuration, config_id)
    if row is None or row.project_id != project_id:
        raise ConfigurationNotFound()
    return row


def _check_name(s: Session, project_id: str, name: str | None, exclude: str = "") -> str:
    if not name or not _NAME.match(name):
        raise InvalidConfigurationName(
            "The parameter template name must be 1 to 64 letters, digits, hyphens (-), underscores (_) or periods (.)."
        )
    taken = {catalog.default_template_name(v, t) for v, t in catalog.DEFAULT_TEMPLATES.values()}
    taken |= set(
        s.scalars(select(Configuration.name).where(Configuration.project_id == project_id, Configuration.id != exclude))
    )
    if name in taken:
        raise ConfigurationNameExists()
    return name


def _check_description(value: str | None) -> str:
    text = value or ""
    if len(text) > 256 or any(c in text for c in "<>!&\"'="):
        raise InvalidConfigurationDescription(
            "The description must be at most 256 characters and contain none of > ! < \" & ' =."
        )
    return text


def _parameters(values: dict[str, str]) -> list[w.ConfigurationParametersResult]:
    current = catalog.effective(values)
    return [
        w.ConfigurationParametersResult(
            name=p.name,
            value=current[p.name],
            description=p.description,
            type=p.type,
            value_range=p.value_range,
            restart_required=p.restart_required,
            readonly=p.readonly,
        )
        for p in catalog.CATALOG
    ]


# --- templates ---------------------------------------------------------------------------------


def _all(s: Session, project_id: str) -> list[Template]:
    defaults = [t for cid in catalog.DEFAULT_TEMPLATES if (t := _default(cid)) is not None]
    rows = s.scalars(
        select(Configuration).where(Configuration.project_id == project_id).order_by(Configuration.created)
    )
    return defaults + [_of_row(r) for r in rows]


def list_templates(parts: Parts, project_id: str, offset: int, limit: int) -> w.ListConfigurationsResponse:
    with parts.db.session() as s:
        found = _all(s, project_id)
    page = found[offset : offset + limit]
    return w.ListConfigurationsResponse(
        configurations=[
            w.ListConfigurationsResult(
                id=t.id,
                name=t.name,
                description=t.description,
                datastore_version=t.version,
                datastore_name=DATASTORE,
                node_type=t.node_type,
                created=_time(t.created),
                updated=_time(t.updated),
                user_defined=t.user_defined,
            )
            for t in page
        ],
        total_count=len(found),
    )


def _info(t: Template) -> w.ParamGroupInfoResult:
    return w.ParamGroupInfoResult(
        id=t.id,
        name=t.name,
        description=t.description,
        datastore_version=t.version,
        datastore_name=DATASTORE,
        created=_time(t.created),
        updated=_time(t.updated),
    )


def _changes(
    s: Session,
    now: datetime,
    who: str,
    old: dict[str, str],
    new: dict[str, str],
    *,
    config_id: str = "",
    instance_id: str = "",
) -> list[ParameterChange]:
    """One history row per parameter whose effective value changes."""
    before, after = catalog.effective(old), catalog.effective(new)
    rows = [
        ParameterChange(
            configuration_id=config_id,
            instance_id=instance_id,
            parameter=name,
            old_value=before[name],
            new_value=after[name],
            changed_by=who,
            changed_at=now,
            applied=bool(config_id),
            applied_at=now if config_id else None,
            result="SUCCESS" if config_id else "",
        )
        for name in after
        if before[name] != after[name]
    ]
    s.add_all(rows)
    return rows


def create_template(
    parts: Parts, project_id: str, who: str, body: w.CreateConfigurationRequestBody
) -> w.CreateConfigurationResponse:
    datastore = body.datastore
    version = datastore.version if datastore else None
    node_type = datastore.node_type if datastore else None
    if version not in catalog.VERSIONS:
        raise InvalidParameter(f"datastore.version must be one of {', '.join(catalog.VERSIONS)}.")
    if node_type not in catalog.NODE_TYPES:
        raise InvalidParameter(
            f"datastore.node_type must be one of {', '.join(catalog.NODE_TYPES)} (no sharded clusters)."
        )
    description = _check_description(body.description)
    values = catalog.check_values(body.parameter_values) if body.parameter_values else {}
    now = parts.clock.now()
    with parts.db.session() as s:
        name = _check_name(s, project_id, body.name)
        if body.entity_id:
            inst = get_instance(s, project_id, body.entity_id)
            row_values = s.get(InstanceParameters, inst.id)
            values = {**(dict(row_values.values) if row_values else {}), **values}
        row = Configuration(
            id=ids.configuration_id(),
            project_id=project_id,
            name=name,
            description=description,
            datastore_version=version,
            node_type=node_type,
            values=values,
            created=now,
            updated=now,
        )
        s.add(row)
        _changes(s, now, who, {}, values, config_id=row.id)
        return w.CreateConfigurationResponse(configuration=_info(_of_row(row)))


def show_template(parts: Parts, project_id: str, config_id: str) -> w.ShowConfigurationParameterResponse:
    with parts.db.session() as s:
        t = _template(s, project_id, config_id)
    return w.ShowConfigurationParameterResponse(**_info(t).model_dump(), parameters=_parameters(t.values))


def update_template(
    parts: Parts, project_id: str, who: str, config_id: str, body: w.UpdateConfigurationParameterRequestBody
) -> None:
    if body.name is None and body.description is None and not body.parameter_values:
        raise InvalidParameter("Give a name, a description or parameter_values.")
    values = catalog.check_values(body.parameter_values) if body.parameter_values else {}
    description = _check_description(body.description) if body.description is not None else None
    now = parts.clock.now()
    with parts.db.session() as s:
        row = _own(s, project_id, config_id)
        if body.name is not None:
            row.name = _check_name(s, project_id, body.name, exclude=row.id)
        if description is not None:
            row.description = description
        if values:
            new = {**row.values, **values}
            _changes(s, now, who, dict(row.values), new, config_id=row.id)
            row.values = new
        row.updated = now


def delete_template(parts: Parts, project_id: str, config_id: str) -> None:
    with parts.db.session() as s:
        row = _own(s, project_id, config_id)
        in_use = s.scalar(
            select(func.count()).select_from(InstanceParameters).where(InstanceParameters.configuration_id == row.id)
        )
        if in_use:
            raise ConfigurationInUse()
        s.delete(row)


def copy_template(
    parts: Parts, project_id: str, who: str, config_id: str, body: w.CopyConfigurationRequestBody
) -> w.CopyConfigurationResponse:
    description = _check_description(body.description)
    now = parts.clock.now()
    with parts.db.session() as s:
        source = _template(s, project_id, config_id)
        row = Configuration(
            id=ids.configuration_id(),
            project_id=project_id,
            name=_check_name(s, project_id, body.name),
            description=description,
            datastore_version=source.version,
            node_type=source.node_type,
            values=dict(source.values),
            created=now,
            updated=now,
        )
        s.add(row)
        _changes(s, now, who, {}, row.values, config_id=row.id)
        return w.CopyConfigurationResponse(configuration_id=row.id)


def reset_template(parts: Parts, project_id: str, who: str, config_id: str) -> None:
    now = parts.clock.now()
    with parts.db.session() as s:
        row = _own(s, project_id, config_id)
        _changes(s, now, who, dict(row.values), {}, config_id=row.id)
        row.values = {}
        row.updated = now


def compare_templates(
    parts: Parts, project_id: str, body: w.DiffConfigurationRequest
) -> w.CompareConfigurationResponse:
    if not body.source_configuration_id or not body.target_configuration_id:
        raise InvalidParameter("source_configuration_id and target_configuration_id are required.")
    with parts.db.session() as s:
        source = catalog.effective(_template(s, project_id, body.source_configuration_id).values)
        target = catalog.effective(_template(s, project_id, body.target_configuration_id).values)
    return w.CompareConfigurationResponse(
        differences=[
            w.DiffDetails(parameter_name=name, source_value=source[name], target_value=target[name])
            for name in source
            if source[name] != target[name]
        ]
    )


def name_exists(parts: Parts, project_id: str, name: str | None) -> bool:
    if not name:
        raise InvalidConfigurationName()
    with parts.db.session() as s:
        return any(t.name == name for t in _all(s, project_id))


def template_history(
    parts: Parts, project_id: str, config_id: str, offset: int, limit: int
) -> w.ShowConfigurationModifyHistoryResponse:
    with parts.db.session() as s:
        _template(s, project_id, config_id)
        where = [ParameterChange.configuration_id == config_id]
        rows, _ = page(s, ParameterChange, where, ParameterChange.id.desc(), offset, limit)
        return w.ShowConfigurationModifyHistoryResponse(
            histories=[
                w.HistoryInfo(
                    parameter_name=r.parameter,
                    old_value=r.old_value,
                    new_value=r.new_value,
                    updated_at=_time(r.changed_at),
                )
                for r in rows
            ]
        )


def applied_history(
    parts: Parts, project_id: str, config_id: str, offset: int, limit: int
) -> w.ShowConfigurationAppliedHistoryResponse:
    with parts.db.session() as s:
        _template(s, project_id, config_id)
        where = [
            ConfigurationApplication.configuration_id == config_id,
            ConfigurationApplication.project_id == project_id,
        ]
        rows, total = page(s, ConfigurationApplication, where, ConfigurationApplication.id.desc(), offset, limit)
        return w.ShowConfigurationAppliedHistoryResponse(
            histories=[
                w.ApplyHistoryInfo(
                    instance_id=r.instance_id,
                    instance_name=r.instance_name,
                    applied_at=_time(r.applied_at),
                    apply_result=r.result,
                    failure_reason=r.failure_reason,
                )
                for r in rows
            ],
            total_count=total,
        )


def applicable_instances(
    parts: Parts, project_id: str, config_id: str, offset: int, limit: int
) -> w.ListAppliedInstancesResponse:
    with parts.db.session() as s:
        t = _template(s, project_id, config_id)
        rows = s.scalars(select(Instance).where(Instance.project_id == project_id).order_by(Instance.created)).all()
        fits = [
            i
            for i in rows
            if catalog.node_type_of(i.mode) == t.node_type
            and i.datastore_version == t.version
            and i.status != InstanceStatus.DELETING
        ]
        return w.ListAppliedInstancesResponse(
            instances=[
                w.ApplicableInstancesInfo(
                    instance_id=i.id,
                    instance_name=i.name,
                    entities=[w.EntityInfo(entity_id=n.id, entity_name=n.name) for n in i.nodes],
                )
                for i in fits[offset : offset + limit]
            ]
        )


# --- applying values to instances -----------------------------------------------------------


def _instance_of(s: Session, project_id: str, entity_id: str) -> Instance:
    """An instance by its own id or one of its nodes' ids (DDS accepts either)."""
    inst = s.get(Instance, entity_id)
    if inst is None:
        node = s.get(Node, entity_id)
        inst = node.instance if node is not None else None
    if inst is None or inst.project_id != project_id:
        raise InstanceNotFound()
    return inst


def _enqueue_apply(
    parts: Parts, s: Session, inst: Instance, who: str, new: dict[str, str], config_id: str = ""
) -> tuple[Job, bool]:
    """Record the change and the job that makes it real; the status says whether the engine restarts."""
    require(inst, "parameters")
    row = s.get(InstanceParameters, inst.id)
    old = dict(row.values) if row is not None else {}
    before, after = catalog.effective(old), catalog.effective(new)
    restart = any(before[n] != after[n] for n in catalog.RESTART_PARAMETERS)
    now = parts.clock.now()
    changes = _changes(s, now, who, old, new, instance_id=inst.id)
    s.flush()
    claim(parts, s, inst, InstanceStatus.REBOOTING if restart else inst.status)
    job = enqueue(
        s,
        name=JobName.APPLY_PARAMETERS,
        project_id=inst.project_id,
        now=now,
        instance_id=inst.id,
        instance_name=inst.name,
        payload={
            "values": new,
            "restart": restart,
            "configuration_id": config_id,
            "changes": [c.id for c in changes],
        },
    )
    return job, restart


def apply_template(
    parts: Parts, project_id: str, who: str, config_id: str, body: w.ApplyConfigurationRequestBody
) -> str:
    entity_ids = body.entity_ids or []
    if not entity_ids:
        raise InvalidParameter("entity_ids must name at least one instance or node.")
    jobs = []
    with parts.db.session() as s:
        t = _template(s, project_id, config_id)
        targets = {i.id: i for i in (_instance_of(s, project_id, e) for e in entity_ids)}
        for inst in targets.values():
            if catalog.node_type_of(inst.mode) != t.node_type or inst.datastore_version != t.version:
                raise ConfigurationNotPermitted(
                    f"The template is for DDS {t.version} {t.node_type} nodes; instance {inst.id} does not match."
                )
        for inst in targets.values():
            jobs.append(_enqueue_apply(parts, s, inst, who, dict(t.values), config_id)[0].id)
    parts.wakeup.set()
    return jobs[0]


def show_instance(parts: Parts, project_id: str, instance_id: str) -> w.ShowEntityConfigurationResponse:
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        row = s.get(InstanceParameters, inst.id)
        values = dict(row.values) if row is not None else {}
        return w.ShowEntityConfigurationResponse(
            datastore_version=inst.datastore_version,
            datastore_name=DATASTORE,
            created=_time(inst.created),
            updated=_time(row.updated if row is not None else inst.updated),
            parameters=[w.EntityConfigurationParametersResult(**p.model_dump()) for p in _parameters(values)],
        )


def update_instance(
    parts: Parts, project_id: str, who: str, instance_id: str, body: w.UpdateConfigurationParameterResult
) -> tuple[str, bool]:
    values = catalog.check_values(body.parameter_values)
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        if body.entity_id and body.entity_id != inst.id and body.entity_id not in {n.id for n in inst.nodes}:
            raise InvalidParameterValue(f"entity_id {body.entity_id!r} is not this instance or one of its nodes.")
        row = s.get(InstanceParameters, inst.id)
        new = {**(dict(row.values) if row is not None else {}), **values}
        job, restart = _enqueue_apply(parts, s, inst, who, new)
        job_id = job.id
    parts.wakeup.set()
    return job_id, restart


def instance_history(
    parts: Parts, project_id: str, instance_id: str, offset: int, limit: int
) -> w.ShowInstanceConfigurationModifyHistoryResponse:
    with parts.db.session() as s:
        inst = get_instance(s, project_id, instance_id)
        where = [ParameterChange.instance_id == inst.id]
        rows, total = page(s, ParameterChange, where, ParameterChange.id.desc(), offset, limit)
        return w.ShowInstanceConfigurationModifyHistoryResponse(
            histories=[
                w.ConfigurationModifyHistoryInfo(
                    parameter_name=r.parameter,
                    old_value=r.old_value,
                    new_value=r.new_value,
                    update_result=r.result or "PENDING",
                    applied=r.applied,
                    updated_at=_time(r.changed_at),
                    applied_at=_time(r.applied_at) if r.applied_at else "",
                )
                for r in rows
            ],
            total_count=total,
        )
