"""The published JSON Schema and the server's decoder give the same verdict on every event.

Producers in other languages validate with the schema; the stream API with decode_event. Each
case below is run through both: a disagreement is a bug in one of them.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from runwire.contract.envelope import EnvelopeError, decode_event
from runwire.contract.schemas import CLOUDEVENT_SCHEMA

VALID: dict[str, Any] = {
    "specversion": "1.0",
    "id": "order-1",
    "source": "/runwire/workflow",
    "type": "workflow.node.completed",
    "project": "p1",
}
TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"

# (attribute, value): `...` removes the attribute.
CASES: list[tuple[str, object]] = [
    ("id", ...),
    ("id", ""),
    ("id", "a" * 256),
    ("id", "a" * 257),
    ("id", "has space"),
    ("id", "order-1\n"),
    ("id", 7),
    ("specversion", "0.3"),
    ("source", ...),
    ("source", ""),
    ("source", "/a/b"),
    ("source", "orders"),
    ("source", "./orders"),
    ("source", "https://example.com/orders?x=1#frag"),
    ("source", "http://user:pw@[::1]:8080/x"),
    ("source", "http://[v1.abc]/x"),
    ("source", "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66"),
    ("source", "mailto:someone@example.com"),
    ("source", "//host/path"),
    ("source", "?query-only"),
    ("source", "#fragment-only"),
    ("source", "a%2Fb"),
    ("source", "a%zz"),
    ("source", "1a:b"),
    ("source", "/a:b"),
    ("source", "has space"),
    ("source", "/café"),
    ("source", "/x#a#b"),
    ("source", "/x\n"),
    ("source", "/" + "x" * 1023),
    ("source", "/" + "x" * 1024),
    ("type", "Workflow.node"),
    ("type", "a..b"),
    ("type", "a.b\n"),
    ("type", "a" * 255),
    ("type", "a" * 256),
    ("subject", None),
    ("subject", "run-42"),
    ("subject", "run.42"),
    ("subject", "x" * 129),
    ("project", "p 1"),
    ("project", "p1\n"),
    ("time", "2026-11-21T22:48:16Z"),
    ("time", "2026-11-21T22:48:16.123456789+01:00"),
    ("time", "2026-11-21t22:48:16z"),
    ("time", "2026-11-21 22:48:16Z"),
    ("time", "2026-11-21T22:48:16+0100"),
    ("time", "2024-02-29T00:00:00Z"),
    ("time", "2000-02-29T00:00:00Z"),
    ("time", "2025-02-29T00:00:00Z"),
    ("time", "1900-02-29T00:00:00Z"),
    ("time", "2026-04-31T00:00:00Z"),
    ("time", "2026-13-01T00:00:00Z"),
    ("time", "0000-01-01T00:00:00Z"),
    ("time", "2026-11-21T24:00:00Z"),
    ("time", "2026-11-21T23:59:60Z"),
    ("time", "2026-11-21T22:48:16+24:00"),
    ("time", "2026-11-21T22:48:16"),
    ("time", "2026-11-21T22:48Z"),
    ("time", "2026-11-21T22:48:16Z\n"),
    ("time", "yesterday"),
    ("datacontenttype", "application/json"),
    ("datacontenttype", ""),
    ("dataschema", "https://example.com/schemas/order.json#/$defs/a"),
    ("dataschema", "urn:example:order"),
    ("dataschema", "/schemas/order.json"),
    ("dataschema", "order.json"),
    ("dataschema", ""),
    ("traceparent", f"00-{TRACE}-{PARENT}-01"),
    ("traceparent", f"00-{TRACE}-{PARENT}-00"),
    ("traceparent", f"ff-{TRACE}-{PARENT}-01"),
    ("traceparent", f"00-{'0' * 32}-{PARENT}-01"),
    ("traceparent", f"00-{TRACE}-{'0' * 16}-01"),
    ("traceparent", f"00-{TRACE.upper()}-{PARENT}-01"),
    ("traceparent", f"00-{TRACE}-{PARENT}-01-x"),
    ("traceparent", f"01-{TRACE}-{PARENT}-01"),
    ("traceparent", f"01-{TRACE}-{PARENT}-01-future"),
    ("traceparent", f"01-{TRACE}-{PARENT}-01x"),
    ("traceparent", "00-xyz-01"),
    ("tracestate", "a=b"),
    ("tracestate", "x" * 513),
    ("data", {"n": 1}),
    ("data", None),
    ("data_base64", "AAEC"),
    ("partitionkey", "order-7"),
    ("sequence", 42),
    ("ratio", 0.5),
    ("sampled", False),
    ("a" * 64, "v"),
    ("a" * 65, "v"),
    ("partitionkey", None),
    ("partitionkey", {"a": 1}),
    ("partitionkey", [1]),
    ("Partitionkey", "v"),
    ("partition_key", "v"),
    ("partition-key", "v"),
    ("$extensions", {"x": "y"}),
    ("é", "v"),
]

# Whole events (not one attribute changed).
WHOLE: list[tuple[str, object]] = [
    ("data and data_base64", {**VALID, "data": {"a": 1}, "data_base64": "AAEC"}),
    ("data null and data_base64", {**VALID, "data": None, "data_base64": "AAEC"}),
    ("not an object", [VALID]),
    ("a string", "event"),
]

_validator = jsonschema.Draft202012Validator(json.loads(CLOUDEVENT_SCHEMA.read_text()))


def _verdicts(event: object) -> tuple[bool, bool]:
    raw = json.dumps(event).encode()
    try:
        decode_event(raw)
        server = True
    except EnvelopeError:
        server = False
    return server, _validator.is_valid(json.loads(raw))


@pytest.mark.parametrize(("name", "value"), CASES, ids=[f"{n}={v!r}"[:60] for n, v in CASES])
def test_schema_and_server_agree_on_an_attribute(name: str, value: object) -> None:
    event = {k: v for k, v in {**VALID, name: value}.items() if v is not ...}
    server, schema = _verdicts(event)
    assert server == schema, f"server says {'valid' if server else 'invalid'}, the schema the opposite"


@pytest.mark.parametrize(("label", "event"), WHOLE, ids=[label for label, _ in WHOLE])
def test_schema_and_server_agree_on_a_whole_event(label: str, event: object) -> None:
    server, schema = _verdicts(event)
    assert server == schema


def test_the_table_holds_both_verdicts() -> None:
    """A table where everything passes (or fails) would prove nothing about the boundary."""
    verdicts = [
        _verdicts({k: v for k, v in {**VALID, n: val}.items() if v is not ...})[0] for n, val in CASES
    ]
    assert verdicts.count(True) >= 20 and verdicts.count(False) >= 20
