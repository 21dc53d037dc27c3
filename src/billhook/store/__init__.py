"""Tables, queries, locks and migrations."""
