"""The CloudEvents envelope: what is accepted, and each invalid attribute rejected by name."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from runwire.contract.envelope import (
    CloudEvent,
    EnvelopeError,
    decode_event,
    decode_events,
    encode_event,
    json_schema,
    new_event,
)
from runwire.contract.schemas import CLOUDEVENT_SCHEMA

VALID: dict[str, Any] = {
    "specversion": "1.0",
    "id": "0193a5b2-7c1d-7000-8000-000000000001",
    "source": "/runwire/workflow",
    "type": "workflow.node.completed",
    "subject": "run-42",
    "time": "2026-11-21T22:48:16.123456Z",
    "datacontenttype": "application/json",
    "project": "p1",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "data": {"node": "n1"},
}


def with_(**changes: object) -> bytes:
    body = {**VALID, **changes}
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def test_valid_event_decodes_with_every_attribute() -> None:
    event = decode_event(with_())
    assert event == CloudEvent(
        specversion="1.0",
        id=VALID["id"],
        source="/runwire/workflow",
        type="workflow.node.completed",
        subject="run-42",
        time=datetime(2026, 11, 21, 22, 48, 16, 123456, tzinfo=UTC),
        datacontenttype="application/json",
        project="p1",
        traceparent=VALID["traceparent"],
        data={"node": "n1"},
    )


def test_encode_then_decode_is_identity_and_single_line() -> None:
    event = decode_event(with_())
    raw = encode_event(event)
    assert b"\n" not in raw
    assert decode_event(raw) == event
    assert json.loads(raw)["specversion"] == "1.0"


def test_event_without_subject_is_project_wide() -> None:
    assert decode_event(with_(subject=...)).aggregate == "_"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("specversion", "0.3"),
        ("specversion", ...),
        ("id", ""),
        ("id", "has space"),
        ("id", 42),
        ("id", ...),
        ("source", ""),
        ("source", ...),
        ("type", "Workflow.Node"),
        ("type", "workflow..node"),
        ("type", "workflow.node."),
        ("type", "a" * 256),
        ("type", ...),
        ("subject", "run.42"),
        ("subject", "x" * 129),
        ("subject", ""),
        ("project", "p 1"),
        ("project", "p.1"),
        ("project", ...),
        ("time", "2026-11-21T22:48:16"),
        ("time", "yesterday"),
        ("traceparent", "00-xyz-01"),
        ("traceparent", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("traceparent", "00-00000000000000000000000000000000-b7ad6b7169203331-01"),
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"),
        ("traceparent", "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"),
        ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra"),
        ("tracestate", "x" * 513),
        ("datacontenttype", ""),
        ("dataschema", ""),
        ("dataschema", "/schemas/order.json"),
        ("dataschema", "https://example.com/a schema"),
        ("source", "has space"),
        ("source", "/bad%zz"),
        ("source", "1a:b"),
        ("source", "/café"),
        ("id", "order-1\n"),
        ("type", "workflow.node\n"),
        ("project", "p1\n"),
    ],
)
def test_invalid_attribute_is_rejected_by_name(field: str, value: object) -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_event(with_(**{field: value}))
    assert caught.value.field == field


def test_extension_attributes_are_kept_verbatim_and_round_trip() -> None:
    event = decode_event(with_(partitionkey="order-7", sequence=42, ratio=0.5, sampled=True))
    assert event.extensions == {"partitionkey": "order-7", "sequence": 42, "ratio": 0.5, "sampled": True}
    encoded = json.loads(encode_event(event))
    assert {k: encoded[k] for k in ("partitionkey", "sequence", "ratio", "sampled")} == event.extensions
    assert "$extensions" not in encoded
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    "name", ["Partitionkey", "partition_key", "partition-key", "x" * 65, "$extensions", "é"]
)
def test_attribute_names_breaking_the_naming_rules_are_refused_by_name(name: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_event(with_(**{name: "v"}))
    assert caught.value.field == name
    assert "lowercase" in caught.value.message


@pytest.mark.parametrize("value", [None, {"a": 1}, [1]])
def test_extension_values_must_be_strings_numbers_or_booleans(value: object) -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_event(with_(partitionkey=value))
    assert caught.value.field == "partitionkey"


def test_an_invalid_core_attribute_is_named_even_beside_extensions() -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_event(with_(partitionkey="k", type="Bad"))
    assert caught.value.field == "type"


def test_extensions_of_an_array_item_are_named_with_its_index() -> None:
    body = json.dumps([VALID, {**VALID, "Bad": 1}]).encode()
    with pytest.raises(EnvelopeError) as caught:
        decode_events(body)
    assert caught.value.pointer == "[1].Bad"


@pytest.mark.parametrize(
    "source",
    [
        "/runwire/workflow",
        "https://example.com/orders?x=1#f",
        "urn:uuid:6e8bc430",
        "orders",
        "//host:80/p",
        "a%20b",
    ],
)
def test_sources_that_are_uri_references_are_accepted(source: str) -> None:
    assert decode_event(with_(source=source)).source == source


def test_a_later_traceparent_version_in_the_00_layout_is_accepted() -> None:
    value = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future"
    assert decode_event(with_(traceparent=value)).traceparent == value


def test_data_and_data_base64_together_are_rejected() -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_event(with_(data_base64="AAEC"))
    assert caught.value.field == "data_base64"


def test_malformed_json_names_the_body() -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_events(b'{"id": ')
    assert caught.value.field == "body"


def test_array_error_names_index_and_field() -> None:
    body = json.dumps([VALID, {**VALID, "type": "Bad"}]).encode()
    with pytest.raises(EnvelopeError) as caught:
        decode_events(body)
    assert (caught.value.index, caught.value.field) == (1, "type")
    assert caught.value.pointer == "[1].type"


def test_array_of_events_decodes_in_order() -> None:
    body = json.dumps([{**VALID, "id": "a"}, {**VALID, "id": "b"}]).encode()
    events, was_array = decode_events(body)
    assert was_array
    assert [e.id for e in events] == ["a", "b"]


def test_empty_array_is_rejected() -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_events(b"[]")
    assert caught.value.field == "body"


def test_non_object_array_item_is_rejected() -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_events(b"[1]")
    assert (caught.value.index, caught.value.field) == (0, "event")


def test_new_event_validates_its_attributes() -> None:
    with pytest.raises(EnvelopeError) as caught:
        new_event(type="x.y", project="bad project", source="/s")
    assert caught.value.field == "project"


def test_new_event_stamps_id_and_time() -> None:
    event = new_event(type="ingest.job.created", project="p1", source="/runwire/ingest", subject="job-1")
    assert event.id and event.time is not None and event.time.tzinfo is not None


def test_published_json_schema_is_current() -> None:
    assert json.loads(CLOUDEVENT_SCHEMA.read_text()) == json_schema(), "run `make schemas`"


def test_json_schema_requires_core_attributes() -> None:
    definition = json_schema()["$defs"]["CloudEvent"]
    assert set(definition["required"]) == {"specversion", "id", "source", "type", "project"}


def test_asyncapi_document_names_the_subject_scheme_and_the_schema() -> None:
    import yaml

    from runwire.contract.schemas import SCHEMA_DIR
    from runwire.contract.subjects import ROOT

    document = yaml.safe_load((SCHEMA_DIR / "asyncapi.yaml").read_text())
    assert document["asyncapi"].startswith("3.")
    assert document["channels"]["events"]["address"] == ROOT + ".{project}.{aggregate}.{type}"
    payload = document["components"]["messages"]["cloudEvent"]["payload"]["schema"]
    assert (SCHEMA_DIR / payload["$ref"]).resolve() == CLOUDEVENT_SCHEMA.resolve()
