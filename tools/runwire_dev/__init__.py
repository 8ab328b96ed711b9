"""Developer tooling, not a library: `make run`'s supervisor and `make demo`."""
