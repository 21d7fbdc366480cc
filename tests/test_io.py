"""Safe writes and image reading."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.io import atomic_open, atomic_savez, check_writable_target, read_image, write_image


def test_atomic_write_keeps_the_old_file_on_error(tmp_path):
    target = tmp_path / "result.bin"
    target.write_bytes(b"good")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as f:
            f.write(b"half-writ")
            raise RuntimeError("interrupted")
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["result.bin"]  # no temporary left behind


def test_atomic_savez_writes_exactly_the_path(tmp_path):
    atomic_savez(tmp_path / "a.npz", {"x": np.arange(3)})
    with np.load(tmp_path / "a.npz") as f:
        np.testing.assert_array_equal(f["x"], np.arange(3))
    assert (tmp_path / "a.npz").stat().st_mode & 0o044  # readable by others, not 0600


def test_overwrite_is_refused_unless_asked(tmp_path):
    (tmp_path / "out.png").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="overwrite"):
        check_writable_target(tmp_path / "out.png", overwrite=False)
    assert check_writable_target(tmp_path / "out.png", overwrite=True).name == "out.png"


def test_missing_folder_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        atomic_savez(tmp_path / "nope" / "a.npz", {"x": np.zeros(1)})


def test_image_round_trip_and_bad_images(tmp_path):
    image = np.zeros((10, 20, 3), np.uint8)
    image[..., 0] = 255  # pure red stays red: RGB in, RGB out
    write_image(tmp_path / "red.png", image)
    np.testing.assert_array_equal(read_image(tmp_path / "red.png"), image)
    (tmp_path / "broken.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="could not be decoded"):
        read_image(tmp_path / "broken.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="uint8"):
        write_image(tmp_path / "f.png", image.astype(np.float32))
