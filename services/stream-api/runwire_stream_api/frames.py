"""Wire frames: an event's SSE, WebSocket and polling encodings, built once and shared by reference.

A `Frame` is made once per stored event that reaches this instance's live tail; every client whose
filter matches gets the same object, and each encoding is built the first time a client needs it.
"""

from __future__ import annotations

from typing import Final

import msgspec

from runwire.contract.cursor import format_cursor
from runwire.jetstream.stream_reader import StoredMessage
from runwire.web.response_socket import body_chunk

HEARTBEAT: Final = b": heartbeat\n\n"
SSE_PREAMBLE: Final = b"retry: 2000\n: connected\n\n"
SSE_CLOSE: Final = b'event: close\ndata: {"reason":"server shutting down; reconnect with Last-Event-ID"}\n\n'

_json = msgspec.json.Encoder()


def single_line_json(data: bytes) -> bytes:
    """A checked event's stored JSON on one line (SSE `data:` cannot span lines), else verbatim.

    In valid JSON a raw CR or LF can only be whitespace between tokens (inside strings they are
    escaped), so replacing them with spaces keeps the producer's bytes otherwise untouched.
    (`10 in data` is a memchr; `b"\n" in data` a substring search several times slower.)
    """
    if 10 in data or 13 in data:
        return data.replace(b"\r", b" ").replace(b"\n", b" ")
    return data


class Frame:
    """One stored event and its encodings for each transport: what every matching client shares.

    Its fields are set once, here, and never change; each encoding is built the first time a client
    needs it and kept. What the instance learns about the event's delivery (receipt, recipients,
    trace, first write) is the hub's `DeliveryRecord`, not the frame's.
    """

    __slots__ = (
        "_item",
        "_sse",
        "_sse_chunk",
        "_ws",
        "aggregate",
        "data",
        "project",
        "published_ns",
        "seq",
        "sse_forms",
        "stored_ns",
        "type",
    )

    def __init__(
        self,
        seq: int,
        project: str,
        aggregate: str,
        type_: str,
        data: bytes,
        stored_ns: int,
        published_ns: int | None = None,
    ) -> None:
        self.seq = seq
        self.project = project
        self.aggregate = aggregate
        self.type = type_
        self.data = data
        self.stored_ns = stored_ns
        """Store time (ns since the epoch)."""
        self.published_ns = stored_ns if published_ns is None else published_ns
        """The event's own `time` where it was decoded (the live tail), else its store time."""
        self._sse: bytes | None = None
        self._sse_chunk: bytes | None = None
        self._item: bytes | None = None
        self._ws: str | None = None
        self.sse_forms: dict[int, bytes] | None = None
        """Other SSE encodings (sse_forms.py), by form, built when a client asks for one."""

    @property
    def cursor(self) -> str:
        return format_cursor(self.seq)

    @property
    def sse(self) -> bytes:
        """`id:` cursor, `event:` CloudEvent type, `data:` the CloudEvent JSON."""
        if self._sse is None:
            self._sse = b"id: %d\nevent: %s\ndata: %s\n\n" % (self.seq, self.type.encode(), self.data)
        return self._sse

    @property
    def sse_chunk(self) -> bytes:
        """`sse` as one HTTP/1.1 chunk: what the fan-out writes straight to each idle client's socket."""
        if self._sse_chunk is None:
            self._sse_chunk = body_chunk(self.sse, chunked=True)
        return self._sse_chunk

    @property
    def item(self) -> bytes:
        """`{"id": cursor, "event": {CloudEvent}}`: a polling item and a WebSocket message."""
        if self._item is None:
            self._item = b'{"id":"%d","event":%s}' % (self.seq, self.data)
        return self._item

    @property
    def ws(self) -> str:
        """The WebSocket text message (ASGI wants text frames as str)."""
        if self._ws is None:
            self._ws = self.item.decode()
        return self._ws


_new_frame = object.__new__
# The slots `stored_frames` sets itself. Should Frame gain another, stored_frames calls Frame()
# instead (correct, slower) until the new slot is set there too: tests/stream_api/test_frames.py
# fails to say so.
STORED_SLOTS: Final = frozenset(
    {
        "seq",
        "project",
        "aggregate",
        "type",
        "data",
        "stored_ns",
        "published_ns",
        "_sse",
        "_sse_chunk",
        "_item",
        "_ws",
        "sse_forms",
    }
)
SETS_EVERY_SLOT: Final = frozenset(Frame.__slots__) == STORED_SLOTS


def stored_frames(messages: list[StoredMessage], *, sse: bool = False) -> list[Frame]:
    """The frames of servable stored messages (subjects `events.<p>.<a>.<type>`), in one pass: the
    replay and catch-up hot path. Each subject is split once per batch (a read is mostly a few
    aggregates), `single_line_json` is inlined, and each frame's slots are set here, as
    `Frame.__init__` sets them, without the cost of calling it (a third of the frame's); with
    `sse` the default SSE encoding is built alongside."""
    parsed: dict[str, tuple[str, str, str, bytes]] = {}
    frames: list[Frame] = []
    append = frames.append
    fast = SETS_EVERY_SLOT
    for seq, subject, data, _, stored_ns in messages:
        parts = parsed.get(subject)
        if parts is None:
            _, project, aggregate, type_ = subject.split(".", 3)
            parts = parsed[subject] = (project, aggregate, type_, type_.encode())
        if 10 in data or 13 in data:
            data = data.replace(b"\r", b" ").replace(b"\n", b" ")
        if fast:
            frame = _new_frame(Frame)
            frame.seq = seq
            frame.project = parts[0]
            frame.aggregate = parts[1]
            frame.type = parts[2]
            frame.data = data
            frame.stored_ns = stored_ns
            frame.published_ns = stored_ns
            frame._sse_chunk = None
            frame._item = None
            frame._ws = None
            frame.sse_forms = None
        else:
            frame = Frame(seq, parts[0], parts[1], parts[2], data, stored_ns)
        frame._sse = b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, parts[3], data) if sse else None
        append(frame)
    return frames


def sse_reset(earliest: int, requested: int) -> bytes:
    """Told when a cursor is older than retention: events after it were removed, never a silent gap."""
    body = _json.encode({"earliest": format_cursor(earliest), "requested": format_cursor(requested)})
    return b"event: reset\ndata: %s\n\n" % body


def ws_reset(earliest: int, requested: int) -> str:
    return _json.encode(
        {"reset": {"earliest": format_cursor(earliest), "requested": format_cursor(requested)}}
    ).decode()
