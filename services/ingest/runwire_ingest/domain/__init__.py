"""The ingest job aggregate, pure: its events, state, commands, `decide` and `evolve`, and text processing.

Nothing here reads a clock, an id generator or the network; times and ids come in with commands.
"""
