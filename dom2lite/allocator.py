"""Keep freed CPU memory in the process, so large tensors are not page-faulted in afresh at every step.

glibc's ``malloc`` serves every request above 32 MB (its largest mmap threshold) with a fresh ``mmap``
and hands it back to the system on ``free``; the next step's tensor of the same size is mapped again
and every page of it is faulted in and zeroed by the kernel. Full-size runs on a CPU, and many members
in one process, have activations of that size. ``benchmarks/results/members-glibc.json`` holds the
same benchmark with glibc's default (``DOM2LITE_KEEP_MEMORY=0``) beside ``members.json``: at one
thread, full-size DOM2 with 5 members took 3.7 s per step with the default and 2.1 s with the memory
kept (a solo step: 443 against 426 ms). ``keep_freed_memory()`` turns ``mmap`` off for ``malloc`` and the trimming
of the heap's top, so freed blocks are reused; the process keeps its peak memory until it ends, which
a training process reaches within its first steps anyway. It does nothing off glibc. The command line
(``train``) calls it; a chapter's in-process run keeps the interpreter's default.
Explained in the Cost appendix.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)
_done: bool | None = None


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to keep freed memory (once per process); ``True`` where it applied."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))
    return _done
