"""Source layer, API: the cyclic garbage collector held back while pages stream.

A page of JSON records is a thousand dicts that live a few milliseconds. With
the collector's default first threshold (700 new container objects), young
collections fire several times per page while the pages in flight are still
alive, so those dicts are promoted to the older generations; they die there,
and every few hundred pages a full collection walks every object of the
process (the compiled pipelines', pyarrow's, DuckDB's): about 0.4 to 0.7 s of a
million-record extraction, all of it holding the GIL, as measured in
``bench/README.md``. While an extraction runs the first threshold is raised to
:data:`YOUNG`: the collector still runs and cycles are still freed, just not
page by page.

The thresholds are process-wide, so every extraction running at once shares
one setting: the first one in raises it, the last one out restores what was
there before.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

#: new container objects between young collections while an extraction runs
YOUNG = 50_000

_lock = threading.Lock()
_users = 0
_saved: tuple[int, ...] = ()


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Young collections every :data:`YOUNG` new objects instead of every 700, while inside."""
    global _users, _saved
    with _lock:
        if _users == 0:
            _saved = gc.get_threshold()
            gc.set_threshold(max(YOUNG, _saved[0]), *_saved[1:])
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0:
                gc.set_threshold(*_saved)
