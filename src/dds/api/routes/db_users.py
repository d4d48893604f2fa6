"""Databases and users: the instance's databases, its users and roles, password checks."""

from __future__ import annotations

from fastapi import APIRouter

from dds.api.deps import PartsDep, ProjectDep, paging
from dds.services import db_users
from dds.wire import models as w

router = APIRouter(tags=["Databases and users"])


@router.get(
    "/v3/{project_id}/instances/{instance_id}/databases",
    response_model=w.ListDatabasesResponse,
    response_model_exclude_unset=True,
)
def list_databases(
    instance_id: str, project_id: ProjectDep, parts: PartsDep, offset: str | None = None, limit: str | None = None
) -> w.ListDatabasesResponse:
    return db_users.list_databases(parts, project_id, instance_id, db_users.Paging(*paging(offset, limit)))


@router.post(
    "/v3/{project_id}/instances/{instance_id}/db-user",
    response_model=w.CreateDatabaseUserResponse,
    response_model_exclude_unset=True,
)
def create_database_user(
    instance_id: str, body: w.CreateDatabaseUserRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.CreateDatabaseUserResponse:
    db_users.create_user(parts, project_id, instance_id, body)
    return w.CreateDatabaseUserResponse()


@router.delete(
    "/v3/{project_id}/instances/{instance_id}/db-user",
    response_model=w.DeleteDatabaseUserResponse,
    response_model_exclude_unset=True,
)
def delete_database_user(
    instance_id: str, body: w.DeleteDatabaseUserRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.DeleteDatabaseUserResponse:
    db_users.delete_user(parts, project_id, instance_id, body)
    return w.DeleteDatabaseUserResponse()


@router.get(
    "/v3/{project_id}/instances/{instance_id}/db-user/detail",
    response_model=w.ListDatabaseUsersResponse,
    response_model_exclude_unset=True,
)
def list_database_users(
    instance_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    user_name: str | None = None,
    db_name: str | None = None,
    offset: str | None = None,
    limit: str | None = None,
) -> w.ListDatabaseUsersResponse:
    window = db_users.Paging(*paging(offset, limit))
    return db_users.list_users(parts, project_id, instance_id, user_name, db_name, window)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/db-role",
    response_model=w.CreateDatabaseRoleResponse,
    response_model_exclude_unset=True,
)
def create_database_role(
    instance_id: str, body: w.CreateDatabaseRoleRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.CreateDatabaseRoleResponse:
    db_users.create_role(parts, project_id, instance_id, body)
    return w.CreateDatabaseRoleResponse()


@router.delete(
    "/v3/{project_id}/instances/{instance_id}/db-role",
    response_model=w.DeleteDatabaseRoleResponse,
    response_model_exclude_unset=True,
)
def delete_database_role(
    instance_id: str, body: w.DeleteDatabaseRoleRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.DeleteDatabaseRoleResponse:
    db_users.delete_role(parts, project_id, instance_id, body)
    return w.DeleteDatabaseRoleResponse()


@router.get(
    "/v3/{project_id}/instances/{instance_id}/db-roles",
    response_model=w.ListDatabaseRolesResponse,
    response_model_exclude_unset=True,
)
def list_database_roles(
    instance_id: str,
    project_id: ProjectDep,
    parts: PartsDep,
    role_name: str | None = None,
    db_name: str | None = None,
    offset: str | None = None,
    limit: str | None = None,
) -> w.ListDatabaseRolesResponse:
    window = db_users.Paging(*paging(offset, limit))
    return db_users.list_roles(parts, project_id, instance_id, role_name, db_name, window)


@router.post(
    "/v3/{project_id}/instances/{instance_id}/check-password",
    response_model=w.CheckPasswordResponse,
    response_model_exclude_unset=True,
)
def check_password(
    instance_id: str, body: w.CheckPasswordRequestBody, project_id: ProjectDep, parts: PartsDep
) -> w.CheckPasswordResponse:
    db_users.check_password(parts, project_id, instance_id, body)
    return w.CheckPasswordResponse()


@router.post(
    "/v3/{project_id}/weak-password-verification",
    response_model=w.CheckWeakPasswordResponse,
    response_model_exclude_unset=True,
)
def check_weak_password(body: w.WeakPasswordCheckRequestBody, project_id: ProjectDep) -> w.CheckWeakPasswordResponse:
    return w.CheckWeakPasswordResponse(weak=db_users.is_weak(body.password))
