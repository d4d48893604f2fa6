"""Caller identity: which project a request acts for, and Keystone token issue.

Credentials accepted on every DDS route, in this order:
1. `Authorization: SDK-HMAC-SHA256 ...` — AK/SK signed request (Huawei SDK);
2. `X-Auth-Token` — a token from `POST /v3/auth/tokens`, or the development
   token `settings.dev_token` (acts for the demo project; empty disables it).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from dds.core.errors import AuthenticationFailed, IdentityUnauthorized, NotFound, Unauthorized
from dds.db.identity import User
from dds.db.models import Project
from dds.iam import directory, signature, tokens
from dds.iam.authenticator import Authenticator, TokenInfo
from dds.iam.passwords import DUMMY_HASH, verify_password
from dds.parts import Parts

LEGACY_DEMO_PROJECT = "demo"  # the default project's name before project names carried the region
DEMO_PROJECT_KEY = "default-project"


def authenticator(parts: Parts) -> Authenticator:
    return parts.authenticator


def ensure_project(s: Session, parts: Parts, name: str) -> Project:
    return directory.ensure_project(s, name, parts.clock.now(), parts.settings.region)


def ensure_demo_project(s: Session, parts: Parts) -> Project:
    """The default project, the development token's: named after the region, as the cloud names a
    region's default project (`eu-de`). A data directory of an earlier release keeps its `demo`
    project until `dds admin project rename demo <region>`."""
    region = parts.settings.region
    if directory.project_by_ref(s, name=region) is None:
        legacy = directory.project_by_ref(s, name=LEGACY_DEMO_PROJECT)
        if legacy is not None:
            return legacy
    return ensure_project(s, parts, region)


def demo_project_name(parts: Parts) -> str:
    with parts.db.session() as s:
        return ensure_demo_project(s, parts).name


def demo_project_id(parts: Parts) -> str:
    """The default project's id (made on first use); the authenticator remembers it."""
    return parts.authenticator.remember_project(DEMO_PROJECT_KEY, lambda: _ensure_demo_id(parts))


def _ensure_demo_id(parts: Parts) -> str:
    with parts.db.session() as s:
        return ensure_demo_project(s, parts).id


def _signed_request(request: Any) -> signature.SignedRequest:
    scope = request.scope
    path = scope.get("raw_path") or scope["path"].encode()
    return signature.SignedRequest(
        method=scope["method"],
        path=path.decode("latin-1").split("?", 1)[0],
        query=signature.parse_query(scope.get("query_string", b"").decode("latin-1")),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=getattr(request.state, "raw_body", b"") or b"",
    )


def authenticate(parts: Parts, request: Any) -> str | None:
    """The project id the request's credentials belong to; None if it carries none.

    Raises Unauthorized (or a subclass) when credentials are present but
    invalid, so the caller can say why; Forbidden when a valid key names
    another project in X-Project-Id. For signed requests the body must be in
    `request.state.raw_body` (the API dependency reads it first).
    """
    headers = request.headers
    auth = headers.get("authorization")
    if auth and signature.is_signed(auth):
        return authenticator(parts).signed(_signed_request(request))
    token = headers.get("x-auth-token")
    if token:
        dev = parts.settings.dev_token
        if dev and hmac.compare_digest(token.encode(), dev.encode()):
            return demo_project_id(parts)
        return authenticator(parts).token(token).project_id
    if auth:
        raise AuthenticationFailed("unsupported Authorization scheme; use SDK-HMAC-SHA256 or X-Auth-Token")
    return None


def caller_label(parts: Parts, headers: Any) -> str:
    """Who made an (already authenticated) request, for histories: `user:<id>` or `access_key:<AK>`."""
    auth = headers.get("authorization") or ""
    if signature.is_signed(auth):
        for part in auth.replace(",", " ").split():
            if part.startswith("Access="):
                return "access_key:" + part[len("Access=") :]
    token = headers.get("x-auth-token")
    if token:
        dev = parts.settings.dev_token
        if dev and hmac.compare_digest(token.encode(), dev.encode()):
            return "dev-token"
        return "user:" + authenticator(parts).token(token).user_id
    return "unknown"


def authenticate_cached(parts: Parts, headers: Any) -> str | None:
    """The project of a token request answered from memory alone (dev token, cached token), or
    None when a look-up is needed: lets the hot read path skip a thread hop."""
    token = headers.get("x-auth-token")
    if not token or headers.get("authorization"):
        return None
    dev = parts.settings.dev_token
    if dev and hmac.compare_digest(token.encode(), dev.encode()):
        return demo_project_id(parts)
    info = parts.authenticator.cached_token(token)
    return info.project_id if info is not None else None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    info: TokenInfo
    user: User
    project: Project | None  # None: scoped to the domain, valid for no project path
    methods: list[str]

    @property
    def domain_scoped(self) -> bool:
        return self.project is None


