"""Comparing a foreign state dict with a model's, key by key and shape by shape.

Every checkpoint adapter in ``workbench.models`` (ViTPose backbone, official HMR 2.0, our own
checkpoints) goes through :func:`diff_state_dict`, so a bad file fails with ONE error that lists
every missing key, every unexpected key and every shape mismatch, instead of the first one only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

__all__ = ["StateDictDiff", "diff_state_dict"]

_MAX_LISTED = 40  # a wrong-architecture file can differ in thousands of keys; list enough to see the pattern


@dataclass
class StateDictDiff:
    """What separates a given state dict from the one a model expects."""

    missing: list[str] = field(default_factory=list)  # the model needs them, the file lacks them
    unexpected: list[str] = field(default_factory=list)  # the file has them, the model does not
    mismatched: list[tuple[str, tuple, tuple]] = field(default_factory=list)  # (key, file shape, model shape)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def message(self, source: str) -> str:
        lines = [f"{source} does not match the model:"]
        for title, items in (("missing keys", self.missing), ("unexpected keys", self.unexpected)):
            if items:
                more = len(items) - _MAX_LISTED
                shown = ", ".join(items[:_MAX_LISTED]) + (f", ... ({more} more)" if more > 0 else "")
                lines.append(f"  {len(items)} {title}: {shown}")
        if self.mismatched:
            lines.append(f"  {len(self.mismatched)} shape mismatches (key: file vs model):")
            lines += [f"    {k}: {tuple(a)} vs {tuple(b)}" for k, a, b in self.mismatched[:_MAX_LISTED]]
            if len(self.mismatched) > _MAX_LISTED:
                lines.append(f"    ... ({len(self.mismatched) - _MAX_LISTED} more)")
        return "\n".join(lines)

    def raise_if_any(self, source: str, hint: str = "") -> None:
        """Raise ``ValueError`` listing every difference (``hint`` says what to do about it)."""
        if not self.ok:
            raise ValueError(self.message(source) + (f"\n{hint}" if hint else ""))


def diff_state_dict(expected: Mapping[str, torch.Tensor], given: Mapping[str, torch.Tensor]) -> StateDictDiff:
    """Compare ``given`` (from a file) with ``expected`` (``model.state_dict()``).

    Works on meta tensors too (only shapes are read). Keys keep the order of ``expected`` /
    ``given`` so the listing reads like the model.
    """
    diff = StateDictDiff()
    for key, ref in expected.items():
        if key not in given:
            diff.missing.append(key)
        elif tuple(given[key].shape) != tuple(ref.shape):
            diff.mismatched.append((key, tuple(given[key].shape), tuple(ref.shape)))
    diff.unexpected = [k for k in given if k not in expected]
    return diff
