"""Tag management: an instance's tags (the same list create fills), project tags, instances by tags."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select

from dds.core.errors import InvalidParameter
from dds.db.models import Instance
from dds.domain import rules, tags
from dds.domain.states import InstanceStatus
from dds.parts import Parts
from dds.services.instances import get
from dds.wire import models as w


def batch(parts: Parts, project_id: str, instance_id: str, body: w.BatchOperateInstanceTagRequestBody) -> None:
    if body.action not in ("create", "delete"):
        raise InvalidParameter("action must be create or delete.")
    if not body.tags:
        raise InvalidParameter("tags must not be empty.")
    keys = [tags.check_key(t.key) for t in body.tags]
    if len(set(keys)) != len(keys):
        raise InvalidParameter("A tag key may appear once per request.")
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        current = [dict(t) for t in inst.tags or []]
        if body.action == "create":
            inst.tags = tags.merged(current, {t.key or "": tags.check_value(t.value) for t in body.tags})
        else:
            # A value given on delete must match; without one the key goes whatever its value.
            gone = {t.key: t.value for t in body.tags}
            inst.tags = [t for t in current if not (t["key"] in gone and gone[t["key"]] in (None, "", t.get("value")))]
        inst.updated = parts.clock.now()


def instance_tags(parts: Parts, project_id: str, instance_id: str) -> w.ListInstanceTagsResponse:
    with parts.db.session() as s:
        inst = get(s, project_id, instance_id)
        return w.ListInstanceTagsResponse(
            tags=[w.QueryResourceTagItem(key=t["key"], value=t.get("value", "")) for t in inst.tags or []]
        )


def _live(parts: Parts, project_id: str) -> list[Instance]:
    with parts.db.session() as s:
        rows = s.scalars(
            select(Instance)
            .where(Instance.project_id == project_id, Instance.status != InstanceStatus.DELETING)
            .order_by(Instance.created)
        ).all()
        s.expunge_all()
        return list(rows)


def project_tags(parts: Parts, project_id: str) -> w.ListProjectTagsResponse:
    values: dict[str, set[str]] = {}
    for inst in _live(parts, project_id):
        for t in inst.tags or []:
            values.setdefault(t["key"], set()).add(t.get("value", ""))
    return w.ListProjectTagsResponse(
        tags=[w.QueryProjectTagItem(key=k, values=sorted(v)) for k, v in sorted(values.items())]
    )


def _matches(inst: Instance, wanted: list[w.QueryTagItem], matches: list[w.QueryMatchItem]) -> bool:
    have: Mapping[str, str] = {t["key"]: t.get("value", "") for t in inst.tags or []}
    for tag in wanted:
        key = tag.key or ""
        if key not in have or (tag.values and have[key] not in tag.values):
            return False
    for match in matches:
        value = match.value or ""
        if match.key == "instance_name" and value.lower() not in inst.name.lower():
            return False
        if match.key == "instance_id" and value != inst.id:
            return False
    return True


def by_tags(parts: Parts, project_id: str, body: w.ListInstancesByTagsRequestBody) -> w.ListInstancesByTagsResponse:
    if body.action not in ("filter", "count"):
        raise InvalidParameter("action must be filter or count.")
    wanted = body.tags or []
    if len(wanted) > tags.MAX_TAGS:
        raise InvalidParameter(f"At most {tags.MAX_TAGS} tags per query.")
    for tag in wanted:
        tags.check_key(tag.key)
        for value in tag.values or []:
            tags.check_value(value)
    matches = body.matches or []
    for match in matches:
        if match.key not in ("instance_name", "instance_id"):
            raise InvalidParameter("matches keys must be instance_name or instance_id.")
    found = [i for i in _live(parts, project_id) if _matches(i, wanted, matches)]
    if body.action == "count":
        return w.ListInstancesByTagsResponse(total_count=len(found))
    offset = rules.parse_int(body.offset if body.offset is not None else 0, "offset")
    limit = rules.parse_int(body.limit if body.limit is not None else 100, "limit")
    rules.check_paging(offset, limit)
    return w.ListInstancesByTagsResponse(
        instances=[
            w.InstanceItem(
                instance_id=i.id,
                instance_name=i.name,
                tags=[w.InstanceItemTagItem(key=t["key"], value=t.get("value", "")) for t in i.tags or []],
            )
            for i in found[offset : offset + limit]
        ],
        total_count=len(found),
    )
