"""Frame exactness on the containers and codecs labs record with, encoded here by the bundled ffmpeg.

Each variant's frames carry their own number (:func:`ibl_xvideo.demo.synth.read_frame_number`).
Every access pattern (:func:`ibl_xvideo.verify.verify`) must equal the sequential decode,
and the camera's frames must equal OpenCV's sequential read (what ibllib gets) with
frame numbers that only increase: a shifted or reordered frame cannot hide.
"""

from __future__ import annotations

import functools
import subprocess
import warnings

import numpy as np
import pytest

from ibl_xvideo import get_index, open_camera
from ibl_xvideo.demo.synth import encode_frames, frame_content, read_frame_number
from ibl_xvideo.verify import verify

from .conftest import opencv_sequential

X264 = ("-c:v", "libx264", "-preset", "fast", "-crf", "23", "-g", "30", "-bf", "3")

#: name -> (encoder needed, ffmpeg output options, frame size)
VARIANTS = {
    # AVI gives B-frames decode-order timestamps: the order comes from one decode when indexing
    "h264_bframes.avi": ("libx264", X264 + ("-pix_fmt", "yuv420p"), (256, 320)),
    "h264_bframes.mkv": ("libx264", X264 + ("-pix_fmt", "yuv420p"), (256, 320)),
    "h264_bframes.mov": ("libx264", X264 + ("-pix_fmt", "yuv420p"), (256, 320)),
    # MPEG-4 part 2 with B-frames, DivX-tagged; XviD packs its B-frames (FFmpeg's decoder drops one)
    "mpeg4_bframes_divx.avi": ("mpeg4", ("-c:v", "mpeg4", "-q:v", "4", "-bf", "2", "-g", "30", "-vtag", "DX50"),
                               (256, 320)),
    "mpeg4_packed_xvid.avi": ("libxvid", ("-c:v", "libxvid", "-q:v", "4", "-bf", "2", "-g", "30"), (256, 320)),
    # open GOP: B-frames after a keyframe reference the group before it
    "h264_open_gop.mp4": ("libx264", ("-c:v", "libx264", "-preset", "fast", "-crf", "23", "-x264-params",
                                      "open-gop=1:keyint=30:min-keyint=30:scenecut=0:bframes=3",
                                      "-pix_fmt", "yuv420p"), (256, 320)),
    "mjpeg.avi": ("mjpeg", ("-c:v", "mjpeg", "-q:v", "3", "-pix_fmt", "yuvj420p"), (256, 320)),
    "hevc_bframes.mp4": ("libx265", ("-c:v", "libx265", "-x265-params", "bframes=3:keyint=30:log-level=error",
                                     "-tag:v", "hvc1", "-pix_fmt", "yuv420p"), (256, 320)),
    # variable frame rate: a 0.5 s gap and an irregular step
    "h264_vfr.mkv": ("libx264", X264 + ("-pix_fmt", "yuv420p", "-vf",
                                        "setpts='N/(30*TB)+gt(N,40)*0.5/TB+gt(N,70)*0.013/TB'",
                                        "-fps_mode", "vfr"), (256, 320)),
    "h264_full_range.mp4": ("libx264", X264 + ("-pix_fmt", "yuvj420p"), (256, 320)),
    "h264_odd_size_444.mp4": ("libx264", X264 + ("-pix_fmt", "yuv444p"), (183, 321)),
    "h264_not_16_aligned.mp4": ("libx264", X264 + ("-pix_fmt", "yuv420p"), (190, 330)),
}


@functools.lru_cache(maxsize=1)
def _encoders() -> str:
    import imageio_ffmpeg

    return subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def variant(tmp_path_factory):
    folder = tmp_path_factory.mktemp("containers")

    @functools.lru_cache(maxsize=None)
    def make(name):
        encoder, args, (h, w) = VARIANTS[name]
        if f" {encoder} " not in _encoders():
            pytest.skip(f"this ffmpeg has no {encoder} encoder")
        frames = [frame_content(i, h, w) for i in range(100)]
        try:
            return encode_frames(folder / name, frames, width=w, height=h, fps=30, output_args=args)
        except RuntimeError as exc:
            if "-fps_mode" in args and "fps_mode" in str(exc):  # ffmpeg before 5.1 names it -vsync
                args = tuple("-vsync" if a == "-fps_mode" else a for a in args)
                return encode_frames(folder / name, frames, width=w, height=h, fps=30, output_args=args)
            # the encoder of an older ffmpeg (imageio-ffmpeg's lowest release) is not under test here
            pytest.skip(f"this ffmpeg cannot encode {name}: {str(exc)[-200:]}")

    return make


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_access_pattern_is_the_sequential_decode(name, variant):
    path = variant(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing concealed in an intact file
        result = verify(path, n_samples=30, progress=False)
        assert result.exact, str(result)
        values = open_camera(path, timestamps=False).values
    ref = opencv_sequential(path)
    assert values.shape == ref.shape and np.array_equal(values, ref)
    numbers = [read_frame_number(f) for f in values]
    assert numbers[0] == 0 and np.all(np.diff(numbers) > 0), numbers


def test_avi_b_frames_are_ordered_by_a_decode_and_mp4_ones_by_their_timestamps(variant):
    assert get_index(variant("h264_bframes.avi")).reordered
    assert not get_index(variant("h264_bframes.mov")).reordered
    assert not get_index(variant("h264_bframes.mkv")).reordered


def test_verify_reports_wrong_frames_with_the_frames_they_are(variant, monkeypatch):
    """verify can fail: an AVI indexed by its decode-order timestamps (this package before it decoded them
    to order the frames) gives wrong frames, each reported with the sequential frame it is."""
    import dataclasses

    import ibl_xvideo.camera as camera_module

    path = variant("h264_bframes.avi")
    index = get_index(path)
    by_timestamps = dataclasses.replace(index, frame_pts=np.sort(index.frame_pts), reordered=False)
    # the camera layer is handed the old index (the one place verify does not look into)
    monkeypatch.setattr(camera_module, "index_of", lambda source, use_cache=True: by_timestamps)
    result = verify(path, n_samples=20, progress=False)
    assert not result.exact
    wrong = [m for m in result.mismatches if m.pattern == "single"]
    assert wrong and all(m.got and m.got != (m.frame,) for m in wrong), wrong[:5]
    assert "NOT EXACT" in str(result) and f"frame {wrong[0].frame} is sequential frame" in str(result)
