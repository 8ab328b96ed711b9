"""Operating a runwire process: settings and tunables from the environment, telemetry, log redaction."""
