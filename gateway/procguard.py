"""No core dumps, and a process other users' tools cannot attach to or read.

While a person answers the help questions their answers live in this process's memory (by design: nothing is
written before consent), and sealed replies wait under a key held only here. A core dump would write both to a
file; a dumpable process can be read by a debugger of the same user. So the gateway sets RLIMIT_CORE to 0 and,
on Linux, PR_SET_DUMPABLE to 0 at start. Root can still read memory: docs/privacy.md says so, and docs/operations.md
asks for no swap or encrypted swap.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger(__name__)
PR_SET_DUMPABLE, PR_GET_DUMPABLE = 4, 3


def _prctl():
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return libc.prctl


def lock_down() -> None:
    try:
        import resource
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # Windows has no resource module and writes no core files
        pass
    if sys.platform.startswith("linux"):
        if _prctl()(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            log.warning("could not mark the process non-dumpable (prctl failed)")


def dumpable() -> bool | None:
    if not sys.platform.startswith("linux"):
        return None
    return bool(_prctl()(PR_GET_DUMPABLE, 0, 0, 0, 0))
