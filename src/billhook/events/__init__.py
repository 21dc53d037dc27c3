"""Events: the outbox, written in the caller's transaction."""
