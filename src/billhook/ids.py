"""Identifiers: ULIDs, sortable by creation time, and strictly increasing within a process."""

from __future__ import annotations

import threading

from ulid import ULID

_lock = threading.Lock()
_last = 0


def new_id() -> str:
    """A new ULID, greater than every one this process made before (same millisecond included)."""
    global _last
    with _lock:
        value = int(ULID())
        if value <= _last:
            value = _last + 1
        _last = value
    return str(ULID.from_int(value))
