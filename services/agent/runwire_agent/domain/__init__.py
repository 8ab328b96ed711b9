"""The agent run aggregate, pure: its events, state, commands, `decide` and `evolve`.

Nothing here reads a clock, runs a tool or calls a model; those results come in with commands.
"""
