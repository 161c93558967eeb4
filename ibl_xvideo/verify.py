"""Check that every way of reading a video gives the frames of one sequential decode.

:func:`verify` decodes a file once from start to end with PyAV, without this package's
index (what any sequential reader, OpenCV's included, sees), keeps a checksum of every
frame, and then reads frames through the camera array in every access pattern the
package has: each keyframe and the frame after it by a fresh decoder that seeks
there, random and descending lists, a list without Dask, a crop with decoder
threads, the nearest frame to a time, and the whole video chunk by chunk. A frame
that differs is reported with the frame it turned out to be.

``ibl-xvideo verify FILE`` runs it from the command line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random

import numpy as np

from .camera import open_camera
from .engine.decode import PIXEL_MODES, clear_caches, to_grey
from .engine.index import get_index
from .errors import CorruptVideoError, XVideoError, check_count, check_option
from .io.container import open_container

__all__ = ["verify", "VerifyResult", "Mismatch", "PATTERNS"]

#: The access patterns :func:`verify` tries, in order.
PATTERNS = ("whole", "single", "random", "descending", "no_dask", "crop_threads", "nearest")


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """Frame ``frame`` read by ``pattern`` was not that frame of the sequential decode.

    ``got``: the frames of the sequential decode it equals (empty: none of them).
    """

    pattern: str
    frame: int
    got: tuple[int, ...]

    def __str__(self) -> str:
        what = (f"sequential frame {', '.join(map(str, self.got))}" if self.got
                else "no frame of the sequential decode")
        return f"{self.pattern}: frame {self.frame} is {what}"


@dataclasses.dataclass
class VerifyResult:
    """What :func:`verify` found: ``exact`` when every read equals the sequential decode."""

    path: str
    n_frames: int
    n_sequential: int
    reads: dict[str, int]
    mismatches: list[Mismatch]
    errors: dict[str, str]

    @property
    def exact(self) -> bool:
        """Whether every frame of every pattern equals the sequential decode, and no pattern failed."""
        return not self.mismatches and not self.errors and self.n_frames == self.n_sequential

    def __str__(self) -> str:
        head = (f"{self.path}: {self.n_frames} frames; {sum(self.reads.values())} reads in "
                f"{len(self.reads)} access patterns")
        if self.exact:
            return f"exact: {head}, every one equal to the sequential decode"
        lines = [f"NOT EXACT: {head}"]
        if self.n_frames != self.n_sequential:
            lines.append(f"  the index has {self.n_frames} frames, a sequential decode gives {self.n_sequential}")
        lines += [f"  {m}" for m in self.mismatches[:50]]
        if len(self.mismatches) > 50:
            lines.append(f"  ... and {len(self.mismatches) - 50} more")
        lines += [f"  {p}: {e}" for p, e in self.errors.items()]
        return "\n".join(lines)


def _bar(total, desc: str, show: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="frame", disable=not show, leave=False)


def _digest(a: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(a).tobytes(), digest_size=16).digest()


def _crop(height: int, width: int) -> tuple[slice, slice]:
    """The region the crop pattern reads: an off-centre block, not aligned to macroblocks."""
    return slice(height // 4 + 1, max(height // 4 + 2, 3 * height // 4)), slice(width // 3 + 3, width)


def _sequential(path: str, pixels: str, color_range: int, crop, progress: bool):
    """Checksums of every frame (whole and cropped) of one sequential decode, in output order."""
    import av

    whole, cropped = [], []
    container = open_container(path)
    try:
        stream = container.streams.video[0]
        stream.codec_context.thread_type = "AUTO"
        with _bar(stream.frames or None, f"sequential decode of {os.path.basename(path)}", progress) as done:
            for frame in container.decode(stream):
                grey = to_grey(frame, pixels, color_range)
                whole.append(_digest(grey))
                cropped.append(_digest(grey[crop]))
                done.update(1)
    except av.FFmpegError as exc:
        raise CorruptVideoError(f"{path}: a sequential decode failed ({exc}); the file is damaged.") from exc
    finally:
        container.close()
    return whole, cropped


def _sample(n: int, key_frames: np.ndarray, n_samples: int, seed: int) -> list[int]:
    """Every keyframe and the frame after it, the first and last frames, and random others."""
    picked = {0, n - 1} | {int(k) for k in key_frames} | {int(k) + 1 for k in key_frames if k + 1 < n}
    rng = random.Random(seed)
    rest = [i for i in range(n) if i not in picked]
    picked |= set(rng.sample(rest, min(len(rest), n_samples)))
    return sorted(picked)


def verify(path, *, n_samples: int = 50, pixels: str = "ibllib", seed: int = 0,
           progress: bool = True) -> VerifyResult:
    """Read a video in every access pattern and compare each frame with one sequential decode.

    Parameters
    ----------
    path : str or PathLike
        A local video file (any container and codec FFmpeg reads).
    n_samples : int
        Random frames read by the list patterns, besides every keyframe, the frame after
        each, and the first and last frames.
    pixels : {'ibllib', 'luma'}
        The grey values compared (as :func:`~ibl_xvideo.open_camera`'s ``pixels``).
    seed : int
        Of the random frames and orders.
    progress : bool
        Progress bars for the two whole passes.

    Returns
    -------
    VerifyResult
        ``exact``, and the frames that differ with the frames they turned out to be.
        A pattern that raised one of this package's errors is listed under ``errors``.

    Examples
    --------
    >>> result = verify("mouse.avi")  # doctest: +SKIP
    >>> print(result)  # doctest: +SKIP
    exact: mouse.avi: 256 frames; 1234 reads in 7 access patterns, every one equal to the sequential decode
    """
    check_option("pixels", pixels, PIXEL_MODES)
    check_count("n_samples", n_samples, 0)
    path = os.path.abspath(os.fspath(path))
    index = get_index(path)
    crop = _crop(index.height, index.width)
    whole, cropped = _sequential(path, pixels, index.color_range, crop, progress)
    which: dict[bytes, list[int]] = {}
    for i, d in enumerate(whole):
        which.setdefault(d, []).append(i)
    result = VerifyResult(path, index.length, len(whole), {}, [], {})

    def check(pattern: str, frames, arrays, reference=whole) -> None:
        result.reads[pattern] = result.reads.get(pattern, 0) + len(frames)
        for i, a in zip(frames, arrays):
            i = int(i)
            if i >= len(reference) or _digest(a) != reference[i]:
                got = tuple(which.get(_digest(a), ())) if reference is whole else ()
                result.mismatches.append(Mismatch(pattern, i, got))

    sample = _sample(index.length, index.key_frames, n_samples, seed)
    rng = random.Random(seed)
    shuffled = rng.sample(sample, len(sample))

    def run(pattern, fn):
        try:
            fn()
        except XVideoError as exc:
            result.errors[pattern] = f"{type(exc).__name__}: {exc}"

    def whole_pass():
        cam = open_camera(path, timestamps=False, pixels=pixels)
        starts = np.r_[0, np.cumsum(cam.chunks[0])[:-1]]
        with _bar(index.length, "chunk by chunk", progress) as done:
            for s, size in zip(starts, cam.chunks[0]):
                check("whole", range(s, s + size), cam.data[s:s + size].compute(scheduler="sync"))
                done.update(size)

    def single():
        cam = open_camera(path, timestamps=False, pixels=pixels)
        for i in sample:
            clear_caches()  # a fresh decoder, seeking to the frame's group (a planned, scattered read)
            check("single", [i], cam.isel(time=[i]).values)

    def listed(pattern, order, **kw):
        def fn():
            cam = open_camera(path, timestamps=False, pixels=pixels, **kw)
            clear_caches()
            check(pattern, order, cam.isel(time=order).values)
        return fn

    def crop_threads():
        cam = open_camera(path, timestamps=False, pixels=pixels, threads=2)
        clear_caches()
        check("crop_threads", shuffled, cam.isel(time=shuffled, y=crop[0], x=crop[1]).values, cropped)

    def nearest():
        cam = open_camera(path, timestamps=False, pixels=pixels)
        clear_caches()
        times = cam.time.values[shuffled]
        step = float(np.median(np.diff(cam.time.values))) if cam.sizes["time"] > 1 else 1.0
        check("nearest", shuffled, cam.sel(time=times + 0.3 * step, method="nearest").values)

    run("whole", whole_pass)
    run("single", single)
    run("random", listed("random", shuffled))
    run("descending", listed("descending", sample[::-1]))
    run("no_dask", listed("no_dask", shuffled, chunks=None))
    run("crop_threads", crop_threads)
    run("nearest", nearest)
    clear_caches()
    return result
