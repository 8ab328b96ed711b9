"""The event-sourcing kit the domain services are built on: repository, application loop, followers."""
