"""The Request class of every runwire app: a JSON body that cannot be decoded at all is a 400.

Litestar turns malformed JSON into a 400 itself but lets msgspec's UnicodeDecodeError (invalid
UTF-8) and RecursionError (nesting too deep) through as 500s; this names the body instead.
"""

from __future__ import annotations

from typing import Any

from litestar import Request

from runwire.contract.undecodable import UNDECODABLE, undecodable_reason
from runwire.web.problems import invalid_field


class BodyCheckedRequest(Request[Any, Any, Any]):
    """A Request whose `json()` answers undecodable bytes with a 400 naming `body`."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except UNDECODABLE as exc:
            raise invalid_field("body", undecodable_reason(exc), source="body") from exc
