"""The Litestar chassis every service shares: app shape, auth, problem+json, limits, health, serving."""
