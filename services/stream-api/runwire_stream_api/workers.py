"""Several stream-API worker processes on one port: the parent binds the listening socket, then forks
the workers before any event loop, thread or telemetry exists (imported code stays shared
copy-on-write), and supervises them.

Each worker has its own NATS connection and live tail and accepts on the shared socket. SIGTERM or
SIGINT to the parent is forwarded as SIGTERM to every worker (each drains: SSE `event: close`,
WebSocket 1001), which the parent waits for (bounded) before exiting 0. A worker that dies otherwise
is logged and forked again after a backoff; workers end themselves (SIGTERM) if the parent is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import gc
import importlib
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Final, NoReturn

# uvicorn's lifespan, loop and HTTP modules are imported here, before the fork, so that the workers
# share them instead of each importing its own copy on start.
import msgspec
import uvicorn.lifespan.on
import uvicorn.loops.uvloop
import uvicorn.protocols.http.httptools_impl  # noqa: F401

from runwire.ops.settings import Settings
from runwire.ops.telemetry import from_environment, install_globally
from runwire.web.serve import DRAIN_WAIT_SECONDS, serve
from runwire_stream_api.app import create_app
from runwire_stream_api.worker_link import WorkerLink

log = logging.getLogger(__name__)

# What creating the app imports on first use (its plugins, pydantic through Litestar, the ASGI
# tracing middleware): imported before the fork, so that workers share them and start quicker.
PRELOADED_MODULES: Final = (
    "asgiref.sync",
    "attrs",
    "litestar._kwargs",
    "litestar._openapi.plugin",
    "litestar.logging.standard",
    "litestar.middleware.csrf",
    "litestar.plugins.attrs",
    "litestar.plugins.opentelemetry",
    "litestar.plugins.pydantic",
    "opentelemetry.instrumentation.asgi",
    "pydantic",
    "wrapt",
    "zoneinfo",
)

BACKLOG: Final = 4096
TICK_SECONDS: Final = 0.1
# A worker that exits with this status failed to start (uvicorn's lifespan startup failure, or the
# app refused its settings): forking it again would fail the same way, so the instance ends.
STARTUP_FAILURE: Final = 3
# A healed worker waits 1 s, doubling to 30 s while it keeps dying; reset after a minute of running.
FIRST_DELAY_SECONDS: Final = 1.0
MAX_DELAY_SECONDS: Final = 30.0
STABLE_SECONDS: Final = 60.0
# The previous instance's workers may still be draining on this port (its parent was killed).
BIND_WAIT_SECONDS: Final = DRAIN_WAIT_SECONDS + 5.0
_PR_SET_PDEATHSIG: Final = 1
_STOP_SIGNALS: Final = {signal.SIGTERM, signal.SIGINT, signal.SIGCHLD}


def connection_share(max_connections: int, workers: int) -> int:
    """Each worker's part of RUNWIRE_MAX_CONNECTIONS (rounded up: the instance serves at least that)."""
    return -(-max_connections // workers)


def bind_listener(host: str, port: int) -> socket.socket:
    """The instance's one listening socket, waiting a little while the port is still held."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    deadline = time.monotonic() + BIND_WAIT_SECONDS
    warned = False
    while True:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
            if not warned:
                warned = True
                log.warning("port %d is in use; waiting up to %gs for it", port, BIND_WAIT_SECONDS)
            time.sleep(0.2)
            continue
        sock.listen(BACKLOG)
        return sock


@dataclass
class Worker:
    """One worker slot: its index (stable across restarts), current PID and restart bookkeeping."""

    index: int
    pid: int | None = None
    started_at: float = 0.0
    delay: float = 0.0
    restart_at: float | None = None


class Workers:
    """The parent: forks, watches, heals and stops the workers."""

    def __init__(self, settings: Settings, count: int) -> None:
        self.count = count
        self.settings = msgspec.structs.replace(
            settings, max_connections=connection_share(settings.max_connections, count)
        )
        self.workers = [Worker(index) for index in range(count)]
        self.stopping = False
        self.status = 0
        self.listener: socket.socket | None = None
        self.link_dir: Path | None = None

    def run(self) -> int:
        """Serve until SIGTERM/SIGINT; the exit status (0 after a graceful stop)."""
        self.listener = bind_listener(self.settings.http_host, self.settings.http_port)
        self.link_dir = Path(tempfile.mkdtemp(prefix="runwire-stream-api-"))  # mode 0700
        log.info(
            "serving http://%s:%d with %d workers (up to %d streams each)",
            self.settings.http_host,
            self.settings.http_port,
            self.count,
            self.settings.max_connections,
        )
        for module in PRELOADED_MODULES:
            with contextlib.suppress(ImportError):
                importlib.import_module(module)
        gc.collect()
        gc.freeze()  # objects alive now stay out of the workers' collections: their pages stay shared
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop_signal)
        try:
            for worker in self.workers:
                self._fork(worker)
            while not self.stopping:
                self._reap()
                self._heal()
                time.sleep(TICK_SECONDS)
        finally:
            self._stop()
        return self.status

    def _on_stop_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stopping = True

    def _fork(self, worker: Worker) -> None:
        assert self.listener is not None
        assert self.link_dir is not None
        parent = os.getpid()
        signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            pid = os.fork()
            if pid == 0:
                _worker_main(worker.index, self, parent)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        worker.pid = pid
        worker.started_at = time.monotonic()
        worker.restart_at = None

    def _reap(self) -> None:
        """Notice workers that ended; schedule a fork of each (or end the instance if one could not start)."""
        for worker in self.workers:
            if worker.pid is None:
                continue
            try:
                pid, status = os.waitpid(worker.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = worker.pid, 0
            if pid == 0:
                continue
            code = os.waitstatus_to_exitcode(status)
            old, worker.pid = worker.pid, None
            if self.stopping:
                continue
            if code == STARTUP_FAILURE:
                log.error("worker %d (pid %d) could not start; stopping the instance", worker.index, old)
                self.status = 1
                self.stopping = True
                continue
            ran = time.monotonic() - worker.started_at
            worker.delay = (
                FIRST_DELAY_SECONDS if ran >= STABLE_SECONDS or worker.delay == 0 else worker.delay * 2
            )
            worker.delay = min(worker.delay, MAX_DELAY_SECONDS)
            worker.restart_at = time.monotonic() + worker.delay
            log.warning(
                "worker %d (pid %d) %s; forking it again in %gs",
                worker.index,
                old,
                _describe(code),
                worker.delay,
            )

    def _heal(self) -> None:
        now = time.monotonic()
        for worker in self.workers:
            if worker.pid is None and worker.restart_at is not None and now >= worker.restart_at:
                self._fork(worker)

    def _stop(self) -> None:
        """SIGTERM every worker, wait for their drains (bounded), SIGKILL what is left."""
        self.stopping = True
        running = [worker.pid for worker in self.workers if worker.pid is not None]
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if self.listener is not None:
            self.listener.close()  # the workers hold their own copies until they stop accepting
        deadline = time.monotonic() + self.settings.shutdown_grace_seconds + DRAIN_WAIT_SECONDS
        while running and time.monotonic() < deadline:
            running = [pid for pid in running if not _ended(pid)]
            if running:
                time.sleep(TICK_SECONDS)
        for pid in running:
            log.warning("worker (pid %d) did not stop in time; killing it", pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        if self.link_dir is not None:
            shutil.rmtree(self.link_dir, ignore_errors=True)


def _ended(pid: int) -> bool:
    try:
        ended, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return ended != 0


def _describe(code: int) -> str:
    if code >= 0:
        return f"exited with status {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


def _worker_main(index: int, workers: Workers, parent: int) -> NoReturn:
    """A forked worker: serve on the shared socket until SIGTERM (from the parent, or its death)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which sends SIGTERM
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _die_with_parent()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        if os.getppid() != parent:
            os._exit(0)  # the parent died before this worker could ask to be told
        code = _serve_worker(index, workers)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        log.exception("worker %d failed", index)
    finally:
        if os.getppid() != parent and workers.link_dir is not None:
            with contextlib.suppress(OSError):
                workers.link_dir.rmdir()  # the parent is gone: the last worker out removes the directory
        logging.shutdown()
        os._exit(code)


def _serve_worker(index: int, workers: Workers) -> int:
    assert workers.listener is not None
    assert workers.link_dir is not None
    settings = workers.settings
    telemetry = from_environment("runwire-stream-api")
    install_globally(telemetry)
    try:
        try:
            app = create_app(settings, telemetry, WorkerLink(workers.link_dir, index, workers.count))
        except Exception:
            log.exception("worker %d could not create the app", index)
            return STARTUP_FAILURE
        log.info("worker %d of %d serving (pid %d)", index + 1, workers.count, os.getpid())
        serve(app, settings, settings.http_port, listener=workers.listener, signals=(signal.SIGTERM,))
    finally:
        telemetry.shutdown()
    return 0


def _die_with_parent() -> None:
    """Ask the kernel for SIGTERM when the parent dies (even by kill -9): the worker then drains."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
