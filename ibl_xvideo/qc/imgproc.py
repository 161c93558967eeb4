"""NumPy versions of the OpenCV operations the IBL camera QC uses.

ibllib computes its frame checks with OpenCV; these functions reproduce those
operations (same kernels, borders, rounding and normalisations) so that the QC runs
without OpenCV. The tests compare each one with OpenCV.
"""

from __future__ import annotations

import numpy as np

from .._shared import thread_scratch
from ..engine import decode

__all__ = ["equalize_hist", "equalize_lut", "hist256", "apply_lut", "equalized", "laplacian", "calc_hist",
           "compare_hist_correl", "match_template", "TemplateMatcher", "highpass_mean", "box_blur", "laplacian_var_in"]


def hist256(img: np.ndarray) -> np.ndarray:
    """Counts of each value of a uint8 image (int64, 256 bins), as ``np.bincount(img.ravel(), minlength=256)``.

    Pixels are counted in pairs (a 65536-bin count of the image seen as uint16, then
    folded): ``bincount`` widens its input to int64 first, and half as many elements
    take half the time.
    """
    img = np.asarray(img, dtype=np.uint8)
    if img.size % 2 or not img.flags.c_contiguous or img.ctypes.data % 2:
        return np.bincount(img.ravel(), minlength=256)
    pairs = np.bincount(img.reshape(-1).view(np.uint16), minlength=65536).reshape(256, 256)
    return pairs.sum(axis=0) + pairs.sum(axis=1)


