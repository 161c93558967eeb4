"""ibl_xvideo.compat: ibllib.io.video's functions on our engine."""

from __future__ import annotations

import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo import compat, open_camera
from ibl_xvideo.errors import InvalidLabelError, InvalidOptionError, SessionNotFoundError
from ibl_xvideo.io.sources import session_labels

from .conftest import SESSION_EID, SESSION_REL, frame_numbers


def test_get_video_frame(videos, reference):
    f = compat.get_video_frame(videos["bframes"], 123)
    assert f.shape == (256, 320, 3) and f.dtype == np.uint8
    assert np.array_equal(f[:, :, 0], reference["bframes"][123])
    assert np.array_equal(f[:, :, 0], f[:, :, 2])


def test_get_video_frames_preload_qc_style(videos, reference):
    n = reference["bframes"].shape[0]
    idx = np.linspace(100, n - 100, 20).astype(int)
    frames = compat.get_video_frames_preload(videos["bframes"], idx, mask=np.s_[:, :, 0], quiet=True)
    assert frames.shape == (20, 256, 320) and frames.dtype == np.uint8
    assert np.array_equal(frames, reference["bframes"][idx])
    assert frame_numbers(frames) == idx.tolist()


def test_get_video_frames_preload_options(videos, reference):
    ref = reference["mono"]
    idx = [50, 3, 3, 199]
    full = compat.get_video_frames_preload(videos["mono"], idx, quiet=True)
    assert full.shape == (4, 256, 320, 3)
    assert np.array_equal(full[..., 1], ref[idx])
    crop = compat.get_video_frames_preload(videos["mono"], idx, mask=np.s_[10:50, 100:, 0], quiet=True)
    assert np.array_equal(crop, ref[idx][:, 10:50, 100:])
    lst = compat.get_video_frames_preload(videos["mono"], idx, as_list=True, func=np.mean,
                                          mask=np.s_[:, :, 0], quiet=True)
    assert isinstance(lst, list) and lst == pytest.approx([ref[i].mean() for i in idx])
    every = compat.get_video_frames_preload(videos["mono"], mask=np.s_[:, :, 0], quiet=True)
    assert np.array_equal(every, ref)
    with pytest.raises(ValueError):
        compat.get_video_frames_preload(videos["mono"], idx, mask=np.ones((256, 320, 3), bool), quiet=True)


def test_progress_bar_is_tqdm(videos, capsys):
    compat.get_video_frames_preload(videos["mono"], [1, 2, 3], mask=np.s_[:, :, 0])
    err = capsys.readouterr().err
    assert "loading frames" in err


def test_get_video_meta(videos):
    meta = compat.get_video_meta(videos["bframes"])
    assert set(meta) == {"length", "fps", "width", "height", "duration", "size"}
    assert (meta.length, meta.fps, meta.width, meta.height) == (300, 30, 320, 256)


def test_labels():
    assert compat.label_from_path("/x/raw_video_data/_iblrig_leftCamera.raw.mp4") == "left"
    assert compat.label_from_path("nothing.mp4") is None
    assert compat.assert_valid_label("LEFT") == "left"
    assert compat.assert_valid_label(["body", "Right"]) == ("body", "right")
    with pytest.raises(ValueError, match="camera must be one of"):
        compat.assert_valid_label("tail")
    with pytest.raises(InvalidLabelError):
        compat.assert_valid_label("tail")
    for bad in (5, None):
        with pytest.raises(TypeError):
            compat.assert_valid_label(bad)


def test_url_from_eid_local_one(one, one_cache, monkeypatch):
    with pytest.raises(ValueError):
        compat.url_from_eid(SESSION_EID, "tail", one=one)
    # a purely local One has no web client (ibllib's path2url fails): the local files, which we read
    local = compat.url_from_eid(SESSION_EID, "body", one=one)
    assert local == str(one_cache / SESSION_REL / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4")
    assert compat.get_video_meta(local)["length"] == 90
    urls = compat.url_from_eid(SESSION_EID, one=one)
    assert urls["body"] == local and "belly" not in urls  # (this session has no belly camera)
    # with a data server: its URLs in ONE's layout, the dataset id before the extension
    monkeypatch.setenv("IBL_XVIDEO_DATA_SERVER", "https://ibl.flatironinstitute.org/public")
    url = compat.url_from_eid(SESSION_EID, "body", one=one)
    assert url.startswith(f"https://ibl.flatironinstitute.org/public/{SESSION_REL}/raw_video_data/"
                          "_iblrig_bodyCamera.raw.") and url.endswith(".mp4")
    with pytest.raises(SessionNotFoundError, match="not in the ONE cache"):
        compat.url_from_eid("00000000-0000-4000-8000-000000000000", one=one)
    # a UUID ONE refuses (not version 4) and a string that is no eid: typed, as every other mistake
    for call in (compat.url_from_eid, lambda e, one: open_camera(e, "body", one=one),
                 lambda e, one: session_labels(e, one=one)):
        with pytest.raises(SessionNotFoundError, match="not an eid ONE accepts"):
            call("00000000-0000-0000-0000-000000000000", one=one)
    with pytest.raises(InvalidOptionError, match="not an eid"):
        compat.url_from_eid("not-an-eid", one=one)
    with pytest.raises(InvalidLabelError, match="tail"):
        compat.url_from_eid(SESSION_EID, ["body", "tail"], one=one)
    with pytest.raises(TypeError, match="not an eid .*url_from_eid"):
        compat.get_video_meta(SESSION_EID)


def test_an_open_capture_is_refused_with_what_to_pass(videos):
    import cv2

    cap = cv2.VideoCapture(str(videos["mono"]))
    try:
        with pytest.raises(TypeError, match="VideoCapture.*path"):
            compat.get_video_frames_preload(cap, [1, 2], quiet=True)
        with pytest.raises(TypeError, match="open_camera reads .* not VideoCapture .*pass the video's path"):
            ibl_xvideo.open_camera(cap)
    finally:
        cap.release()
