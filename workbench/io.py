"""Safe file writes: atomic replacement and explicit overwrite.

Every file the workbench writes (checkpoints, assets, outputs) goes through these helpers so an
interrupted run never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path`` for binary writing; move it into place on success.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"cannot write {path}: folder {path.parent} does not exist; create it first.")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_open(path) as f:
        f.write(data)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode())


def atomic_savez(path: str | os.PathLike, arrays: dict[str, np.ndarray], compressed: bool = True) -> None:
    """``np.savez(_compressed)`` to exactly ``path`` (no ``.npz`` appended), atomically."""
    with atomic_open(path) as f:
        (np.savez_compressed if compressed else np.savez)(f, **arrays)


def check_writable_target(path: str | os.PathLike, overwrite: bool) -> Path:
    """Refuse to replace an existing result unless ``overwrite`` is set. Returns ``path`` as a Path."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it.")
    return path


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as RGB ``(H, W, 3) uint8``, with errors that say what went wrong."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image {path} does not exist; check the path (relative to {Path.cwd()}).")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(
            f"{path} could not be decoded as an image; use a PNG or JPEG file (OpenCV could not read it)."
        )
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def encode_image(image: np.ndarray, suffix: str = ".png") -> bytes:
    """Encode an RGB ``(H, W, 3) uint8`` image as PNG/JPEG bytes (e.g. for ``IPython.display.Image``)."""
    import cv2

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}.")
    ok, data = cv2.imencode(suffix, cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError(f"cannot encode an image as {suffix!r}; use .png or .jpg.")
    return data.tobytes()


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Write an RGB ``(H, W, 3) uint8`` image atomically; the format follows the suffix (.png, .jpg)."""
    path = Path(path)
    atomic_write_bytes(path, encode_image(image, path.suffix or ".png"))


def read_video(path: str | os.PathLike, start: int = 0, stop: int | None = None,
               step: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Frames ``start, start+step, ... < stop`` of a video as ``(index, (H, W, 3) uint8 RGB)``.

    Errors come at call time, not on first iteration: ``FileNotFoundError`` for a missing file,
    ``ValueError`` for a file OpenCV cannot open or that has no decodable frame, or bad arguments.
    Every frame up to the end (or ``stop``) is read; frames are never skipped unless ``step > 1``.
    """
    import cv2

    path = Path(path)
    if start < 0 or step < 1 or (stop is not None and stop < start):
        raise ValueError(f"need 0 <= start <= stop and step >= 1; got start={start}, stop={stop}, step={step}.")
    if not path.is_file():
        raise FileNotFoundError(f"video {path} does not exist; check the path (relative to {Path.cwd()}).")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path} could not be opened as a video (unknown format or corrupt file).")
    ok, first = cap.read()
    if not ok:
        cap.release()
        raise ValueError(f"{path} has zero decodable frames (empty or corrupt video).")

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        # Read sequentially rather than seek: seeking in inter-coded video is not frame-exact.
        index, frame = 0, first
        try:
            while frame is not None and (stop is None or index < stop):
                if index >= start and (index - start) % step == 0:
                    yield index, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                ok, frame = cap.read()
                frame = frame if ok else None
                index += 1
        finally:
            cap.release()

    return frames()