def apply_lut(lut: np.ndarray, img: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``lut[img]`` for a 256-entry uint8 table and a uint8 image (into ``out`` if given), 2-4x faster."""
    return decode.apply_lut(np.asarray(lut, dtype=np.uint8), np.asarray(img, dtype=np.uint8), out)


def equalize_lut(hist: np.ndarray) -> np.ndarray:
    """The 256-entry lookup ``cv2.equalizeHist`` applies, from an image's 256-bin histogram."""
    hist = np.asarray(hist, dtype=np.int64)
    nz = np.flatnonzero(hist)
    if nz.size == 0:
        return np.arange(256, dtype=np.uint8)
    first = nz[0]
    total = int(hist.sum())
    if hist[first] == total:
        return np.full(256, first, np.uint8)
    scale = 255.0 / (total - hist[first])
    lut = np.zeros(256, np.uint8)
    # OpenCV: lut[first] = 0, then the running sum of the bins after it, rounded
    vals = (np.cumsum(hist) - hist[first]) * scale
    lut[first + 1:] = np.clip(np.rint(vals[first + 1:]), 0, 255).astype(np.uint8)
    return lut


def equalize_hist(img: np.ndarray) -> np.ndarray:
    """Histogram equalisation of a uint8 image, as ``cv2.equalizeHist``."""
    img = np.asarray(img, dtype=np.uint8)
    return apply_lut(equalize_lut(hist256(img)), img)


def laplacian(img: np.ndarray) -> np.ndarray:
    """``cv2.Laplacian(img, cv2.CV_16S, ksize=1)``: 4-neighbour kernel, reflect-101 border."""
    a = np.pad(np.asarray(img, dtype=np.int16), 1, mode="reflect")
    return (a[:-2, 1:-1] + a[2:, 1:-1] + a[1:-1, :-2] + a[1:-1, 2:] - 4 * a[1:-1, 1:-1]).astype(np.int16)


def calc_hist(img: np.ndarray) -> np.ndarray:
    """256-bin histogram of a uint8 image as float32, as ``cv2.calcHist([img],[0],None,[256],[0,256])``."""
    return hist256(img).astype(np.float32)


def compare_hist_correl(h1: np.ndarray, h2: np.ndarray) -> float:
    """Pearson correlation of two histograms, as ``cv2.compareHist(h1, h2, cv2.HISTCMP_CORREL)``."""
    a = np.asarray(h1, dtype=np.float64).ravel()
    b = np.asarray(h2, dtype=np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den else 1.0


def _window_sums(x: np.ndarray, th: int, tw: int, bound: float | None = None) -> np.ndarray:
    """Sums of ``x`` over every ``th`` x ``tw`` window (valid positions), separably.

    Integer input is summed exactly: in uint32 modular arithmetic when every window
    sum is below 2**32 (``bound``: the largest value of ``x``; the running sums wrap
    but their differences do not), else in int64. Anything else in float64.

    The result is this thread's scratch buffer: valid until its next call (copy it).
    """
    if np.issubdtype(x.dtype, np.integer):
        small = bound is not None and bound * th * tw < 2 ** 32
        dt = np.uint32 if small else np.int64
    else:
        dt = np.float64
    H, W = x.shape
    c = np.cumsum(x, axis=1, dtype=dt, out=_buffers((H, W), dt, "ws_c"))
    rows = _buffers((H, W - tw + 1), dt, "ws_rows")
    np.copyto(rows, c[:, tw - 1:])
    rows[:, 1:] -= c[:, :-tw]
    c = np.cumsum(rows, axis=0, out=rows)
    out = _buffers((H - th + 1, W - tw + 1), dt, "ws_out")
    np.copyto(out, c[th - 1:])
    out[1:] -= c[:-th]
    return out


class TemplateMatcher:
    """``cv2.matchTemplate`` (TM_CCOEFF_NORMED or TM_SQDIFF) of one template against many images.

    The template's transform is computed once per image shape; the correlation is a
    circular one at the first fast FFT size (``scipy.fft``) at least as large as the
    image, exact at every valid position.
    """

    def __init__(self, template: np.ndarray, method: str = "TM_CCOEFF_NORMED"):
        if method not in ("TM_CCOEFF_NORMED", "TM_SQDIFF"):
            raise ValueError(f"unsupported template matching method {method!r}")
        self.method = method
        self.tpl = np.asarray(template, dtype=np.float64)
        self.t0 = self.tpl - self.tpl.mean() if method == "TM_CCOEFF_NORMED" else self.tpl
        self._fft = {}

    def __call__(self, img: np.ndarray) -> np.ndarray:
        """The matching map, of shape ``(H - h + 1, W - w + 1)``."""
        from scipy import fft

        img = np.asarray(img)
        th, tw = self.tpl.shape
        H, W = img.shape
        if H < th or W < tw:
            raise ValueError(f"the {H}x{W} image is smaller than the {th}x{tw} template")
        # circular correlation at a fast size >= the image: the valid positions never wrap
        shape = (fft.next_fast_len(H, real=True), fft.next_fast_len(W, real=True))
        G = self._fft.get(shape)
        if G is None:
            G = self._fft[shape] = np.conj(fft.rfft2(self.t0.astype(np.float32), shape))
        # this thread's buffers, reused (fresh pages cost as much as the arithmetic here)
        valid = (H - th + 1, W - tw + 1)
        f32 = _buffers((H, W), np.float32, "tm_img")
        np.copyto(f32, img)
        # the correlation in single precision (as OpenCV), the normalisation in double
        spec = fft.rfft2(f32, shape)
        spec *= G
        corr = _buffers(valid, np.float64, "tm_corr")
        np.copyto(corr, fft.irfft2(spec, shape, overwrite_x=True)[:valid[0], :valid[1]])
        s1, s2 = _buffers(valid, np.float64, "tm_s1"), _buffers(valid, np.float64, "tm_s2")
        # window sums exactly in integers for 8/16-bit images (their squares fit in int64 sums)
        if img.dtype == np.uint8:
            np.copyto(s2, _window_sums(np.square(img, dtype=np.uint32, out=_buffers((H, W), np.uint32, "tm_sq")),
                                       th, tw, bound=255 ** 2))
            np.copyto(s1, _window_sums(img, th, tw, bound=255))
        else:
            small_int = img.dtype in (np.int8, np.uint16, np.int16)
            sq = img.astype(np.int64) ** 2 if small_int else img.astype(np.float64) ** 2
            np.copyto(s2, _window_sums(sq, th, tw))
            np.copyto(s1, _window_sums(img if small_int else img.astype(np.float64), th, tw))
        if self.method == "TM_SQDIFF":
            return s2 - 2 * corr + (self.tpl * self.tpl).sum()  # a fresh array
        s1 *= s1
        s1 /= th * tw
        np.subtract(s2, s1, out=s2)  # the variance of each window (times its size)
        np.maximum(s2, 0, out=s2)
        s2 *= (self.t0 * self.t0).sum()
        den = np.sqrt(s2, out=s2)
        out = np.zeros_like(corr)
        np.divide(corr, den, out=out, where=den > 1e-7 * max(den.max(), 1))
        return np.clip(out, -1, 1, out=out)


def match_template(img: np.ndarray, template: np.ndarray, method: str = "TM_CCOEFF_NORMED") -> np.ndarray:
    """Template matching map, as ``cv2.matchTemplate`` (TM_CCOEFF_NORMED or TM_SQDIFF).

    Returns an array of shape ``(H - h + 1, W - w + 1)``.
    """
    return TemplateMatcher(template, method)(img)


def highpass_mean(frame: np.ndarray, size: int = 60) -> float:
    """Mean of the high-pass filtered frame, min-max normalised to 8 bits (ibllib's FFT focus measure).

    The DFT of the frame (single precision, as ``cv2.dft``) has its central ``2*size``
    square of low frequencies zeroed (after fftshift, i.e. frequencies ``-size`` to
    ``size - 1`` on each axis); the magnitude of the inverse transform is normalised
    to 0..256 (``cv2.NORM_MINMAX`` into ``CV_8U``: rounded, saturated at 255) and averaged.
    """
    from scipy import fft

    frame = np.asarray(frame)
    f = _buffers(frame.shape, np.float32, "hp_in")  # reused: see _highpass_magnitude
    np.copyto(f, frame)
    h, w = f.shape
    if h > 2 * size and w > 2 * size:
        mag = _highpass_magnitude(f, size)
    else:  # the band covers a whole axis
        F = fft.fft2(f)
        ky = np.r_[0:min(size, h), max(h - size, 0):h]
        kx = np.r_[0:min(size, w), max(w - size, 0):w]
        F[np.ix_(ky, kx)] = 0
        mag = np.abs(fft.ifft2(F, overwrite_x=True))
    lo, hi = float(mag.min()), float(mag.max())
    if hi == lo:
        return 0.0
    mag -= lo
    mag *= 256.0 / (hi - lo)
    np.rint(mag, out=mag)
    np.minimum(mag, 255, out=mag)
    return float(mag.mean(dtype=np.float64))


def _highpass_magnitude(f: np.ndarray, s: int) -> np.ndarray:
    """``|f - L|`` where ``L`` is the inverse DFT of ``f``'s frequencies -s..s-1 on both axes.

    The same as zeroing that band of the full DFT and inverting it, at about half
    the cost: the band is only needed from the row transforms' first ``s + 1``
    columns; its symmetric part -(s-1)..s-1 inverts to a real image through the half
    spectrum, and its edge at frequency -s (one row and one column of the band) adds
    two rank-one complex images.
    """
    from scipy import fft

    h, w = f.shape
    G = fft.fft(fft.rfft(f, axis=1)[:, :s + 1], axis=0)  # F[ky, kx] for kx = 0..s, every ky
    ky = np.r_[0:s, h - s + 1:h]  # -(s-1)..s-1
    band = np.zeros((h, s), np.complex64)
    band[ky] = G[ky, :s]
    # this thread's buffers, reused: fresh pages cost a fault each on virtual machines,
    # as much as the transforms (``half`` is zero beyond its first s columns, always)
    half, edge = _buffers((h, w // 2 + 1), np.complex64, s), _buffers((h, w), np.float32, 0)
    half[:, :s] = fft.ifft(band, axis=0)
    low = fft.irfft(half, n=w, axis=1)
    # the edge: F[-s, kx] for kx = -s..s-1 (F[ky, -k] = conj(F[-ky, k]): f is real) ...
    row = np.zeros(w, np.complex64)
    row[:s] = G[h - s, :s]
    row[w - s:] = np.conj(G[s, s:0:-1])
    # ... and F[ky, -s] for ky = -(s-1)..s-1
    col = np.zeros(h, np.complex64)
    col[ky] = np.conj(G[(-ky) % h, s])
    u, v = np.exp(-2j * np.pi * s * np.arange(h) / h) / h, fft.ifft(row)
    p, q = fft.ifft(col), np.exp(-2j * np.pi * s * np.arange(w) / w) / w
    # real and imaginary parts of u (x) v + p (x) q, as rank-4 products (einsum's own loops: a
    # BLAS matmul would start its threads inside every Dask thread, which halved the full QC's speed)
    left = np.stack([u.real, -u.imag, p.real, -p.imag, u.imag, u.real, p.imag, p.real], 1).astype(np.float32)
    right = np.stack([v.real, v.imag, q.real, q.imag]).astype(np.float32)
    re = np.subtract(f, low, out=low)
    re -= np.einsum("ik,kj->ij", left[:, :4], right, optimize=False, out=edge)
    im = np.einsum("ik,kj->ij", left[:, 4:], right, optimize=False, out=edge)
    re *= re
    im *= im
    re += im
    return np.sqrt(re, out=re)


def _buffers(shape: tuple, dtype, key) -> np.ndarray:
    """The calling thread's zero-initialised scratch array ``key`` of ``shape`` and ``dtype`` (kept for reuse)."""
    return thread_scratch(("imgproc", shape, np.dtype(dtype).str, key), lambda: np.zeros(shape, dtype))


def equalized(frame: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """``frame`` through the equalisation ``lut`` (:func:`equalize_lut`), in a scratch array.

    The array is the calling thread's: valid until that thread's next call.
    """
    return apply_lut(lut, frame, _buffers(frame.shape, np.uint8, "eq"))


def box_blur(img: np.ndarray, k: int) -> np.ndarray:
    """``cv2.blur(img, (k, k))``: normalised box filter with reflect-101 border, rounded to uint8 as OpenCV rounds.

    OpenCV sums the window in integers and divides three ways, followed here: a window
    of a power-of-two area up to 256 pixels (kernels 2, 4, 8, 16) by a fixed-point
    multiply that rounds ``(sum + area / 2 + 1) // area``; other areas up to 256 half
    up; larger ones in single precision, half to even. Equal to OpenCV for every kernel
    up to 16 (the focus check's test mode uses 0-15), and to within one grey level on
    rare pixels above.
    """
    if k <= 1:
        return np.asarray(img, dtype=np.uint8).copy()
    a = np.asarray(img, dtype=np.float64)
    before = k // 2
    after = k - 1 - before
    p = np.pad(a, ((before, after), (before, after)), mode="reflect")
    s = np.rint(_window_sums(p, k, k)).astype(np.int64)  # exact integer sums (each < 2**53)
    area = k * k
    if area <= 256 and area & (area - 1) == 0:
        out = (s + area // 2 + 1) // area
    elif area <= 256:
        out = (2 * s + area) // (2 * area)  # floor(s / area + 1/2)
    else:
        out = np.rint(s.astype(np.float32) * np.float32(1.0 / area))
    return np.clip(out, 0, 255).astype(np.uint8)


def laplacian_var_in(img: np.ndarray, roi: tuple[slice, slice], lut: np.ndarray | None = None) -> float:
    """Variance of ``laplacian(lut[img])[roi]``, computed on the ROI and a 1-pixel margin only."""
    h, w = img.shape
    y0, y1, _ = roi[0].indices(h)
    x0, x1, _ = roi[1].indices(w)
    a0, a1, b0, b1 = max(y0 - 1, 0), min(y1 + 1, h), max(x0 - 1, 0), min(x1 + 1, w)
    crop = img[a0:a1, b0:b1]
    if lut is not None:
        crop = lut[crop]
    lpc = laplacian(crop)  # reflect-101 padding only matters where the margin is the frame edge
    return float(lpc[y0 - a0:y1 - a0, x0 - b0:x1 - b0].var())
