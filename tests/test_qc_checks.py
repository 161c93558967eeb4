"""The eleven QC checks: ibllib's expected values, and the image operations against OpenCV."""

from __future__ import annotations

import numpy as np
import pytest
from one.alf.spec import QC

from ibl_xvideo import qc
from ibl_xvideo.qc import imgproc

cv2 = pytest.importorskip("cv2")


# ------------------------------------------------------------- data checks
def test_framerate():
    ts = np.arange(0, 10, 0.0167)
    assert qc.check_framerate(ts, 60) == (QC.PASS, 59.88)
    assert qc.check_framerate(ts, 60, threshold=1e-2)[0] == QC.FAIL
    assert qc.check_framerate(None, 60) == QC.NOT_SET


def test_dropped_frames():
    count = np.arange(20)
    assert qc.check_dropped_frames(count, 20) == (QC.PASS, 0, 0)
    count = np.r_[count, 26]
    assert qc.check_dropped_frames(count, 20) == (QC.FAIL, 6, 1)
    assert qc.check_dropped_frames(count, 20, threshold=70)[0] == QC.WARNING
    shuffled = np.random.default_rng(0).permutation(count)
    assert qc.check_dropped_frames(shuffled, 20) == QC.CRITICAL
    assert qc.check_dropped_frames(None, 20) == QC.NOT_SET


def test_pin_state():
    n = 100
    pin = np.zeros((n, 4), bool)
    pin[30:35, -1] = True  # one 5-frame TTL
    audio = np.array([1.0, 1.1])  # its rising and falling fronts
    assert qc.check_pin_state(pin, audio, n) == (QC.PASS, 0, 0)
    assert qc.check_pin_state(pin, audio, n - 3) == (QC.WARNING, 0, 3)
    assert qc.check_pin_state(pin[:5], audio, 10) == (QC.FAIL, 1, -5)
    many = np.r_[audio, np.arange(20.0)]  # 10 more TTLs than the pin saw
    assert qc.check_pin_state(pin, many, n) == (QC.WARNING, 10, 0)
    high0 = pin.copy()
    high0[0, -1] = True  # a pin high at frame 0 is not a rising edge
    assert qc.check_pin_state(high0, audio, n)[1] == 0


def test_timestamps_and_resolution_and_headers():
    assert qc.check_timestamps(np.arange(1000) * 0.0167, 1000) == QC.PASS
    assert qc.check_timestamps(np.arange(100) * 0.0333, 1000) == QC.FAIL
    ts = np.arange(1000) * 0.0167
    ts[5] = np.nan
    assert qc.check_timestamps(ts, 1000) == QC.FAIL
    assert qc.check_resolution(1280, 1024, 1280, 1024) == QC.PASS
    assert qc.check_resolution(150, 1024, 1280, 1024) == QC.FAIL
    assert qc.check_file_headers(60, 60) == QC.PASS
    assert qc.check_file_headers(150, 60) == QC.FAIL
    assert qc.check_file_headers(None, 60) == QC.NOT_SET


def test_camera_times_from_rig_ssv(tmp_path):
    from ibl_xvideo.qc.raw import load_camera_ssv_times

    rv = tmp_path / "raw_video_data"
    rv.mkdir()
    n = 600
    secs = 69.466875 + np.arange(n) / 30
    cyc = ((secs.astype(int) % 128) << 25) | ((np.round((secs % 1) * 8000).astype(int)) << 12)
    local = np.datetime64("2020-08-19T17:42:57.790361600") + (np.arange(n) * 1e9 / 30).astype("timedelta64[ns]")
    lines = [f"{t}+01:00 {c}" for t, c in zip(local.astype(str), cyc)]
    (rv / "_iblrig_bodyCamera.timestamps.ssv").write_text("\n".join(lines) + "\n")
    bonsai, cam = load_camera_ssv_times(tmp_path, "body")
    assert str(bonsai[0]).startswith("2020-08-19T16:42:57.790361")  # offset converted to UTC
    np.testing.assert_allclose(cam, secs, atol=1 / 8000)
    assert qc.check_camera_times(cam, n, bonsai) == (QC.PASS, 0)
    assert qc.check_camera_times(cam, n - 14, bonsai) == (QC.WARNING, 14)
    assert qc.check_camera_times(cam, n, None) == QC.NOT_SET


