"""`python -m runwire_workflow`: serve the workflow API on RUNWIRE_HTTP_PORT + 3."""

from __future__ import annotations

from runwire.web.service_app import run_domain_service
from runwire_workflow.app import PORT_OFFSET, create_app
from runwire_workflow.config import load_config

if __name__ == "__main__":
    run_domain_service("workflow", PORT_OFFSET, create_app, load_config)
