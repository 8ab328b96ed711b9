"""runwire's Python client: read a project's events as a resumable stream, publish, export."""
