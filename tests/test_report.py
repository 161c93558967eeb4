"""The session report page: every camera's QC as pictures, checked in a real headless browser."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest

from ibl_xvideo.cli import main
from ibl_xvideo.demo import DEMO_EID, DEMO_SESSION, build_demo

pytestmark = pytest.mark.slow

#: a small demo: the left camera with its DLC output, the right one with its dropped frames
CAMERAS = {"left": (320, 256, 60, 24.0), "right": (320, 256, 150, 12.0)}
#: Chromium without a profile, a GPU or any background connection (this machine's network is closed)
CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("matplotlib")
    tmp = tmp_path_factory.mktemp("report")
    root = build_demo(tmp / "cache", cameras=CAMERAS, progress=False)
    (root / DEMO_SESSION / "alf" / "_ibl_rightCamera.dlc.pqt").unlink()  # a camera without DLC output
    out = tmp / "report.html"
    assert main(["report", DEMO_EID, "--one-cache", str(root), "-o", str(out), "--no-refs"]) == 0
    return out


def test_the_page_holds_every_camera_s_qc(report):
    page = report.read_text()
    for label in CAMERAS:
        assert f"<h2>{label} camera:" in page
    assert "15 frames were dropped" in page  # the right camera's fault, with its reason
    assert "320x256" in page  # the small demo's resolution FAIL says both sizes
    assert page.count("How sure DLC is") == 1 and "No pose" in page  # left: its points; right: none
    # per camera the QC figure, its samples, the frame intervals, and the DLC points where there are some
    assert len(re.findall(r'<img alt="" src="data:image/png;base64,', page)) == 4 + 3
    assert "http://" not in page and "https://" not in page  # self-contained
    for label in CAMERAS:  # each section opens with its summary: the outcome and the checks that did not run
        assert re.search(rf"<h2>{label} camera: .*</h2><p>{label} camera of {DEMO_EID}: ", page)


def test_a_camera_that_cannot_be_judged_has_its_error_in_its_section(tmp_path):
    """The report is written whatever one camera holds: a camera with no timestamps, another with a video
    that is not one; only a page that cannot be written stops it (one typed line)."""
    root = build_demo(tmp_path / "cache", cameras={"left": (160, 128, 60, 4.0), "body": (160, 128, 30, 4.0)},
                      progress=False)
    (root / DEMO_SESSION / "alf" / "_ibl_leftCamera.times.npy").unlink()
    (root / DEMO_SESSION / "alf" / "_ibl_leftCamera.dlc.pqt").write_bytes(b"PAR1 truncated")  # a damaged table
    (root / DEMO_SESSION / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4").write_bytes(b"not a video" * 100)
    out = tmp_path / "r.html"
    assert main(["report", DEMO_EID, "--one-cache", str(root), "-o", str(out), "--no-refs"]) == 0
    page = out.read_text()
    assert "<h2>body camera: <span class=\"CRITICAL\">ERROR</span></h2>" in page and "CorruptVideoError" in page
    assert "left camera of" in page and "no check ran" in page and "timestamps" in page
    assert "No pose: " in page and "cannot be read as a Parquet table" in page
    with pytest.raises(SystemExit, match="does not exist"):  # one line, no traceback
        main(["report", DEMO_EID, "--one-cache", str(root), "-o", str(tmp_path / "no" / "r.html")])


def _chromium(*args, tmp):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("no Chromium on this machine (.ci/run installs Debian's)")
    return subprocess.run([exe, *CHROMIUM, f"--user-data-dir={tmp}", "--virtual-time-budget=10000", *args],
                          capture_output=True, text=True, timeout=120)


def test_the_page_opens_in_a_browser(report, tmp_path):
    import imageio.v3 as iio

    n = len(re.findall(r"<img ", report.read_text()))
    dom = _chromium("--dump-dom", report.as_uri(), tmp=tmp_path / "a")
    assert f'data-images="decoded {n}"' in dom.stdout  # every image decoded (the page checks on load)
    shot = tmp_path / "shot.png"
    run = _chromium("--enable-logging=stderr", "--v=0", "--window-size=1200,2400", f"--screenshot={shot}",
                    report.as_uri(), tmp=tmp_path / "b")
    assert "CONSOLE" not in run.stderr, run.stderr  # no console message at all, errors included
    picture = iio.imread(shot)
    assert picture.shape[:2] == (2400, 1200) and np.asarray(picture, float).std() > 20  # not blank


def test_a_report_into_a_missing_folder_is_refused_first(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        main(["report", DEMO_EID, "-o", str(tmp_path / "missing" / "r.html")])
