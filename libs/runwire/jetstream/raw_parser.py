"""The NATS protocol parser of raw subscriptions: every MSG/HMSG of a buffer in one synchronous pass.

nats-py's parser matches regular expressions against a shrinking bytearray and awaits a coroutine
per message, which bounds a stored read at about 200k messages/s. This subclass parses the messages
of raw subscriptions (registered in `handlers`, by sid as the server writes it) itself, with one
`find` and one `split` per control line over the received bytes, and hands each handler the run of
its messages in a list. Everything else (other subscriptions' messages, PING, PONG, +OK, -ERR, INFO,
anything it does not recognise) goes to nats-py as before, in order: other subscriptions' messages
to `Client._process_msg`, the other operations one line at a time to nats-py's own parser.

It relies on nats-py's parser state (`buf`, `state`, `reset`, `parse`) and on the client's
`_process_msg`; `parser_is_known()` checks their shape (connection.py uses this parser only then).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from nats.errors import ProtocolError
from nats.protocol import parser as nats_parser

if TYPE_CHECKING:
    from nats.aio.client import Client

# (subject, reply, payload, raw headers or None): one message as the server wrote it.
RawMessage = tuple[bytes, bytes, bytes, bytes | None]
# Takes a run of its subscription's messages in order; returns subjects to answer with an empty
# message (JetStream flow control), or None.
RawHandler = Callable[[list[RawMessage]], list[str] | None]

_HMSG: Final = b"HMSG "
_MSG: Final = b"MSG "
_CRLF: Final = b"\r\n"


def parser_is_known() -> bool:
    """Whether nats-py's parser has the state and methods this subclass takes over."""
    parser = getattr(nats_parser, "Parser", None)
    if parser is None or not inspect.iscoroutinefunction(getattr(parser, "parse", None)):
        return False
    if getattr(nats_parser, "AWAITING_CONTROL_LINE", None) != 1:
        return False
    probe = parser(None)
    return (
        isinstance(getattr(probe, "buf", None), bytearray)
        and getattr(probe, "state", None) == nats_parser.AWAITING_CONTROL_LINE
        and callable(getattr(probe, "reset", None))
    )