def test_wheel_alignment_outcomes():
    cam_t = np.arange(0, 100, 1 / 60)
    wheel_t = np.arange(0, 100, 0.001)
    assert qc.check_wheel_alignment(cam_t, wheel_t, np.array([10, 15]), "left", offset=0) == (QC.PASS, 0)
    assert qc.check_wheel_alignment(cam_t, wheel_t, np.array([10, 15]), "left", offset=2) == (QC.WARNING, 2)
    # beyond both tolerances: a warning, as ibllib since August 2022 ("0: FAIL -> WARNING")
    assert qc.check_wheel_alignment(cam_t, wheel_t, np.array([10, 15]), "left", offset=-5) == (QC.WARNING, -5)
    assert qc.check_wheel_alignment(cam_t, wheel_t, np.array([10, 15]), "body", offset=0) == QC.NOT_SET
    # period outside the video but wheel and video overlap: NOT_SET; no overlap: FAIL
    assert qc.check_wheel_alignment(cam_t[:600], wheel_t, np.array([50, 55]), "left", offset=0) == QC.NOT_SET
    assert qc.check_wheel_alignment(cam_t + 500, wheel_t, np.array([50, 55]), "left", offset=0) == QC.FAIL
    assert qc.check_wheel_alignment(cam_t, wheel_t, None, "left") == QC.NOT_SET


def test_overall_outcome():
    assert qc.overall_outcome(["PASS", QC.WARNING, None, float("nan"), 10]) == QC.WARNING
    assert qc.overall_outcome([QC.FAIL, QC.PASS], agg=min) == QC.PASS
    with pytest.raises(ValueError):
        qc.overall_outcome([None])


# ------------------------------------------------------------ frame checks
def _frames(n=10, mean=100.0, h=512, w=640, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(mean, 10, (n, h, w)), 0, 255).astype(np.uint8)


def test_brightness():
    assert qc.check_brightness(_frames(mean=100), "body") == QC.PASS
    assert qc.check_brightness(_frames(mean=30), "body") == QC.WARNING  # below 40, above 20
    assert qc.check_brightness(_frames(mean=10), "body") == QC.FAIL
    assert qc.check_brightness(_frames(mean=100), "body", bounds=(10, 20)) == QC.FAIL
    assert qc.check_brightness(_frames(mean=100), "body", max_std=1e-6) == QC.FAIL
    # ibllib divides by n_samples, not by the number of frames
    assert qc.check_brightness(_frames(n=3, mean=100), "left", n_samples=1000) == QC.FAIL
    assert qc.check_brightness(None, "left") == QC.NOT_SET
    f = np.zeros((2, 512, 640), np.uint8)
    f[:, :, 320:] = 90  # only the body ROI (right half) is bright
    np.testing.assert_allclose(qc.frame_brightness(f, "body"), 90)
    np.testing.assert_allclose(qc.frame_brightness(f, "left"), 90 * (422 - 320) / 422)


def test_pairwise_histogram_and_lookup_equal_numpy():
    """hist256 and apply_lut on even, odd, cropped (non-contiguous) and offset images."""
    rng = np.random.default_rng(3)
    big = rng.integers(0, 256, (65, 131), dtype=np.uint8)
    lut = rng.integers(0, 256, 256).astype(np.uint8)
    for img in (big[:64, :130], big, big[1:, 1:], big[3:40, 5:77], big.ravel()[1:129].reshape(8, 16),
                np.zeros((0, 4), np.uint8), np.full((4, 6), 255, np.uint8)):
        assert np.array_equal(imgproc.hist256(img), np.bincount(img.ravel(), minlength=256))
        assert imgproc.hist256(img).dtype == np.int64
        assert np.array_equal(imgproc.apply_lut(lut, img), lut[img])
    out = np.empty((64, 130), np.uint8)
    assert imgproc.apply_lut(lut, big[:64, :130], out) is out and np.array_equal(out, lut[big[:64, :130]])


@pytest.mark.parametrize("seed", [0, 1])
def test_imgproc_matches_opencv(seed):
    rng = np.random.default_rng(seed)
    base = np.kron(rng.integers(30, 220, (32, 40)), np.ones((16, 16))).astype(np.uint8)
    img = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    assert np.array_equal(imgproc.equalize_hist(img), cv2.equalizeHist(img))
    assert np.array_equal(imgproc.laplacian(img), cv2.Laplacian(img, cv2.CV_16S, ksize=1))
    h1 = imgproc.calc_hist(img)
    assert np.array_equal(h1, cv2.calcHist([img], [0], None, [256], [0, 256]).ravel())
    img2 = np.roll(img, 7, axis=1)
    h2 = cv2.calcHist([img2], [0], None, [256], [0, 256])
    assert imgproc.compare_hist_correl(h1, h2.ravel()) == pytest.approx(
        cv2.compareHist(cv2.calcHist([img], [0], None, [256], [0, 256]), h2, cv2.HISTCMP_CORREL), abs=1e-9)
    tpl = img[100:230, 150:400]
    ours = imgproc.match_template(img2, tpl)
    theirs = cv2.matchTemplate(img2, tpl, cv2.TM_CCOEFF_NORMED)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, atol=2e-4)
    assert np.unravel_index(ours.argmax(), ours.shape) == np.unravel_index(theirs.argmax(), theirs.shape)
    # the left camera's face template (over 2**32 / 255**2 pixels: int64 window sums), odd image sizes
    # bright, so that the squared sums exceed 2**32
    big = np.kron(rng.integers(170, 250, (40, 50)), np.ones((13, 13))).astype(np.uint8)[:517, :643]
    big = np.clip(big + rng.normal(0, 6, big.shape), 0, 255).astype(np.uint8)
    for tpl in (big[45:346, 138:501], big[141:272, 90:339]):
        ours = imgproc.match_template(np.roll(big, (3, -5), axis=(0, 1)), tpl)
        theirs = cv2.matchTemplate(np.roll(big, (3, -5), axis=(0, 1)), tpl, cv2.TM_CCOEFF_NORMED)
        np.testing.assert_allclose(ours, theirs, atol=2e-4)
        assert np.unravel_index(ours.argmax(), ours.shape) == np.unravel_index(theirs.argmax(), theirs.shape)
    for k in range(2, 17):  # every kernel the focus check's test mode uses (0-15), and 16
        for image in (img, big, np.roll(big, 1, axis=1)[:97, :131]):
            assert np.array_equal(imgproc.box_blur(image, k), cv2.blur(image, (k, k))), k


