"""The HTTP edge: validation, auth, problem+json, idempotency."""
