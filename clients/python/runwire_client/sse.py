"""An incremental Server-Sent Events parser (WHATWG rules), fed the bytes of a streamed response.

Written here rather than taken from a package so the client depends on httpx and msgspec only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

_LINE: Final = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class SSEMessage:
    """One dispatched message: `id` is None when the message set no id."""

    event: str
    data: bytes
    id: str | None


class SSEParser:
    """Feed chunks; get complete messages. Also tracks the last `retry:` the server asked for."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._event = ""
        self._id: str | None = None
        self.retry_ms: int | None = None

    def feed(self, chunk: bytes) -> list[SSEMessage]:
        buffer = self._buffer + chunk
        messages: list[SSEMessage] = []
        start = 0
        for match in _LINE.finditer(buffer):
            if match.group() == b"\r" and match.end() == len(buffer):
                break  # a CR at the end may be the first half of CRLF: wait for more
            message = self._line(buffer[start : match.start()])
            if message is not None:
                messages.append(message)
            start = match.end()
        self._buffer = buffer[start:]
        return messages

    def _line(self, line: bytes) -> SSEMessage | None:
        if not line:
            return self._dispatch()
        if line.startswith(b":"):
            return None  # a comment (heartbeat, `connected`)
        name, colon, value = line.partition(b":")
        if colon and value.startswith(b" "):
            value = value[1:]
        if name == b"data":
            self._data.append(value)
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():
            self.retry_ms = int(value)
        return None

    def _dispatch(self) -> SSEMessage | None:
        data, event, id_ = self._data, self._event, self._id
        self._data, self._event, self._id = [], "", None
        if not data:
            return None
        return SSEMessage(event or "message", b"\n".join(data), id_)
