"""The JetStream adapter: connecting, appending, reading and following the EVENTS stream, key-value.

The only layer that speaks NATS; everything above it goes through its narrow interface.
"""
