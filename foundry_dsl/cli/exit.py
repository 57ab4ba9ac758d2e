"""Ending the process once a command has returned: flush, run the exit hooks, leave.

Python's own shutdown then tears down every module and runs every finalizer;
with pyarrow, DuckDB and a database driver loaded that costs about 0.1 s after
the work is done, which is a large share of a short ``foundry apply``. When a
command returns, its output is complete and its files committed; what shutdown
would still do that matters is done here first: the ``atexit`` hooks
(``logging.shutdown``, thread pools joining their idle workers, coverage saving
its data) and flushing the standard streams. Only the console entry points
(``foundry``, ``bronze-extract``, ``python -m foundry_dsl``) end this way;
``main()`` called in a process of its own, as tests do, returns as before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
from collections.abc import Callable
from typing import NoReturn


def run_and_exit(main: Callable[[], int]) -> NoReturn:
    """``sys.exit(main())``, without the interpreter's teardown after a normal return.

    A ``SystemExit`` raised inside (``--help``, ``--version``, a usage error) and any
    other exception but a closed output pipe leave the normal way.
    """
    try:
        code = main()
    except BrokenPipeError:
        # the reader went away (`foundry plan | head`) and took what it wanted; the
        # exit code of a process a closed pipe ends (128 + SIGPIPE), without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 141
    atexit._run_exitfuncs()  # what os._exit skips: every hook registered so far
    for stream in (sys.stdout, sys.stderr):
        # a reader that went away (`foundry plan | head`) or a closed stream
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)
