"""Asking runwire services whether they are ready (`GET /readyz` answers 200), from outside.

`make run` prints its banner only once every service is ready, and `make demo` waits for the
same before it starts; both name the service that is not ready, and why.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Mapping


def not_ready_reason(base_url: str, timeout: float = 1.0) -> str | None:
    """None when `base_url` + `/readyz` answers 200; otherwise what it answered instead."""
    try:
        with urllib.request.urlopen(base_url + "/readyz", timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        return str(getattr(reason, "strerror", None) or reason)
    except http.client.HTTPException as exc:
        # Not an HTTP answer (e.g. a probe of a port nobody listens on yet connected to itself).
        return f"not an HTTP answer: {type(exc).__name__}"


def wait_until_ready(
    services: Mapping[str, str], limit_seconds: float, interval: float = 0.2
) -> dict[str, str]:
    """Wait up to `limit_seconds` for every service (name -> base URL) to be ready; returns the ones
    that were not (name -> the last answer), empty when all were."""
    deadline = time.monotonic() + limit_seconds
    pending = dict.fromkeys(services, "not asked yet")
    while True:
        for name in list(pending):
            reason = not_ready_reason(services[name])
            if reason is None:
                del pending[name]
            else:
                pending[name] = reason
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(interval)
