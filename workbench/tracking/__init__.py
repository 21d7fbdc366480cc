"""PHALP'-style 3D tracking core: cost, location prediction, assignment and track lifecycle.

Each module is one concept with pure functions and a slow reference next to the fast path:

* ``cost``        - the PHALP cost (EQ_019 / EQ_010) for all track-detection pairs, vectorised
* ``location``    - ridge-regression location predictor with Student-t prediction intervals
* ``assignment``  - Hungarian assignment with the published gate (100)
* ``lifecycle``   - tentative / confirmed / deleted tracks and ``TrackerCore`` (one frame at a time)
"""

from workbench.tracking.assignment import Assignment, hungarian_assign
from workbench.tracking.cost import (
    BETAS,
    appearance_distance_embedding,
    appearance_distance_texels,
    phalp_cost,
    phalp_cost_reference,
)
from workbench.tracking.lifecycle import FrameResult, Track, TrackerConfig, TrackerCore, TrackState
from workbench.tracking.location import LocationPrediction, predict_location, predict_location_reference

__all__ = [
    "Assignment",
    "BETAS",
    "FrameResult",
    "LocationPrediction",
    "Track",
    "TrackState",
    "TrackerConfig",
    "TrackerCore",
    "appearance_distance_embedding",
    "appearance_distance_texels",
    "hungarian_assign",
    "phalp_cost",
    "phalp_cost_reference",
    "predict_location",
    "predict_location_reference",
]
