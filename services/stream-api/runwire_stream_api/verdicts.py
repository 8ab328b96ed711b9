"""Which stored messages may be served, decided once per message for the whole instance.

The live tail checks every message it reads, in stream order, so for every sequence after the
instance started the verdict is known from the few invalid sequences it recorded; stored reads
(replay, catch-up, polling) look it up instead of decoding again per client. Older history is
checked on first read and its verdicts cached (bounded).
"""

from __future__ import annotations

import logging
from bisect import bisect_left, insort
from collections import OrderedDict
from typing import Final

from runwire.contract.envelope import CloudEvent
from runwire.contract.stored_check import Rejected, check_stored
from runwire.jetstream.stream_reader import StoredMessage
from runwire_stream_api.metrics import StreamMetrics

log = logging.getLogger(__name__)

INVALID_REMEMBERED: Final = 65_536
HISTORY_REMEMBERED: Final = 262_144
SUBJECT_LOGGED: Final = 200


class Verdicts:
    """The instance's record of checked sequences: `live` for the fan-out, `servable` for reads.

    Invariant: every sequence in [live_from, live_to] was checked by the live tail, and the invalid
    ones among them are in `_invalid`. When `_invalid` forgets its oldest entry the range starts
    after it, so a forgotten verdict is checked again, never assumed valid.
    """

    def __init__(
        self,
        metrics: StreamMetrics,
        *,
        invalid_remembered: int = INVALID_REMEMBERED,
        history_remembered: int = HISTORY_REMEMBERED,
    ) -> None:
        self._metrics = metrics
        self._invalid: OrderedDict[int, Rejected] = OrderedDict()
        self._invalid_limit = invalid_remembered
        # The same sequences sorted (and possibly some already forgotten, below the live range), so
        # a read batch inside the live range is told free of junk by one bisection.
        self._invalid_seqs: list[int] = []
        self._history: OrderedDict[int, bool] = OrderedDict()
        self._history_limit = history_remembered
        self._live_from = 1
        self._live_to = 0

    def start_live(self, position: int) -> None:
        """The live tail reads every message after `position`, in order."""
        self._live_from = position + 1
        self._live_to = position

    def live(self, message: StoredMessage) -> CloudEvent | None:
        """Check a message read by the live tail (the next in stream order): the event, or None."""
        verdict = check_stored(message.subject, message.data)
        seq = message.seq
        if isinstance(verdict, Rejected):
            self._report(message, verdict)
            self._invalid[seq] = verdict
            seqs = self._invalid_seqs
            if not seqs or seq > seqs[-1]:
                seqs.append(seq)
            else:
                insort(seqs, seq)
            if len(self._invalid) > self._invalid_limit:
                forgotten, _ = self._invalid.popitem(last=False)
                self._live_from = max(self._live_from, forgotten + 1)
                if len(seqs) > 2 * self._invalid_limit:
                    del seqs[: len(seqs) - self._invalid_limit]
            self._live_to = seq
            return None
        self._live_to = seq
        return verdict

    def servable(self, message: StoredMessage) -> bool:
        """Whether a stored read may serve this message; decodes only if no verdict is known."""
        seq = message.seq
        if self._live_from <= seq <= self._live_to:
            return seq not in self._invalid
        known = self._history.get(seq)
        if known is not None:
            return known
        verdict = check_stored(message.subject, message.data)
        valid = not isinstance(verdict, Rejected)
        if seq > self._live_to:
            return valid  # ahead of the live tail, which will record and report it
        if isinstance(verdict, Rejected):
            self._report(message, verdict)
        history = self._history
        history[seq] = valid
        if len(history) > self._history_limit:
            history.popitem(last=False)
        return valid

    def servable_of(self, messages: list[StoredMessage]) -> list[StoredMessage]:
        """`servable` of a read batch (in stream order), without a lookup per message where the live
        tail has checked the whole batch: the replay and catch-up hot path."""
        first = messages[0].seq
        last = messages[-1].seq
        if self._live_from <= first and last <= self._live_to:
            seqs = self._invalid_seqs
            index = bisect_left(seqs, first)
            if index == len(seqs) or seqs[index] > last:
                return messages
            invalid = self._invalid
            return [message for message in messages if message.seq not in invalid]
        servable = self.servable
        return [message for message in messages if servable(message)]

    def _report(self, message: StoredMessage, rejected: Rejected) -> None:
        self._metrics.invalid_events.labels(rejected.reason.value).inc()
        subject = message.subject
        if len(subject) > SUBJECT_LOGGED:
            subject = subject[:SUBJECT_LOGGED] + "…"
        log.warning(
            "skipped stored message %d on %s (%d bytes): %s: %s",
            message.seq,
            subject,
            len(message.data),
            rejected.reason.value,
            rejected.detail,
        )
