"""runwire's shared library: the envelope, subjects and filters, the event store, settings, auth."""
