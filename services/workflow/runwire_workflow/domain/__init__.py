"""The workflow run aggregate, pure: definitions (validated DAGs), events, state, `decide` and `evolve`.

No clock, no network: times, child ids and child outcomes come in with the commands.
"""
