"""Pixel values: 'ibllib' equals OpenCV's BGR channel 0 (what ibllib reads); 'luma' equals ffmpeg gray."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo.engine.index import get_index


def ffmpeg_gray(path, shape) -> np.ndarray:
    out = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-f", "rawvideo",
         "-pix_fmt", "gray", "-"], check=True, capture_output=True).stdout
    return np.frombuffer(out, np.uint8).reshape((-1,) + shape)


@pytest.mark.parametrize("name", ["bframes", "mono", "chroma", "offset"])
def test_ibllib_pixels_match_opencv(videos, reference, name):
    cam = ibl_xvideo.open_camera(videos[name], chunks=None)
    ours = cam.values
    ref = reference[name]
    assert ours.shape == ref.shape
    diff = np.abs(ours.astype(int) - ref)
    # the contract is 1 grey level; in practice the values are the same bytes
    assert diff.max() <= 1, name
    assert (diff == 0).mean() > 0.999, (name, (diff == 0).mean())


@pytest.mark.parametrize("name", ["bframes", "mono", "chroma"])
def test_luma_pixels_match_ffmpeg_gray(videos, name):
    cam = ibl_xvideo.open_camera(videos[name], chunks=None, pixels="luma")
    ref = ffmpeg_gray(videos[name], cam.shape[1:])
    assert np.array_equal(cam.values, ref)


def test_luma_within_two_of_opencv_on_jittered_chroma(videos, reference):
    # documented difference: luma ignores the chroma that OpenCV's BGR conversion mixes in
    cam = ibl_xvideo.open_camera(videos["chroma"], chunks=None, pixels="luma")
    diff = np.abs(cam.values.astype(int) - reference["chroma"])
    assert diff.max() <= 3
    assert diff.max() >= 1  # the chroma does change channel 0: the two modes differ


def test_color_range_recorded(videos):
    assert get_index(videos["bframes"]).pix_fmt == "yuv420p"
    assert get_index(videos["mono"]).pix_fmt in ("gray", "yuvj420p", "yuv420p")
