"""Configuration shared by the package and the notebooks.

Model, loss and training configs (dataclasses with the paper's defaults and named presets) join
this module as they land. For now it holds the fast-mode switch used by tests and notebooks.
"""

from __future__ import annotations

import os

FAST_ENV = "WORKBENCH_FAST"


def fast_mode() -> bool:
    """True when ``$WORKBENCH_FAST`` is set to 1/true/yes: notebooks and heavy jobs run small configs."""
    return os.environ.get(FAST_ENV, "0").strip().lower() in ("1", "true", "yes", "on")
