"""The `dds` client's view of a service: a profile (endpoint + credentials) and signed HTTP calls.

It talks only to the REST API, exactly as the cloud's SDKs do: AK/SK requests are signed with
SDK-HMAC-SHA256, user/password profiles get a Keystone token first, a token is sent as is.
A profile comes from `--profile NAME` in `~/.config/dds/config.toml` (or `DDS_CONFIG`), then
environment variables override its fields.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from dds.iam import signature

ENV = {
    "endpoint": "DDS_ENDPOINT",
    "project_id": "DDS_PROJECT_ID",
    "project": "DDS_PROJECT",
    "access_key": "DDS_ACCESS_KEY",
    "secret_key": "DDS_SECRET_KEY",
    "username": "DDS_USERNAME",
    "password": "DDS_PASSWORD",
    "domain": "DDS_DOMAIN",
    "token": "DDS_TOKEN",
}


class ApiError(Exception):
    """A DDS error answer (or no answer): what the user sees, and the exit code 1."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class Profile:
    endpoint: str = "http://127.0.0.1:8080"
    project_id: str = ""
    project: str = ""
    access_key: str = ""
    secret_key: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    domain: str = "Default"
    token: str = field(default="", repr=False)


def config_path() -> Path:
    return Path(os.environ.get("DDS_CONFIG") or Path.home() / ".config" / "dds" / "config.toml")


def load_profile(name: str | None) -> Profile:
    """`[profiles.NAME]` of the config file (if any), then DDS_* variables over it."""
    profile = Profile()
    path = config_path()
    if path.exists():
        data = tomllib.loads(path.read_text())
        chosen = name or data.get("default_profile") or "default"
        section = data.get("profiles", {}).get(chosen)
        if section is None and name:
            raise ApiError(0, "CLI.profile", f"no profile {name!r} in {path}")
        known = {f.name for f in fields(Profile)}
        profile = replace(profile, **{k: str(v) for k, v in (section or {}).items() if k in known})
    elif name:
        raise ApiError(0, "CLI.profile", f"no profile {name!r}: {path} does not exist")
    overrides = {attr: os.environ[var] for attr, var in ENV.items() if os.environ.get(var)}
    return replace(profile, **overrides)


class Client:
    """One service, one project; every call returns the parsed JSON or raises ApiError."""

    def __init__(self, profile: Profile, timeout: float = 60) -> None:
        self.profile = profile
        self.http = httpx.Client(base_url=profile.endpoint.rstrip("/"), timeout=timeout)
        self._token = profile.token
        self.project_id = profile.project_id or self._discover_project()

    def close(self) -> None:
        self.http.close()

    # --- credentials ---------------------------------------------------------------------

    def _keystone_token(self) -> str:
        p = self.profile
        scope = {"project": {"id": p.project_id}} if p.project_id else {"project": {"name": p.project or p.username}}
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {"user": {"name": p.username, "password": p.password, "domain": {"name": p.domain}}},
                },
                "scope": scope,
            }
        }
        r = self.http.post("/v3/auth/tokens", json=body)
        if r.status_code >= 400:
            raise _error(r)
        token = r.headers.get("x-subject-token", "")
        project = r.json().get("token", {}).get("project", {}).get("id", "")
        if not self.profile.project_id and project:
            self.profile = replace(self.profile, project_id=project)
        return str(token)

    def _discover_project(self) -> str:
        p = self.profile
        if p.username and p.password and not self._token:
            self._token = self._keystone_token()
            return self.profile.project_id
        if self._token:
            r = self.http.get("/v3/projects", headers={"X-Auth-Token": self._token})
            projects = r.json().get("projects", []) if r.status_code == 200 else []
            if p.project:
                projects = [x for x in projects if x.get("name") == p.project]
            if len(projects) == 1:
                return str(projects[0]["id"])
        raise ApiError(0, "CLI.project", "set the project id (DDS_PROJECT_ID or project_id in the profile)")

    def _sign(self, request: httpx.Request) -> None:
        p = self.profile
        now = datetime.now(UTC).strftime(signature.DATE_FORMAT)
        request.headers["X-Sdk-Date"] = now
        request.headers["X-Project-Id"] = self.project_id
        url = urlsplit(str(request.url))
        headers = {k.lower(): v for k, v in request.headers.items()}
        signed = sorted(h for h in ("host", "x-sdk-date", "x-project-id", "content-type") if h in headers)
        req = signature.SignedRequest(
            method=request.method,
            path=url.path,
            query=signature.parse_query(url.query),
            headers=headers,
            body=request.content,
        )
        canonical = signature.canonical_request(req, signed)
        sig = signature.sign(signature.string_to_sign(canonical, now), p.secret_key)
        request.headers["Authorization"] = (
            f"{signature.ALGORITHM} Access={p.access_key}, SignedHeaders={';'.join(signed)}, Signature={sig}"
        )

    # --- calls ---------------------------------------------------------------------------

    def call(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None) -> Any:
        """`path` below `/v3/{project_id}` (or absolute when it starts with `/v3.1`, `/v3/auth`)."""
        url = path if path.startswith(("/v3.1/", "/v3/auth", "http")) else f"/v3/{self.project_id}{path}"
        request = self.http.build_request(
            method, url, json=json, params={k: v for k, v in (params or {}).items() if v is not None}
        )
        if self.profile.access_key and self.profile.secret_key:
            self._sign(request)
        elif self._token:
            request.headers["X-Auth-Token"] = self._token
        try:
            r = self.http.send(request)
        except httpx.HTTPError as exc:
            raise ApiError(0, "CLI.connection", f"cannot reach {self.profile.endpoint}: {exc}") from None
        if r.status_code >= 400:
            raise _error(r)
        return r.json() if r.content else {}


def _error(r: httpx.Response) -> ApiError:
    try:
        body = r.json()
    except ValueError:
        body = {}
    code = body.get("error_code") or body.get("code") or f"HTTP.{r.status_code}"
    message = body.get("error_msg") or body.get("message") or r.text[:300]
    return ApiError(r.status_code, str(code), str(message))
