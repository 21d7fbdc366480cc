"""4D Humans workbench: HMR 2.0 and 4DHumans tracking, re-implemented for research and teaching.

Import what you need from the sub-packages, e.g. ``from workbench.body import BodyModel``.
"""

from workbench._compat import ensure_torchvision_importable

ensure_torchvision_importable()

__version__ = "0.1.0"
