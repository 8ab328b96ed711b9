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

from runwire.contract.undecodable import UNDECODABLE, undecodable_reason

# Every pattern ends in `$(?!\n)`: Python's `$` (which msgspec and Python JSON Schema validators
# use) also matches before a final newline, ECMA-262's does not; the lookahead makes both strict.
_END: Final = r"$(?!\n)"

# A single NATS subject token: project and aggregate ids.
TOKEN_PATTERN: Final = r"^[A-Za-z0-9_-]{1,128}" + _END
# Dotted lowercase tokens: the event type, e.g. workflow.node.completed.
TYPE_PATTERN: Final = r"^[a-z0-9_-]+(\.[a-z0-9_-]+)*" + _END
# Printable ASCII without spaces: the id is part of the Nats-Msg-Id header (see dedup_key).
ID_PATTERN: Final = r"^[\x21-\x7e]{1,256}" + _END

# RFC 3986 URI and URI-reference, built from its ABNF (IP literals checked for their characters).
_PCT = "%[0-9A-Fa-f]{2}"
_UNRESERVED_SUB = "A-Za-z0-9._~!$&'()*+,;="  # unreserved and sub-delims, `-` added last in each class


def _run(chars: str, *, at_least_one: bool = False) -> str:
    """Characters of a class or %-escapes, as an unrolled loop (no backtracking blow-up, fast)."""
    rest = f"[{chars}-]*(?:{_PCT}[{chars}-]*)*"
    return f"(?:[{chars}-]|{_PCT}){rest}" if at_least_one else rest


_PCHARS = _UNRESERVED_SUB + ":@"
_QUERY = _run(_UNRESERVED_SUB + ":@/?")
_HOST = rf"(?:\[[0-9A-Fa-f:.]+\]|\[[vV][0-9A-Fa-f]+\.[{_UNRESERVED_SUB}:-]+\]|{_run(_UNRESERVED_SUB)})"
_AUTHORITY = f"(?:{_run(_UNRESERVED_SUB + ':')}@)?{_HOST}(?::[0-9]*)?"
_PATH_ABEMPTY = f"(?:/{_run(_PCHARS)})*"
_SCHEME = "[A-Za-z][A-Za-z0-9+.-]*"
_SEGMENT_NZ = _run(_PCHARS, at_least_one=True)
_HIER_PART = f"(?://{_AUTHORITY}{_PATH_ABEMPTY}|/?(?:{_SEGMENT_NZ}{_PATH_ABEMPTY})?)"
_RELATIVE_PART = (
    f"(?://{_AUTHORITY}{_PATH_ABEMPTY}|/(?:{_SEGMENT_NZ}{_PATH_ABEMPTY})?"
    f"|{_run(_UNRESERVED_SUB + '@', at_least_one=True)}{_PATH_ABEMPTY}|)"
)
_QUERY_FRAGMENT = rf"(?:\?{_QUERY})?(?:#{_QUERY})?"
URI_PATTERN: Final = f"^{_SCHEME}:{_HIER_PART}{_QUERY_FRAGMENT}" + _END
URI_REFERENCE_PATTERN: Final = f"^(?:{_SCHEME}:{_HIER_PART}|{_RELATIVE_PART}){_QUERY_FRAGMENT}" + _END

# W3C trace-context: version 00 exactly; a later version (not ff) in the 00 layout, maybe extended.
_TRACE_FIELDS = "-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}"
TRACEPARENT_PATTERN: Final = (
    rf"^(?:00{_TRACE_FIELDS}|(?!00|ff)[0-9a-f]{{2}}{_TRACE_FIELDS}(?:-[\x21-\x7e]*)?)" + _END
)

# RFC 3339 as msgspec parses it (`T`/`t`/space, `Z`/`z` or an offset with or without a colon),
# calendar included, so that the published schema refuses exactly what the decoder refuses.
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_DATE = (
    "(?:(?!0000)[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    f"|02-(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP_YEAR}-02-29)"
)
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?"
_OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])"
TIME_PATTERN: Final = f"^{_DATE}[Tt ]{_CLOCK}{_OFFSET}" + _END

