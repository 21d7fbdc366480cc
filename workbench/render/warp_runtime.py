"""A quiet warp on the CPU, and its kernels run on every core.

warp is imported here, lazily, on the first render: ``import workbench.render`` must stay cheap and
print nothing. warp runs a CPU kernel launch on the calling thread only; :func:`launch_parallel`
spreads independent launches over Python threads, which run truly in parallel because warp's
ctypes call into the compiled kernel releases the GIL.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the duration of the block.

    warp's native library prints "Could not find or load the NVIDIA CUDA driver" with ``fprintf``
    during ``wp.init()`` on machines without a GPU driver -- the normal case for this CPU renderer.
    ``wp.config`` cannot silence that line, so we redirect the descriptor itself, only around init.
    """
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.cache
def get_warp():
    """Import and initialise warp once, quietly; return the module."""
    try:
        import warp as wp
    except ImportError as e:  # pragma: no cover - warp-lang is a declared dependency
        raise ImportError("workbench.render needs NVIDIA warp: pip install warp-lang") from e
    wp.config.quiet = True  # warp < 1.10 reads this
    if getattr(wp.config, "log_level", None) == getattr(wp, "LOG_INFO", object()):
        wp.config.log_level = wp.LOG_WARNING  # newer warp: hides the greeting and "module load" lines
    with _native_stderr_silenced():
        wp.init()
    return wp


@functools.cache
def cpu_count() -> int:
    """Cores this process may use (affinity-aware), capped at 8."""
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(n, 8))


def launch_parallel(launches: Sequence[Any]) -> None:
    """Run recorded warp launches (``wp.launch(..., record_cmd=True)``) concurrently, one per thread.

    The first runs on the calling thread. Fresh threads each call instead of a pool: creating one
    costs ~0.1 ms, and a pool's threads would not survive a ``fork`` (DataLoader workers).
    """
    threads = [threading.Thread(target=cmd.launch) for cmd in launches[1:]]
    for t in threads:
        t.start()
    if launches:
        launches[0].launch()
    for t in threads:
        t.join()
