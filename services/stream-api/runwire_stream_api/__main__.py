"""`python -m runwire_stream_api`: serve the stream API on RUNWIRE_HTTP_HOST:RUNWIRE_HTTP_PORT."""

from __future__ import annotations

import sys

from runwire.ops.settings import SettingsError, load_settings
from runwire.ops.telemetry import from_environment, install_globally
from runwire.web.serve import configure_logging, serve
from runwire_stream_api.app import create_app


def main() -> None:
    try:
        settings = load_settings()
    except SettingsError as exc:
        sys.exit(f"runwire stream-api: {exc}")
    if not settings.nats_servers:
        sys.exit("runwire stream-api: RUNWIRE_NATS_URL is not set (make run starts NATS and sets it)")
    configure_logging(settings)
    telemetry = from_environment("runwire-stream-api")
    install_globally(telemetry)
    try:
        serve(create_app(settings, telemetry), settings, settings.http_port)
    finally:
        telemetry.shutdown()


if __name__ == "__main__":
    main()
