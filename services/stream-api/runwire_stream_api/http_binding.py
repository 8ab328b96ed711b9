"""The CloudEvents HTTP binding of a publish request: structured mode, or binary mode (`ce-*` headers).

Binary mode is what most CloudEvents SDKs send by default: the attributes travel as `ce-<name>`
headers (percent-encoded), `Content-Type` is the `datacontenttype` and the body is the data. It is
turned into the same JSON event that structured mode carries and validated by the same decoder,
so both modes accept and refuse exactly the same events.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import unquote

import msgspec

from runwire.contract.envelope import CloudEvent, EnvelopeError, decode_event, decode_events

BINARY_PREFIX: Final = "ce-"
# The binary-mode headers of the attributes runwire knows, which cross-origin pages may send.
BINARY_MODE_HEADERS: Final = tuple(
    BINARY_PREFIX + name
    for name in (
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "dataschema",
        "project",
        "traceparent",
        "tracestate",
    )
)
# Structured-mode media types of the JSON event format; other CloudEvents formats are a 415.
STRUCTURED_JSON: Final = ("application/cloudevents+json", "application/cloudevents-batch+json")
# Attributes that binary mode carries elsewhere than in a `ce-` header.
_NOT_HEADERS: Final = {
    "datacontenttype": "is the Content-Type header in binary mode",
    "data": "is the request body in binary mode",
    "data_base64": "is the request body in binary mode",
}

_encoder = msgspec.json.Encoder()


class UnsupportedFormat(ValueError):
    """A CloudEvents event format other than JSON (a 415)."""


def media_type(content_type: str | None) -> str:
    """The bare, lowercase media type of a Content-Type value (`application/json; charset=utf-8`)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def read_events(headers: Mapping[str, str], body: bytes) -> tuple[list[CloudEvent], bool]:
    """The events of a publish request and whether the body was an array; EnvelopeError names the
    input (`ce-<attribute>` for a binary-mode header), UnsupportedFormat for a non-JSON format."""
    media = media_type(headers.get("content-type"))
    if media.startswith("application/cloudevents") and media not in STRUCTURED_JSON:
        raise UnsupportedFormat(
            f"event format {media!r} is not supported; use application/cloudevents+json, "
            "application/cloudevents-batch+json, application/json, or binary mode (ce-* headers)"
        )
    attributes = {
        name.lower()[len(BINARY_PREFIX) :]: value
        for name, value in headers.items()
        if name.lower().startswith(BINARY_PREFIX)
    }
    if not attributes or media in STRUCTURED_JSON:
        return decode_events(body)
    return [_binary_event(attributes, headers.get("content-type"), media, body)], False


def _binary_event(
    attributes: dict[str, str], content_type: str | None, media: str, body: bytes
) -> CloudEvent:
    event: dict[str, Any] = {}
    for name, value in attributes.items():
        if name in _NOT_HEADERS:
            raise EnvelopeError(BINARY_PREFIX + name, _NOT_HEADERS[name])
        try:
            event[name] = unquote(value, errors="strict")
        except UnicodeDecodeError as exc:
            raise EnvelopeError(BINARY_PREFIX + name, "is not percent-encoded UTF-8") from exc
    if content_type:
        event["datacontenttype"] = content_type
    if body:
        if _is_json(media):
            try:
                event["data"] = msgspec.json.decode(body)
            except msgspec.DecodeError as exc:
                raise EnvelopeError(
                    "body", f"is not the JSON its Content-Type {media!r} says ({exc})"
                ) from exc
        else:
            event["data_base64"] = base64.b64encode(body).decode()
    try:
        return decode_event(_encoder.encode(event))
    except EnvelopeError as exc:
        field = exc.field if exc.field in ("body", "data", "data_base64") else BINARY_PREFIX + exc.field
        raise EnvelopeError(field, exc.message) from exc
