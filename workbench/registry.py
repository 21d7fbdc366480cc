"""``Registry``: name -> factory tables behind the workbench's plug-in points.

Detectors, pose engines, backbones, heads and losses are each one ``Registry``; adding your own is
one decorated function (``@register_detector("mine")``), and an unknown name fails with the list of
registered ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Registry(dict):
    """A dict of name -> factory with a registering decorator and a lookup that names the alternatives.

    >>> LOSSES = Registry("loss")
    >>> @LOSSES.register("zero")
    ... def zero(*args): return 0.0
    >>> LOSSES.lookup("zero") is zero, LOSSES.names()
    (True, ['zero'])
    """

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator: add ``factory`` under ``name`` (replacing an earlier one) and return it unchanged."""

        def add(factory):
            self[name] = factory
            return factory

        return add

    def lookup(self, name: str):
        if name not in self:
            raise KeyError(f"unknown {self.kind} {name!r}; registered: {self.names()}.")
        return self[name]

    def names(self) -> list[str]:
        return sorted(self)