def _cv_highpass(frame):
    h, w = frame.shape
    mask = np.ones((h, w, 2), bool)
    mask[h // 2 - 60:h // 2 + 60, w // 2 - 60:w // 2 + 60] = False
    dft = cv2.dft(np.float32(frame), flags=cv2.DFT_COMPLEX_OUTPUT)
    f = cv2.idft(np.fft.ifftshift(np.fft.fftshift(dft) * mask))
    mag = cv2.magnitude(f[..., 0], f[..., 1])
    return cv2.normalize(mag, None, alpha=0, beta=256, norm_type=cv2.NORM_MINMAX, dtype=cv2.CV_8U).mean()


def test_highpass_mean_matches_opencv():
    for f in _frames(n=3, mean=120, h=256, w=320):
        assert imgproc.highpass_mean(f) == pytest.approx(_cv_highpass(f), abs=0.05)


@pytest.mark.parametrize("shape", [(512, 640), (257, 321), (121, 300), (300, 122)])
def test_highpass_magnitude_equals_the_masked_full_dft(shape):
    """The pruned transform (band from a few columns, symmetric part + rank-one edges) is the full DFT's."""
    f = np.random.default_rng(sum(shape)).integers(0, 256, shape).astype(np.float32)
    h, w = shape
    F = np.fft.fft2(f.astype(np.float64))
    F[np.ix_(np.r_[0:60, h - 60:h], np.r_[0:60, w - 60:w])] = 0
    full = np.abs(np.fft.ifft2(F))
    np.testing.assert_allclose(imgproc._highpass_magnitude(f, 60), full, rtol=0, atol=1e-5 * full.max())


def _scene(h=512, w=640, shift=(0, 0), seed=3):
    rng = np.random.default_rng(seed)
    img = np.kron(rng.integers(20, 230, (h // 8 + 2, w // 8 + 2)), np.ones((8, 8)))[:h, :w]
    return np.roll(img.astype(np.uint8), shift, axis=(0, 1))


def test_position_and_focus_on_synthetic_frames():
    refs = _scene()[None]
    same = np.stack([_scene() for _ in range(4)])
    assert qc.check_position(same, "body", refs) == QC.PASS
    moved = np.stack([_scene(shift=(60, 90)) for _ in range(4)])
    # the face moved by 90 px in x (>15% of the 512 px height: ibllib divides x by h) but
    # the histograms still correlate: the better part wins
    assert qc.check_position(moved, "body", refs) == QC.PASS
    top_left, roi, _ = qc.find_face(moved, "body", refs)
    assert top_left[0] == (90 + 90, 141 + 60)
    dark = (same // 4).astype(np.uint8)
    assert qc.check_position(np.roll(dark, (60, 90), axis=(1, 2)), "body", refs) == QC.FAIL
    assert qc.check_position(same, "body", None) == QC.NOT_SET
    sharp = qc.check_focus(same, "body", refs, return_measures=True)
    assert sharp[0] == QC.PASS
    blurred = np.stack([cv2.blur(f, (15, 15)) for f in same])
    out, lpc, filt = qc.check_focus(blurred, "body", refs, roi=None, return_measures=True)
    assert np.all(lpc < sharp[1].min()) and np.all(filt < sharp[2].min())
    assert qc.check_focus(blurred, "body", refs, roi=None, equalize=False) == QC.FAIL


def test_focus_test_mode_decreases_with_blur():
    refs = _scene()[None]
    out, lpc, filt = qc.check_focus(None, "body", refs, test=True, return_measures=True)
    assert out == QC.PASS
    # frames are in reverse blur order: the Laplacian variance grows as the blur shrinks
    assert np.all(np.diff(lpc[:, 0]) >= 0)
