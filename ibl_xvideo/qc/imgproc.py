"""NumPy versions of the OpenCV operations the IBL camera QC uses.

ibllib computes its frame checks with OpenCV; these functions reproduce those
operations (same kernels, borders, rounding and normalisations) so that the QC runs
without OpenCV. The tests compare each one with OpenCV.
"""

from __future__ import annotations

import numpy as np

__all__ = ["equalize_hist", "laplacian", "calc_hist", "compare_hist_correl", "match_template",
           "highpass_mean", "box_blur"]


def equalize_hist(img: np.ndarray) -> np.ndarray:
    """Histogram equalisation of a uint8 image, as ``cv2.equalizeHist``."""
    img = np.asarray(img, dtype=np.uint8)
    hist = np.bincount(img.ravel(), minlength=256)
    nz = np.flatnonzero(hist)
    if nz.size == 0:
        return img.copy()
    first = nz[0]
    total = img.size
    if hist[first] == total:
        return np.full_like(img, first)
    scale = 255.0 / (total - hist[first])
    cdf = np.cumsum(hist)
    lut = np.zeros(256, np.uint8)
    # OpenCV: lut[first] = 0, then the running sum of the bins after it, rounded
    vals = (cdf - hist[first]) * scale
    lut[first + 1:] = np.clip(np.rint(vals[first + 1:]), 0, 255).astype(np.uint8)
    return lut[img]


def laplacian(img: np.ndarray) -> np.ndarray:
    """``cv2.Laplacian(img, cv2.CV_16S, ksize=1)``: 4-neighbour kernel, reflect-101 border."""
    a = np.pad(np.asarray(img, dtype=np.int16), 1, mode="reflect")
    return (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - 4 * a[1:-1, 1:-1]).astype(np.int16)


def calc_hist(img: np.ndarray) -> np.ndarray:
    """256-bin histogram of a uint8 image as float32, as ``cv2.calcHist([img],[0],None,[256],[0,256])``."""
    return np.bincount(np.asarray(img, dtype=np.uint8).ravel(), minlength=256).astype(np.float32)


def compare_hist_correl(h1: np.ndarray, h2: np.ndarray) -> float:
    """Pearson correlation of two histograms, as ``cv2.compareHist(h1, h2, cv2.HISTCMP_CORREL)``."""
    a = np.asarray(h1, dtype=np.float64).ravel()
    b = np.asarray(h2, dtype=np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den else 1.0


def _window_sums(x: np.ndarray, th: int, tw: int) -> np.ndarray:
    c = np.zeros((x.shape[0] + 1, x.shape[1] + 1), np.float64)
    c[1:, 1:] = x.cumsum(0).cumsum(1)
    return c[th:, tw:] - c[:-th, tw:] - c[th:, :-tw] + c[:-th, :-tw]


def match_template(img: np.ndarray, template: np.ndarray, method: str = "TM_CCOEFF_NORMED") -> np.ndarray:
    """Template matching map, as ``cv2.matchTemplate`` (TM_CCOEFF_NORMED or TM_SQDIFF).

    Returns an array of shape ``(H - h + 1, W - w + 1)``.
    """
    img = np.asarray(img, dtype=np.float64)
    tpl = np.asarray(template, dtype=np.float64)
    th, tw = tpl.shape
    H, W = img.shape
    fh, fw = H + th - 1, W + tw - 1
    shape = (int(2 ** np.ceil(np.log2(fh))), int(2 ** np.ceil(np.log2(fw))))
    if method == "TM_CCOEFF_NORMED":
        t0 = tpl - tpl.mean()
    elif method == "TM_SQDIFF":
        t0 = tpl
    else:
        raise ValueError(f"unsupported template matching method {method!r}")
    F = np.fft.rfft2(img, shape)
    G = np.fft.rfft2(t0[::-1, ::-1], shape)
    corr = np.fft.irfft2(F * G, shape)[th - 1:H, tw - 1:W]
    s2 = _window_sums(img * img, th, tw)
    if method == "TM_SQDIFF":
        return s2 - 2 * corr + (tpl * tpl).sum()
    s1 = _window_sums(img, th, tw)
    n = th * tw
    var_i = np.maximum(s2 - s1 * s1 / n, 0)
    den = np.sqrt(var_i * (t0 * t0).sum())
    out = np.zeros_like(corr)
    ok = den > 1e-7 * max(den.max(), 1)
    out[ok] = corr[ok] / den[ok]
    return np.clip(out, -1, 1)


def highpass_mean(frame: np.ndarray, size: int = 60) -> float:
    """Mean of the high-pass filtered frame, min-max normalised to 8 bits (ibllib's FFT focus measure).

    The DFT of the frame has its central ``2*size`` square of low frequencies zeroed
    (after fftshift); the magnitude of the inverse transform is normalised to 0..256
    (``cv2.NORM_MINMAX`` into ``CV_8U``: rounded, saturated at 255) and averaged.
    """
    f = np.asarray(frame, dtype=np.float32)
    h, w = f.shape
    F = np.fft.fftshift(np.fft.fft2(f))
    cy, cx = h // 2, w // 2
    F[max(cy - size, 0):cy + size, max(cx - size, 0):cx + size] = 0
    mag = np.abs(np.fft.ifft2(np.fft.ifftshift(F)))
    lo, hi = mag.min(), mag.max()
    if hi == lo:
        return 0.0
    scaled = np.clip(np.rint((mag - lo) * (256.0 / (hi - lo))), 0, 255)
    return float(scaled.mean())


def box_blur(img: np.ndarray, k: int) -> np.ndarray:
    """``cv2.blur(img, (k, k))``: normalised box filter with reflect-101 border, rounded to uint8.

    Only the focus check's test mode uses it. Identical to OpenCV for odd kernels and
    for even ones from 6 up; for 2, 4 and 8 OpenCV rounds some pixels differently (by 1).
    """
    if k <= 1:
        return np.asarray(img, dtype=np.uint8).copy()
    a = np.asarray(img, dtype=np.float64)
    before = k // 2
    after = k - 1 - before
    p = np.pad(a, ((before, after), (before, after)), mode="reflect")
    s = _window_sums(p, k, k)
    return np.clip(np.floor(s / (k * k) + 0.5), 0, 255).astype(np.uint8)
