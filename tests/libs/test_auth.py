"""JWT auth: tokens, the projects claim, and the 401/403 problems."""

from __future__ import annotations

import time

import jwt
import pytest

from runwire.web.auth import AuthError, Principal, authenticate, authorize, issue_token, verify_token
from runwire.web.problems import ProblemError

SECRET = "test-secret-test-secret-test-secret"


def test_issued_token_verifies_to_its_principal() -> None:
    token = issue_token(SECRET, "alice", ["p1", "p2"])
    assert verify_token(SECRET, token) == Principal("alice", frozenset({"p1", "p2"}))


def test_star_grants_every_project() -> None:
    principal = verify_token(SECRET, issue_token(SECRET, "ops", "*"))
    assert principal.may_access("anything")


def test_token_signed_with_another_secret_is_rejected() -> None:
    with pytest.raises(AuthError, match="invalid token"):
        verify_token(SECRET, issue_token("another-secret-another-secret-xx", "alice", ["p1"]))


def test_expired_token_is_rejected() -> None:
    token = jwt.encode({"sub": "a", "projects": ["p1"], "exp": int(time.time()) - 5}, SECRET, "HS256")
    with pytest.raises(AuthError, match="expired"):
        verify_token(SECRET, token)


def test_token_without_projects_claim_is_rejected() -> None:
    token = jwt.encode({"sub": "a", "exp": int(time.time()) + 60}, SECRET, "HS256")
    with pytest.raises(AuthError, match="projects"):
        verify_token(SECRET, token)


def test_projects_claim_of_wrong_shape_is_rejected() -> None:
    token = jwt.encode({"sub": "a", "projects": "p1", "exp": int(time.time()) + 60}, SECRET, "HS256")
    with pytest.raises(AuthError, match="projects"):
        verify_token(SECRET, token)


def test_header_wins_over_query_parameter() -> None:
    good = issue_token(SECRET, "header", ["p1"])
    bad = issue_token(SECRET, "query", ["p1"])
    principal = authenticate(SECRET, {"authorization": f"Bearer {good}"}, {"access_token": bad})
    assert principal.sub == "header"


def test_query_parameter_token_is_accepted() -> None:
    token = issue_token(SECRET, "browser", ["p1"])
    assert authenticate(SECRET, {}, {"access_token": token}).sub == "browser"


@pytest.mark.parametrize("headers", [{}, {"authorization": "Basic abc"}, {"authorization": "Bearer nope"}])
def test_missing_or_bad_token_is_401(headers: dict[str, str]) -> None:
    with pytest.raises(ProblemError) as caught:
        authenticate(SECRET, headers, {})
    assert caught.value.status_code == 401


def test_other_project_is_403() -> None:
    with pytest.raises(ProblemError) as caught:
        authorize(Principal("alice", frozenset({"p1"})), "p2")
    assert caught.value.status_code == 403
