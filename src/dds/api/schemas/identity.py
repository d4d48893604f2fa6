"""Keystone v3 `POST /v3/auth/tokens` request body (the subset IAM clients send)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class DomainRef(_Lenient):
    id: str | None = None
    name: str | None = None


class UserRef(_Lenient):
    id: str | None = None
    name: str | None = None
    password: str | None = None
    domain: DomainRef | None = None


class PasswordMethod(_Lenient):
    user: UserRef


class Identity(_Lenient):
    methods: list[str]
    password: PasswordMethod | None = None


class ProjectRef(_Lenient):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None


class Scope(_Lenient):
    project: ProjectRef | None = None
    domain: DomainRef | None = None


class Auth(_Lenient):
    identity: Identity
    scope: Scope | None = None


class AuthBody(_Lenient):
    auth: Auth
