"""ibllib's own camera-QC unit tests, run with our checks answering.

ibllib ships its tests (``ibllib/tests/qc/test_camera_qc.py``). Each test builds a
``CameraQC``, sets its ``data`` and calls ``check_<name>``. Here the module's
``CameraQC`` is replaced by :class:`OurCameraQC`, whose every ``check_<name>`` (and
``get_active_wheel_period``) takes the same inputs from ``self.data`` and answers with
``ibl_xvideo.qc.check_<name>``: ibllib's code computes nothing. Three things are adapted,
none of them an answer:

* ibllib's tests read some values back from the figures ``display=True`` draws
  (brightness, the focus measures, the histogram correlations, the pin-state fronts).
  :class:`OurCameraQC` draws figures with ibllib's layout from *our* values.
* ``ONE(**TEST_DB)`` would reach IBL's test Alyx over the internet: here it is a real
  ``one.api.One`` in local mode on an empty cache (the tests never ask it anything).
* ibllib's tests listen for warnings on the ``ibllib`` logger: ours, logged on
  ``ibl_xvideo``, are forwarded to it while the tests run.

Runs with the parity extra (``pip install -e '.[parity]'``); skipped otherwise.
"""

from __future__ import annotations

import logging
import unittest

import numpy as np
import pytest

own = pytest.importorskip("ibllib.tests.qc.test_camera_qc")

import matplotlib.pyplot as plt  # noqa: E402
from ibllib.qc.camera import CameraQC  # noqa: E402
from one.alf.spec import QC  # noqa: E402
from one.api import One  # noqa: E402

from ibl_xvideo import open_camera, qc  # noqa: E402
from ibl_xvideo.qc.checks import EXPECTED  # noqa: E402

pytestmark = pytest.mark.parity


def _video(data, key):
    v = data.get("video")
    return None if v is None else v.get(key)


