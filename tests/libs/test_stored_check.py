"""The check of a stored message: a CloudEvent of this contract whose project, aggregate and type
are the tokens of the NATS subject it was stored under, or one fixed reason why not."""

from __future__ import annotations

import msgspec

from runwire.contract.envelope import CloudEvent, encode_event, new_event
from runwire.contract.stored_check import Invalid, Rejected, check_stored


def stored(project: str = "p", subject: str | None = "order-1", type_: str = "order.created") -> bytes:
    return encode_event(
        new_event(type=type_, project=project, source="/test", subject=subject, data={"n": 1})
    )


def reason(subject: str, data: bytes) -> Invalid:
    verdict = check_stored(subject, data)
    assert isinstance(verdict, Rejected), verdict
    return verdict.reason


def test_an_event_stored_under_its_own_subject_is_valid() -> None:
    verdict = check_stored("events.p.order-1.order.created", stored())
    assert isinstance(verdict, CloudEvent)
    assert (verdict.project, verdict.aggregate, verdict.type) == ("p", "order-1", "order.created")


def test_a_project_wide_event_is_valid_under_the_underscore_aggregate() -> None:
    assert isinstance(check_stored("events.p._.order.created", stored(subject=None)), CloudEvent)


def test_malformed_json_is_not_json() -> None:
    assert reason("events.p.x.y", b"{oops") == Invalid.NOT_JSON


def test_invalid_utf8_is_not_json() -> None:
    assert reason("events.p.x.y", b'{"data":"\xff"}') == Invalid.NOT_JSON


def test_an_empty_payload_is_not_json() -> None:
    assert reason("events.p.x.y", b"") == Invalid.NOT_JSON


def test_json_that_is_not_an_object_is_not_a_cloudevent() -> None:
    assert reason("events.p.x.y", b"[1, 2]") == Invalid.NOT_CLOUDEVENT


def test_an_object_without_the_required_attributes_is_not_a_cloudevent() -> None:
    assert reason("events.p.x.y", b'{"hello": "world"}') == Invalid.NOT_CLOUDEVENT


def test_data_nested_too_deep_to_decode_is_not_a_cloudevent() -> None:
    event = msgspec.json.decode(stored())
    body = msgspec.json.encode({**event, "data": None}).replace(
        b'"data":null', b'"data":' + b"[" * 100_000 + b"]" * 100_000
    )
    assert reason("events.p.order-1.order.created", body) == Invalid.NOT_CLOUDEVENT


def test_an_event_naming_another_project_than_its_subject_is_a_mismatch() -> None:
    assert reason("events.p.order-1.order.created", stored(project="q")) == Invalid.SUBJECT_MISMATCH


def test_an_event_naming_another_aggregate_than_its_subject_is_a_mismatch() -> None:
    assert reason("events.p.order-2.order.created", stored()) == Invalid.SUBJECT_MISMATCH


def test_a_project_wide_event_under_an_aggregate_subject_is_a_mismatch() -> None:
    assert reason("events.p.order-1.order.created", stored(subject=None)) == Invalid.SUBJECT_MISMATCH


def test_an_event_naming_another_type_than_its_subject_is_a_mismatch() -> None:
    assert reason("events.p.order-1.order.paid", stored()) == Invalid.SUBJECT_MISMATCH


def test_an_event_under_a_subject_with_too_few_tokens_is_a_mismatch() -> None:
    assert reason("events.p.order-1", stored()) == Invalid.SUBJECT_MISMATCH


def test_the_detail_never_carries_the_body() -> None:
    secret = b"s3cr3t-payload-" * 100
    verdict = check_stored("events.p.x.y", b"{" + secret)
    assert isinstance(verdict, Rejected)
    assert "s3cr3t" not in verdict.detail
    assert len(verdict.detail) <= 200
