"""Which of a server's workers are running inference now, seen by every worker: the load board.

A Gunicorn server runs one worker per core, each with one inference thread, which is what sustained
load wants. A lone request then runs on one core while the other cores idle. The board lets a worker
see that: each worker has a slot holding the time its last engine call ended, or +inf while one runs.
Before a batch, a worker reads the other slots; when every other worker has been idle for
:data:`QUIET_S`, the batch runs on the engine's wide session (every core), else on its own threads.

The board is a few bytes of anonymous shared memory created by the Gunicorn master before it forks
(:func:`open_shared_board`), so every worker maps the same page. The master gives each worker a free
slot (:func:`assign_slot`) and clears a dead worker's slot (:func:`release_slot`), so a worker killed
mid-batch does not look busy for ever. A slot is written only by its own worker, one aligned 8-byte
store at a time, so no lock is needed; a reader that sees a value a moment old only picks the other
session for one batch.

A batch on the wide session owns every core for a few milliseconds. A worker whose batch comes in
meanwhile waits for it to end (at most :data:`WIDE_WAIT_S`) rather than start beside it: with more
threads than cores, the wide run's operators wait on whichever of its threads the scheduler set
aside, for a time slice at a time, and both batches end later than one after the other.

A process that is not a Gunicorn worker (``uvicorn`` run by hand, tests) has a private board of one
slot: nobody else to wait for.

Example::

    board = LoadBoard.private()
    with board.turn(0) as wide:      # wide: no other worker is busy
        engine.predict(texts, wide=wide)
"""

from __future__ import annotations

import math
import mmap
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "QUIET_S",
    "WIDE_WAIT_S",
    "LoadBoard",
    "assign_slot",
    "open_shared_board",
    "release_slot",
    "take_slot",
    "this_workers_board",
]

# How long the other workers must have been idle before a batch takes every core. Under sustained load
# a worker is idle only for the few milliseconds its clients take to come back (answers out, requests
# parsed), while a lone client's or a lone big request's other workers have been idle for as long as
# it lasts. At 2 ms, workers under load at 32 connections still went wide between each other's batches,
# and the wide batch's second thread scales worse than a second worker: 0.90x the sentences/s of 20 ms
# (interleaved A/B, benchmarks/serve.py's server, 4 rounds), with a lone client's p50 unchanged.
# Much shorter gaps would also let two workers run wide at once and fight over the cores.
QUIET_S = 0.02
# The longest a batch waits for another worker's wide batch to end: a few single-sentence batches; a
# longer wide batch (a big request) is then shared with, not waited out.
WIDE_WAIT_S = 0.02
WIDE_POLL_S = 0.0002
SLOT_BYTES = 8
MAX_SLOTS = 256  # more than any worker count; Gunicorn can add workers at run time (TTIN)
BUSY = math.inf  # running an engine call on the worker's own threads
BUSY_WIDE = math.nan  # running one on every core (NaN: compares false, so never "quiet" either)


class LoadBoard:
    """Per-worker engine activity in memory shared by every worker (see the module docstring)."""

    def __init__(self, memory: mmap.mmap | bytearray, slots: int) -> None:
        self._memory = memory
        self._slots = memoryview(memory).cast("d")
        self.size = slots

    @classmethod
    def shared(cls, slots: int = MAX_SLOTS) -> LoadBoard:
        """A board in anonymous shared memory: processes forked after this call all see it."""
        memory = mmap.mmap(-1, slots * SLOT_BYTES, flags=mmap.MAP_SHARED)
        return cls(memory, slots)  # zero-filled: every slot idle since the clock's start

    @classmethod
    def private(cls) -> LoadBoard:
        """A board of one slot, for a process that serves alone."""
        return cls(bytearray(SLOT_BYTES), 1)

    def others_quiet(self, slot: int, now: float | None = None, quiet_s: float = QUIET_S) -> bool:
        """Whether every slot but ``slot`` has been idle for ``quiet_s`` at ``now`` (default: now)."""
        now = time.monotonic() if now is None else now
        slots = self._slots
        # A busy slot reads +inf (now - inf < quiet_s) or NaN (every comparison false): never quiet.
        return all(now - slots[i] >= quiet_s for i in range(self.size) if i != slot)

    def others_wide(self, slot: int) -> bool:
        """Whether a slot but ``slot`` is running a batch on every core."""
        slots = self._slots
        return any(math.isnan(slots[i]) for i in range(self.size) if i != slot)

    def busy_slots(self) -> list[int]:
        """The slots running an engine call now."""
        return [i for i in range(self.size) if self._slots[i] == BUSY or math.isnan(self._slots[i])]

    def mark_busy(self, slot: int, wide: bool = False) -> None:
        self._slots[slot] = BUSY_WIDE if wide else BUSY

    def mark_idle(self, slot: int, now: float | None = None) -> None:
        self._slots[slot] = time.monotonic() if now is None else now

    def clear(self, slot: int) -> None:
        """Forget ``slot``'s activity (its worker is gone): idle since long ago."""
        self._slots[slot] = 0.0

    @contextmanager
    def turn(self, slot: int | None, can_widen: bool = True) -> Iterator[bool]:
        """Hold ``slot`` busy for one engine call; yields whether the call may use every core.

        ``can_widen`` False: the call runs on the worker's own threads whatever the others do (an engine
        without a wide session), and is shown as such. ``slot`` None (a worker the master gave no slot)
        never goes wide and is not seen by others. The slot is marked idle again however the call ends.
        """
        if slot is None:
            yield False
            return
        if self.others_wide(slot):  # see the module docstring: wait for it rather than share the cores
            deadline = time.monotonic() + WIDE_WAIT_S
            while self.others_wide(slot) and time.monotonic() < deadline:
                time.sleep(WIDE_POLL_S)
        wide = can_widen and self.others_quiet(slot)
        self.mark_busy(slot, wide)
        try:
            yield wide
        finally:
            self.mark_idle(slot)


# The Gunicorn master creates the board (open_shared_board) and tells each worker its slot (take_slot,
# in the worker right after the fork); both live here, module state inherited through the fork.
_shared_board: LoadBoard | None = None
_worker_slot: int | None = None


def open_shared_board(slots: int = MAX_SLOTS) -> LoadBoard:
    """Create the server's board; call in the Gunicorn master before workers are forked."""
    global _shared_board
    _shared_board = LoadBoard.shared(slots)
    return _shared_board


def assign_slot(slots_in_use: set[int]) -> int | None:
    """The lowest slot not in ``slots_in_use`` (the live workers'), or None when all are taken."""
    if _shared_board is None:
        return None
    free = (slot for slot in range(_shared_board.size) if slot not in slots_in_use)
    return next(free, None)


def take_slot(slot: int | None) -> None:
    """Record, in a freshly forked worker, the slot the master assigned it."""
    global _worker_slot
    _worker_slot = slot


def release_slot(slot: int | None) -> None:
    """Clear a dead worker's slot (in the master), so a worker killed mid-batch is not busy for ever."""
    if _shared_board is not None and slot is not None:
        _shared_board.clear(slot)


def this_workers_board() -> tuple[LoadBoard, int | None]:
    """This process's board and slot: the server's shared board in a Gunicorn worker, else a private one."""
    if _shared_board is not None:
        return _shared_board, _worker_slot
    return LoadBoard.private(), 0