class RawParser(nats_parser.Parser):
    """nats-py's parser, with the messages of raw subscriptions parsed here, a buffer at a time."""

    def __init__(self, nc: Client) -> None:
        self.handlers: dict[bytes, RawHandler] = {}
        # Subscriptions whose handler gets the headers of messages with a payload (messages without
        # one, such as JetStream's status messages, always carry theirs).
        self.payload_headers: set[bytes] = set()
        self._needed = 0
        self._resets = 0
        super().__init__(nc)

    def reset(self) -> None:
        super().reset()
        self._needed = 0  # bytes the incomplete message at the start of `buf` needs in all
        self._resets = getattr(self, "_resets", 0) + 1

    def add(self, sid: int, handler: RawHandler, *, payload_headers: bool = True) -> None:
        key = str(sid).encode()
        self.handlers[key] = handler
        if payload_headers:
            self.payload_headers.add(key)

    def remove(self, sid: int) -> None:
        key = str(sid).encode()
        self.handlers.pop(key, None)
        self.payload_headers.discard(key)

    async def parse(self, data: bytes = b"") -> None:
        """Parse what the server sent; raw subscriptions' messages here, the rest by nats-py."""
        if not self.handlers or self.state != nats_parser.AWAITING_CONTROL_LINE:
            await super().parse(data)
            return
        buf = self.buf
        if buf:  # the start of an incomplete operation from the last read
            if len(buf) + len(data) < self._needed:
                buf.extend(data)
                return
            buf.extend(data)
            data = bytes(buf)
            buf.clear()
        self._needed = 0
        try:
            await self._parse(data)
        except ValueError as exc:  # int() of a malformed size or sid
            raise ProtocolError("nats: malformed MSG") from exc

    async def _parse(self, data: bytes) -> None:
        nc = self.nc
        handlers = self.handlers
        payload_headers = self.payload_headers
        resets = self._resets
        find = data.find
        startswith = data.startswith
        size = len(data)
        pos = 0
        run: list[RawMessage] = []
        run_sid = b""
        run_handler: RawHandler | None = None
        in_bytes = 0
        hand_over = False  # a message line not as nats-server writes it: nats-py's parser decides
        while pos < size:
            if startswith(_HMSG, pos):
                eol = find(_CRLF, pos)
                if eol < 0:
                    break
                args = data[pos + 5 : eol].split(b" ")
                if len(args) == 5:
                    subject, sid, reply, header_size, total_size = args
                elif len(args) == 4:
                    subject, sid, header_size, total_size = args
                    reply = b""
                else:
                    hand_over = True
                    break
                hsize = int(header_size)
            elif startswith(_MSG, pos):
                eol = find(_CRLF, pos)
                if eol < 0:
                    break
                args = data[pos + 4 : eol].split(b" ")
                if len(args) == 4:
                    subject, sid, reply, total_size = args
                elif len(args) == 3:
                    subject, sid, total_size = args
                    reply = b""
                else:
                    hand_over = True
                    break
                hsize = 0
            else:
                # Another operation: nats-py parses its line (after the messages before it).
                eol = find(_CRLF, pos)
                if eol < 0:
                    break
                if run:
                    await self._deliver(run_handler, run, in_bytes)  # type: ignore[arg-type]
                    run, run_sid, run_handler, in_bytes = [], b"", None, 0
                    if self._resets != resets:
                        return
                self.buf.extend(data[pos : eol + 2])
                pos = eol + 2
                await super().parse()
                if self._resets != resets or self.buf or self.state != nats_parser.AWAITING_CONTROL_LINE:
                    self.buf.extend(data[pos:])  # nats-py took a message in: it goes on with it
                    await super().parse()
                    return
                continue
            start = eol + 2
            stop = start + int(total_size)
            if stop + 2 > size:  # the payload has not all arrived yet
                self._needed = stop + 2 - pos
                break
            handler = handlers.get(sid)
            if handler is None:  # another subscription's: as nats-py would, via its hook
                if run:
                    await self._deliver(run_handler, run, in_bytes)  # type: ignore[arg-type]
                    run, run_sid, run_handler, in_bytes = [], b"", None, 0
                    if self._resets != resets:
                        return
                headers = data[start : start + hsize] if hsize else None
                pos = stop + 2
                await nc._process_msg(int(sid), subject, reply, data[start + hsize : stop], headers)  # type: ignore[arg-type]
                if self._resets != resets:
                    return
                continue
            if sid != run_sid:
                if run:
                    await self._deliver(run_handler, run, in_bytes)  # type: ignore[arg-type]
                    run, in_bytes = [], 0
                    if self._resets != resets:
                        return
                run_sid = sid
                run_handler = handler
            payload_start = start + hsize
            in_bytes += stop - payload_start
            if hsize and (payload_start == stop or sid in payload_headers):
                run.append((subject, reply, data[payload_start:stop], data[start:payload_start]))
            else:
                run.append((subject, reply, data[payload_start:stop], None))
            pos = stop + 2
        if run:
            await self._deliver(run_handler, run, in_bytes)  # type: ignore[arg-type]
            if self._resets != resets:
                return
        if pos < size:
            self.buf.extend(data[pos:])  # an incomplete message stays for the next read
            if hand_over:
                self._needed = 0
                await super().parse()

    async def _deliver(self, handler: RawHandler, run: list[RawMessage], in_bytes: int) -> None:
        stats = self.nc.stats
        stats["in_msgs"] += len(run)
        stats["in_bytes"] += in_bytes
        answers = handler(run)
        if answers:
            for subject in answers:
                await self.nc.publish(subject, b"")
