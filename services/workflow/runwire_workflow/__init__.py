"""runwire workflow: DAG workflow runs with approval gates, a process manager over ingest and agent."""