# Extension attribute names (CloudEvents: lowercase ASCII letters and digits; at most 20 is the
# spec's recommendation, runwire accepts up to 64) and the JSON types their values may have.
EXTENSION_NAME_PATTERN: Final = "^[a-z0-9]{1,64}" + _END

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
EventId = Annotated[
    str, msgspec.Meta(pattern=ID_PATTERN, description="unique per (project, source): the dedup identity")
]
Source = Annotated[
    str,
    msgspec.Meta(
        pattern=URI_REFERENCE_PATTERN,
        min_length=1,
        max_length=1024,
        description="the producer: a non-empty URI-reference (RFC 3986)",
    ),
]
DataSchema = Annotated[
    str,
    msgspec.Meta(
        pattern=URI_PATTERN, max_length=1024, description="an absolute URI (RFC 3986) of the data's schema"
    ),
]
TraceParent = Annotated[
    str,
    msgspec.Meta(
        pattern=TRACEPARENT_PATTERN,
        description="W3C traceparent: 00-<trace-id>-<parent-id>-<flags>, ids not all zero, not version ff",
    ),
]
TraceState = Annotated[str, msgspec.Meta(max_length=512, description="W3C tracestate")]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True, description="RFC 3339 with a UTC offset")]
ContentType = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
ExtensionValue = str | bool | int | float

# The key under which a CloudEvent Struct keeps its extension attributes. It is not a valid
# attribute name, so no event on the wire can set it directly (decode_event refuses it).
EXTENSIONS_KEY: Final = "$extensions"

# Human words for each attribute's rule, used in error messages instead of raw regexes.
FIELD_RULES: Final[dict[str, str]] = {
    "specversion": 'must be "1.0"',
    "id": "must be 1-256 printable ASCII characters without spaces",
    "source": "must be a non-empty URI-reference (RFC 3986: ASCII, no spaces, %-escapes; at most 1024), "
    "e.g. /runwire/workflow or https://example.com/producer",
    "type": "must be dotted lowercase tokens of [a-z0-9_-] (at most 255), e.g. workflow.node.completed",
    "subject": "must be an aggregate id: 1-128 characters of [A-Za-z0-9_-]",
    "project": "must be a project id: 1-128 characters of [A-Za-z0-9_-]",
    "time": "must be an RFC 3339 timestamp with a UTC offset, e.g. 2026-11-21T22:48:16.123456Z",
    "traceparent": "must be a valid W3C traceparent: 00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>, "
    "lowercase, trace-id and parent-id not all zeros (version ff is invalid)",
    "tracestate": "must be a W3C tracestate of at most 512 characters",
    "datacontenttype": "must be a media type string",
    "dataschema": "must be an absolute URI (RFC 3986, with a scheme), e.g. https://example.com/schema.json",
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
    dataschema: DataSchema | None = None
    project: Token
    traceparent: TraceParent | None = None
    tracestate: TraceState | None = None
    data: Any = None
    data_base64: str | None = None
    # Extension attributes other than project/traceparent/tracestate, by name, kept verbatim.
    extensions: dict[str, ExtensionValue] | None = msgspec.field(default=None, name=EXTENSIONS_KEY)

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
_members_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])
_extension_value_decoder = msgspec.json.Decoder(ExtensionValue)
_PATH_RE = re.compile(r"at `\$(?:\[(\d+)\])?\.?([A-Za-z0-9_]*)")
_UNKNOWN_RE = re.compile(r"Object contains unknown field `([^`]+)`")
_MISSING_RE = re.compile(r"Object missing required field `([^`]+)`")
_EXTENSION_NAME_RE = re.compile(EXTENSION_NAME_PATTERN)
# The attributes the Struct declares, by their JSON names (every other name is an extension).
_DECLARED: Final = frozenset(f.encode_name for f in msgspec.structs.fields(CloudEvent)) - {EXTENSIONS_KEY}
_NOT_AN_ATTRIBUTE: Final = (
    "is not a valid attribute name: CloudEvents extension attribute names are 1-64 lowercase "
    "ASCII letters and digits (a-z, 0-9)"
)


