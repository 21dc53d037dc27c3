"""Identifiers are ULIDs of the time they were made, strictly increasing within a process."""

from __future__ import annotations

import threading
import time

from ulid import ULID

from billhook.ids import new_id


def test_ids_are_ulids_of_now_and_strictly_increasing_within_a_millisecond_too() -> None:
    before = time.time()
    made = [new_id() for _ in range(20_000)]  # many per millisecond
    after = time.time()
    assert made == sorted(made) and len(set(made)) == len(made)
    for value in (made[0], made[-1]):
        parsed = ULID.from_str(value)
        assert str(parsed) == value and len(value) == 26
        assert before - 0.001 <= parsed.timestamp <= after + 0.001


def test_ids_made_by_threads_at_once_never_repeat() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        out.extend(new_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [i for out in made for i in out]
    assert len(set(everything)) == len(everything)
    assert all(out == sorted(out) for out in made)
