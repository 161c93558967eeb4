"""A session's report page: one self-contained HTML file with every camera's QC as pictures.

``ibl-xvideo report SESSION -o report.html`` (or :func:`session_report`) runs the
camera QC of each camera (with the brightness of every frame) and writes, per camera:
the outcome and each check's value and reason, the QC figure (brightness over the
video, focus, face position against the reference frames, the brightest and darkest
samples), a montage of the QC's sample frames, the frame intervals with the frames
the camera's counter says it dropped, and, when DLC outputs exist, how sure DLC is of
each point. Pictures are embedded as PNG data, so the page opens anywhere.
"""

from __future__ import annotations

import base64
import errno
import html
import io
import os
from pathlib import Path

import numpy as np

from .camera import open_camera
from .errors import OutputWriteError, TimestampsError, VideoNotFoundError, XVideoError
from .figures import pyplot
from .io.fileio import written
from .io.remote import redact_text
from .io.sources import session_labels
from .pose import load_pose
from .qc import camera_qc

__all__ = ["session_report"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1400px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.5em 0 1em; }
td, th { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
.PASS { color: #1a7f37; font-weight: bold; } .WARNING { color: #9a6700; font-weight: bold; }
.FAIL, .CRITICAL { color: #cf222e; font-weight: bold; } .NOT_SET { color: #6e7781; }
img { max-width: 100%; display: block; margin: 0.5em 0; }
"""

#: Checks that all images decoded; the page's own test reads ``data-images`` on the body.
_CHECK_IMAGES = """
<script>
window.addEventListener("load", function () {
  var bad = Array.from(document.images).filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
  document.body.dataset.images = bad.length ? "failed " + bad.length : "decoded " + document.images.length;
  if (bad.length) { console.error(bad.length + " image(s) of this report do not decode"); }
});
</script>
"""

def _png(fig) -> str:
    """A figure as an ``<img>`` with its PNG inline."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    pyplot(buf).close(fig)  # (Agg: the page is written, never shown)
    return f'<img alt="" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _outcome(value) -> str:
    if isinstance(value, Exception):
        return '<span class="CRITICAL">ERROR</span>'
    value = getattr(value, "outcome", value)
    name = value[0].name if isinstance(value, tuple) else getattr(value, "name", str(value))
    return f'<span class="{name}">{name}</span>'


def _samples_montage(res, n: int = 8):
    plt = pyplot(io.BytesIO())
    samples = res.samples
    picks = np.unique(np.linspace(0, len(samples) - 1, n).round().astype(int))
    frames = res.measures["sample_frame"].values
    fig, axes = plt.subplots(1, len(picks), figsize=(2.4 * len(picks), 2.4 * samples.shape[1] / samples.shape[2]),
                             squeeze=False, layout="constrained")
    for ax, k in zip(axes[0], picks):
        ax.imshow(samples[k], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"frame {int(frames[k])}", fontsize=8)
        ax.set_axis_off()
    return fig


def _intervals(times: np.ndarray, measures, label: str):
    plt = pyplot(io.BytesIO())
    fig, ax = plt.subplots(figsize=(10, 2.6), layout="constrained")
    dt = np.diff(times) * 1000
    ax.plot(np.arange(1, times.size), dt, lw=0.6)
    if "dropped_after" in measures and measures["dropped_after"].size:
        for k, (after, lost) in enumerate(zip(measures["dropped_after"].values, measures["dropped_count"].values)):
            ax.axvline(after, color="tab:red", lw=0.8, label="frames dropped (counter)" if k == 0 else None)
        ax.legend(fontsize=8)
    ax.set(xlabel="frame", ylabel="interval (ms)", title=f"{label} camera: time between frames")
    return fig


def _pose_figure(pose, label: str):
    plt = pyplot(io.BytesIO())
    sure = (pose.likelihood >= 0.9).mean("time").values
    fig, ax = plt.subplots(figsize=(10, 2.6), layout="constrained")
    ax.bar(np.arange(sure.size), sure * 100)
    ax.set_xticks(np.arange(sure.size), [str(k) for k in pose.keypoints.values], rotation=30, fontsize=8)
    ax.set(ylabel="% of frames, likelihood >= 0.9", ylim=(0, 100), title=f"{label} camera: DLC points")
    return fig


def session_report(source, out: str | os.PathLike = "report.html", *, one=None, refs=None, full: bool = True,
                   progress: bool = True) -> Path:
    """Write a session's QC report page (self-contained HTML) and return its path.

    Parameters
    ----------
    source : str, uuid.UUID or PathLike
        An eid (with ``one``) or a session folder.
    out : PathLike
        The HTML file to write.
    one : one.api.One, optional
        For an eid.
    refs : False, optional
        ``False`` skips position and focus (as ``--no-refs``).
    full : bool
        Measure the brightness of every frame (one decoding pass per camera).
    progress : bool
        Show progress bars.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> session_report(eid, 'report.html', one=one)  # doctest: +SKIP
    """
    out = Path(out)
    if not out.resolve().parent.is_dir():
        raise OutputWriteError(errno.ENOENT, f"Cannot write {out}: its folder does not exist: create the folder, "
                               "or pick another path.")
    labels = session_labels(source, one=one)
    if not labels:
        raise VideoNotFoundError(f"{source} has no camera video (raw_video_data/_iblrig_<label>Camera.raw.mp4).")
    results = {}
    for label in labels:  # a camera that cannot be judged has its error in its section, not the page's end
        try:
            results[label] = camera_qc(source, label, one=one, refs=refs, full=full, progress=progress,
                                       full_measures=["brightness"] if full else None)
        except XVideoError as exc:
            results[label] = exc
    eid = next((r.eid for r in results.values() if not isinstance(r, Exception) and r.eid), str(source))
    parts = [f"<h1>ibl-xvideo report: session {html.escape(eid)}</h1>",
             "<table><tr><th>camera</th><th>QC outcome</th></tr>"
             + "".join(f"<tr><td>{lb}</td><td>{_outcome(r)}</td></tr>" for lb, r in results.items())
             + "</table>"]
    for label, res in results.items():
        if isinstance(res, Exception):
            parts.append(f"<h2>{label} camera: {_outcome(res)}</h2><p>The QC could not run: "
                         f"{html.escape(type(res).__name__)}: {html.escape(redact_text(str(res)))}</p>")
            continue
        parts.append(f"<h2>{label} camera: {_outcome(res)}</h2><p>{html.escape(redact_text(str(res)))}</p>")
        try:
            parts += _camera_section(source, label, res, one)
        except XVideoError as exc:
            parts.append(f"<p>This camera's pictures could not be made: {html.escape(type(exc).__name__)}: "
                         f"{html.escape(redact_text(str(exc)))}</p>")
    page = ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>ibl-xvideo report {html.escape(eid)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(parts) + _CHECK_IMAGES + "</body></html>")
    with written(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out


def _camera_section(source, label: str, res, one) -> list[str]:
    """The HTML parts of one camera after its heading: checks and reasons, QC figure, samples, intervals, pose."""
    parts = []
    d = res.to_dict()
    rows = []
    for key, value in res.metrics.items():
        extra = " " + ", ".join(str(v) for v in value[1:]) if isinstance(value, tuple) else ""
        rows.append(f"<tr><td>{html.escape(key.split('_', 2)[-1])}</td><td>{_outcome(value)}"
                    f"{html.escape(extra)}</td><td>{html.escape(d['reasons'].get(key, ''))}</td></tr>")
    rows = "".join(rows)
    parts.append(f"<table><tr><th>check</th><th>outcome</th><th>why it is not PASS</th></tr>{rows}</table>")
    parts.append(_png(res.plot()))
    if res.samples is not None and len(res.samples):
        parts.append("<p>The QC's sample frames:</p>" + _png(_samples_montage(res)))
    try:
        cam = open_camera(source, label, one=one, chunks=None, on_mismatch="truncate", validate_times=False)
    except TimestampsError:  # no usable times: the QC above says why
        cam = open_camera(source, label, one=one, chunks=None, timestamps=False)
    else:
        parts.append("<p>Time between frames (red: where the camera's counter says it dropped frames):</p>"
                     + _png(_intervals(np.asarray(cam.time.values), res.measures, label)))
    try:
        pose = load_pose(cam)
    except XVideoError as exc:  # no DLC output for this camera (or not this video's)
        parts.append(f"<p>No pose: {html.escape(str(exc))}</p>")
    else:
        parts.append("<p>How sure DLC is of each point (its likelihood, brainbox's 0.9 threshold):</p>"
                     + _png(_pose_figure(pose, label)))
    return parts
