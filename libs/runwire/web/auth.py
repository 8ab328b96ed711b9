"""Bearer JWTs (HS256) with a `projects` claim: who may read and publish which projects.

Browsers' EventSource cannot set headers, so a token is also accepted as `?access_token=`; the
header wins when both are present.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import jwt
import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from runwire.web.problems import ProblemError

ALGORITHM: Final = "HS256"
ALL_PROJECTS: Final = "*"


class Principal(msgspec.Struct, frozen=True):
    """The verified caller: its subject and the projects it may use (`"*"` for all)."""

    sub: str
    projects: frozenset[str] | Literal["*"]

    def may_access(self, project: str) -> bool:
        return self.projects == ALL_PROJECTS or project in self.projects


class AuthError(Exception):
    """A missing, malformed, expired or foreign token (HTTP 401)."""


def issue_token(
    secret: str, sub: str, projects: Iterable[str] | Literal["*"] = ALL_PROJECTS, ttl_seconds: int = 86_400
) -> str:
    """Sign a token for `sub` that may use `projects` for `ttl_seconds`."""
    claim: list[str] | str = ALL_PROJECTS if projects == ALL_PROJECTS else sorted(projects)
    now = int(time.time())
    return jwt.encode(
        {"sub": sub, "projects": claim, "iat": now, "exp": now + ttl_seconds}, secret, ALGORITHM
    )


def verify_token(secret: str, token: str) -> Principal:
    """The principal of a valid token, or AuthError saying what is wrong with it."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "projects"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token lacks the `{exc.claim}` claim") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError(f"invalid token: {exc}") from exc
    projects = claims["projects"]
    if projects == ALL_PROJECTS:
        return Principal(sub=str(claims["sub"]), projects=ALL_PROJECTS)
    if not isinstance(projects, list) or not all(isinstance(p, str) for p in projects):
        raise AuthError('token claim `projects` must be a list of project ids or "*"')
    return Principal(sub=str(claims["sub"]), projects=frozenset(projects))


def new_secret() -> str:
    """A random HS256 key for development."""
    return secrets.token_urlsafe(32)


def dev_secret_path(data_dir: Path) -> Path:
    """Where `make run` keeps its dev secret, so tokens survive restarts and `make demo` finds it."""
    return data_dir / "dev-auth-secret"


def read_dev_secret(data_dir: Path) -> str | None:
    """The dev secret `make run` created, if it did."""
    path = dev_secret_path(data_dir)
    return path.read_text().strip() if path.exists() else None


def dev_secret(data_dir: Path) -> str:
    """The dev secret, created (random, owner-only) on first use."""
    existing = read_dev_secret(data_dir)
    if existing:
        return existing
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = new_secret()
    path = dev_secret_path(data_dir)
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return secret


def token_from(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The bearer token of a request: the Authorization header, else `access_token`."""
    header = headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return ""
    return query.get("access_token")


def unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        detail,
        kind="unauthorized",
        title="Unauthorized",
        headers={"WWW-Authenticate": 'Bearer realm="runwire"'},
    )


def authenticate(secret: str, headers: Mapping[str, str], query: Mapping[str, str]) -> Principal:
    """Verify the request's token or raise a 401 problem."""
    token = token_from(headers, query)
    if token is None:
        raise unauthorized("missing bearer token (Authorization header or access_token query parameter)")
    if token == "":
        raise unauthorized("Authorization header must be `Bearer <token>`")
    try:
        return verify_token(secret, token)
    except AuthError as exc:
        raise unauthorized(str(exc)) from exc


def authorize(principal: Principal, project: str) -> None:
    """Raise a 403 problem unless the principal may use `project`."""
    if not principal.may_access(project):
        raise ProblemError(
            403,
            f"token of {principal.sub!r} does not grant project {project!r}",
            kind="forbidden",
            title="Forbidden",
            field="project",
        )


def project_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Litestar guard: authenticate, then authorize the `{project}` path parameter.

    The secret is read from `app.state.auth_secret`; the principal is left in `connection.state`.
    """
    secret: str = connection.app.state.auth_secret
    principal = authenticate(secret, connection.headers, connection.query_params)
    project = connection.path_params.get("project")
    if project is not None:
        authorize(principal, str(project))
    connection.state.principal = principal
