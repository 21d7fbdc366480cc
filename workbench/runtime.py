"""Torch runtime helpers shared by interactive and per-frame code."""

from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch intra-op threads, then restore the caller's setting.

    Small per-frame networks (a few thousand multiply-adds per row) run faster on one thread than
    on several that wait for each other, most of all on a busy machine.
    """
    old = torch.get_num_threads()
    if n == old:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
