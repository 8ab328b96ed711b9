"""runwire agent: tool-using agent runs whose whole state is their `agent.*` events."""
