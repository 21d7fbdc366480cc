"""Exports of tracked people that other tools open: per-frame OBJ/PLY, an animated GLB, a BVH skeleton.

:func:`export_track` / :func:`export_tracks` write one folder per track; the format modules
(:mod:`~workbench.export.meshes`, :mod:`~workbench.export.gltf`, :mod:`~workbench.export.bvh`) work from
the rig of :mod:`~workbench.export.rig`. All files share one y-up frame, metres.
"""

from workbench.export.bvh import BvhData, bvh_forward_kinematics, read_bvh, write_bvh
from workbench.export.gltf import top_influences, write_glb
from workbench.export.meshes import write_frame_meshes
from workbench.export.rig import CAMERA_TO_Y_UP, Rig, RigAnimation, body_rig, camera_to_y_up, rig_animation
from workbench.export.tracks import FORMATS, TrackExport, export_track, export_tracks

__all__ = ["BvhData", "CAMERA_TO_Y_UP", "FORMATS", "Rig", "RigAnimation", "TrackExport", "body_rig",
           "bvh_forward_kinematics", "camera_to_y_up", "export_track", "export_tracks", "read_bvh",
           "rig_animation", "top_influences", "write_bvh", "write_frame_meshes", "write_glb"]
