"""`python -m runwire_ingest`: serve the ingest API on RUNWIRE_HTTP_PORT + 1."""

from __future__ import annotations

from runwire.web.service_app import run_domain_service
from runwire_ingest.app import PORT_OFFSET, create_app
from runwire_ingest.config import load_config

if __name__ == "__main__":
    run_domain_service("ingest", PORT_OFFSET, create_app, load_config)
