"""The runwire stream API: serves the EVENTS stream as SSE, WebSocket and polling streams."""
