"""Shared fixtures."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def body():
    """The open body (shared: building it reads the 1.9 MB asset and sets up smplx)."""
    from workbench.body import BodyModel

    return BodyModel.open_body()
