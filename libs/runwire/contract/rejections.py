"""Why a pure `decide` refuses a command: typed rejections that every transport answers the same way.

The domain raises these without knowing about HTTP or NATS; the HTTP apps answer them as
problem+json with `status` and `kind`, the NATS command bus as an error reply with the same fields.
"""

from __future__ import annotations

from typing import ClassVar


class Rejected(Exception):
    """A command refused by the rules of its aggregate; `detail` says why in words a user can act on."""

    status: ClassVar[int] = 409
    kind: ClassVar[str] = "conflict"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        self.detail = detail
        self.field = field
        super().__init__(detail)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and (self.detail, self.field) == (other.detail, other.field)

    def __hash__(self) -> int:
        return hash((type(self), self.detail, self.field))

    def __repr__(self) -> str:
        field = f", field={self.field!r}" if self.field else ""
        return f"{type(self).__name__}({self.detail!r}{field})"


class NotFound(Rejected):
    """The aggregate does not exist (in this project)."""

    status = 404
    kind = "not-found"


class InvalidTransition(Rejected):
    """The aggregate exists but its state does not allow the command (e.g. cancelling a finished job)."""

    status = 409
    kind = "invalid-transition"


class IdempotencyConflict(Rejected):
    """An idempotency key was reused for a different request."""

    status = 409
    kind = "idempotency-key-reused"


class InvalidCommand(Rejected):
    """The command itself is malformed in a way its schema cannot express."""

    status = 400
    kind = "invalid-input"


REJECTIONS: dict[str, type[Rejected]] = {
    cls.kind: cls for cls in (Rejected, NotFound, InvalidTransition, IdempotencyConflict, InvalidCommand)
}
