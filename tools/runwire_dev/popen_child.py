"""A child process started with Popen: the watch-and-stop half every supervised process shares."""

from __future__ import annotations

import signal
import subprocess


class PopenChild:
    """Exit status, SIGTERM and a bounded wait (then SIGKILL) of `self.process`, once started."""

    name: str
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exit_status(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
