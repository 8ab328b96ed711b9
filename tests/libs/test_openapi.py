"""runwire.web.openapi: JSON Schema lifted into OpenAPI components exactly, or refused at build."""

from __future__ import annotations

import pytest

from runwire.web.openapi import lift_json_schema


def test_defs_become_components_with_their_refs_pointed_there() -> None:
    lifted = lift_json_schema(
        {"$defs": {"Page": {"type": "object", "properties": {"item": {"$ref": "#/$defs/Item"}}}, "Item": {}}}
    )
    assert lifted["Page"].to_schema() == {
        "type": "object",
        "properties": {"item": {"$ref": "#/components/schemas/Item"}},
    }


def test_a_keyword_openapi_cannot_carry_is_refused_not_dropped() -> None:
    with pytest.raises(ValueError, match="'\\$comment'"):
        lift_json_schema({"$defs": {"Item": {"type": "string", "$comment": "kept?"}}})
