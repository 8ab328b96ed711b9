"""The NATS protocol parser of raw subscriptions: every MSG/HMSG of a buffer in one synchronous pass.

nats-py's parser matches regular expressions against a shrinking bytearray and awaits a coroutine
per message, which bounds a stored read at about 200k messages/s. This subclass parses the messages
of raw subscriptions (registered in `handlers`, by sid as the server writes it) itself, with one
`find` and one `split` per control line over the received bytes, and hands each handler the run of
its consecutive messages as columns (`RawRun`: subjects, replies, payloads, headers), so that the
handler can work on a whole column with one call where it can. Everything else (other
subscriptions' messages, PING, PONG, +OK, -ERR, INFO, anything it does not recognise) goes to
nats-py as before, in order: other subscriptions' messages to `Client._process_msg`, the other
operations one line at a time to nats-py's own parser.

It relies on nats-py's parser state (`buf`, `state`, `reset`, `parse`) and on the client's
`_process_msg`; `parser_is_known()` checks their shape (connection.py uses this parser only then).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from nats.errors import ProtocolError
from nats.protocol import parser as nats_parser

if TYPE_CHECKING:
    from nats.aio.client import Client

# (subject, reply, payload, raw headers or None): one message as the server wrote it.
RawMessage = tuple[bytes, bytes, bytes, bytes | None]


class RawRun:
    """Consecutive messages of one subscription, in order, as four columns of equal length."""

    __slots__ = ("headers", "payloads", "replies", "subjects")

    def __init__(self) -> None:
        self.subjects: list[bytes] = []
        self.replies: list[bytes] = []  # b"" where a message has none
        self.payloads: list[bytes] = []
        self.headers: list[bytes | None] = []

    @classmethod
    def of(cls, messages: list[RawMessage]) -> RawRun:
        run = cls()
        for subject, reply, payload, headers in messages:
            run.subjects.append(subject)
            run.replies.append(reply)
            run.payloads.append(payload)
            run.headers.append(headers)
        return run

    def __len__(self) -> int:
        return len(self.payloads)

    def __iter__(self) -> Iterator[RawMessage]:
        return zip(self.subjects, self.replies, self.payloads, self.headers, strict=True)


# Takes a run of its subscription's messages; returns subjects to answer with an empty message
# (JetStream flow control), or None.
RawHandler = Callable[[RawRun], list[str] | None]


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
        await self._parse(data)

    async def _parse(self, data: bytes) -> None:
        handlers = self.handlers
        resets = self._resets
        find = data.find
        size = len(data)
        pos = 0
        run = RawRun()
        add_subject, add_reply = run.subjects.append, run.replies.append
        add_payload, add_headers = run.payloads.append, run.headers.append
        run_sid = b""
        run_handler: RawHandler | None = None
        run_headers = False
        run_start = 0
        while pos < size:
            end = find(10, pos)  # LF: a memchr (finding CR LF is twice as slow); CR checked below
            if end < 0:
                break  # the rest of the line has not arrived yet
            eol = end - 1
            args = data[pos:eol].split(b" ")
            count = len(args)
            op = args[0]
            if eol < pos or data[eol] != 13 or b"" in args:
                op = b""  # not a line as nats-server writes them: nats-py's parser decides
            try:
                if op == b"HMSG" and count == 6:
                    _, subject, sid, reply, header_size, total_size = args
                    hsize = int(header_size)
                    total = int(total_size)
                elif op == b"MSG" and count == 5:
                    _, subject, sid, reply, total_size = args
                    hsize = 0
                    total = int(total_size)
                elif op == b"HMSG" and count == 5:
                    _, subject, sid, header_size, total_size = args
                    reply = b""
                    hsize = int(header_size)
                    total = int(total_size)
                elif op == b"MSG" and count == 4:
                    _, subject, sid, total_size = args
                    reply = b""
                    hsize = 0
                    total = int(total_size)
                else:
                    total = -1
            except ValueError:  # a size that is not a number
                total = -1
            if total < 0:
                # Another operation, or a message line not as nats-server writes it: nats-py parses
                # the line (after the messages before it), and the rest too if it took a message in.
                if run_sid:
                    await self._deliver(run_handler, run, pos - run_start)  # type: ignore[arg-type]
                    run, run_sid = RawRun(), b""
                    add_subject, add_reply = run.subjects.append, run.replies.append
                    add_payload, add_headers = run.payloads.append, run.headers.append
                    if self._resets != resets:
                        return
                self.buf.extend(data[pos : eol + 2])
                pos = eol + 2
                await super().parse()
                if self._resets != resets:
                    return
                if self.buf or self.state != nats_parser.AWAITING_CONTROL_LINE:
                    self.buf.extend(data[pos:])
                    await super().parse()
                    return
                continue
            start = eol + 2
            stop = start + total
            if stop + 2 > size:  # the payload has not all arrived yet
                self._needed = stop + 2 - pos
                break
            if sid != run_sid:
                handler = handlers.get(sid)
                if run_sid:
                    await self._deliver(run_handler, run, pos - run_start)  # type: ignore[arg-type]
                    run, run_sid = RawRun(), b""
                    add_subject, add_reply = run.subjects.append, run.replies.append
                    add_payload, add_headers = run.payloads.append, run.headers.append
                    if self._resets != resets:
                        return
                    handler = handlers.get(sid)  # it may have gone meanwhile
                if handler is None:  # another subscription's: as nats-py would, via its hook
                    if not sid.isdigit():
                        raise ProtocolError("nats: malformed MSG")
                    headers = data[start : start + hsize] if hsize else None
                    pos = stop + 2
                    await self.nc._process_msg(int(sid), subject, reply, data[start + hsize : stop], headers)
                    if self._resets != resets:
                        return
                    continue
                run_sid = sid
                run_handler = handler
                run_headers = sid in self.payload_headers
                run_start = pos
            payload_start = start + hsize
            add_subject(subject)
            add_reply(reply)
            add_payload(data[payload_start:stop])
            add_headers(
                data[start:payload_start] if hsize and (run_headers or payload_start == stop) else None
            )
            pos = stop + 2
        if run_sid:
            await self._deliver(run_handler, run, pos - run_start)  # type: ignore[arg-type]
            if self._resets != resets:
                return
        if pos < size:
            self.buf.extend(data[pos:])  # an incomplete operation stays for the next read

    async def _deliver(self, handler: RawHandler, run: RawRun, wire_bytes: int) -> None:
        """Hand a run to its handler and send its answers. (`in_bytes` counts a run's bytes on the
        wire here, not only its payloads: nothing in runwire reads it.)"""
        stats = self.nc.stats
        stats["in_msgs"] += len(run)
        stats["in_bytes"] += wire_bytes
        answers = handler(run)
        if answers:
            for subject in answers:
                await self.nc.publish(subject, b"")
