"""The camera QC report figure."""

from __future__ import annotations

import os
import textwrap

import numpy as np

from ..figures import pyplot, save_figure
from .checks import FACE_ROI, brightness_roi

__all__ = ["plot_qc"]


def plot_qc(result, frames=None, refs=None, out: str | os.PathLike | None = None, bounds=(40, 200),
            thresholds=(100, 6)):
    """Draw a QC result and save it to ``out``.

    Brightness over the video with its bounds and where the camera dropped frames; the focus measures with their pass
    thresholds and the face position error (with reference frames); the brightest
    and darkest sample frames with the brightness ROI and the face template's place
    in the reference (dashed) and in the frame (solid).

    Parameters
    ----------
    result : QCResult
        From :func:`ibl_xvideo.qc.camera_qc` (its ``measures`` are plotted).
    frames : (n, h, w) array, optional
        The sample frames (to show the darkest / brightest and the template box).
    refs : array, optional
        Reference frames, for the template box.
    out : path, optional
        PNG file to write.
    bounds : (float, float)
        Brightness warning bounds (failure bounds are twice as wide).
    thresholds : (float, float)
        Focus pass thresholds (Laplacian variance, high-pass mean).

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = pyplot(out)
    m = result.measures
    fig = plt.figure(figsize=(13, 8), layout="constrained")
    gs = fig.add_gridspec(3, 3)
    ax = fig.add_subplot(gs[:2, :2])
    if "brightness" in m:
        ax.plot(m["frame"], m["brightness"], lw=0.6, color="0.5", label="every frame")
    x = m["sample_frame"].values
    b = m["sample_brightness"].values
    ax.plot(x, b, "o-", ms=3, label="QC samples")
    lo, hi = bounds
    ax.axhspan(lo, hi, color="tab:green", alpha=0.08, label="warning bounds")
    ax.axhline(lo / 2, ls=":", color="r")
    ax.axhline(hi * 2, ls=":", color="r", label="failure bounds")
    ax.set(xlabel="frame", ylabel="mean grey level (ROI)", ylim=(0, max(255, b.max() if b.size else 0) * 1.05),
           title=f"{result.label} camera {result.eid}: {result.outcome.name}")
    if "dropped_after" in m and m["dropped_after"].size:  # the frames the camera's counter says it lost
        for k, (after, lost) in enumerate(zip(m["dropped_after"].values, m["dropped_count"].values)):
            ax.axvline(after, color="tab:red", lw=0.8, label="frames dropped (counter)" if k == 0 else None)
            ax.annotate(f"{int(lost)} dropped", (after, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=7, color="tab:red", ha="right", va="bottom")
    ax.legend(loc="upper right", fontsize=8)
    d = result.to_dict()
    lines = []
    for k, v in d["metrics"].items():
        lines.append(f"{k.split('_', 2)[-1]}: {v.name if hasattr(v, 'name') else v}")
        if k in d["reasons"]:  # why it is not PASS, under it
            lines += ["   " + part for part in textwrap.wrap(d["reasons"][k], 72)]
    ax.text(0.01, 0.99, "\n".join(lines), transform=ax.transAxes, va="top", fontsize=6, family="monospace")
    _plot_focus(fig.add_subplot(gs[2, :2]), m, thresholds)
    _plot_position(fig.add_subplot(gs[2, 2]), m)
    if frames is not None and len(frames):
        frames = np.asarray(frames)
        h, w = frames.shape[1:]
        ys, xs = brightness_roi(result.label, h, w)
        for k, (name, i) in enumerate((("brightest", int(np.argmax(b))), ("darkest", int(np.argmin(b))))):
            a = fig.add_subplot(gs[k, 2])
            a.imshow(frames[i], cmap="gray", vmin=0, vmax=255)
            y0, y1, _ = ys.indices(h)
            x0, x1, _ = xs.indices(w)
            a.add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec="tab:green", lw=1))
            if result.label in FACE_ROI and (refs is not None or "sample_position_err_x" in m):
                # the face template's place in the reference (dashed) and where it was found (solid)
                (fy1, fy2), (fx1, fx2) = FACE_ROI[result.label]
                a.add_patch(plt.Rectangle((fx1, fy1), fx2 - fx1, fy2 - fy1, fill=False, ec="m", ls="--", lw=1))
                if "sample_position_err_x" in m:
                    ex, ey = float(m["sample_position_err_x"][i]), float(m["sample_position_err_y"][i])
                    a.add_patch(plt.Rectangle((fx1 - ex, fy1 - ey), fx2 - fx1, fy2 - fy1, fill=False, ec="m",
                                              lw=1))
            a.set_title(f"{name}: frame {x[i]}, {b[i]:.1f}", fontsize=9)
            a.set_axis_off()
    if out is not None:
        save_figure(fig, out)
    return fig


def _plot_focus(ax, m, thresholds) -> None:
    """Both focus measures of the focus check's frames (and of every frame after a full pass)."""
    if "sample_focus_lpc" not in m:
        ax.text(0.5, 0.5, "focus: no reference frames", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    ax2 = ax.twinx()
    if "focus_lpc" in m:
        ax.plot(m["frame"], m["focus_lpc"], lw=0.5, color="tab:blue", alpha=0.5)
    if "focus_fft" in m:
        ax2.plot(m["frame"], m["focus_fft"], lw=0.5, color="tab:orange", alpha=0.5)
    ax.plot(m["focus_frame"], m["sample_focus_lpc"], "o", ms=3, color="tab:blue", label="Laplacian variance")
    ax2.plot(m["focus_frame"], m["sample_focus_fft"], "s", ms=3, color="tab:orange", label="high-pass mean")
    ax.axhline(thresholds[0], ls=":", color="tab:blue")
    ax2.axhline(thresholds[1], ls=":", color="tab:orange")
    ax.set(xlabel="frame", ylabel="Laplacian variance (face ROI)", title="focus (dotted: pass thresholds)")
    ax2.set_ylabel("high-pass FFT mean")
    ax.legend(handles=ax.get_lines()[-2:-1] + ax2.get_lines()[-2:-1], loc="upper right", fontsize=8)


def _plot_position(ax, m) -> None:
    """The face template's position error in each sample (and every frame after a full pass)."""
    if "sample_position_err_x" not in m:
        ax.text(0.5, 0.5, "position: no reference frames", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    if "position_err_x" in m:
        ax.plot(m["frame"], m["position_err_x"], lw=0.5, color="tab:red", alpha=0.5)
        ax.plot(m["frame"], m["position_err_y"], lw=0.5, color="tab:purple", alpha=0.5)
    ax.plot(m["sample_frame"], m["sample_position_err_x"], "o", ms=3, color="tab:red", label="x")
    ax.plot(m["sample_frame"], m["sample_position_err_y"], "s", ms=3, color="tab:purple", label="y")
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set(xlabel="frame", ylabel="pixels", title="face position error")
    ax.legend(fontsize=8)
