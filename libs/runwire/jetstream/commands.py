"""Commands between services over NATS request/reply, on `runwire.cmd.<service>.<verb>` (outside `events.>`).

The workflow service drives ingest jobs and agent runs through these subjects; each service serves
them beside its HTTP API with the very handlers the HTTP routes call, so both transports obey one
set of rules and answer rejections with the same status and kind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Annotated, Any, Final, TypeVar

import msgspec
import nats.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from runwire.contract.envelope import Token
from runwire.contract.rejections import Rejected
from runwire.jetstream.availability import is_unavailable

log = logging.getLogger(__name__)

SUBJECT_ROOT: Final = "runwire.cmd"
DEFAULT_TIMEOUT_SECONDS: Final = 10.0
# The error kind of a command the service could not carry out because the store was away: retryable.
STORE_UNAVAILABLE_KIND: Final = "store-unavailable"

C = TypeVar("C")
R = TypeVar("R")


def command_subject(service: str, verb: str) -> str:
    """`runwire.cmd.<service>.<verb>`, e.g. `runwire.cmd.ingest.create`."""
    return f"{SUBJECT_ROOT}.{service}.{verb}"


class CommandError(msgspec.Struct, frozen=True, omit_defaults=True):
    """A refused command: the HTTP status it would have, the problem kind, and why."""

    status: int
    kind: str
    detail: str
    field: str | None = None


class CancelCommand(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """`runwire.cmd.<service>.cancel`: cancel aggregate `id` of `project` (every service's cancel)."""

    project: Token
    id: Token
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)] = "cancelled"
    by: str = "workflow"


class _Reply(msgspec.Struct, omit_defaults=True):
    result: Any = None
    error: CommandError | None = None


class CommandFailed(Exception):
    """The service refused the command (a rejection, invalid input or an internal error)."""

    def __init__(self, error: CommandError) -> None:
        self.error = error
        super().__init__(f"{error.kind} ({error.status}): {error.detail}")


class CommandUnavailable(Exception):
    """Nobody answered in time (the service is down or busy): safe to retry, commands are idempotent."""


_encoder = msgspec.json.Encoder()
_reply_decoder = msgspec.json.Decoder(_Reply)


class CommandServer:
    """Serves one service's command subjects in a queue group, each request in its own task."""

    def __init__(self, nc: NATS, service: str) -> None:
        self._nc = nc
        self._service = service
        self._subscriptions: list[Subscription] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(
        self, verb: str, command_type: type[C], handler: Callable[[C], Awaitable[msgspec.Struct]]
    ) -> None:
        """Answer `runwire.cmd.<service>.<verb>` by decoding a `command_type` and calling `handler`."""
        decoder = msgspec.json.Decoder(command_type)

        async def on_message(msg: Msg) -> None:
            task = asyncio.create_task(self._answer(msg, decoder, handler))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        subscription = await self._nc.subscribe(
            command_subject(self._service, verb), queue=f"runwire-{self._service}", cb=on_message
        )
        self._subscriptions.append(subscription)

    async def _answer(
        self,
        msg: Msg,
        decoder: msgspec.json.Decoder[C],
        handler: Callable[[C], Awaitable[msgspec.Struct]],
    ) -> None:
        try:
            reply = _Reply(result=await handler(decoder.decode(msg.data)))
        except msgspec.ValidationError as exc:
            reply = _Reply(error=CommandError(400, "invalid-input", str(exc)))
        except msgspec.DecodeError as exc:
            reply = _Reply(error=CommandError(400, "invalid-input", f"malformed JSON ({exc})"))
        except Rejected as exc:
            reply = _Reply(error=CommandError(exc.status, exc.kind, exc.detail, exc.field))
        except Exception as exc:
            if not is_unavailable(exc):
                log.exception("command %s failed", msg.subject)
                reply = _Reply(
                    error=CommandError(500, "internal", "the service failed to handle this command")
                )
            else:
                # The store is away (e.g. a leader election): the sender retries (commands are idempotent).
                log.warning("command %s: store unavailable (%r)", msg.subject, exc)
                detail = f"the event store is unavailable: {exc}"
                reply = _Reply(error=CommandError(503, STORE_UNAVAILABLE_KIND, detail))
        if msg.reply:
            try:
                await msg.respond(_encoder.encode(reply))
            except nats.errors.Error as exc:
                log.warning("could not answer %s: %s", msg.subject, exc)

    async def close(self) -> None:
        """Stop taking commands and wait for the ones being answered."""
        for subscription in self._subscriptions:
            with contextlib.suppress(nats.errors.Error):
                await subscription.unsubscribe()
        self._subscriptions.clear()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


CommandHandler = tuple[type[Any], Callable[[Any], Awaitable[msgspec.Struct]]]
"""A command type and the coroutine that answers it."""


@contextlib.asynccontextmanager
async def serving_commands(
    nc: NATS,
    service: str,
    handlers: Mapping[str, CommandHandler],
) -> AsyncIterator[CommandServer]:
    """Serve `{verb: (command type, handler)}` on `runwire.cmd.<service>.<verb>` while the block runs."""
    server = CommandServer(nc, service)
    try:
        for verb, (command_type, handler) in handlers.items():
            await server.handle(verb, command_type, handler)
        yield server
    finally:
        await server.close()


async def send_command(
    nc: NATS,
    subject: str,
    command: msgspec.Struct,
    result_type: type[R],
    *,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
) -> R:
    """Send a command and return its result; raises CommandFailed or CommandUnavailable."""
    try:
        message = await nc.request(subject, _encoder.encode(command), timeout=timeout_seconds)
    except nats.errors.NoRespondersError as exc:
        raise CommandUnavailable(f"no service answers {subject}") from exc
    except nats.errors.TimeoutError as exc:
        raise CommandUnavailable(f"{subject} timed out after {timeout_seconds}s") from exc
    reply = _reply_decoder.decode(message.data)
    if reply.error is not None and reply.error.kind == STORE_UNAVAILABLE_KIND:
        raise CommandUnavailable(f"{subject}: {reply.error.detail}")
    if reply.error is not None:
        raise CommandFailed(reply.error)
    return msgspec.convert(reply.result, result_type)
