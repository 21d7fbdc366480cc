"""4DHumans tracking: PHALP' in 3D, its pieces, the video pipeline and its outputs.

    >>> from workbench.tracking import track_video      # doctest: +SKIP
    >>> result = track_video("video.mp4")                # HOG -> HMR 2.0 -> PHALP'   # doctest: +SKIP

Each module is one concept, with pure functions and (where it helps) a slow reference next to the fast path:

* ``cost``        - the PHALP cost (EQ_019 / EQ_010) for all track-detection pairs, vectorised
* ``location``    - ridge-regression location predictor with Student-t prediction intervals
* ``assignment``  - Hungarian assignment with the published gate (100)
* ``lifecycle``   - tentative / confirmed / deleted tracks and ``TrackerCore`` (one frame at a time)
* ``records``     - per-detection records from HMR 2.0 outputs: 229-d pose, 99-d loca, canvas camera, pkl dict
* ``iou_baseline`` - the 2D baseline: box IoU cost (gated at ``min_iou``) + constant-velocity box predictor
* ``appearance``  - texture sampling onto a per-part texel atlas, visibility by depth, running blend
* ``pose_predictor`` - masked transformer over a track's poses: prediction and amodal completion
* ``engines``     - pose-engine registry: HMR 2.0 (ours / official), ground truth, yours
* ``phalp``       - ``PHALPTracker``: the above composed on ``TrackerCore``
* ``pipeline``    - frames -> detections -> 3D people -> tracks (``track_video``), gap filling
* ``outputs``     - PHALP pkl, tidy table, overlay video, 4D plotly HTML (``write_outputs``)
* ``synth_video`` - deterministic multi-person videos with ground truth for the benchmark
* ``motion``      - a track as arrays over time in the reporting camera (and written back)
* ``ground``      - the floor fitted to the tracked people's feet; floor coordinates
* ``smoothing``   - One-Euro / Gaussian smoothing of tracks (6D rotations, translation)
* ``ground_benchmark``, ``smoothing_benchmark`` - their measurements on the synthetic videos
"""

from workbench.tracking.appearance import (
    TexelAtlas,
    TexelMap,
    appearance_cost,
    blend,
    sample_texel_maps,
    texel_atlas,
    texel_image,
)
from workbench.tracking.assignment import Assignment, hungarian_assign
from workbench.tracking.cost import (
    BETAS,
    appearance_distance_embedding,
    appearance_distance_texels,
    phalp_cost,
    phalp_cost_reference,
)
from workbench.tracking.engines import (
    GroundTruthEngine,
    HMR2Engine,
    People,
    create_engine,
    frame_camera,
    list_engines,
    register_engine,
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
from workbench.tracking.phalp import PHALPConfig, PHALPTracker, TrackPrediction
from workbench.tracking.ground import (
    GroundPlane,
    fit_ground_plane,
    fit_plane_to_points,
    floor_trajectories,
    foot_contact_points,
    ground_plane_error,
)
from workbench.tracking.motion import TrackMotion, apply_motion, track_motion, track_motions
from workbench.tracking.smoothing import SmoothConfig, smooth_motion, smooth_result
from workbench.tracking.pipeline import TrackConfig, TrackedPerson, TrackingResult, fill_gaps, run_tracking, track_video
from workbench.tracking.records import (
    DetectionRecord,
    camera_on_canvas,
    joints_2d_on_canvas,
    location_vector,
    padded_canvas,
    pose_vector,
    record_to_phalp_dict,
    records_from_hmr2,
    records_from_smpl,
)
from workbench.tracking.pose_predictor import PosePredictor, PosePredictorConfig, PoseTransformer, last_pose_predict
from workbench.tracking.synth_video import (
    DetectionNoise,
    SynthVideo,
    SynthVideoConfig,
    benchmark_videos,
    detections_by_frame,
    render_video,
    simulate_detections,
    write_video,
)

__all__ = [
    "GroundPlane",
    "SmoothConfig",
    "TrackMotion",
    "apply_motion",
    "fit_ground_plane",
    "fit_plane_to_points",
    "floor_trajectories",
    "foot_contact_points",
    "ground_plane_error",
    "smooth_motion",
    "smooth_result",
    "track_motion",
    "track_motions",
    "Assignment",
    "BETAS",
    "BoxRecord",
    "DetectionNoise",
    "DetectionRecord",
    "FrameResult",
    "GroundTruthEngine",
    "HMR2Engine",
    "IoUTracker",
    "LocationPrediction",
    "PHALPConfig",
    "PHALPTracker",
    "People",
    "PosePredictor",
    "PosePredictorConfig",
    "PoseTransformer",
    "SynthVideo",
    "SynthVideoConfig",
    "TexelAtlas",
    "TexelMap",
    "Track",
    "TrackConfig",
    "TrackPrediction",
    "TrackState",
    "TrackedPerson",
    "TrackerConfig",
    "TrackerCore",
    "TrackingResult",
    "appearance_cost",
    "appearance_distance_embedding",
    "appearance_distance_texels",
    "benchmark_videos",
    "blend",
    "box_iou",
    "box_iou_reference",
    "camera_on_canvas",
    "create_engine",
    "detections_by_frame",
    "fill_gaps",
    "frame_camera",
    "hungarian_assign",
    "iou_cost",
    "joints_2d_on_canvas",
    "last_pose_predict",
    "list_engines",
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
    "records_from_smpl",
    "register_engine",
    "render_video",
    "run_tracking",
    "sample_texel_maps",
    "simulate_detections",
    "texel_atlas",
    "texel_image",
    "track_video",
    "write_video",
]
