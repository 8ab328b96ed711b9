"""The agent's tools: real work (search the chunk index, calculate, publish a report), no model needed."""