def _user_of(s: Session, parts: Parts, identity: Any) -> User:
    password = identity.password
    if "password" not in identity.methods or password is None:
        raise IdentityUnauthorized("Only the password method is supported.")
    ref = password.user
    domain = ref.domain
    if domain is not None:
        ours = parts.settings.identity_domain
        if (domain.id and domain.id != ours.lower()) or (domain.name and domain.name != ours):
            # Same message as a wrong password: do not reveal which part was wrong.
            raise IdentityUnauthorized()
    user = directory.user_by_ref(s, id=ref.id, name=ref.name)
    ok = verify_password(ref.password or "", user.password_hash if user else DUMMY_HASH)
    if user is None or not ok or not user.enabled:
        raise IdentityUnauthorized()
    return user


def _our_domain(parts: Parts, ref: Any) -> bool:
    ours = parts.settings.identity_domain
    return bool(ref.id or ref.name) and ref.id in (None, ours.lower()) and ref.name in (None, ours)


def issue_token(parts: Parts, auth: Any) -> IssuedToken:
    """Keystone v3 password authentication, scoped to the user's project or to the domain.

    A user belongs to exactly one project; a scope naming another project or domain is
    refused like bad credentials (Keystone answers 401 there too). A domain-scoped token
    (what Terraform's provider asks for beside the project one) acts on no project path.
    """
    with parts.db.session() as s:
        user = _user_of(s, parts, auth.identity)
        project = s.get(Project, user.project_id)
        scope = auth.scope.project if auth.scope is not None else None
        if auth.scope is not None and scope is None:
            if auth.scope.domain is None or not _our_domain(parts, auth.scope.domain):
                raise IdentityUnauthorized("The user has no role on the requested domain.")
            token, row = tokens.issue(s, user, "", parts.clock.now(), parts.settings.token_lifetime)
            info = TokenInfo(row.user_id, row.project_id, row.issued, row.expires)
            return IssuedToken(token, info, user, None, ["password"])
        if scope is not None:
            wanted = directory.project_by_ref(s, id=scope.id, name=scope.name)
            if wanted is None or project is None or wanted.id != project.id:
                raise IdentityUnauthorized("The user has no role on the requested project.")
        if project is None:
            raise IdentityUnauthorized("The user has no project.")
        token, row = tokens.issue(s, user, project.id, parts.clock.now(), parts.settings.token_lifetime)
        info = TokenInfo(row.user_id, row.project_id, row.issued, row.expires)
        return IssuedToken(token, info, user, project, ["password"])


def describe_token(parts: Parts, caller: str, subject: str) -> IssuedToken:
    """GET /v3/auth/tokens: the subject token, if the caller's token is valid and of the same
    project (domain-scoped tokens: of the same user)."""
    auth = authenticator(parts)
    me = auth.token(caller)
    try:
        info = auth.token(subject)
    except Unauthorized:
        raise NotFound("Could not find token.") from None
    if (info.project_id or info.user_id) != (me.project_id or me.user_id):
        raise NotFound("Could not find token.")
    with parts.db.session() as s:
        user = s.get(User, info.user_id)
        project = s.get(Project, info.project_id) if info.project_id else None
        if user is None or (info.project_id and project is None):
            raise NotFound("Could not find token.")
        return IssuedToken(subject, info, user, project, ["password"])


def visible_projects(parts: Parts, request: Any, name: str | None = None) -> list[Project]:
    """IAM `GET /v3/projects`: the projects the credentials act for (a domain-scoped token: its
    user's). `name` filters by project name; our region's name also matches, because the
    Huawei SDK looks its project id up by region name, as project names are on the cloud."""
    project_id = authenticate(parts, request)
    if project_id is None:
        raise AuthenticationFailed()
    with parts.db.session() as s:
        if not project_id:  # a domain-scoped token: its user's project
            user = s.get(User, authenticator(parts).token(request.headers["x-auth-token"]).user_id)
            project_id = user.project_id if user else ""
        project = s.get(Project, project_id) if project_id else None
        found = [project] if project is not None else []
    if name and name != parts.settings.region:
        found = [p for p in found if p.name == name]
    return found


def revoke_token(parts: Parts, caller: str, subject: str) -> None:
    """DELETE /v3/auth/tokens: the subject token stops working at once in this process."""
    describe_token(parts, caller, subject)
    with parts.db.session() as s:
        tokens.revoke(s, subject)
    authenticator(parts).forget_token(subject)
