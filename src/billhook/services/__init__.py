"""Use cases: one function per action, each inside the caller's unit of work."""
