"""The CloudEvents 1.0 envelope (JSON structured mode) that every runwire producer and client shares.

Validation lives here, once, so that every boundary (HTTP publish, domain services, the stream
consumer) rejects the same bad input with the same field-naming error.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import msgspec

from runwire.undecodable import UNDECODABLE, undecodable_reason

# A single NATS subject token: project and aggregate ids.
TOKEN_PATTERN: Final = r"^[A-Za-z0-9_-]{1,128}$"
# Dotted lowercase tokens: the event type, e.g. workflow.node.completed.
TYPE_PATTERN: Final = r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*$"
# Printable ASCII without spaces: the id doubles as the Nats-Msg-Id header.
ID_PATTERN: Final = r"^[\x21-\x7e]{1,256}$"
SOURCE_PATTERN: Final = r"^[\x21-\x7e]{1,1024}$"
TRACEPARENT_PATTERN: Final = r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$"

# Aggregate id of a project-wide event (an event without a CloudEvents `subject`).
PROJECT_WIDE: Final = "_"

Token = Annotated[str, msgspec.Meta(pattern=TOKEN_PATTERN, description="[A-Za-z0-9_-]{1,128}")]
EventType = Annotated[
    str,
    msgspec.Meta(
        pattern=TYPE_PATTERN,
        max_length=255,
        description="dotted lowercase tokens of [a-z0-9_-], e.g. workflow.node.completed",
    ),
]
EventId = Annotated[str, msgspec.Meta(pattern=ID_PATTERN, description="unique per producer; dedup key")]
Source = Annotated[str, msgspec.Meta(pattern=SOURCE_PATTERN, description="URI-reference of the producer")]
TraceParent = Annotated[str, msgspec.Meta(pattern=TRACEPARENT_PATTERN, description="W3C traceparent")]
TraceState = Annotated[str, msgspec.Meta(max_length=512, description="W3C tracestate")]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with a UTC offset")]
ContentType = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]

# Human words for each attribute's rule, used in error messages instead of raw regexes.
FIELD_RULES: Final[dict[str, str]] = {
    "specversion": 'must be "1.0"',
    "id": "must be 1-256 printable ASCII characters without spaces",
    "source": "must be a non-empty URI-reference (printable ASCII, no spaces, at most 1024)",
    "type": "must be dotted lowercase tokens of [a-z0-9_-] (at most 255), e.g. workflow.node.completed",
    "subject": "must be an aggregate id: 1-128 characters of [A-Za-z0-9_-]",
    "project": "must be a project id: 1-128 characters of [A-Za-z0-9_-]",
    "time": "must be an RFC 3339 timestamp with a UTC offset, e.g. 2026-11-21T22:48:16.123456Z",
    "traceparent": "must be a W3C traceparent: 00-<32 hex>-<16 hex>-<2 hex>",
    "tracestate": "must be a W3C tracestate of at most 512 characters",
    "datacontenttype": "must be a media type string",
    "dataschema": "must be a URI string",
    "data_base64": "must be a base64 string",
}


class CloudEvent(msgspec.Struct, kw_only=True, omit_defaults=True, forbid_unknown_fields=True, frozen=True):
    """One event: CloudEvents 1.0 core attributes plus the runwire extensions project and traceparent."""

    specversion: Literal["1.0"]
    id: EventId
    source: Source
    type: EventType
    subject: Token | None = None
    time: AwareDatetime | None = None
    datacontenttype: ContentType | None = None
    dataschema: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | None = None
    project: Token
    traceparent: TraceParent | None = None
    tracestate: TraceState | None = None
    data: Any = None
    data_base64: str | None = None

    def __post_init__(self) -> None:
        if self.data is not None and self.data_base64 is not None:
            raise ValueError("`data` and `data_base64` are mutually exclusive")

    @property
    def aggregate(self) -> str:
        """The aggregate id this event belongs to (its `subject`, or `_` when project-wide)."""
        return self.subject if self.subject is not None else PROJECT_WIDE


class EnvelopeError(ValueError):
    """An invalid CloudEvent, naming the offending attribute (`field`) and, in arrays, the `index`."""

    def __init__(self, field: str, message: str, index: int | None = None) -> None:
        self.field = field
        self.index = index
        self.message = message
        where = f"[{index}]." if index is not None else ""
        super().__init__(f"{where}{field}: {message}")

    @property
    def pointer(self) -> str:
        """Where the error is, as a dotted path (`type`, or `[2].type` inside an array)."""
        return f"[{self.index}].{self.field}" if self.index is not None else self.field


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(CloudEvent)
_array_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_PATH_RE = re.compile(r"at `\$(?:\[(\d+)\])?\.?([A-Za-z0-9_]*)")
_UNKNOWN_RE = re.compile(r"Object contains unknown field `([^`]+)`")
_MISSING_RE = re.compile(r"Object missing required field `([^`]+)`")


def _envelope_error(exc: msgspec.ValidationError | msgspec.DecodeError, index: int | None) -> EnvelopeError:
    text = str(exc)
    match = _PATH_RE.search(text)
    field = match.group(2) if match and match.group(2) else ""
    if match and match.group(1) is not None and index is None:
        index = int(match.group(1))
    if unknown := _UNKNOWN_RE.search(text):
        return EnvelopeError(
            unknown.group(1),
            "unknown attribute; runwire accepts the CloudEvents core attributes and the extensions "
            "project, traceparent and tracestate",
            index,
        )
    if "mutually exclusive" in text:
        return EnvelopeError("data_base64", "`data` and `data_base64` are mutually exclusive", index)
    if missing := _MISSING_RE.search(text):
        return EnvelopeError(missing.group(1), "is required", index)
    if text.startswith("Expected `object`"):
        return EnvelopeError(field or "event", "must be a JSON object (a CloudEvent)", index)
    if isinstance(exc, msgspec.DecodeError) and not field:
        return EnvelopeError("body", f"malformed JSON ({text})", index)
    if not field:
        return EnvelopeError("event", text, index)
    rule = FIELD_RULES.get(field, text)
    return EnvelopeError(field, rule if rule != text else text, index)


def decode_event(raw: bytes | str, index: int | None = None) -> CloudEvent:
    """Decode and validate one CloudEvent from JSON, or raise EnvelopeError naming the field."""
    try:
        return _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _envelope_error(exc, index) from exc
    except UNDECODABLE as exc:
        raise EnvelopeError("body", undecodable_reason(exc), index) from exc


def decode_events(raw: bytes | str) -> tuple[list[CloudEvent], bool]:
    """Decode one CloudEvent or a JSON array of them; the flag says whether the body was an array."""
    body = raw.encode() if isinstance(raw, str) else raw
    stripped = body.lstrip()
    if not stripped:
        raise EnvelopeError("body", "is empty; send one CloudEvent object or an array of them")
    if stripped[:1] != b"[":
        return [decode_event(body)], False
    try:
        items = _array_decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise EnvelopeError("body", f"malformed JSON ({exc})") from exc
    except UNDECODABLE as exc:
        raise EnvelopeError("body", undecodable_reason(exc)) from exc
    if not items:
        raise EnvelopeError("body", "is an empty array; send at least one CloudEvent")
    return [decode_event(bytes(item), index) for index, item in enumerate(items)], True


def encode_event(event: CloudEvent) -> bytes:
    """The compact, single-line JSON of an event: exactly what is stored and what SSE's `data:` carries."""
    return _encoder.encode(event)


def new_event(
    *,
    type: str,
    project: str,
    source: str,
    subject: str | None = None,
    data: Any = None,
    id: str | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> CloudEvent:
    """A validated event with a fresh id and the current time, for runwire's own producers."""
    candidate = CloudEvent(
        specversion="1.0",
        id=id or str(uuid.uuid4()),
        source=source,
        type=type,
        project=project,
        subject=subject,
        time=time or datetime.now(UTC),
        datacontenttype="application/json",
        traceparent=traceparent,
        data=data,
    )
    # Struct construction does not run constraint checks; a round trip through the decoder does.
    return validate(candidate)


def validate(event: CloudEvent) -> CloudEvent:
    """Check a constructed event against every rule of the envelope (constructors skip constraints)."""
    return decode_event(_encoder.encode(event))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the envelope, published for producers written in other languages."""
    schema: dict[str, Any] = msgspec.json.schema(CloudEvent)
    definition = schema["$defs"]["CloudEvent"]
    definition["description"] = (
        "A runwire event: CloudEvents 1.0, JSON structured mode, with the extensions project "
        "(tenant scope) and traceparent/tracestate (W3C trace context)."
    )
    definition["not"] = {"required": ["data", "data_base64"]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
