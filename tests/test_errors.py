"""Bad input gets a typed error that names the file or eid and says what to do."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import imageio_ffmpeg
import numpy as np
import pytest

import ibl_xvideo
from ibl_xvideo import errors

from .conftest import OTHER_EID, SESSION_EID, SESSION_REL

# in the quick subset: pytest -m smoke
pytestmark = pytest.mark.smoke


def test_every_error_derives_from_the_base():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.XVideoError)


def test_unknown_label(one):
    with pytest.raises(errors.InvalidLabelError, match="left, right, body, belly") as err:
        ibl_xvideo.open_camera(SESSION_EID, "tail", one=one)
    assert "'tail'" in str(err.value) and SESSION_EID in str(err.value)
    with pytest.raises(errors.InvalidLabelError) as err:
        ibl_xvideo.open_camera("https://user:secret@127.0.0.1:9/v.mp4", "tail")
    assert "secret" not in str(err.value) and "127.0.0.1:9/v.mp4" in str(err.value)


def test_unknown_eid(one):
    eid = "11111111-2222-4333-8444-555555555555"
    with pytest.raises(errors.SessionNotFoundError, match=eid):
        ibl_xvideo.open_camera(eid, "body", one=one)


def test_eid_needs_one(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no ONE settings on this "computer"
    monkeypatch.setenv("IBL_XVIDEO_DEMO_DIR", str(tmp_path / "no_demo"))
    with pytest.raises(errors.XVideoError, match=rf"{SESSION_EID} needs ONE.*one=One\(cache_dir="):
        ibl_xvideo.open_camera(SESSION_EID, "body")
    assert not (tmp_path / ".one").exists()  # looking for ONE's settings wrote none


def test_zarr_features_without_zarr_python_3(videos, tmp_path, monkeypatch):
    """On Python 3.10 (no zarr-python 3) the Zarr features say so; everything else works."""
    import sys

    monkeypatch.setitem(sys.modules, "zarr", None)  # what Python 3.10 has: no importable zarr 3
    cam = ibl_xvideo.open_camera(videos["bframes"])
    calls = [lambda: ibl_xvideo.to_zarr(cam, tmp_path / "a.zarr"), lambda: ibl_xvideo.open_store(tmp_path / "a.zarr"),
             lambda: ibl_xvideo.open_camera(videos["bframes"], cache=tmp_path / "a.zarr"),
             lambda: cam.video.to_zarr(tmp_path / "a.zarr")]
    for call in calls:
        with pytest.raises(errors.DependencyError, match=r"zarr-python >= 3"):
            call()
    assert not (tmp_path / "a.zarr").exists()
    assert cam.isel(time=[5, 1]).values.shape == (2, 256, 320)  # reading needs no zarr


def test_session_without_that_camera(one):
    with pytest.raises(errors.VideoNotFoundError, match=rf"{OTHER_EID}.*no left camera.*body"):
        ibl_xvideo.open_camera(OTHER_EID, "left", one=one)


def test_missing_timestamps(one_cache, tmp_path):
    sp = tmp_path / "subj" / "2020-01-01" / "001"
    shutil.copytree(one_cache / SESSION_REL / "raw_video_data", sp / "raw_video_data")
    with pytest.raises(errors.TimestampsNotFoundError, match=r"_ibl_bodyCamera\.times\.npy"):
        ibl_xvideo.open_camera(sp, "body")
    cam = ibl_xvideo.open_camera(sp, "body", timestamps=False)  # the documented way out
    assert cam.attrs["timestamps_policy"] == "frame/fps"


def test_count_mismatch_raises_with_both_counts(one):
    with pytest.raises(errors.TimestampsMismatchError, match=r"89 timestamps but 90 frames"):
        ibl_xvideo.open_camera(OTHER_EID, "body", one=one)


def test_count_mismatch_truncate_and_pad(one):
    cam = ibl_xvideo.open_camera(OTHER_EID, "body", one=one, on_mismatch="truncate")
    assert cam.sizes["time"] == 89 and cam.attrs["timestamps_policy"] == "truncate"
    assert cam.attrs["n_timestamps"] == 89 and cam.attrs["length"] == 90
    cam = ibl_xvideo.open_camera(OTHER_EID, "body", one=one, on_mismatch="pad")
    assert cam.sizes["time"] == 90 and cam.attrs["timestamps_policy"] == "pad"
    t = cam.time.values
    assert np.all(np.diff(t) > 0)
    assert t[-1] - t[-2] == pytest.approx(np.median(np.diff(t[:-1])))
    cam.isel(time=-1).values  # the padded time still maps to the last real frame


@pytest.mark.parametrize("bad", ["nan", "backwards"])
def test_invalid_timestamps(videos, bad):
    t = np.arange(300) / 30.0
    if bad == "nan":
        t[17] = np.nan
    else:
        t[[40, 41]] = t[[41, 40]]
    with pytest.raises(errors.InvalidTimestampsError, match="validate_times=False"):
        ibl_xvideo.open_camera(videos["bframes"], timestamps=t)
    cam = ibl_xvideo.open_camera(videos["bframes"], timestamps=t, validate_times=False)
    assert cam.sizes["time"] == 300


@pytest.mark.parametrize("bad, match", [
    ("inf", r"0 of 300 timestamps are NaN and 1 infinite \(the first at frame 17\)"),
    ("2-D", r"1-D array .* shape \(150, 2\)"),
    ("strings", r"must be numbers .* dtype <U"),
    ("empty", r"non-empty 1-D array .* shape \(0,\)"),
    ("ragged", r"not an array of numbers"),
])
def test_timestamps_that_are_not_one_number_per_frame(videos, bad, match):
    t = np.arange(300) / 30.0
    given = {"inf": np.where(np.arange(300) == 17, np.inf, t), "2-D": t.reshape(150, 2),
             "strings": t.astype(str), "empty": np.array([]), "ragged": [[0.0, 1.0], [2.0]]}[bad]
    with pytest.raises(errors.InvalidTimestampsError, match=match):
        ibl_xvideo.open_camera(videos["bframes"], timestamps=given)


def test_a_column_of_timestamps_is_one_per_frame(videos):
    t = np.arange(300) / 30.0
    cam = ibl_xvideo.open_camera(videos["bframes"], timestamps=t[:, None])
    np.testing.assert_array_equal(cam.time.values, t)


@pytest.mark.parametrize("content", ["empty", "garbage", "objects", "truncated"])
def test_timestamps_file_that_is_not_an_array_of_numbers(videos, tmp_path, content):
    f = tmp_path / "_ibl_bodyCamera.times.npy"
    if content == "empty":
        f.touch()
    elif content == "garbage":
        f.write_bytes(b"not a numpy file" * 10)
    elif content == "objects":
        np.save(f, np.array([0.0, "a", None], dtype=object), allow_pickle=True)
    else:
        np.save(f, np.arange(300) / 30.0)
        f.write_bytes(f.read_bytes()[:1000])
    with pytest.raises(errors.InvalidTimestampsError, match=rf"{f}.*(Re-download|timestamps=False)"):
        ibl_xvideo.open_camera(videos["bframes"], timestamps=f)


def test_corrupt_alf_timestamps_of_a_session_name_the_file(one_cache, tmp_path, one):
    sp = tmp_path / "subj" / "2020-01-01" / "001"
    shutil.copytree(one_cache / SESSION_REL, sp)
    (sp / "alf" / "_ibl_bodyCamera.times.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(errors.InvalidTimestampsError, match=r"_ibl_bodyCamera\.times\.npy.*Re-download"):
        ibl_xvideo.open_camera(sp, "body")
    # through ONE: the eid and the dataset are named
    f = one_cache / SESSION_REL / "alf" / "_ibl_bodyCamera.times.npy"
    good = f.read_bytes()
    try:
        f.write_bytes(good[:len(good) // 2])
        with pytest.raises(errors.InvalidTimestampsError, match=rf"_ibl_bodyCamera\.times\.npy.*{SESSION_EID}"):
            ibl_xvideo.open_camera(SESSION_EID, "body", one=one)
    finally:
        f.write_bytes(good)


def test_a_still_image_named_mp4_is_not_a_video(tmp_path):
    import imageio.v3 as iio

    f = tmp_path / "_iblrig_bodyCamera.raw.mp4"
    iio.imwrite(f, np.zeros((64, 64), np.uint8), extension=".png")
    with pytest.raises(errors.CorruptVideoError, match=rf"{f} is a still image"):
        ibl_xvideo.open_camera(f)


def test_not_a_video(tmp_path):
    f = tmp_path / "_iblrig_bodyCamera.raw.mp4"
    f.write_text("this is not a video\n" * 100)
    with pytest.raises(errors.CorruptVideoError, match=str(f)):
        ibl_xvideo.open_camera(f)


def test_zero_byte_file(tmp_path):
    f = tmp_path / "_iblrig_bodyCamera.raw.mp4"
    f.touch()
    with pytest.raises(errors.CorruptVideoError, match="0-byte"):
        ibl_xvideo.open_camera(f)


def test_truncated_mp4(videos, tmp_path):
    data = videos["bframes"].read_bytes()
    f = tmp_path / "truncated.mp4"
    f.write_bytes(data[: len(data) * 6 // 10])  # index (moov) at the end is lost
    with pytest.raises(errors.CorruptVideoError, match="truncated.mp4"):
        ibl_xvideo.open_camera(f)


def test_truncated_faststart_mp4(videos, tmp_path):
    fast = tmp_path / "fast.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(videos["bframes"]),
                    "-c", "copy", "-movflags", "+faststart", str(fast)], check=True)
    data = fast.read_bytes()
    f = tmp_path / "fast_truncated.mp4"
    f.write_bytes(data[: len(data) * 6 // 10])  # index intact, frames missing
    with pytest.raises(errors.CorruptVideoError, match="truncated"):
        ibl_xvideo.open_camera(f)


def test_missing_file_and_bad_source(tmp_path):
    with pytest.raises(errors.VideoNotFoundError, match="nope.mp4"):
        ibl_xvideo.open_camera(tmp_path / "nope.mp4")


def test_frame_out_of_range(videos):
    index = ibl_xvideo.get_index(videos["bframes"])
    with pytest.raises(IndexError, match="out of range"):
        ibl_xvideo.read_frames(index, [300])


def test_bad_options(videos):
    with pytest.raises(errors.InvalidOptionError, match="pixels must be one of 'ibllib', 'luma'; got 'rgb'"):
        ibl_xvideo.open_camera(videos["bframes"], pixels="rgb")
    with pytest.raises(errors.InvalidOptionError, match="on_mismatch must be one of 'raise', 'truncate', 'pad'"):
        ibl_xvideo.open_camera(videos["bframes"], timestamps=np.arange(10.0), on_mismatch="zeros")


@pytest.mark.parametrize("option", [dict(on_mismatch="bogus"), dict(pixels=None), dict(chunks="big"),
                                    dict(chunks=True), dict(threads=0), dict(threads=1.5)])
def test_options_are_checked_on_entry_even_where_they_would_not_be_used(videos, tmp_path, option):
    # the timestamps agree with the frames (on_mismatch unused), a cache is asked for (the cache path)
    t = np.arange(300) / 30.0
    with pytest.raises(errors.InvalidOptionError, match=f"{next(iter(option))} must be"):
        ibl_xvideo.open_camera(videos["bframes"], timestamps=t, **option)
    with pytest.raises(errors.InvalidOptionError):
        ibl_xvideo.open_camera(videos["bframes"], timestamps=t, cache=tmp_path / "c.zarr", **option)
    assert not (tmp_path / "c.zarr").exists()


def test_unreachable_server_is_a_typed_error_without_credentials():
    with pytest.raises(errors.RemoteError) as info:  # nothing listens on the discard port of loopback
        ibl_xvideo.open_camera("http://user:secret@127.0.0.1:9/_iblrig_bodyCamera.raw.mp4",
                               storage_options={"retries": 0})
    assert "secret" not in str(info.value)


def _damaged_copy(src, dst):
    """A copy of ``src`` with a few bits of frame data flipped that the decoder conceals; and the frames it flags."""
    import av

    data = src.read_bytes()
    for seed in range(1, 40):
        d = bytearray(data)
        for o in np.random.default_rng(seed).integers(len(d) // 4, 3 * len(d) // 4, 3):
            d[o] ^= 0x10
        dst.write_bytes(bytes(d))
        flagged = []
        try:
            with av.open(str(dst)) as c:
                flagged = [n for n, f in enumerate(c.decode(c.streams.video[0])) if f.is_corrupt]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ibl_xvideo.open_camera(dst, chunks=None).values  # (other flips lose frames: a DecodeError)
        except (av.FFmpegError, errors.DecodeError):
            continue
        if flagged:
            return flagged
    pytest.skip("no bit flip gave a concealed frame")


def test_concealed_frames_are_reported_not_passed_off_as_clean(videos, tmp_path):
    video = tmp_path / "damaged.mp4"
    flagged = _damaged_copy(videos["bframes"], video)  # the frames FFmpeg itself flags, decoding all in order
    with pytest.warns(ibl_xvideo.engine.decode.DamagedFramesWarning, match=rf"{video}: the decoder flagged \d+ "
                                                                    r"frame\(s\) .* as concealed"):
        ibl_xvideo.open_camera(video, chunks=None).values
    for f in flagged:  # each is an error when asked for alone, strictly
        with pytest.raises(errors.DecodeError, match=rf"flagged \d+ frame\(s\) \(.*{f}.* as concealed"):
            ibl_xvideo.open_camera(video, strict=True).isel(time=[f]).values
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # frames of an undamaged group read without a word
        ibl_xvideo.open_camera(video, strict=True).isel(time=[0, 1, 2]).values


def test_timestamp_errors_are_one_family():
    from ibl_xvideo import errors

    for cls in (errors.TimestampsNotFoundError, errors.TimestampsMismatchError, errors.InvalidTimestampsError):
        assert issubclass(cls, errors.TimestampsError) and issubclass(cls, errors.XVideoError)
    # and they keep the builtin bases users catch
    assert issubclass(errors.TimestampsNotFoundError, FileNotFoundError)
    assert issubclass(errors.TimestampsMismatchError, ValueError)


BAD_OPTIONS = {  # every option checked on entry, the allowed values in the message, before any work
    "chunks": (lambda v, s: ibl_xvideo.open_camera(v, chunks=-5, timestamps=False), "positive frame counts"),
    "n_samples": (lambda v, s: ibl_xvideo.qc.camera_qc(v, "body", n_samples=0), "at least 1"),
    "kind": (lambda v, s: ibl_xvideo.qc.camera_qc(v, "body", kind="rig"), "'training', 'ephys'"),
    "samples": (lambda v, s: ibl_xvideo.qc.camera_qc(v, "body", samples="some"), "'exact', 'keyframes'"),
    "full_measures": (lambda v, s: ibl_xvideo.qc.camera_qc(v, "body", full=True, full_measures=["sharpness"]),
                      "brightness, hist_corr"),
    "batch kind": (lambda v, s: ibl_xvideo.qc.batch_qc([v], kind="rig"), "'training', 'ephys'"),
    "shard_frames": (lambda v, s: ibl_xvideo.to_zarr(ibl_xvideo.open_camera(v), s, shard_frames=0), "at least 1"),
    "compressors": (lambda v, s: ibl_xvideo.to_zarr(ibl_xvideo.open_camera(v), s, compressors="zip"),
                    "bytes-to-bytes codecs"),
    "roi": (lambda v, s: ibl_xvideo.to_zarr(ibl_xvideo.open_camera(v), s, roi="top half"), "y0:y1,x0:x1"),
}


@pytest.mark.parametrize("option", BAD_OPTIONS)
def test_bad_options_are_refused_on_entry(option, videos, tmp_path):
    if option in ("shard_frames", "compressors", "roi"):
        pytest.importorskip("zarr", minversion="3")
    call, allowed = BAD_OPTIONS[option]
    with pytest.raises(errors.InvalidOptionError, match=allowed):
        call(str(videos["bframes"]), tmp_path / "store.zarr")
    assert not (tmp_path / "store.zarr").exists()  # nothing written


def test_a_mistyped_eid_is_told_of_the_demo(tmp_path, monkeypatch):
    from ibl_xvideo.io import sources

    monkeypatch.setenv("HOME", str(tmp_path))  # no ONE settings on this "computer"
    monkeypatch.setenv("IBL_XVIDEO_DEMO_DIR", str(tmp_path / "no_demo"))
    typo = sources.DEMO_EID[:-1] + ("b" if sources.DEMO_EID[-1] != "b" else "c")
    with pytest.raises(errors.SessionNotFoundError, match=rf"Did you mean the built-in demo's session "
                                                          rf"{sources.DEMO_EID}"):
        ibl_xvideo.open_camera(typo, "body")
    with pytest.raises(errors.SessionNotFoundError, match=r"built-in demo's session is"):
        ibl_xvideo.open_camera("0c3d1e3a-1111-4b1e-9a44-5d4b2f3a9c01", "body")
    with pytest.raises(errors.SessionNotFoundError, match=r"It is the built-in demo's session, not built"):
        ibl_xvideo.open_camera(sources.DEMO_EID, "body")
