"""Safe file writes: atomic replacement and explicit overwrite.

Every file the workbench writes (checkpoints, assets, outputs) goes through these helpers so an
interrupted run never leaves a half-written file where a good one was.
"""

from __future__ import annotations

import contextlib
import dataclasses
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


def json_bytes(obj: Any) -> bytes:
    """``obj`` as the UTF-8 JSON these files use (indent 1); raises TypeError on what JSON cannot hold."""
    return (json.dumps(obj, indent=1, sort_keys=False) + "\n").encode()


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_bytes(path, json_bytes(obj))


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


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclasses.dataclass
class FrameSource:
    """Frames of a video file, a folder of images or a sequence of arrays, read lazily.

    ``frames()`` yields ``(index, name, (H, W, 3) uint8 RGB)``; ``index`` counts every frame of the
    source (a skipped frame still has its index). Grayscale and RGBA images become RGB; frames of a
    folder may differ in size. ``fps`` is the video's (or 30 for images); ``num_frames`` may be None
    when the container does not say.
    """

    path: Path | None
    kind: str  # "video" | "images" | "arrays"
    fps: float
    num_frames: int | None
    start: int = 0
    stop: int | None = None
    step: int = 1
    _files: list[Path] = dataclasses.field(default_factory=list)
    _arrays: list[np.ndarray] = dataclasses.field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem if self.path is not None else "frames"

    def frames(self) -> Iterator[tuple[int, str, np.ndarray]]:
        from workbench.detect import as_rgb_frame

        if self.kind == "video":
            for i, rgb in read_video(self.path, self.start, self.stop, self.step):
                yield i, f"{i:06d}.jpg", rgb
            return
        items = self._files if self.kind == "images" else self._arrays
        stop = len(items) if self.stop is None else min(self.stop, len(items))
        for i in range(self.start, stop, self.step):
            if self.kind == "images":
                yield i, self._files[i].name, as_rgb_frame(_read_any_image(self._files[i]))
            else:
                yield i, f"{i:06d}.jpg", as_rgb_frame(self._arrays[i])

    def __len__(self) -> int:
        """Frames ``frames()`` will yield (an estimate for videos whose container misreports)."""
        total = self.num_frames if self.num_frames is not None else 0
        stop = total if self.stop is None else min(self.stop, total)
        return max(0, -(-(stop - self.start) // self.step))


def _read_any_image(path: Path) -> np.ndarray:
    """Like :func:`read_image` but keeps grayscale as (H, W) and RGBA as (H, W, 4) (RGB order)."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"{path} could not be decoded as an image; remove it from the folder or convert it.")
    if image.dtype != np.uint8:
        image = (image / (257.0 if image.dtype == np.uint16 else max(float(image.max()), 1.0) / 255.0)).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image


def open_frames(source: Any, start: int = 0, stop: int | None = None, step: int = 1) -> FrameSource:
    """A :class:`FrameSource` for a video file, a folder of images (sorted by name) or a list of arrays.

    Raises at once (not on first read) with what was wrong: a missing path, a file that is not a
    video, a video with no decodable frame, a folder without images, bad start/stop/step.
    """
    import cv2

    if start < 0 or step < 1 or (stop is not None and stop < start):
        raise ValueError(f"need 0 <= start <= stop and step >= 1; got start={start}, stop={stop}, step={step}.")
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("no frames given (an empty list); pass at least one (H, W, 3) uint8 image.")
        return FrameSource(None, "arrays", 30.0, len(source), start, stop, step, _arrays=list(source))
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist; give a video file or a folder of images.")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"folder {path} has no images ({', '.join(IMAGE_SUFFIXES)}); nothing to track.")
        return FrameSource(path, "images", 30.0, len(files), start, stop, step, _files=files)
    read_video(path, start, stop, step).close()  # raises now for unreadable / empty videos
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    cap.release()
    return FrameSource(path, "video", float(fps) if np.isfinite(fps) and fps > 0 else 30.0, count, start, stop, step)
