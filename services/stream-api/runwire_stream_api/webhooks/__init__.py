"""Webhooks: push each matching event to a registered HTTP endpoint, in order, signed, resumable.

registration (the records), targets (which URLs may be called), signing (Standard Webhooks),
registry (records and durable consumers in JetStream), courier (delivers one webhook),
dispatch (a courier for every registered webhook), routes (the HTTP endpoints).
"""
