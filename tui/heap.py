"""Short pauses of CPython's collector while the app works.

A long step grows the heap by its records (a 20,000-dataset copy: about a million
objects: the engine's plan, the live rows, the table's cells), and each of CPython's full
collections scans all of it: pauses of up to half a second, every few seconds, in which no
key is handled. While work runs, what has outlived the young generations is set aside
every `FREEZE_EVERY_S` (`gc.freeze`), so that a full collection scans only what came
since (at most tens of milliseconds); once the work is over it is handed back
(`gc.unfreeze`) and collected as usual, the odd garbage cycle set aside with it included.
"""

from __future__ import annotations

import gc

FREEZE_EVERY_S = 2.0


def settle(working: bool) -> None:
    if working:
        gc.collect(1)  # the young generations only: milliseconds, and their cycles freed
        gc.freeze()
    elif gc.get_freeze_count():
        gc.unfreeze()
