"""`python -m runwire_stream_api`: serve the stream API on RUNWIRE_HTTP_HOST:RUNWIRE_HTTP_PORT, with
RUNWIRE_STREAM_WORKERS worker processes (one: this process serves, with no supervisor)."""

from __future__ import annotations

import sys

from runwire.ops.open_files import raise_open_file_limit
from runwire.ops.settings import SettingsError, load_settings
from runwire.ops.telemetry import from_environment, install_globally
from runwire.web.serve import configure_logging, serve
from runwire_stream_api.app import create_app
from runwire_stream_api.workers import Workers


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"runwire stream-api: {exc}")
    if not settings.nats_servers:
        sys.exit("runwire stream-api: RUNWIRE_NATS_URL is not set (make run starts NATS and sets it)")
    if not settings.auth_secret:
        sys.exit("runwire stream-api: RUNWIRE_AUTH_SECRET is required (make run sets a dev secret)")
    configure_logging(settings)
    raise_open_file_limit()
    workers = settings.stream_worker_count
    if workers > 1:
        sys.exit(Workers(settings, workers).run())
    telemetry = from_environment("runwire-stream-api")
    install_globally(telemetry)
    try:
        serve(create_app(settings, telemetry), settings, settings.http_port)
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main()
