"""PHALP'-style 3D tracking core: cost, location prediction, assignment and track lifecycle.

Each module is one concept with pure functions and a slow reference next to the fast path:

* ``cost``        - the PHALP cost (EQ_019 / EQ_010) for all track-detection pairs, vectorised
* ``location``    - ridge-regression location predictor with Student-t prediction intervals
* ``assignment``  - Hungarian assignment with the published gate (100)
* ``lifecycle``   - tentative / confirmed / deleted tracks and ``TrackerCore`` (one frame at a time)
* ``records``     - per-detection records from HMR 2.0 outputs: 229-d pose, 99-d loca, canvas camera, pkl dict
* ``iou_baseline`` - the 2D baseline: box IoU cost (gated at ``min_iou``) + constant-velocity box predictor
"""

from workbench.tracking.assignment import Assignment, hungarian_assign
from workbench.tracking.cost import (
    BETAS,
    appearance_distance_embedding,
    appearance_distance_texels,
    phalp_cost,
    phalp_cost_reference,
)
from workbench.tracking.iou_baseline import (
    BoxRecord,
    IoUTracker,
    box_iou,
    box_iou_reference,
    iou_cost,
    predict_box,
)
from workbench.tracking.lifecycle import FrameResult, Track, TrackerConfig, TrackerCore, TrackState
from workbench.tracking.location import LocationPrediction, predict_location, predict_location_reference
from workbench.tracking.records import (
    DetectionRecord,
    camera_on_canvas,
    joints_2d_on_canvas,
    location_vector,
    padded_canvas,
    pose_vector,
    record_to_phalp_dict,
    records_from_hmr2,
)

__all__ = [
    "Assignment",
    "BETAS",
    "BoxRecord",
    "DetectionRecord",
    "FrameResult",
    "IoUTracker",
    "LocationPrediction",
    "Track",
    "TrackState",
    "TrackerConfig",
    "TrackerCore",
    "appearance_distance_embedding",
    "appearance_distance_texels",
    "box_iou",
    "box_iou_reference",
    "camera_on_canvas",
    "hungarian_assign",
    "iou_cost",
    "joints_2d_on_canvas",
    "location_vector",
    "padded_canvas",
    "phalp_cost",
    "phalp_cost_reference",
    "pose_vector",
    "predict_box",
    "predict_location",
    "predict_location_reference",
    "record_to_phalp_dict",
    "records_from_hmr2",
]
