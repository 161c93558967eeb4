"""The camera QC report figure."""

from __future__ import annotations

import os

import numpy as np

from .checks import FACE_ROI, brightness_roi

__all__ = ["plot_qc"]


def plot_qc(result, frames=None, refs=None, out: str | os.PathLike | None = None, bounds=(40, 200)):
    """Draw a QC result and save it to ``out``.

    Brightness over the video with its bounds, the darkest and brightest sample
    frames with the brightness ROI, and the face template's place.

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

    Returns
    -------
    matplotlib.figure.Figure
    """
    try:
        import matplotlib

        if out is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("The QC figure needs matplotlib: pip install 'ibl-xvideo[plot]'") from exc

    m = result.measures
    fig = plt.figure(figsize=(12, 6), layout="constrained")
    gs = fig.add_gridspec(2, 3)
    ax = fig.add_subplot(gs[:, :2])
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
    ax.legend(loc="upper right", fontsize=8)
    text = "\n".join(f"{k.split('_', 2)[-1]}: {v.name if hasattr(v, 'name') else v}"
                     for k, v in result.to_dict()["metrics"].items())
    ax.text(0.01, 0.99, text, transform=ax.transAxes, va="top", fontsize=7, family="monospace")
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
            if refs is not None and k == 0 and result.label in FACE_ROI:
                (fy1, fy2), (fx1, fx2) = FACE_ROI[result.label]
                a.add_patch(plt.Rectangle((fx1, fy1), fx2 - fx1, fy2 - fy1, fill=False, ec="m", ls="--", lw=1))
            a.set_title(f"{name}: frame {x[i]}, {b[i]:.1f}", fontsize=9)
            a.set_axis_off()
    if out is not None:
        fig.savefig(out, dpi=100)
    return fig
