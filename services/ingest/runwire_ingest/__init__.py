"""runwire ingest: document ingest jobs whose whole state is their `ingest.job.*` events."""
