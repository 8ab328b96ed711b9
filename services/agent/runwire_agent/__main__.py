"""`python -m runwire_agent`: serve the agent API on RUNWIRE_HTTP_PORT + 2."""

from __future__ import annotations

from runwire.web.service_app import run_domain_service
from runwire_agent.app import PORT_OFFSET, create_app
from runwire_agent.config import load_config

if __name__ == "__main__":
    run_domain_service("agent", PORT_OFFSET, create_app, load_config)
