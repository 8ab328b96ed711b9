"""How the stream API's worker processes ask each other for their figures: a Unix socket per worker in
a private directory (mode 0700) that the parent created before forking them.

One question per connection: the asker writes one line (`metrics`, `stats`, `ready`,
`trace <seq> <project>`), the answering worker writes its answer as JSON and closes. A worker that
does not answer within ASK_TIMEOUT_SECONDS is left out (None), so a dead or stuck worker never
makes /metrics or /v1/stats fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import msgspec

log = logging.getLogger(__name__)

ASK_TIMEOUT_SECONDS: Final = 1.0
MAX_QUESTION_BYTES: Final = 512

Answer = Callable[[str], Awaitable[object]]


def socket_path(directory: Path, index: int) -> Path:
    """Where worker `index` listens for its siblings' questions."""
    return directory / f"worker-{index}.sock"


class WorkerLink:
    """This worker's place among its siblings: it answers their questions and asks them its own."""

    def __init__(self, directory: Path, index: int, count: int) -> None:
        self.directory = directory
        self.index = index
        self.count = count
        self._server: asyncio.AbstractServer | None = None
        self._answer: Answer | None = None

    async def start(self, answer: Answer) -> None:
        """Listen for siblings' questions, answered by `answer(question)` (a healed worker takes over
        the socket path its predecessor left behind)."""
        self._answer = answer
        path = socket_path(self.directory, self.index)
        path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._handle, path=str(path))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        socket_path(self.directory, self.index).unlink(missing_ok=True)

    async def ask(self, question: str) -> list[Any | None]:
        """Every sibling's answer to `question`, asked concurrently; None for each that did not answer."""
        siblings = [index for index in range(self.count) if index != self.index]
        return list(await asyncio.gather(*(self._ask_one(index, question) for index in siblings)))

    async def _ask_one(self, index: int, question: str) -> Any | None:
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(ASK_TIMEOUT_SECONDS):
                reader, writer = await asyncio.open_unix_connection(str(socket_path(self.directory, index)))
                writer.write(question.encode() + b"\n")
                await writer.drain()
                return msgspec.json.decode(await reader.read())
        except (OSError, TimeoutError, msgspec.DecodeError) as exc:
            log.debug("worker %d did not answer %r: %s", index, question, exc)
            return None
        finally:
            if writer is not None:
                writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(ASK_TIMEOUT_SECONDS):
                question = (await reader.readline())[:MAX_QUESTION_BYTES].strip().decode("ascii", "replace")
            assert self._answer is not None
            writer.write(msgspec.json.encode(await self._answer(question)))
            await writer.drain()
        except (OSError, TimeoutError) as exc:
            log.debug("a sibling worker's question went unanswered: %s", exc)
        except Exception:
            log.exception("answering a sibling worker failed")
        finally:
            writer.close()
