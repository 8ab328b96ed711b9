"""Typed settings from `RUNWIRE_*` environment variables, validated once at start.

A bad value stops the process before it serves anything, with a message naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final, Literal

import msgspec

PREFIX: Final = "RUNWIRE_"

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
NonNegativeFloat = Annotated[float, msgspec.Meta(ge=0)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
Limit = Annotated[int, msgspec.Meta(ge=-1)]


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Every runwire setting; the variable is `RUNWIRE_` + the field name in capitals."""

    nats_url: str | None = None
    """NATS server URL(s), comma-separated; unset means `make run` starts the embedded server."""
    data_dir: Path = Path(".runwire")
    """Where the embedded nats-server keeps its JetStream files (and the dev auth secret)."""
    http_host: str = "127.0.0.1"
    http_port: Port = 8000
    """The stream API's port; ingest, agent and workflow take the next three."""
    auth_secret: str | None = None
    """HS256 key of the JWTs; `make run` generates and prints a dev secret when unset."""
    heartbeat_seconds: PositiveFloat = 15.0
    max_connections: PositiveInt = 10_000
    """Open streams the stream API serves at once (per instance: with N workers, each takes ceil(max/N))."""
    stream_workers: PositiveInt | None = None
    """Stream-API worker processes per instance, sharing its port; unset: the CPUs this process may
    use. 1 serves from one process with no supervisor (docs/operations.md, "Workers")."""
    stream_replicas: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    stream_max_age_seconds: NonNegativeFloat = 0.0
    """Retention by age; 0 keeps events until another limit removes them."""
    stream_max_bytes: Limit = -1
    stream_max_msgs: Limit = -1
    dedup_window_seconds: PositiveFloat = 120.0
    client_queue_events: PositiveInt = 2048
    """Events a stream client may have queued before it drops to catch-up reading."""
    cors_origins: str | None = None
    """Origins (comma-separated, or `*`) whose pages may call the stream API; unset: same origin only."""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    metrics_project_labels: bool = False
    """Label delivery-latency series by project (at most 100 projects, the rest as `_other`); off:
    one series per transport, so /metrics neither lists tenants nor grows with them."""
    metrics_token: str | None = None
    """When set, `/metrics` answers only `Authorization: Bearer <this token>` (401 otherwise)."""
    shutdown_grace_seconds: PositiveFloat = 10.0
    lease_seconds: Annotated[float, msgspec.Meta(ge=1.0, le=60.0)] = 3.0
    """How long a domain replica holds in-flight work without renewing it; after that, another
    replica takes the work over (a dead replica's runs move within about this long)."""
    store_retry_seconds: Annotated[float, msgspec.Meta(ge=1.0)] = 30.0
    """How long background work (a job's processing, a run's steps, a workflow's reactions) waits
    for an unavailable store, e.g. a cluster electing a leader, before it fails."""
    webhooks_retry_seconds: str = "1,5,30,120,600"
    """Delays (seconds, comma-separated) between a webhook's failed attempts at one event; when the
    list is exhausted the webhook is paused (docs/webhooks.md)."""
    webhooks_timeout_seconds: PositiveFloat = 10.0
    """How long one webhook POST may take before it counts as a failed attempt."""
    webhooks_allow_private: bool = False
    """Let webhooks target private, loopback, link-local and reserved addresses (tests, development)."""

    def __post_init__(self) -> None:
        self.webhooks_retry_delays  # noqa: B018  (a bad list stops the process at start, named)

    @property
    def webhooks_retry_delays(self) -> tuple[float, ...]:
        """`webhooks_retry_seconds` as numbers; SettingsError naming the variable when it is not a list."""
        try:
            delays = tuple(float(part) for part in self.webhooks_retry_seconds.split(","))
        except ValueError:
            delays = ()
        if not delays or any(not 0 <= d <= 86_400 for d in delays):
            raise SettingsError(
                f"invalid settings:\n  RUNWIRE_WEBHOOKS_RETRY_SECONDS={self.webhooks_retry_seconds!r}: "
                "expected a comma list of seconds between 0 and 86400, e.g. 1,5,30,120,600"
            )
        return delays

    @property
    def nats_servers(self) -> list[str]:
        """The NATS URLs as a list (empty when the embedded server is to be used)."""
        if not self.nats_url:
            return []
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    @property
    def stream_worker_count(self) -> int:
        """RUNWIRE_STREAM_WORKERS, or the CPUs this process may run on."""
        return self.stream_workers or len(os.sched_getaffinity(0))

    def service_port(self, offset: int) -> int:
        """The port of the service `offset` places after the stream API."""
        return self.http_port + offset


class SettingsError(ValueError):
    """One or more `RUNWIRE_*` variables have bad values; the message lists each."""


def environment_values(
    cls: type[msgspec.Struct], prefix: str, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The fields of `cls` that `prefix` + FIELD variables set, typed, and one problem line per bad
    variable (`VAR='value': why`). Unset or empty variables leave the field's default."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for field in msgspec.structs.fields(cls):
        variable = prefix + field.name.upper()
        raw = env.get(variable)
        if raw is None or raw == "":
            continue
        if field.type is Path:
            values[field.name] = Path(raw)
            continue
        try:
            values[field.name] = msgspec.convert(raw, field.type, strict=False)
        except msgspec.ValidationError as exc:
            message = str(exc).replace(" - at `$`", "")
            problems.append(f"{variable}={raw!r}: {message}")
    return values, problems


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every `RUNWIRE_*` variable, reporting all bad ones at once."""
    values, problems = environment_values(Settings, PREFIX, environ)
    if problems:
        raise SettingsError("invalid settings:\n  " + "\n  ".join(problems))
    return Settings(**values)
