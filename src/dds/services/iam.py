"""Projects and caller identity (development token until full IAM lands)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from dds import ids
from dds.db.models import Project

if TYPE_CHECKING:
    from dds.runtime import Runtime

DEMO_PROJECT = "demo"


def ensure_project(s: Session, rt: Runtime, name: str) -> Project:
    project = s.scalar(select(Project).where(Project.name == name))
    if project is None:
        project = Project(id=ids.project_id(), name=name, created=rt.clock.now())
        s.add(project)
        s.flush()
    return project


def ensure_demo_project(s: Session, rt: Runtime) -> Project:
    return ensure_project(s, rt, DEMO_PROJECT)


def demo_project_id(rt: Runtime) -> str:
    with rt.db.session() as s:
        return ensure_demo_project(s, rt).id


def authenticate(rt: Runtime, request: object) -> str | None:
    """The project id the request's credentials belong to, or None."""
    headers = getattr(request, "headers", {})
    token = headers.get("x-auth-token")
    if token and rt.settings.dev_token and token == rt.settings.dev_token:
        return demo_project_id(rt)
    return None
