"""When to look at each open stream for an idle heartbeat: a timing wheel, not a scan of every stream.

Looking at every stream every second cost as much CPU as the heartbeats' socket writes with
100,000 streams open (benchmarks/connections.py). Each stream sits in the slot of the tick when
its heartbeat may next be due (its last write + the interval), so a tick looks only at the streams
due then: about once per interval each, once more if it had traffic meanwhile.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runwire_stream_api.client_stream import ClientStream


class Heartbeats:
    """The instance's heartbeat ticker (`run`) and the streams it watches (`watch`)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.tick = min(interval / 4, 1.0)  # an idle stream's heartbeat comes within a tick of due
        self._slots: dict[int, list[ClientStream]] = {}

    def watch(self, client: ClientStream, at: float) -> None:
        """Look at `client` at the first tick after loop time `at`."""
        slot = int(at // self.tick) + 1
        found = self._slots.get(slot)
        if found is None:
            self._slots[slot] = [client]
        else:
            found.append(client)

    def watched(self) -> int:
        """Streams waiting for a look (each open stream once; a closed one until its slot comes)."""
        return sum(len(clients) for clients in self._slots.values())

    async def run(self) -> None:
        """Every tick: each stream due gets its heartbeat if idle, and is watched again for when its
        next one may be due; a finished stream is dropped."""
        loop = asyncio.get_running_loop()
        interval = self.interval
        while True:
            await asyncio.sleep(self.tick)
            now = loop.time()
            current = int(now // self.tick)
            for slot in [slot for slot in self._slots if slot <= current]:
                for client in self._slots.pop(slot):
                    if client.finished:
                        continue
                    self.watch(client, client.heartbeat_if_idle(now, interval))