class OurCameraQC(CameraQC):
    """ibllib's CameraQC (its data loading and bookkeeping) with ibl-xvideo's checks."""

    def _expected(self, key):
        return EXPECTED.get(self.type or "", {}).get(self.label, {}).get(key)

    def check_brightness(self, bounds=(40, 200), max_std=20, roi=True, display=False):
        frames = self.data["frame_samples"]
        if frames is None:
            return qc.check_brightness(None)
        brightness = np.asarray(qc.frame_brightness(np.asarray(frames), self.label, roi))
        if display:  # ibllib's layout: the brightness per sample, then the brightest and darkest samples
            f = plt.figure()
            gs = f.add_gridspec(2, 3)
            ax = f.add_subplot(gs[:2, :2])
            ax.plot(self.frame_samples_idx, brightness, label="brightness")
            for i, j in enumerate((np.argmax(brightness), np.argmin(brightness))):
                f.add_subplot(gs[i, 2]).imshow(np.asarray(frames)[j], cmap="gray")
        return qc.check_brightness(label=self.label, n_samples=self.n_samples, bounds=bounds, max_std=max_std,
                                   brightness=brightness)

    def check_file_headers(self):
        return qc.check_file_headers(_video(self.data, "fps"), self._expected("fps"))

    def check_framerate(self, threshold=1.0):
        return qc.check_framerate(self.data["timestamps"], self._expected("fps"), threshold)

    def check_pin_state(self, display=False):
        pin_state, audio = self.data["pin_state"], self.data["audio"]
        result = qc.check_pin_state(pin_state, audio, _video(self.data, "length"))
        if display and result is not QC.NOT_SET:
            low2high = np.insert(np.diff(pin_state[:, -1].astype(int)) == 1, 0, False)
            plt.plot(self.data["timestamps"][low2high], np.zeros(low2high.sum()), "o")
            plt.plot(audio, np.zeros(audio.size), "rx")
        return result

    def check_dropped_frames(self, threshold=0.1):
        return qc.check_dropped_frames(self.data["count"], _video(self.data, "length"), threshold)

    def check_timestamps(self):
        return qc.check_timestamps(self.data["timestamps"], _video(self.data, "length"))

    def check_camera_times(self):
        return qc.check_camera_times(self.data["camera_times"], _video(self.data, "length"),
                                     self.data["bonsai_times"])

    def check_resolution(self):
        return qc.check_resolution(_video(self.data, "width"), _video(self.data, "height"),
                                   self._expected("width"), self._expected("height"))

    @staticmethod
    def get_active_wheel_period(wheel, duration_range=(3.0, 20.0), display=False):
        return qc.active_wheel_period(wheel["timestamps"], wheel["position"], duration_range)

    def check_wheel_alignment(self, tolerance=(1, 2), display=False):
        wheel = self.data["wheel"]
        if wheel is None or any(wheel.get(k) is None for k in ("position", "timestamps", "period")):
            return QC.NOT_SET
        times = self.data["timestamps"]
        outcome = qc.check_wheel_alignment(times, wheel["timestamps"], wheel["period"], self.label, offset=0,
                                           tolerance=tolerance)
        if outcome in (QC.NOT_SET, QC.FAIL):  # no camera time in the period: nothing to align
            return outcome
        camera = open_camera(self.video_path, times=times)
        offset, *_ = qc.align_motion(camera, wheel["timestamps"], wheel["position"], wheel["period"], self.label)
        return qc.check_wheel_alignment(times, wheel["timestamps"], wheel["period"], self.label, offset=offset,
                                        tolerance=tolerance)

    def _focus_frames(self, test):
        return self.load_reference_frames(self.label) if test else self.data["frame_samples"]

    def check_position(self, hist_thresh=(75, 80), pos_thresh=(10, 15), metric=None, display=False, test=False,
                       roi=None, pct_thresh=True):
        refs = self.load_reference_frames(self.label)
        frames = self._focus_frames(test)
        result = qc.check_position(frames, self.label, refs, hist_thresh=hist_thresh, pos_thresh=pos_thresh,
                                   test=test, roi=roi, pct_thresh=pct_thresh)
        if display and result is not QC.NOT_SET:
            # ibllib's layout: a frame, the histograms, then the correlation with its two thresholds
            ref_h = qc.imgproc.calc_hist(refs[0])
            corr = np.array([qc.imgproc.compare_hist_correl(qc.imgproc.calc_hist(f), ref_h) for f in frames])
            corr = corr * 100 if pct_thresh else corr
            plt.figure()
            plt.subplot(221).imshow(frames[0], cmap="gray")
            plt.subplot(212).plot(ref_h[5:-1])
            ax = plt.subplot(222)
            ax.plot(corr)
            for t in np.sort(hist_thresh):
                ax.axhline(t, linestyle=":")
        return result

    def check_focus(self, n=20, threshold=(100, 6), roi=False, display=False, test=False, equalize=True):
        refs = self.load_reference_frames(self.label)
        frames = self.data["frame_samples"]
        result = qc.check_focus(frames, self.label, refs, n=n, threshold=threshold,
                                roi=roi, test=test, equalize=equalize,
                                return_measures=True)
        if result is QC.NOT_SET:
            return result
        outcome, lpc_var, filt_mean = result
        if display:  # ibllib's layout: the blurred frames, then each measure on a figure's fourth axes
            if test:
                kernels = np.unique(np.linspace(0, 15, n, dtype=int))
                _, axes = plt.subplots(1, len(kernels))
                for ax, k in zip(axes, kernels):
                    ax.imshow(refs[0] if k == 0 else qc.imgproc.box_blur(refs[0], int(k)), cmap="gray")
            for measure in (lpc_var, filt_mean):
                f = plt.figure()
                for i in range(3):
                    f.add_subplot(2, 3, i + 1)
                f.add_subplot(2, 1, 2).plot(measure)
        return outcome


class _ToIbllib(logging.Handler):
    """Our checks' log records, re-logged on the logger ibllib's tests listen to."""

    def emit(self, record):
        logging.getLogger("ibllib").handle(record)


class _LocalONE:
    """``ONE(**TEST_DB)`` without the internet: a real local-mode One on an empty cache."""

    cache_dir = None

    def __new__(cls, **_):
        return One(cache_dir=cls.cache_dir, mode="local")

    @staticmethod
    def cache_clear():
        pass


NAMES = unittest.TestLoader().getTestCaseNames(own.TestCameraQC)


def test_every_test_of_ibllib_is_run():
    # ibllib's 12 check tests (and get_task_collection, which is not a check): none is left out
    checks = [n for n in NAMES if n != "test_get_task_collection"]
    assert len(checks) == 12, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_ibllib_camera_qc_test_with_our_checks(name, monkeypatch, tmp_path):
    _LocalONE.cache_dir = tmp_path / "one"
    _LocalONE.cache_dir.mkdir()
    monkeypatch.setattr(own, "CameraQC", OurCameraQC)
    monkeypatch.setattr(own, "ONE", _LocalONE)
    forward = _ToIbllib()
    ours = logging.getLogger("ibl_xvideo")
    ours.addHandler(forward)
    try:
        result = unittest.TestResult()
        unittest.TestSuite([own.TestCameraQC(name)]).run(result)
    finally:
        ours.removeHandler(forward)
        plt.close("all")
    problems = [text for _, text in result.errors + result.failures]
    assert result.testsRun == 1 and not problems and not result.skipped, "\n".join(problems)
