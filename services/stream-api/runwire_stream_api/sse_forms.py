"""Other SSE forms of an event, for clients that cannot use the default one.

`event_names=message` names every event `message` (a browser's `EventSource.onmessage` and htmx's
`sse-swap="message"` only see those); `format=html` sends an escaped HTML fragment (type, time,
subject, a short data summary) as the `data:` for htmx to swap into a page. Each form is encoded
once per event and shared, like the default one (`Frame.sse`).
"""

from __future__ import annotations

import enum
import html
from typing import Annotated, Final

import msgspec
from litestar.params import QueryParameter

from runwire.web.problems import invalid_field
from runwire_stream_api.client_stream import CLOSE, HEARTBEAT, Item, Reset
from runwire_stream_api.frames import HEARTBEAT as HEARTBEAT_FRAME
from runwire_stream_api.frames import SSE_CLOSE, Frame, sse_reset

SUMMARY_CHARS: Final = 200


class SSEForm(enum.IntEnum):
    """How an event is written: `event:` its type or `message`, `data:` its JSON or an HTML fragment."""

    TYPED_JSON = 0
    MESSAGE_JSON = 1
    TYPED_HTML = 2
    MESSAGE_HTML = 3

    @classmethod
    def of(cls, event_names: str, format_: str) -> SSEForm:
        """The form asked for by the query parameters (400 naming a bad one)."""
        if event_names not in ("type", "message"):
            raise invalid_field("event_names", f"must be `type` or `message`, got {event_names!r}")
        if format_ not in ("json", "html"):
            raise invalid_field("format", f"must be `json` or `html`, got {format_!r}")
        return cls((event_names == "message") + 2 * (format_ == "html"))


EventNamesParam = Annotated[
    str,
    QueryParameter(
        name="event_names",
        description=(
            "`type` (default): each event's SSE name is its CloudEvent type; `message`: every event is "
            'named `message` (for `EventSource.onmessage` and htmx `sse-swap="message"`; the type '
            "stays in the data). `reset` and `close` keep their names."
        ),
    ),
]
FormatParam = Annotated[
    str,
    QueryParameter(
        name="format",
        description=(
            "`json` (default): `data:` is the CloudEvent JSON; `html`: `data:` is an HTML fragment "
            "(type, time, subject, a data summary; everything from the event escaped), for htmx."
        ),
    ),
]


class _Summarised(msgspec.Struct):
    """The attributes a fragment shows (a stored event is valid JSON; other fields are ignored)."""

    type: str = ""
    time: str | None = None
    subject: str | None = None
    data: msgspec.Raw = msgspec.Raw()  # absent: empty
    data_base64: str | None = None


_decoder: Final = msgspec.json.Decoder(_Summarised)


def summary(data: str) -> str:
    """At most SUMMARY_CHARS characters of the data's JSON, marked when cut."""
    return data if len(data) <= SUMMARY_CHARS else data[: SUMMARY_CHARS - 1] + "…"


def html_fragment(frame: Frame) -> bytes:
    """The event as one line of HTML: every value from the event is escaped (text, never markup)."""
    try:
        event = _decoder.decode(frame.data)
    except msgspec.DecodeError:  # servable events always decode; a fragment must never fail
        event = _Summarised()
    if event.data:
        data = summary(bytes(event.data).decode("utf-8", "replace"))
    elif event.data_base64 is not None:
        data = summary(f"base64: {event.data_base64}")
    else:
        data = ""
    time = html.escape(event.time or "")
    fragment = (
        f'<div class="runwire-event" data-cursor="{frame.seq}">'
        f'<span class="runwire-event-type">{html.escape(frame.type)}</span> '
        f'<time datetime="{time}">{time}</time> '
        f'<span class="runwire-event-subject">{html.escape(event.subject or "")}</span> '
        f'<code class="runwire-event-data">{html.escape(data)}</code>'
        "</div>"
    )
    # SSE data cannot span lines: a raw CR or LF (never in JSON text, but be sure) becomes a reference.
    return fragment.replace("\r", "&#13;").replace("\n", "&#10;").encode()


def encode(frame: Frame, form: SSEForm) -> bytes:
    """The SSE message of `frame` in `form`, built once per event and form."""
    if form is SSEForm.TYPED_JSON:
        return frame.sse
    forms = frame.sse_forms
    if forms is None:
        forms = frame.sse_forms = {}
    encoded = forms.get(form)
    if encoded is None:
        name = b"message" if form & 1 else frame.type.encode()
        data = html_fragment(frame) if form & 2 else frame.data
        encoded = forms[form] = b"id: %d\nevent: %s\ndata: %s\n\n" % (frame.seq, name, data)
    return encoded


def item_bytes(item: Item, form: SSEForm) -> bytes | None:
    """What a client's item is on the SSE wire (a batch in one piece), or None for items SSE skips;
    one mapping for streams over ASGI `send` and over a detached connection."""
    if isinstance(item, list):
        return encode(item[0], form) if len(item) == 1 else b"".join([encode(frame, form) for frame in item])
    if item is HEARTBEAT:
        return HEARTBEAT_FRAME
    if isinstance(item, Reset):
        return sse_reset(item.earliest, item.requested)
    if item is CLOSE:
        return SSE_CLOSE
    return None
