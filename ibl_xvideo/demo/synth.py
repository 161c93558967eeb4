"""Synthetic rig-camera videos, encoded the IBL way, for the demo, tests and benchmarks.

Each frame shows a lit, textured scene (a static background with a few bright
objects, a moving "paw", sensor noise), and a strip of black/white blocks along the
top edge that spells the frame index in binary, so that any off-by-one in decoding
is visible. Videos are encoded by the ffmpeg binary that ``imageio-ffmpeg`` ships,
with ``libx264 -preset slow -crf 29`` by default.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

__all__ = ["make_video", "encode_frames", "frame_content", "read_frame_number", "BITS"]

#: Number of bits of the frame index drawn on each frame.
BITS = 20


def _block(width: int) -> int:
    return max(8, width // 40)


def _scene(height: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    # smooth lighting gradient + coarse texture + a few lit objects
    light = 70 + 50 * np.exp(-(((xx - width * 0.6) / (width * 0.5)) ** 2 + ((yy - height * 0.4) / (height * 0.6)) ** 2))
    tex = rng.normal(0, 1, (height // 8 + 1, width // 8 + 1)).astype(np.float32)
    tex = np.kron(tex, np.ones((8, 8), np.float32))[:height, :width] * 6
    img = light + tex
    for _ in range(4):
        cy, cx = rng.uniform(0.3, 0.9) * height, rng.uniform(0.1, 0.9) * width
        r = rng.uniform(0.04, 0.1) * min(height, width)
        img += 60 * (((yy - cy) ** 2 + (xx - cx) ** 2) < r * r)
    return np.clip(img, 0, 255).astype(np.float32)


class _Painter:
    """Draws frame ``i`` of a scene: cheap enough to feed an encoder in real time."""

    def __init__(self, height: int, width: int, seed: int = 0, noise: float = 1.0):
        self.h, self.w = height, width
        self.base = _scene(height, width, seed)
        rng = np.random.default_rng(seed + 1)
        # sensor noise with a 2x2 grain (it survives compression like real sensor noise)
        grain = rng.normal(0, noise, (8, (height + 1) // 2, (width + 1) // 2)).astype(np.float32)
        self.noise = np.repeat(np.repeat(grain, 2, 1), 2, 2)[:, :height, :width].copy()
        self.block = _block(width)
        r = max(6, min(height, width) // 14)
        yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
        self.paw = (60 * (yy * yy + xx * xx <= r * r)).astype(np.float32)
        self.r = r

    def __call__(self, i: int) -> np.ndarray:
        img = self.base + self.noise[i % 8]
        # a paw moving on a Lissajous path, and a blinking LED in a corner
        cy = int(self.h * (0.55 + 0.25 * np.sin(i / 23.0))) - self.r
        cx = int(self.w * (0.5 + 0.35 * np.sin(i / 37.0 + 1))) - self.r
        img[cy:cy + self.paw.shape[0], cx:cx + self.paw.shape[1]] += self.paw
        if (i // 16) % 2:
            led = self.block * 2
            img[self.h - 2 * led:self.h - led, self.w - 2 * led:self.w - led] += 90
        out = np.clip(img, 0, 255).astype(np.uint8)
        b = self.block
        for k in range(BITS):
            out[0:b, k * b:(k + 1) * b] = 255 if (i >> k) & 1 else 0
        out[b:b + 2, 0:BITS * b] = 128
        return out


def frame_content(i: int, height: int = 512, width: int = 640, seed: int = 0) -> np.ndarray:
    """The uncompressed grey frame ``i`` that :func:`make_video` encodes."""
    return _Painter(height, width, seed)(i)


def read_frame_number(frame: np.ndarray) -> int:
    """Read the frame index drawn on a decoded (h, w) frame (exact despite compression)."""
    b = _block(frame.shape[1])
    bits = [frame[2:b - 2, k * b + 2:(k + 1) * b - 2].mean() > 128 for k in range(BITS)]
    return int(sum(1 << k for k, v in enumerate(bits) if v))


def make_video(
    path: str | os.PathLike,
    n_frames: int,
    *,
    width: int = 640,
    height: int = 512,
    fps: float = 30,
    crf: int = 29,
    preset: str = "slow",
    gop: int | None = None,
    bframes: int | None = None,
    pix_fmt: str = "yuv420p",
    chroma_jitter: bool = False,
    start_time: float = 0.0,
    seed: int = 0,
    noise: float = 1.0,
    threads: int = 0,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Encode a synthetic rig-camera video with libx264 (the IBL settings by default).

    Parameters
    ----------
    path : PathLike
        Output ``.mp4`` file.
    n_frames : int
        Number of frames.
    width, height, fps : int, int, float
        Frame size and rate.
    crf, preset : int, str
        x264 quality and speed (IBL: 29 or 17, 'slow').
    gop : int, optional
        Keyframe interval (x264 default 250).
    bframes : int, optional
        Maximum consecutive B-frames (x264 default 3; 0 disables them).
    pix_fmt : {'yuv420p', 'gray'}
        Encoded pixel format; 'gray' makes a monochrome (4:0:0) H.264 file.
    chroma_jitter : bool
        Feed chroma planes varying in 127..129 (as some rigs produce) instead of a
        neutral 128.
    start_time : float
        Presentation time of the first frame in seconds.
    seed : int
        Scene seed.
    noise : float
        Standard deviation of the sensor noise (grey levels); more noise, more bits
        per frame: 5 gives about 1 kB per 640x512 frame at crf 29 (about 300x
        compression, as IBL videos), 1 about 0.2 kB (fast to encode).
    threads : int
        Encoder threads (0: ffmpeg's choice).
    progress : callable, optional
        As for :func:`encode_frames`.

    Returns
    -------
    pathlib.Path
    """
    in_fmt = "yuv420p" if chroma_jitter else "gray"
    args = ["-c:v", "libx264", "-preset", preset, "-crf", str(crf), "-pix_fmt", pix_fmt, "-threads", str(threads)]
    if gop is not None:
        args += ["-g", str(gop), "-keyint_min", str(min(gop, 25))]
    if bframes is not None:
        args += ["-bf", str(bframes)]
    if start_time:
        args += ["-output_ts_offset", repr(float(start_time))]
    paint = _Painter(height, width, seed, noise)
    chroma = None
    if chroma_jitter:
        rng = np.random.default_rng(seed + 2)
        chroma = rng.integers(127, 130, (4, height // 2 * width // 2 * 2), dtype=np.uint8)
    frames = (paint(i) if chroma is None else paint(i).tobytes() + chroma[i % 4].tobytes() for i in range(n_frames))
    return encode_frames(path, frames, width=width, height=height, fps=fps, output_args=args, pix_fmt_in=in_fmt,
                         progress=progress)


def encode_frames(
    path: str | os.PathLike,
    frames: Iterable[np.ndarray | bytes],
    *,
    width: int,
    height: int,
    fps: float,
    output_args: Sequence[str] = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "23", "-pix_fmt", "yuv420p"),
    pix_fmt_in: str = "gray",
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Encode raw frames into ``path`` with the ffmpeg binary that ``imageio-ffmpeg`` ships.

    The encoder is started with no Python code run in the forked child (no
    ``preexec_fn``, unlike ``imageio_ffmpeg.write_frames``), so it is safe to call
    while decoder and Dask thread pools run: a fork that runs Python while other
    threads hold locks can hang the child before it executes ffmpeg. The file is
    written under a temporary name and renamed when ffmpeg succeeds.

    Parameters
    ----------
    path : PathLike
        Output video file.
    frames : iterable of ndarray or bytes
        Raw frames in ``pix_fmt_in`` (``(height, width)`` uint8 arrays for ``'gray'``).
    width, height, fps : int, int, float
        Frame size and rate.
    output_args : sequence of str
        ffmpeg output options (codec, quality, pixel format).
    pix_fmt_in : str
        ffmpeg name of the raw input pixel format.
    progress : callable, optional
        Called with the number of frames handed to the encoder since its last call
        (every 100 frames and at the end).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import numpy as np
    >>> frames = (np.full((64, 64), i, np.uint8) for i in range(10))
    >>> encode_frames("ramp.mp4", frames, width=64, height=64, fps=30)  # doctest: +SKIP
    PosixPath('ramp.mp4')
    """
    import imageio_ffmpeg

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part" + path.suffix)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error",
           "-f", "rawvideo", "-pix_fmt", pix_fmt_in, "-s", f"{width}x{height}", "-r", str(fps),
           "-i", "-", *output_args, str(tmp)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    n = 0
    try:
        for n, frame in enumerate(frames, 1):
            proc.stdin.write(frame if isinstance(frame, bytes) else np.ascontiguousarray(frame).tobytes())
            if progress is not None and n % 100 == 0:
                progress(100)
        if progress is not None and n % 100:
            progress(n % 100)
    except BrokenPipeError:  # ffmpeg stopped reading: its message says why
        pass
    finally:  # on any exit ffmpeg sees the end of its input, and is waited for
        try:
            proc.stdin.close()
        except BrokenPipeError:
            pass
        err = proc.stderr.read().decode(errors="replace")
        code = proc.wait()
    if code != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"ffmpeg failed to encode {path}: {err}")
    os.replace(tmp, path)
    return path