def _envelope_error(exc: msgspec.ValidationError | msgspec.DecodeError, index: int | None) -> EnvelopeError:
    text = str(exc)
    if EXTENSIONS_KEY in text:
        return EnvelopeError(EXTENSIONS_KEY, _NOT_AN_ATTRIBUTE, index)
    match = _PATH_RE.search(text)
    field = match.group(2) if match and match.group(2) else ""
    if match and match.group(1) is not None and index is None:
        index = int(match.group(1))
    if unknown := _UNKNOWN_RE.search(text):
        return EnvelopeError(unknown.group(1), _NOT_AN_ATTRIBUTE, index)
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
    """Decode and validate one CloudEvent from JSON, or raise EnvelopeError naming the field.

    The common event (no extension attributes) costs one msgspec decode; one with extensions
    takes a second, slower pass that sets them apart.
    """
    try:
        event = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        if _UNKNOWN_RE.search(str(exc)) is None:
            raise _envelope_error(exc, index) from exc
        return _decode_with_extensions(raw, index)
    except msgspec.DecodeError as exc:
        raise _envelope_error(exc, index) from exc
    except UNDECODABLE as exc:
        raise EnvelopeError("body", undecodable_reason(exc), index) from exc
    if event.extensions is not None:
        raise EnvelopeError(EXTENSIONS_KEY, _NOT_AN_ATTRIBUTE, index)
    return event


def _decode_with_extensions(raw: bytes | str, index: int | None) -> CloudEvent:
    """An event with extension attributes: names and values checked, the rest decoded as usual."""
    try:
        members = _members_decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise _envelope_error(exc, index) from exc
    except UNDECODABLE as exc:
        raise EnvelopeError("body", undecodable_reason(exc), index) from exc
    declared: dict[str, msgspec.Raw] = {}
    extensions: dict[str, ExtensionValue] = {}
    for name, value in members.items():
        if name in _DECLARED:
            declared[name] = value
            continue
        if _EXTENSION_NAME_RE.match(name) is None:
            raise EnvelopeError(name, _NOT_AN_ATTRIBUTE, index)
        try:
            extensions[name] = _extension_value_decoder.decode(value)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise EnvelopeError(
                name, "an extension attribute's value must be a string, a number or a boolean", index
            ) from exc
    event = decode_event(_encoder.encode(declared), index)
    return msgspec.structs.replace(event, extensions=extensions)


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
    """The compact, single-line JSON of an event: exactly what is stored and what SSE's `data:` carries.

    Extension attributes are written as top-level members, as CloudEvents' JSON format has them.
    """
    if event.extensions is None:
        return _encoder.encode(event)
    if not event.extensions:
        return _encoder.encode(msgspec.structs.replace(event, extensions=None))
    core = _encoder.encode(msgspec.structs.replace(event, extensions=None))
    return core[:-1] + b"," + _encoder.encode(event.extensions)[1:]


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
    return decode_event(encode_event(event))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the envelope, published for producers written in other languages.

    It refuses exactly what decode_event refuses (a test runs both over a table of events).
    """
    schema: dict[str, Any] = msgspec.json.schema(CloudEvent)
    definition = schema["$defs"]["CloudEvent"]
    definition["description"] = (
        "A runwire event: CloudEvents 1.0, JSON structured mode, with the extensions project "
        "(tenant scope) and traceparent/tracestate (W3C trace context). Other extension attributes "
        "(lowercase a-z0-9 names; string, number or boolean values) are kept verbatim."
    )
    properties = definition["properties"]
    del properties[EXTENSIONS_KEY]
    properties["time"]["anyOf"][0]["pattern"] = TIME_PATTERN
    declared = "|".join(sorted(name for name in _DECLARED if _EXTENSION_NAME_RE.match(name)))
    definition["patternProperties"] = {
        f"^(?!(?:{declared})$)[a-z0-9]{{1,64}}" + _END: {"type": ["string", "number", "boolean"]}
    }
    # Both present is refused, except `data: null` (msgspec reads null as absent).
    definition["not"] = {
        "required": ["data", "data_base64"],
        "properties": {"data": {"not": {"type": "null"}}, "data_base64": {"type": "string"}},
    }
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
