"""Body models in SMPL's format: the open body (default) and the user's licensed SMPL."""

from workbench.body.model import BodyData, BodyModel, BodyOutput, load_body_data

__all__ = ["BodyData", "BodyModel", "BodyOutput", "load_body_data"]
