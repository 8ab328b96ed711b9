"""The wire contract every producer, service and client shares: envelope, subjects, filters, cursors.

msgspec and the standard library only: importing it loads no NATS, HTTP or telemetry code.
"""
