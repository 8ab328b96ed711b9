"""Frames of stored reads: `stored_frames` builds, in one pass, exactly the frames `Frame` would."""

from __future__ import annotations

import pytest

from runwire.jetstream.stream_reader import StoredMessage
from runwire_stream_api import frames
from runwire_stream_api.frames import Frame, single_line_json, stored_frames

MESSAGES = [
    StoredMessage(7, "events.p1.a1.order.placed", b'{"id":"1"}', None, 1_000),
    StoredMessage(9, "events.p1.a2.order.shipped", b'{"id":"2",\r\n "x": 1}\n', None, 2_000),
    StoredMessage(12, "events.p1.a1.order.placed", b'{"id":"3"}', None, 3_000),
]


def reference(message: StoredMessage) -> Frame:
    _, project, aggregate, type_ = message.subject.split(".", 3)
    return Frame(message.seq, project, aggregate, type_, single_line_json(message.data), message.stored_ns)


def slots(frame: Frame) -> dict[str, object]:
    """Every slot's value: reading one that was never set raises, so all must be."""
    return {name: getattr(frame, name) for name in Frame.__slots__}


def test_stored_frames_set_every_slot_of_frame_themselves() -> None:
    """If this fails, Frame has a slot stored_frames does not set (it calls Frame(), slower):
    set it in stored_frames and add it to STORED_SLOTS."""
    assert set(Frame.__slots__) == frames.STORED_SLOTS


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("sse", [False, True])
def test_stored_frames_are_the_frames_frame_builds(
    sse: bool, fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frames, "SETS_EVERY_SLOT", fast and frames.SETS_EVERY_SLOT)
    built = stored_frames(MESSAGES, sse=sse)
    expected = [reference(message) for message in MESSAGES]
    for frame, want in zip(built, expected, strict=True):
        if sse:
            assert frame._sse == want.sse  # built alongside, as the property would build it
            frame._sse = want._sse = None
        assert slots(frame) == slots(want)
        assert (frame.sse, frame.item, frame.ws) == (want.sse, want.item, want.ws)
    assert b"\n" not in built[1].data and b"\r" not in built[1].data
