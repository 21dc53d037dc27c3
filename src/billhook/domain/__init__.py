"""Pure billing rules: no I/O, no clock reads, no database."""
