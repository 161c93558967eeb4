"""ibl-xvideo benchmarks: ratios against peers measured in the same process.

Run ``python benchmarks/run.py`` (``--minutes`` sets the length of the generated
640x512 @ 30 Hz IBL-encoded video; 10 by default, built once and cached).

Peers: the ``ffmpeg -f rawvideo -pix_fmt gray`` pipe (the decode limit of the
shipped ffmpeg binary, all cores) and OpenCV used the way ibllib uses it
(sequential ``cap.read()`` keeping channel 0; ``CAP_PROP_POS_FRAMES`` seeks for
sparse frames, as ``get_video_frames_preload``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import ibl_xvideo
from ibl_xvideo import compat
from ibl_xvideo.demo.synth import make_video
from ibl_xvideo.engine.decode import clear_caches
from ibl_xvideo.engine.index import cache_dir, get_index
from ibl_xvideo.io.container import as_source
from ibl_xvideo.qc.run import nearest_keyframes, sample_indices

#: Sensor noise of the benchmark video: about 1 kB per frame, the bitrate of IBL videos.
NOISE = 5.0


def bench_video(minutes: float, fps: int = 30) -> Path:
    """The benchmark video (640x512, libx264 slow crf 29), generated once and cached."""
    n = int(round(minutes * 60 * fps))
    path = cache_dir() / "bench" / f"body_{n}f_noise{NOISE:g}.mp4"
    if not path.exists():
        t = time.perf_counter()
        print(f"encoding {n} frames to {path} ...", file=sys.stderr, flush=True)
        make_video(path, n, width=640, height=512, fps=fps, noise=NOISE)
        print(f"  done in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return path


#: IBL's cameras: (width, height, fps), encoded as the ephys rigs do (libx264 -preset slow -crf 17) with the
#: sensor noise that gives a body camera IBL's ~10 KB a frame (the seed's: 1.21 GB, 120,355 frames)
IBL_CAMERAS = {"body": (640, 512, 30), "left": (1280, 1024, 60), "right": (640, 512, 150)}
IBL_CRF, IBL_NOISE = 17, 3.0


def _ibl_path(label: str, seconds: float) -> Path:
    n = int(round(seconds * IBL_CAMERAS[label][2]))
    return cache_dir() / "bench" / f"ibl_{label}_{n}f_crf{IBL_CRF}_noise{IBL_NOISE:g}.mp4"


def ibl_video(label: str, seconds: float) -> Path:
    """A camera video at IBL's size, rate and bitrate, ``seconds`` long, generated once and cached."""
    width, height, fps = IBL_CAMERAS[label]
    n = int(round(seconds * fps))
    path = _ibl_path(label, seconds)
    if not path.exists():
        t = time.perf_counter()
        print(f"encoding {n} {width}x{height} frames at IBL's bitrate to {path} ...", file=sys.stderr, flush=True)
        make_video(path, n, width=width, height=height, fps=fps, crf=IBL_CRF, noise=IBL_NOISE)
        print(f"  done in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return path


def ibl_video_exists(label: str, seconds: float) -> bool:
    """Whether :func:`ibl_video` has this video already (making one takes minutes)."""
    return _ibl_path(label, seconds).exists()


def ibl_hour(label: str = "body", seconds: float = 600.0) -> Path:
    """An hour of a camera at IBL's bitrate: :func:`ibl_video` of ``seconds`` joined by stream copy."""
    return _joined(ibl_video(label, seconds), int(round(3600 / seconds)))


#: Interleaved rounds of the comparisons (medians are reported; the sample reads take 5).
ROUNDS = 3


def _timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def _rounds(fns: dict, rounds: int = ROUNDS, outputs: dict | None = None) -> dict:
    """Time each function ``rounds`` times, interleaved (a, b, a, b, ...); name -> list of seconds.

    Run-to-run swings on a shared VM (10-20% here, more for OpenCV's threaded seeks)
    then hit every contender alike; compare medians. ``outputs`` receives each
    function's last result.
    """
    times = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            t, out = _timed(fn)
            times[name].append(t)
            if outputs is not None:
                outputs[name] = out
    return times


def scan_ffmpeg_pipe(path, h: int, w: int) -> np.ndarray:
    """Per-frame max from the ffmpeg gray pipe."""
    import imageio_ffmpeg

    proc = subprocess.Popen([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(path),
                             "-f", "rawvideo", "-pix_fmt", "gray", "-"], stdout=subprocess.PIPE)
    size, out = h * w, []
    while True:
        buf = proc.stdout.read(size)
        if len(buf) < size:
            break
        out.append(np.frombuffer(buf, np.uint8).max())
    proc.wait()
    return np.array(out)


def scan_opencv(path) -> np.ndarray:
    """Per-frame max of channel 0, reading sequentially with OpenCV as ibllib does."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame[:, :, 0].max())
    cap.release()
    return np.array(out)


def scan_ours(path, workers: int = 2, pixels: str = "ibllib") -> np.ndarray:
    """Per-frame max over the lazy DataArray, Dask threads, keyframe-aligned chunks."""
    cam = ibl_xvideo.open_camera(path, timestamps=False, pixels=pixels)
    return cam.max(("y", "x")).compute(scheduler="threads", num_workers=workers).values


def scan_imageio_pyav(path) -> np.ndarray:
    """Per-frame max through imageio's pyav plugin (swscale to gray, frame threads)."""
    import imageio.v3 as iio

    return np.array([f.max() for f in iio.imiter(path, plugin="pyav", format="gray", thread_type="AUTO")])


def samples_opencv(path, idx) -> np.ndarray:
    """ibllib's get_video_frames_preload(path, idx, mask=np.s_[:, :, 0]) logic, on OpenCV."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames = np.zeros((len(idx), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                       int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))), np.uint8)
    prev = None
    for k, i in enumerate(idx):
        if prev is None or i != prev + 1:
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
        ok, frame = cap.read()
        if ok:
            frames[k] = frame[:, :, 0]
        prev = i
    cap.release()
    return frames


#: Peak RSS of this process in MiB. (Not ru_maxrss: Linux keeps it across exec, so a child
#: would report its parent's peak.)
_PEAK = ("[int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith('VmHWM')][0]")


def peak_rss_of_scan(path) -> float:
    """Peak RSS (MiB) of a fresh process doing a full scan."""
    code = ("import sys; sys.path.insert(0, %r); from benchmarks.run import scan_ours; "
            "scan_ours(%r); print(%s)" % (str(Path(__file__).resolve().parents[1]), str(path), _PEAK))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def export_peak_rss(path, store) -> float:
    """Peak RSS (MiB) of a fresh process exporting the video to Zarr."""
    code = ("import ibl_xvideo; cam = ibl_xvideo.open_camera(%r, timestamps=False); "
            "ibl_xvideo.to_zarr(cam, %r, progress=False, overwrite=True); print(%s)"
            % (str(path), str(store), _PEAK))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def codec_table(path, n: int = 250) -> list[dict]:
    """Compression ratio and write speed of Zarr codecs on ``n`` decoded frames."""
    import shutil
    import tempfile

    import zarr
    from zarr.codecs import BloscCodec, ZstdCodec

    index = get_index(path)
    data = ibl_xvideo.read_frames(index, np.arange(n))
    options = {
        "blosc lz4 bitshuffle (default)": [BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle")],
        "blosc zstd-1 bitshuffle": [BloscCodec(cname="zstd", clevel=1, shuffle="bitshuffle")],
        "blosc zstd-3 no shuffle": [BloscCodec(cname="zstd", clevel=3, shuffle="noshuffle")],
        "zstd-3": [ZstdCodec(level=3)],
        "none": None,
    }
    rows = []
    for name, comp in options.items():
        d = tempfile.mkdtemp()
        try:
            a = zarr.create_array(d, shape=data.shape, dtype="uint8", chunks=(1,) + data.shape[1:],
                                  shards=data.shape, compressors=comp, zarr_format=3)
            t, _ = _timed(lambda: a.__setitem__(slice(None), data))
            size = sum(f.stat().st_size for f in Path(d).rglob("*") if f.is_file())
            rows.append({"codec": name, "ratio": data.nbytes / size, "write_MBps": data.nbytes / t / 1e6,
                         "encode_ms_per_frame": _encode_ms(comp, data)})
        finally:
            shutil.rmtree(d, ignore_errors=True)
    return rows


def reopen_by_eid(path) -> float:
    """Median ms to reopen the video by eid through a real ``One`` on a local cache (loads the timestamps)."""
    import tempfile

    from one.api import One

    from ibl_xvideo.demo import camera_times, make_one_cache

    eid = "0b0e0b0e-1111-4222-8333-444455556666"
    with tempfile.TemporaryDirectory() as root:
        session = Path(root) / "lab" / "Subjects" / "bench" / "2026-01-01" / "001"
        (session / "raw_video_data").mkdir(parents=True)
        (session / "alf").mkdir()
        os.symlink(path, session / "raw_video_data" / "_iblrig_bodyCamera.raw.mp4")
        np.save(session / "alf" / "_ibl_bodyCamera.times.npy", camera_times(get_index(path).length, 30))
        make_one_cache(root, {"lab/Subjects/bench/2026-01-01/001": eid})
        one = One(cache_dir=root, mode="local")
        ibl_xvideo.open_camera(eid, "body", one=one)
        return 1000 * statistics.median(_timed(lambda: ibl_xvideo.open_camera(eid, "body", one=one))[0]
                                        for _ in range(5))


def real_frames_codec(path) -> list[dict]:
    """The default codec on real IBL frames (ibllib's QC reference frames, when ibllib is installed).

    Tells whether the synthetic video compresses like real rig videos: same codec,
    one thread, ratio and encoding time per frame, next to 3 frames of ``path``.
    """
    import importlib.util

    import numcodecs

    from ibl_xvideo.store import AUTO_BLOSC

    spec = importlib.util.find_spec("ibllib")
    sets = {"synthetic (this video)": ibl_xvideo.read_frames(get_index(path), [3000, 3001, 3002])}
    if spec is not None and spec.origin:
        for label in ("left", "right", "body"):
            f = Path(spec.origin).parent / "qc" / "reference" / f"frames_{label}.npy"
            if f.exists():
                sets[f"ibllib reference frames, {label}"] = np.load(f)
    shuffle = {"noshuffle": 0, "shuffle": 1, "bitshuffle": 2}[AUTO_BLOSC["shuffle"]]
    codec = numcodecs.Blosc(cname=AUTO_BLOSC["cname"], clevel=AUTO_BLOSC["clevel"], shuffle=shuffle, blocksize=0)
    threads = numcodecs.blosc.get_nthreads()
    numcodecs.blosc.set_nthreads(1)
    rows = []
    try:
        for name, frames in sets.items():
            frames = [np.ascontiguousarray(f) for f in frames]
            size, t = 0, time.perf_counter()
            for _ in range(20):
                size = sum(len(codec.encode(f)) for f in frames)
            dt = (time.perf_counter() - t) / (20 * len(frames))
            rows.append({"frames": name, "shape": list(frames[0].shape), "ratio": sum(f.nbytes for f in frames) / size,
                         "encode_ms_per_frame": 1000 * dt, "encode_GBps": frames[0].nbytes / dt / 1e9})
    finally:
        numcodecs.blosc.set_nthreads(threads)
    return rows


def _encode_ms(compressors, data: np.ndarray) -> float:
    """Milliseconds to encode one frame with a zarr codec list, one thread (the export's per-frame cost)."""
    import asyncio

    import zarr
    from zarr.core.array_spec import ArrayConfig, ArraySpec
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.buffer.cpu import NDBuffer
    from zarr.dtype import UInt8

    if not compressors:
        return 0.0
    spec = ArraySpec(shape=data.shape[1:], dtype=UInt8(), fill_value=0, config=ArrayConfig.from_dict({}),
                     prototype=default_buffer_prototype())
    codec = zarr.codecs.BytesCodec()
    frames = [NDBuffer.from_numpy_array(f) for f in data[:50]]

    async def encode_all():
        for f in frames:
            b = await codec._encode_single(f, spec)
            for c in compressors:
                b = await c.evolve_from_array_spec(spec)._encode_single(b, spec)

    t = time.perf_counter()
    asyncio.run(encode_all())
    return (time.perf_counter() - t) / len(frames) * 1000


@contextlib.contextmanager
def _served(path):
    """The video served over loopback HTTP by the tests' Range server: ``(server, url, size)``."""
    import shutil
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.httpserver import FileServer

    root = Path(tempfile.mkdtemp())
    os.symlink(path, root / "_iblrig_bodyCamera.raw.mp4")
    srv = FileServer(root)
    try:
        yield srv, srv.url("_iblrig_bodyCamera.raw.mp4"), Path(path).stat().st_size
    finally:
        srv.close()
        shutil.rmtree(root, ignore_errors=True)


def remote_frame(path) -> dict:
    """Bytes and latency of one mid-video frame over HTTP (ours, cold and with the index cached; OpenCV)."""

    out = {}
    with _served(path) as (srv, url, size):
        n = get_index(path).length
        mid = n // 2
        for key in ("first_open", "index_cached"):
            if key == "index_cached":
                get_index(url)  # put the URL's index in the on-disk cache
            clear_caches()
            before = srv.bytes_sent
            t = time.perf_counter()
            if key == "first_open":  # index from the container's tables, then the frame
                frame = ibl_xvideo.read_frames(get_index(url, use_cache=False), [mid])[0]
            else:
                frame = ibl_xvideo.open_camera(url, chunks=None, timestamps=False).isel(time=mid).values
            out[f"remote_{key}_ms"] = 1000 * (time.perf_counter() - t)
            out[f"remote_{key}_bytes_pct"] = 100 * (srv.bytes_sent - before) / size
        local = ibl_xvideo.read_frames(get_index(path), [mid])[0]
        out["remote_identical"] = bool(np.array_equal(frame, local))
        import cv2

        before = srv.bytes_sent
        t = time.perf_counter()
        cap = cv2.VideoCapture(url)
        cap.set(cv2.CAP_PROP_POS_FRAMES, mid)
        ok, img = cap.read()
        cap.release()
        out["remote_opencv_ms"] = 1000 * (time.perf_counter() - t)
        out["remote_opencv_bytes_pct"] = 100 * (srv.bytes_sent - before) / size
    return out


def remote_samples(path) -> dict:
    """Bytes fetched over HTTP (loopback) for 100 QC samples: exact frames and nearest keyframes, index cached."""

    out = {}
    with _served(path) as (srv, url, size):
        index = get_index(url)  # the index (from the tables) cached first: a reopen, as for a batch
        idx = np.linspace(100, index.length - 100, 100).astype(int)
        for key, frames in (("exact", idx), ("keyframes", nearest_keyframes(index.key_frames, idx))):
            clear_caches()
            before = srv.bytes_sent
            t = time.perf_counter()
            ibl_xvideo.read_frames(index, frames, workers=os.cpu_count() or 1)
            out[f"remote_samples_{key}_s"] = time.perf_counter() - t
            out[f"remote_samples_{key}_bytes_pct"] = 100 * (srv.bytes_sent - before) / size
    return out


def dense_video(frames: int = 3000) -> Path:
    """A video of real-camera size per frame (crf 17, strong sensor noise: tens of kB a frame), made once."""
    path = cache_dir() / "bench" / f"dense_{frames}f.mp4"
    if not path.exists():
        t = time.perf_counter()
        print(f"encoding {frames} dense frames to {path} ...", file=sys.stderr, flush=True)
        make_video(path, frames, width=640, height=512, fps=30, crf=17, noise=30.0)
        print(f"  done in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return path


def long_video(minutes: float = 10.0, copies: int = 30) -> Path:
    """An hour-long, 540000-frame video (the right camera at 150 Hz has as many): the benchmark video
    joined ``copies`` times by stream copy (seconds to make, no encoding)."""
    return _joined(bench_video(minutes), copies)


def _joined(src: Path, copies: int) -> Path:
    """``src`` joined ``copies`` times by stream copy (cached beside it)."""
    import imageio_ffmpeg

    path = src.with_name(f"long_{copies}x_{src.name}")
    if not path.exists():
        lst = path.with_suffix(".txt")
        lst.write_text("".join(f"file '{src}'\n" for _ in range(copies)))
        tmp = path.with_name(path.name + ".part.mp4")
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-safe", "0",
                        "-i", str(lst), "-c", "copy", str(tmp)], check=True)
        os.replace(tmp, path)
        lst.unlink()
    return path


def _drop_from_page_cache(path) -> None:
    """Evict the file from the page cache, so that the next read comes from the disk (all caches as root)."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
        return
    except OSError:
        pass
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _disk_limited(path, mbps: float):
    """Run the block inside a cgroup-v1 blkio group reading the file's disk at ``mbps`` MB/s (root only).

    Yields the limit applied, or None when it cannot be set (the block then runs unthrottled).
    """
    root = Path("/sys/fs/cgroup/blkio")
    group = root / "ibl_xvideo_bench"
    st = os.stat(path)
    try:
        group.mkdir(exist_ok=True)
        (group / "blkio.throttle.read_bps_device").write_text(
            f"{os.major(st.st_dev)}:{os.minor(st.st_dev)} {int(mbps * 2**20)}\n")
        (group / "cgroup.procs").write_text(f"{os.getpid()}\n")
    except OSError:
        yield None
        return
    try:
        yield mbps
    finally:
        (root / "cgroup.procs").write_text(f"{os.getpid()}\n")


def first_open(path, rounds: int = ROUNDS, disk_mbps: float = 100.0, key: str = "first_open") -> dict:
    """First open of a camera video, dropped from the page cache before each round.

    Our index (from the mp4's own tables) against the same index from every packet (as
    before the sixth session), and against OpenCV opening the file and reading its frame
    count; read from a disk limited to ``disk_mbps`` MB/s (a hard disk or a network share)
    when this process may set that limit (root, cgroup-v1 blkio), and with the file in
    the page cache.
    """
    import cv2

    from ibl_xvideo.engine.index import build_index

    def opencv_open():
        cap = cv2.VideoCapture(str(path))
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        return n

    def cold(fn):
        def run():
            _drop_from_page_cache(path)
            return fn()
        return run

    fns = {"ours": lambda: build_index(as_source(path)), "packets": lambda: build_index(as_source(path), tables=False),
           "opencv": opencv_open}
    index = build_index(as_source(path))
    for fn in fns.values():  # libraries loaded before any disk limit
        fn()
    with _disk_limited(path, disk_mbps) as limit:
        times = _rounds({k: cold(fn) for k, fn in fns.items()}, rounds=rounds)
    hot = _rounds(fns, rounds=rounds)
    res = {"MB": round(Path(path).stat().st_size / 2**20, 1), "frames": index.length, "disk_MBps": limit}
    for k in fns:
        res[f"s_{k}"] = statistics.median(times[k])
        res[f"hot_s_{k}"] = statistics.median(hot[k])
    res["speedup"] = res["s_packets"] / res["s_ours"]
    res["hot_speedup"] = res["hot_s_packets"] / res["hot_s_ours"]
    return {f"{key}_{k}": v for k, v in res.items()}


def _remote_index_rows(res: dict) -> list[tuple]:
    if "remote_index_s_ours" not in res:
        return []
    return [(f"index over HTTP, {res['remote_index_frames']} frames: from the parsed tables",
             f"{res['remote_index_s_ours']:.2f} s", f"{res['remote_index_MiB_ours']:.1f} MiB fetched"),
            ("  every packet demuxed, zero-filled", f"{res['remote_index_s_packets']:.2f} s",
             f"{res['remote_index_s_packets'] / res['remote_index_s_ours']:.0f}x slower, "
             f"{res['remote_index_MiB_packets']:.1f} MiB fetched")]


def remote_first_open(path) -> dict:
    """A video's index over loopback HTTP: from its parsed tables vs every packet demuxed (zero-filled)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from ibl_xvideo.engine.index import build_index
    from ibl_xvideo.io import remote
    from tests.httpserver import FileServer

    srv = FileServer(Path(path).parent)
    try:
        url, out = srv.url(Path(path).name), {}
        for key, parse in (("ours", True), ("packets", False)):
            clear_caches()
            remote.STATS.reset()
            t, index = _timed(lambda: build_index(as_source(url), tables=parse))
            out[f"remote_index_s_{key}"] = t
            out[f"remote_index_MiB_{key}"] = remote.STATS.bytes / 2**20
        out["remote_index_frames"] = index.length
    finally:
        srv.close()
    return out


def _first_open_rows(res: dict, key: str = "first_open") -> list[tuple]:
    r = {k[len(key) + 1:]: v for k, v in res.items() if k.startswith(key + "_")}
    if not r:
        return []
    disk = f"disk at {r['disk_MBps']:g} MB/s" if r["disk_MBps"] else "disk unthrottled"
    return [
        (f"first open, {r['frames']} frames, {r['MB']} MB, {disk}: our index", f"{r['s_ours']:.3f} s", ""),
        ("  same index from every packet", f"{r['s_packets']:.3f} s", f"{r['speedup']:.1f}x"),
        ("  OpenCV open + frame count", f"{r['s_opencv']:.3f} s", ""),
        ("  in the page cache: ours / every packet / OpenCV",
         f"{r['hot_s_ours']:.3f} / {r['hot_s_packets']:.3f} / {r['hot_s_opencv']:.3f} s", f"{r['hot_speedup']:.1f}x"),
    ]


def sample_reads(path, rounds: int = 5) -> dict:
    """The 100 frames CameraQC samples: ours (cold) against OpenCV's seek loop and ibllib's own function.

    Medians of interleaved rounds; also the same frames through the Dask-backed camera.
    """
    index = get_index(path)
    n = index.length
    res = {}
    idx = np.linspace(100, n - 100, 100).astype(int)
    f_cv = samples_opencv(path, idx)

    def ours_cold():
        clear_caches()  # no decoded frame or open decoder kept from the previous round
        return compat.get_video_frames_preload(path, idx, mask=np.s_[:, :, 0], quiet=True)

    keys = nearest_keyframes(index.key_frames, idx)

    def keyframes_cold():  # camera_qc(samples='keyframes'): the keyframe nearest each sample
        clear_caches()
        return ibl_xvideo.read_frames(index, keys, workers=os.cpu_count() or 1)

    peers = {"opencv": lambda: samples_opencv(path, idx), "ours": ours_cold, "keyframes": keyframes_cold}
    try:  # ibllib's own function, when it is installed (the same OpenCV loop), in the same rounds
        import contextlib
        import io

        from ibllib.io.video import get_video_frames_preload

        def ibllib_loading():
            with contextlib.redirect_stdout(io.StringIO()):
                return get_video_frames_preload(path, idx, mask=np.s_[:, :, 0])

        peers["ibllib"] = ibllib_loading
    except ImportError:
        pass
    times = _rounds(peers, rounds=rounds)
    t_cvs, t_qs = statistics.median(times["opencv"]), statistics.median(times["ours"])
    if "ibllib" in times:
        res["qc100_s_ibllib"] = statistics.median(times["ibllib"])
    res["qc100_s_keyframes"] = statistics.median(times["keyframes"])
    ratios = [a / b for a, b in zip(times["opencv"], times["ours"])]
    # the same frames through the default (Dask-backed) camera: planned per keyframe group
    dask_cam = ibl_xvideo.open_camera(path, timestamps=False)
    clear_caches()
    res["qc100_s_dask_camera"], f_dask = _timed(lambda: dask_cam.isel(time=idx).values)
    seq = ibl_xvideo.read_frames(index, idx)  # our frames (exact by pts)
    res["qc100_dask_camera_identical"] = bool(np.array_equal(f_dask, seq))
    res.update(qc100_s_ours=t_qs, qc100_s_opencv=t_cvs, qc100_speedup=t_cvs / t_qs,
               qc100_round_ratios=[round(r, 2) for r in ratios],
               qc100_opencv_frames_differing=int(sum(not np.array_equal(a, b) for a, b in zip(f_cv, seq))))
    return res


def frame_opencv_each(path, i: int) -> np.ndarray:
    """ibllib's get_video_frame(path, i) logic on OpenCV: open, seek, read one frame, release."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(i))
    ok, frame = cap.read()
    cap.release()
    return frame[:, :, 0] if ok else None


def peri_event_bench(path, n_events: int = 200, peer_events: int = 5, big: int = 2000) -> dict:
    """A +-1 s peri-event stack of ``n_events`` events: ours against a loop of ibllib's get_video_frame.

    The loop (one OpenCV open and seek per frame, as ``get_video_frame``) runs on the
    first ``peer_events`` events and is scaled to ``n_events`` (its cost is per frame).
    Then the peak memory of a fresh process averaging a ``big``-event stack.
    """
    index = get_index(path)
    n, fps = index.length, index.fps
    rng = np.random.default_rng(0)
    events = np.sort(rng.uniform(2, n / fps - 2, n_events))
    cam = ibl_xvideo.open_camera(path, timestamps=False)
    clear_caches()
    t_ours, stack = _timed(lambda: ibl_xvideo.peri_event(cam, events, (-1.0, 1.0)).compute())
    frames = stack.frame.values
    try:
        from ibllib.io.video import get_video_frame

        def peer(i):
            return get_video_frame(str(path), int(i))[:, :, 0]
        peer_name = "ibllib get_video_frame"
    except ImportError:
        peer, peer_name = (lambda i: frame_opencv_each(path, i)), "OpenCV open+seek per frame (ibllib's logic)"
    sub = frames[:peer_events].ravel()
    t = time.perf_counter()
    got = [peer(i) for i in sub]
    t_peer = (time.perf_counter() - t) * n_events / peer_events
    same = all(np.array_equal(g, v) for g, v in zip(got, stack.values[:peer_events].reshape((-1,) + got[0].shape)))
    code = ("import numpy as np, ibl_xvideo; cam = ibl_xvideo.open_camera(%r, timestamps=False); "
            "ev = np.sort(np.random.default_rng(1).uniform(2, %f, %d)); "
            "s = ibl_xvideo.peri_event(cam, ev, (-1.0, 1.0)); "
            "s.astype('float32').mean('event').compute(); print(%s)" % (str(path), n / fps - 2, big, _PEAK))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return {"pe_events": n_events, "pe_frames": int(frames.size), "pe_s_ours": t_ours, "pe_s_peer": t_peer,
            "pe_peer": peer_name, "pe_peer_events": peer_events, "pe_ratio": t_peer / t_ours,
            "pe_peer_identical": bool(same), "pe_big_events": big,
            "pe_big_peak_mib": float(out.stdout.strip().splitlines()[-1])}


def peri_event_memory(path, counts=(200, 2000, 20000), window=(-0.5, 0.5), dask_up_to: int = 2000) -> dict:
    """Peak memory (MiB) and seconds of the mean frame over ``n`` events at each lag, in a fresh process each:
    ``peri_event_mean`` (running sums) and, up to ``dask_up_to`` events, Dask's own
    ``stack.where(stack.valid).mean('event')``."""
    n, fps = get_index(path).length, get_index(path).fps
    out = {}
    for count in counts:
        for how, expr in (("ours", "ibl_xvideo.peri_event_mean(s)"), ("dask", "s.where(s.valid).mean('event')")):
            if how == "dask" and count > dask_up_to:
                continue
            code = ("import time, numpy as np, ibl_xvideo; cam = ibl_xvideo.open_camera(%r, timestamps=False); "
                    "ev = np.sort(np.random.default_rng(1).uniform(2, %f, %d)); "
                    "s = ibl_xvideo.peri_event(cam, ev, %r); t = time.perf_counter(); m = %s.compute(); "
                    "print(time.perf_counter() - t); print(%s)" % (str(path), n / fps - 2, count, tuple(window),
                                                                   expr, _PEAK))
            lines = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                   text=True).stdout.strip().splitlines()
            out[(how, count)] = {"s": float(lines[-2]), "peak_mib": float(lines[-1])}
    return out


def selection_forms(path, n: int = 50, seed: int = 0) -> dict:
    """``n`` scattered frames selected in each form (on the camera, cropped, after transforms): seconds, frames decoded.

    The last form, a vectorised selection, is one the planner does not know: Dask's own
    (the chunk of each wanted frame decoded whole), for comparison.
    """
    import dask
    import xarray as xr

    from ibl_xvideo.engine.decode import STATS

    cam = ibl_xvideo.open_camera(path)
    wanted = np.sort(np.random.default_rng(seed).choice(cam.sizes["time"], n, replace=False))
    forms = {
        "cam": lambda: cam.isel(time=wanted),
        "cropped": lambda: cam.isel(y=slice(100, 300), x=slice(200, 500)).isel(time=wanted),
        "cam + 0": lambda: (cam + 0).isel(time=wanted),
        "astype float32": lambda: cam.astype("float32").isel(time=wanted),
        "transpose y x time": lambda: cam.transpose("y", "x", "time").isel(time=wanted),
        "vectorised (Dask's own)": lambda: (cam + 0).isel(time=xr.DataArray(wanted[None], dims=("a", "b"))),
    }
    out = {}
    for name, form in forms.items():
        clear_caches()
        STATS.reset()
        with dask.config.set(scheduler="threads", num_workers=2):
            t0 = time.perf_counter()
            form().values
            out[name] = {"s": time.perf_counter() - t0, "frames": STATS.frames}
    return {"forms": out, "forms_n": n, "forms_video_frames": cam.sizes["time"]}


def two_decoders(path, n: int) -> float:
    """Seconds for two single-threaded FFmpeg decoders side by side, each decoding half the video (no output).

    The physical limit of a scan on two cores: what a perfect split of the decoding
    would take, with nothing done with the frames.
    """
    import imageio_ffmpeg

    index = get_index(path)
    mid = index.key_frames[np.searchsorted(index.key_frames, n // 2)] if n > 1 else 0
    t_mid = mid / index.fps
    ff = [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-threads", "1"]
    halves = [ff + ["-i", str(path), "-frames:v", str(mid), "-f", "null", "-"],
              ff + ["-ss", f"{t_mid:.6f}", "-i", str(path), "-f", "null", "-"]]
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd) for cmd in halves]
    for p in procs:
        p.wait()
    return time.perf_counter() - t0


def scan_breakdown(label: str = "body", seconds: float = 600.0) -> dict:
    """Milliseconds a frame, one thread, of the scan's steps on a camera at IBL's bitrate: ``ffmpeg -threads 1``,
    PyAV decoding alone, PyAV decoding and ibllib's grey lookup alone (the floor of a scan of ibllib's values),
    our decode loop with ibllib's grey (``each_frame``), and the camera's Dask ``max``."""
    import av
    import imageio_ffmpeg

    from ibl_xvideo.engine.decode import apply_lut, each_frame, to_grey

    path = ibl_video(label, seconds)
    index = get_index(path)
    n = index.length
    # ibllib's grey of each luma value (neutral chroma), as every read converts it
    ramp = av.VideoFrame(256, 2, "yuv420p")
    ramp.planes[0].update(np.tile(np.arange(ramp.planes[0].line_size) % 256, 2).astype(np.uint8).tobytes())
    for plane in ramp.planes[1:]:
        plane.update(bytes([128]) * (plane.line_size * plane.height))
    lut = to_grey(ramp, color_range=index.color_range)[0, :256].copy()

    def ffmpeg():
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-nostdin", "-threads", "1", "-i", str(path),
                        "-f", "null", "-"], check=True)

    def pyav():
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            stream.codec_context.thread_type, stream.codec_context.thread_count = "SLICE", 1
            for frame in c.decode(stream):
                np.frombuffer(frame.planes[0], np.uint8)

    def grey():  # PyAV's decoding and ibllib's grey lookup, nothing else: the floor of an ibllib-grey scan
        with av.open(str(path)) as c:
            stream = c.streams.video[0]
            stream.codec_context.thread_type, stream.codec_context.thread_count = "SLICE", 1
            out = np.empty((index.height, index.width), np.uint8)
            for frame in c.decode(stream):
                apply_lut(lut, np.frombuffer(frame.planes[0], np.uint8).reshape(-1, frame.planes[0].line_size)
                          [:index.height, :index.width], out)

    def loop():
        clear_caches()
        each_frame(index, 0, n, lambda i, f: None)

    def camera():
        clear_caches()
        cam = ibl_xvideo.open_camera(path, timestamps=False)
        cam.max(("y", "x")).compute(scheduler="threads", num_workers=1)

    steps = {"ffmpeg -threads 1": ffmpeg, "PyAV decode": pyav, "PyAV decode + ibllib grey lookup": grey,
             "each_frame (ibllib grey)": loop, "camera max, one Dask thread": camera}
    times = {k: statistics.median(v) for k, v in _rounds(steps, rounds=3).items()}
    return {k: {"ms": 1000 * t / n, "of_ffmpeg": times["ffmpeg -threads 1"] / t} for k, t in times.items()}


def scan_cameras(seconds: dict | None = None, rounds: int = ROUNDS) -> dict:
    """The whole-video scan on each IBL camera at IBL's bitrate: ours, the ffmpeg gray pipe, two decoders."""
    seconds = seconds or {"body": 600, "left": 60, "right": 60}
    out = {}
    for label, secs in seconds.items():
        path = ibl_video(label, secs)
        index = get_index(path)
        n, h, w = index.length, index.height, index.width
        times = _rounds({"ours": lambda: scan_ours(path), "pipe": lambda: scan_ffmpeg_pipe(path, h, w),
                         "two decoders": lambda: two_decoders(path, n)}, rounds=rounds)
        med = {k: statistics.median(v) for k, v in times.items()}
        out[label] = {"frames": n, "size": f"{w}x{h}", "kb_per_frame": path.stat().st_size / n / 1000,
                      **{f"{k}_fps": n / v for k, v in med.items()},
                      "vs_pipe": med["pipe"] / med["ours"], "of_limit": med["two decoders"] / med["ours"],
                      "rounds_vs_pipe": [round(a / b, 2) for a, b in zip(times["pipe"], times["ours"])]}
    return out


def qc_cost(labels=("body", "left", "right")) -> dict:
    """What the QC of an hour of each camera at IBL's bitrate costs: CPU seconds and wall seconds of
    ``camera_qc(refs=False)`` with exact and keyframe samples (local file, index cached), and the bytes
    100 samples fetch over HTTP (loopback)."""
    from ibl_xvideo.qc import camera_qc

    out = {}
    for label in labels:
        path = ibl_hour(label, 600.0 if label == "body" else 60.0)
        r = {"frames": get_index(path).length, "GB": path.stat().st_size / 1e9}  # the index built first
        for mode in ("keyframes", "exact"):
            clear_caches()
            c0, t0 = time.process_time(), time.perf_counter()
            with warnings.catch_warnings():  # a bare video has no timestamps: the samples are read all the same
                warnings.simplefilter("ignore")
                camera_qc(path, label, samples=mode, refs=False, kind="ephys", progress=False)
            r[f"{mode}_cpu_s"], r[f"{mode}_s"] = time.process_time() - c0, time.perf_counter() - t0
        http = remote_samples(path)
        r.update(exact_http_pct=http["remote_samples_exact_bytes_pct"],
                 keyframes_http_pct=http["remote_samples_keyframes_bytes_pct"])
        r["exact_http_MB"] = r["exact_http_pct"] / 100 * r["GB"] * 1e3
        r["keyframes_http_MB"] = r["keyframes_http_pct"] / 100 * r["GB"] * 1e3
        out[label] = r
    return out


def _keyframe_packet_bytes(path) -> tuple[int, np.ndarray]:
    """``(bytes of the moov box, size of each keyframe packet in keyframe order)`` of a local mp4."""
    import av

    from ibl_xvideo.io.fileio import mp4_boxes

    size = Path(path).stat().st_size
    with open(path, "rb") as f:
        def read(o, n):
            f.seek(o)
            return f.read(n)

        moov = next(b - a for t, a, b in mp4_boxes(read, 0, size) if t == b"moov")
    with av.open(str(path)) as c:
        keys = np.array([p.size for p in c.demux(c.streams.video[0]) if p.is_keyframe and p.size], np.int64)
    return moov, keys


def remote_qc(videos: dict) -> dict:
    """``camera_qc`` of each camera's video over loopback HTTP, exact and keyframe samples: seconds and bytes
    fetched, the index cached (a batch's reopen) and cold (the first open); for keyframes, the bytes against the
    container's tables plus the keyframe packets it decodes."""
    from ibl_xvideo.qc import camera_qc

    out = {}
    for name, (label, path) in videos.items():
        moov, keys = _keyframe_packet_bytes(path)
        r = {"frames": get_index(path).length, "MB": path.stat().st_size / 1e6, "moov_MB": moov / 1e6}
        with _served(path) as (srv, url, size):
            for cold in (True, False):
                for mode in ("keyframes", "exact"):
                    clear_caches()
                    before, t = srv.bytes_sent, time.perf_counter()
                    with warnings.catch_warnings():  # a bare video: no timestamps, the samples read all the same
                        warnings.simplefilter("ignore")
                        if cold:
                            get_index(url, use_cache=False)
                        res = camera_qc(url, label, samples=mode, refs=False, kind="ephys", progress=False)
                    key = f"{mode}_{'cold' if cold else 'cached'}"
                    r[f"{key}_s"], r[f"{key}_MB"] = time.perf_counter() - t, (srv.bytes_sent - before) / 1e6
                    r[f"{key}_reported_MB"] = res.measures.attrs.get("bytes_read", 0) / 1e6
            index = get_index(url)
            idx = sample_indices(index.length, 100)
            groups = np.unique(index.group_of(np.unique(nearest_keyframes(index.key_frames, idx))))
            r["keyframe_packets_MB"] = keys[groups].sum() / 1e6
            r["keyframes_vs_needed"] = r["keyframes_cached_MB"] / (r["moov_MB"] + r["keyframe_packets_MB"])
        out[name] = r
    return out


def _rig_sessions(video, label: str, sessions: int, root: Path) -> list:
    """``sessions`` session folders, each with ``video`` (a link) as its ``label`` camera and the rig's files."""
    from ibl_xvideo.demo import camera_times, write_camera_session_files

    index = get_index(video)
    paths = []
    for k in range(sessions):
        sp = root / f"lab/Subjects/mouse{k:02d}/2026-01-01/001"
        (sp / "raw_video_data").mkdir(parents=True)
        (sp / "raw_video_data" / f"_iblrig_{label}Camera.raw.mp4").symlink_to(video)
        write_camera_session_files(sp, label, camera_times(index.length, round(index.fps), seed=k), seed=k)
        paths.append(sp)
    return paths


#: The phases of a camera's QC task, by the function that does each (cProfile's cumulative seconds).
TASK_PHASES = {"index (first open: the tables parsed and checked)": "index.py:build_index",
               "rig files (frameData.bin: counter, GPIO, times)": "raw.py:load_camera_rig_data",
               "audio TTLs (the DAQ sync)": "raw.py:load_audio_ttls",
               "samples (decode, pixel conversion, measures)": "run.py:_read_samples"}


def qc_task_cost(label: str = "body", sessions: int = 5) -> dict:
    """CPU seconds of one camera's keyframe QC task (``camera_qc(samples='keyframes', refs=False)``), as a
    batch worker runs it (one decoding thread): an hour of the camera at IBL's bitrate with the rig's files,
    median over ``sessions`` sessions each opened for the first time, and the same with the index cached;
    with the CPU seconds of each phase (cProfile, one more session)."""
    import cProfile
    import pstats
    import shutil
    import tempfile

    from ibl_xvideo.qc import camera_qc
    from ibl_xvideo.qc import run as qc_run

    video = ibl_hour(label, 600.0 if label == "body" else 60.0)
    root = Path(tempfile.mkdtemp(prefix="xvideo-task-"))
    paths = _rig_sessions(video, label, sessions + 2, root)
    one_thread = qc_run.os.cpu_count
    out = {"frames": get_index(video).length}
    try:
        qc_run.os.cpu_count = lambda: 1  # as on a worker of batch_qc's cluster
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")

            def task(sp):
                clear_caches()
                c0 = time.process_time()
                camera_qc(sp, label, samples="keyframes", refs=False, kind="ephys", progress=False)
                return time.process_time() - c0

            task(paths[-1])  # imports, first decoder
            out["first_open_cpu_s"] = float(np.median([task(sp) for sp in paths[:sessions]]))
            out["cached_cpu_s"] = float(np.median([task(sp) for sp in paths[:sessions]]))
            prof = cProfile.Profile()
            clear_caches()
            prof.enable()
            camera_qc(paths[sessions], label, samples="keyframes", refs=False, kind="ephys", progress=False)
            prof.disable()
        stats = pstats.Stats(prof).stats
        total = max(ct for (_, _, _), (_, _, _, ct, _) in stats.items())
        out["phases"] = {}
        for phase, where in TASK_PHASES.items():
            fname, func = where.split(":")
            out["phases"][phase] = sum(ct for (f, _, fn), (_, _, _, ct, _) in stats.items()
                                       if f.endswith(fname) and fn == func)
        out["phases"]["the rest (resolving, judging, the result)"] = total - sum(out["phases"].values())
    finally:
        qc_run.os.cpu_count = one_thread
        shutil.rmtree(root, ignore_errors=True)
    return out


def batch_throughput(video, sessions: int = 8, workers: int = 2, modes=("keyframes", "exact")) -> dict:
    """batch_qc of ``sessions`` sessions (each with ``video`` as its body camera) on a local cluster.

    Camera-sessions per minute per core, for each of ``modes`` (exact and keyframe samples);
    the seconds of a task on its worker (mean).
    """
    import shutil
    import tempfile

    from distributed import Client, LocalCluster

    from ibl_xvideo.qc import batch_qc

    root = Path(tempfile.mkdtemp(prefix="xvideo-batch-"))
    paths = [str(sp) for sp in _rig_sessions(video, "body", sessions, root)]
    out = {"batch_sessions": sessions, "batch_workers": workers}
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      host="127.0.0.1") as cluster, Client(cluster) as client:
        for mode in modes:
            t0 = time.perf_counter()
            table = batch_qc(paths, client=client, samples=mode, refs=False, kind="ephys", progress=False)
            dt = time.perf_counter() - t0
            assert table["error_type"].isna().all(), table[["source", "error"]]
            out[f"batch_{mode}_s"] = dt
            out[f"batch_{mode}_per_min_per_core"] = sessions / (dt / 60) / workers
            out[f"batch_{mode}_task_s"] = float(table["seconds"].mean())
    shutil.rmtree(root, ignore_errors=True)
    return out


def run(minutes: float = 10.0, rss: bool = True) -> dict:
    """Run every benchmark and return the measurements."""
    # offline: the QC must not try to download reference frames (position/focus are NOT_SET)
    os.environ["IBL_XVIDEO_REFERENCE_URL"] = ""
    path = bench_video(minutes)
    short = bench_video(minutes / 4)
    t_index, index = _timed(lambda: get_index(path, use_cache=False))
    get_index(path)  # cache it
    n, h, w = index.length, index.height, index.width
    res = {"video": str(path), "frames": n, "size_MB": round(path.stat().st_size / 2**20, 1),
           "index_build_s": round(t_index, 3)}
    res.update(first_open(dense_video()))
    res.update(first_open(long_video(minutes), key="first_open_long"))
    res.update(remote_first_open(long_video(minutes)))

    # full scan (medians of interleaved rounds; imageio's plugin, 3x slower, once)
    t_iio, m_iio = _timed(lambda: scan_imageio_pyav(path))
    maxima = {}
    scans = _rounds({"pipe": lambda: scan_ffmpeg_pipe(path, h, w), "opencv": lambda: scan_opencv(path),
                     "ours": lambda: scan_ours(path), "luma": lambda: scan_ours(path, pixels="luma")},
                    outputs=maxima)
    t_pipe, t_cv, t_ours, t_luma = (statistics.median(scans[k]) for k in ("pipe", "opencv", "ours", "luma"))
    m_pipe, m_cv, m_ours = maxima["pipe"], maxima["opencv"], maxima["ours"]
    assert m_pipe.size == m_cv.size == m_ours.size == m_iio.size == n
    res.update(scan_fps_ours=n / t_ours, scan_fps_ffmpeg_pipe=n / t_pipe, scan_fps_opencv=n / t_cv,
               scan_fps_imageio_pyav=n / t_iio, scan_fps_ours_luma=n / t_luma,
               scan_vs_pipe=t_pipe / t_ours, scan_vs_opencv=t_cv / t_ours,
               scan_max_diff_vs_opencv=int(np.abs(m_ours.astype(int) - m_cv).max()))

    # 100 QC samples, as CameraQC picks them (medians of interleaved rounds)
    res.update(sample_reads(path))
    t_cvs = res["qc100_s_opencv"]

    # the camera QC: 100 samples (ibllib's frame loading is the OpenCV seek loop above), and full
    import warnings

    from ibl_xvideo.qc import camera_qc

    ts = np.arange(n) / 30.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # with reference frames (here one frame of the video itself): position and focus too
        refs = ibl_xvideo.read_frames(index, [n // 2])

        def qc_cold(**kw):
            clear_caches()
            return camera_qc(path, "body", timestamps=ts, kind="ephys", progress=False, **kw)

        # the default finds ibllib's reference frames when ibllib is installed (never downloads here)
        from ibl_xvideo.qc.run import load_reference_frames

        os.environ["IBL_XVIDEO_REFERENCE_URL"] = ""
        res["qc_default_has_refs"] = load_reference_frames("body") is not None
        variants = {"default": {}, "norefs": {"refs": False}, "refs": {"refs": refs}}
        rounds = _rounds({k: (lambda kw=kw: qc_cold(**kw)) for k, kw in variants.items()})
        loading = res.get("qc100_s_ibllib", t_cvs)  # ibllib's own frame loading when installed
        # the full QC without reference frames runs at the scan's pace: in rounds with it; the others
        # (10x slower) once, against the scan's median above
        full = _rounds({"scan": lambda: scan_ours(path),
                        "norefs": lambda: qc_cold(full=True, **variants["norefs"])})
        for k, kw in variants.items():
            t = statistics.median(rounds[k])
            if k == "norefs":
                t_full, t_scan = statistics.median(full["norefs"]), statistics.median(full["scan"])
            else:
                t_full, t_scan = _timed(lambda: qc_cold(full=True, **kw))[0], n / res["scan_fps_ours"]
            res.update({f"qc_{k}_s": t, f"qc_{k}_vs_opencv_loading": t_cvs / t,
                        f"qc_{k}_vs_ibllib_loading": loading / t, f"qc_full_{k}_fps": n / t_full,
                        f"qc_full_{k}_vs_scan": t_scan / t_full})

    # one random frame: cold (fresh decoders and frame cache), then warm in the same group
    rng = np.random.default_rng(0)
    cold, warm_back, warm_fwd = [], [], []
    for i in rng.integers(300, n - 300, 5):
        clear_caches()
        cam = ibl_xvideo.open_camera(path, chunks=None, timestamps=False)
        g0 = index.key_frames[index.group_of(np.array([i]))[0]]
        t, _ = _timed(lambda: cam.isel(time=int(i)).values)
        cold.append(t)
        t, _ = _timed(lambda: cam.isel(time=int(max(g0, i - 3))).values)
        warm_back.append(t)
        t, _ = _timed(lambda: cam.isel(time=int(i + 1)).values)
        warm_fwd.append(t)
    res.update(frame_cold_ms=1000 * statistics.median(cold), frame_warm_same_group_ms=1000 * statistics.median(
        warm_back), frame_warm_next_ms=1000 * statistics.median(warm_fwd))

    # Zarr export and random frames from it
    import shutil

    store_res, tmp, store = store_reads(path, rng)
    res.update(store_res)
    # a whole-video reduction read from the store (first from the disk, then from the page cache)
    def scan_store():
        return ibl_xvideo.open_store(store).max(("y", "x")).compute(scheduler="threads", num_workers=2).values

    t_zs_disk, m_store = _timed(scan_store)
    t_zs, _ = _timed(scan_store)
    res.update(store_scan_fps_first=n / t_zs_disk, store_scan_fps=n / t_zs, store_scan_vs_scan=t_ours / t_zs,
               store_scan_identical=bool(np.array_equal(m_store, m_ours)))
    # the camera QC reading its samples from that store (no decoding)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qc_cached = [_timed(lambda: camera_qc(path, "body", timestamps=ts, kind="ephys", refs=r, cache=store,
                                              progress=False))[0] for r in (False, refs)]
    loading = res.get("qc100_s_ibllib", t_cvs)
    res.update(qc_cached_s=qc_cached[0], qc_cached_vs_ibllib_loading=loading / qc_cached[0],
               qc_cached_refs_s=qc_cached[1], qc_cached_refs_vs_ibllib_loading=loading / qc_cached[1])
    res["codecs"] = codec_table(path)
    res["codec_real_frames"] = real_frames_codec(path)

    # one frame from the middle, streamed over loopback HTTP, against OpenCV on the same URL
    res.update(remote_frame(path))

    # reopen with the index cached
    reopen = [_timed(lambda: ibl_xvideo.open_camera(path, timestamps=False))[0] for _ in range(5)]
    res["reopen_ms"] = 1000 * statistics.median(reopen)
    res["reopen_eid_ms"] = reopen_by_eid(path)

    if rss:
        res["scan_peak_rss_MiB_short"] = peak_rss_of_scan(short)
        res["scan_peak_rss_MiB_long"] = peak_rss_of_scan(path)
        res["short_frames"] = get_index(short).length
        res["export_peak_rss_MiB_short"] = export_peak_rss(short, tmp / "short.zarr")
        res["export_peak_rss_MiB_long"] = export_peak_rss(path, tmp / "long.zarr")
    shutil.rmtree(tmp, ignore_errors=True)
    return res


def store_reads(path, rng) -> tuple[dict, Path, Path]:
    """Export (against the scan, in interleaved rounds), then random frames from the store and the mp4.

    Also what verifying the frames costs: the CRC32C of every frame's stored chunk,
    timed on the store's own chunks, per frame and as a share of the export and of a
    random read. Returns the results, the temporary folder and the store in it.
    """
    import shutil
    import tempfile

    index = get_index(path)
    n = index.length
    res = {}
    tmp = Path(tempfile.mkdtemp())
    store = tmp / "bench.zarr"
    cam = ibl_xvideo.open_camera(path, timestamps=False)
    # export vs scan in interleaved rounds (medians), the store of the last round is used below
    exports = _rounds({
        "scan": lambda: scan_ours(path),
        "export": lambda: ibl_xvideo.to_zarr(cam, store, progress=False, overwrite=True),
        "raw": lambda: ibl_xvideo.to_zarr(cam, tmp / "raw.zarr", progress=False, overwrite=True,
                                          compressors=None)})
    shutil.rmtree(tmp / "raw.zarr", ignore_errors=True)
    t_exp, t_raw, t_scan2 = (statistics.median(exports[k]) for k in ("export", "raw", "scan"))
    zcam = ibl_xvideo.open_store(store, chunks=None)  # lazily indexed, without Dask, like the mp4 side
    picks = rng.integers(0, n, 20)
    # first reads come from the disk (the export bypasses the page cache), then from memory,
    # like the mp4, which every benchmark above has read
    z_cold = [_timed(lambda: zcam.isel(time=int(i)).values)[0] for i in picks]
    z_times = [_timed(lambda: zcam.isel(time=int(i)).values)[0] for i in picks]
    clear_caches()
    lazy = ibl_xvideo.open_camera(path, chunks=None, timestamps=False)
    v_times = [_timed(lambda: lazy.isel(time=int(i)).values)[0] for i in picks]
    same = all(np.array_equal(zcam.isel(time=int(i)).values, lazy.isel(time=int(i)).values) for i in picks[:5])
    res.update(export_raw_fps=n / t_raw, export_raw_vs_scan=t_scan2 / t_raw, export_scan_fps=n / t_scan2,
               export_round_ratios=[round(a / b, 2) for a, b in zip(exports["scan"], exports["export"])])
    res.update(export_fps=n / t_exp, export_vs_scan=t_scan2 / t_exp,
               zarr_frame_ms=1000 * statistics.median(z_times), mp4_frame_ms=1000 * statistics.median(v_times),
               zarr_frame_first_read_ms=1000 * statistics.median(z_cold),
               zarr_vs_mp4=statistics.median(v_times) / statistics.median(z_times), zarr_frames_identical=same,
               store_ratio=index.length * index.height * index.width / sum(
                   f.stat().st_size for f in store.rglob("*") if f.is_file()))
    res.update(crc_check_frame_ms=crc_ms_per_frame(store))
    res["crc_share_of_export"] = res["crc_check_frame_ms"] * res["export_fps"] / 1000
    res["crc_share_of_zarr_read"] = res["crc_check_frame_ms"] / res["zarr_frame_ms"]
    return res, tmp, store


def crc_ms_per_frame(store: Path) -> float:
    """Milliseconds to compute the CRC32C of one frame's stored chunk (what every read checks), median of 3."""
    import google_crc32c

    from ibl_xvideo.store import store_status

    status = store_status(store)
    data = (store / status["name"] / "c" / "0" / "0" / "0").read_bytes()
    slots = status["shard_frames"]  # the shard's index: (offset, nbytes) a slot, then its CRC32C
    index = np.frombuffer(data[-4 - 16 * slots:-4], "<u8").reshape(-1, 2)
    chunks = [data[o:o + nb - 4] for o, nb in index.tolist() if o != np.iinfo(np.uint64).max]
    times = [_timed(lambda: [google_crc32c.value(c) for c in chunks])[0] for _ in range(3)]
    return 1000 * statistics.median(times) / len(chunks)


def _store_check_rows(res: dict) -> list:
    return [("  CRC32C check of a frame's chunk", f"{res['crc_check_frame_ms']:.3f} ms",
             f"{100 * res['crc_share_of_export']:.1f}% of the export's time a frame, "
             f"{100 * res['crc_share_of_zarr_read']:.1f}% of a random Zarr read")]


def _store_rows(res: dict) -> list:
    """Export and cached reads, from :func:`store_reads`."""
    return [
        ("Zarr export (blosc lz4, CRC32C)", f"{res['export_fps']:.0f} frames/s",
         f"{res['export_vs_scan']:.2f}x of scan ({res['export_scan_fps']:.0f} frames/s in the same rounds; "
         f"medians, rounds {res['export_round_ratios']})"),
        ("  uncompressed (CRC32C)", f"{res['export_raw_fps']:.0f} frames/s",
         f"{res['export_raw_vs_scan']:.2f}x of scan"),
        *_store_check_rows(res),
        ("random frame from Zarr (file cached)", f"{res['zarr_frame_ms']:.2f} ms",
         f"{res['zarr_vs_mp4']:.1f}x faster than mp4 ({res['mp4_frame_ms']:.1f} ms, file cached)"),
        ("  first read, from the disk", f"{res['zarr_frame_first_read_ms']:.2f} ms",
         f"{res['mp4_frame_ms'] / res['zarr_frame_first_read_ms']:.1f}x faster than mp4"),
        ("  identical pixels", str(res["zarr_frames_identical"]), ""),
    ]


def report(res: dict) -> str:
    """A plain-text table of the results."""
    rows = [
        ("video", f"{res['frames']} frames 640x512, {res['size_MB']} MB", ""),
        ("index build (demux, no decode)", f"{res['index_build_s']:.2f} s", ""),
        *_first_open_rows(res), *_first_open_rows(res, "first_open_long"), *_remote_index_rows(res),
        ("full scan, ours (2 Dask threads)", f"{res['scan_fps_ours']:.0f} frames/s", ""),
        ("  same, pixels='luma'", f"{res['scan_fps_ours_luma']:.0f} frames/s", ""),
        ("  vs ffmpeg gray pipe", f"{res['scan_fps_ffmpeg_pipe']:.0f} frames/s", f"{res['scan_vs_pipe']:.2f}x"),
        ("  vs OpenCV sequential (ibllib)", f"{res['scan_fps_opencv']:.0f} frames/s", f"{res['scan_vs_opencv']:.2f}x"),
        ("  vs imageio pyav plugin (gray)", f"{res['scan_fps_imageio_pyav']:.0f} frames/s",
         f"{res['scan_fps_ours'] / res['scan_fps_imageio_pyav']:.2f}x"),
        ("100 QC samples, ours", f"{res['qc100_s_ours']:.2f} s", ""),
        ("  vs OpenCV seek per frame", f"{res['qc100_s_opencv']:.2f} s",
         f"{res['qc100_speedup']:.2f}x (medians; rounds {res['qc100_round_ratios']})"),
    ]
    rows.append(("  same via the Dask camera (cam.isel)", f"{res['qc100_s_dask_camera']:.2f} s",
                 f"identical: {res['qc100_dask_camera_identical']}"))
    if "qc100_s_ibllib" in res:
        rows.append(("  vs ibllib's get_video_frames_preload", f"{res['qc100_s_ibllib']:.2f} s",
                     f"{res['qc100_s_ibllib'] / res['qc100_s_ours']:.2f}x"))
    rows += [
        ("  OpenCV frames != exact frame", f"{res['qc100_opencv_frames_differing']} / 100", ""),
    ]
    which = {"default": "camera_qc() default (" + ("ibllib's reference frames" if res["qc_default_has_refs"]
                                                   else "no reference frames found") + ")",
             "norefs": "  refs=False (no position, focus)", "refs": "  refs=<a frame> (+ position, focus)"}
    loading = "ibllib's" if "qc100_s_ibllib" in res else "OpenCV"
    for k, label in which.items():
        rows.append((label + ", 100 samples", f"{res[f'qc_{k}_s']:.2f} s",
                     f"{res[f'qc_{k}_vs_ibllib_loading']:.2f}x vs {loading} frame loading"
                     f" ({res[f'qc_{k}_vs_opencv_loading']:.2f}x vs OpenCV replica)"))
    for k, label in which.items():
        rows.append((label + ", full=True", f"{res[f'qc_full_{k}_fps']:.0f} frames/s",
                     f"{res[f'qc_full_{k}_vs_scan']:.2f}x of scan"))
    rows += [
        ("one random frame, cold", f"{res['frame_cold_ms']:.1f} ms", ""),
        ("  earlier frame, same group", f"{res['frame_warm_same_group_ms']:.2f} ms", ""),
        ("  next frame", f"{res['frame_warm_next_ms']:.2f} ms", ""),
        ("reopen (index cached)", f"{res['reopen_ms']:.1f} ms", ""),
        ("reopen by eid through a local ONE (+ timestamps)", f"{res['reopen_eid_ms']:.1f} ms", ""),
        *_store_rows(res),
        ("  store compression ratio", f"{res['store_ratio']:.2f}x", ""),
        ("full scan of the store (per-frame max)", f"{res['store_scan_fps']:.0f} frames/s",
         f"{res['store_scan_vs_scan']:.2f}x the mp4 scan (first read from the disk: "
         f"{res['store_scan_fps_first']:.0f} frames/s); identical: {res['store_scan_identical']}"),
        ("camera_qc(cache=store, refs=False), 100 samples", f"{res['qc_cached_s']:.2f} s",
         f"{res['qc_cached_vs_ibllib_loading']:.1f}x vs ibllib frame loading"),
        ("  refs=<a frame> (+ position, focus)", f"{res['qc_cached_refs_s']:.2f} s",
         f"{res['qc_cached_refs_vs_ibllib_loading']:.1f}x vs ibllib frame loading"),
        ("HTTP: mid frame, first open (index + frame)", f"{res['remote_first_open_ms']:.0f} ms",
         f"{res['remote_first_open_bytes_pct']:.1f}% of the file"),
        ("HTTP: mid frame, index cached", f"{res['remote_index_cached_ms']:.0f} ms",
         f"{res['remote_index_cached_bytes_pct']:.1f}% of the file"),
        ("HTTP: OpenCV opening the URL", f"{res['remote_opencv_ms']:.0f} ms",
         f"{res['remote_opencv_bytes_pct']:.1f}% of the file"),
        ("  streamed frame identical to local", str(res["remote_identical"]), ""),
    ]
    rows += [(f"  codec {c['codec']}", f"ratio {c['ratio']:.2f}",
              f"{c['write_MBps']:.0f} MB/s via zarr, {c['encode_ms_per_frame']:.2f} ms/frame to encode")
             for c in res.get("codecs", [])]
    rows += [(f"  default codec, {c['frames']} {c['shape'][1]}x{c['shape'][0]}", f"ratio {c['ratio']:.2f}",
              f"{c['encode_ms_per_frame']:.2f} ms/frame to encode ({c['encode_GBps']:.2f} GB/s)")
             for c in res.get("codec_real_frames", [])]
    if "scan_peak_rss_MiB_long" in res:
        rows += [
            (f"scan peak RSS, {res['short_frames']} frames", f"{res['scan_peak_rss_MiB_short']:.0f} MiB", ""),
            (f"scan peak RSS, {res['frames']} frames", f"{res['scan_peak_rss_MiB_long']:.0f} MiB",
             f"{res['scan_peak_rss_MiB_long'] / res['scan_peak_rss_MiB_short']:.2f}x"),
            (f"export peak RSS, {res['short_frames']} frames", f"{res['export_peak_rss_MiB_short']:.0f} MiB", ""),
            (f"export peak RSS, {res['frames']} frames", f"{res['export_peak_rss_MiB_long']:.0f} MiB",
             f"{res['export_peak_rss_MiB_long'] / res['export_peak_rss_MiB_short']:.2f}x"),
        ]
    width = max(len(r[0]) for r in rows) + 2
    return "\n".join(f"{a:<{width}}{b:<28}{c}" for a, b, c in rows)


def main(argv=None) -> int:
    """Command line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--no-rss", action="store_true", help="skip the peak-memory runs")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    parser.add_argument("--samples-only", type=int, metavar="RUNS", default=0,
                        help="only the 100-sample read against OpenCV and ibllib, RUNS times (5 rounds each)")
    parser.add_argument("--store-only", action="store_true",
                        help="only the Zarr export and random reads against the mp4, with what checksums cost")
    parser.add_argument("--peri-event", action="store_true",
                        help="only a 200-event peri-event stack (+-1 s) against a loop of ibllib's get_video_frame")
    parser.add_argument("--video", choices=("synthetic", "ibl"), default="synthetic",
                        help="for --samples-only, --peri-event, --forms, --batch: the 10-minute synthetic video "
                             "(default) or an hour of a body camera at IBL's bitrate (ibl_hour)")
    parser.add_argument("--batch", action="store_true",
                        help="only batch_qc's throughput (camera-sessions per minute per core) on a local cluster")
    parser.add_argument("--scan-cameras", action="store_true",
                        help="only the whole-video scan of each camera at IBL's bitrate against the ffmpeg gray "
                             "pipe and two single-threaded decoders side by side")
    parser.add_argument("--scan-breakdown", nargs="*", choices=("body", "left", "right"), default=None,
                        help="only where a scan's time goes, one thread, on these cameras (default body) at IBL's "
                             "bitrate")
    parser.add_argument("--batch-scaling", action="store_true",
                        help="only batch_qc (keyframe samples) of 8, 32 and 128 body hours on two workers: time per "
                             "task and per core")
    parser.add_argument("--qc-cost", action="store_true",
                        help="only the QC cost of an hour of each camera at IBL's bitrate: CPU seconds, HTTP bytes")
    parser.add_argument("--qc-task", nargs="*", choices=("body", "left", "right"), default=None,
                        help="only the CPU seconds of a camera's keyframe QC task on an hour of these cameras (default "
                             "body) at IBL's bitrate, with its phases")
    parser.add_argument("--peri-event-memory", action="store_true",
                        help="only the peak memory of the mean over 200, 2000 and 20000 events (+-0.5 s) of the "
                             "10-minute IBL-bitrate body video: peri_event_mean against Dask's own mean")
    parser.add_argument("--remote-qc", action="store_true",
                        help="only camera_qc over loopback HTTP of each camera at IBL's bitrate (10 minutes and an "
                             "hour of the body camera; the left and right cameras when --qc-cost made theirs): "
                             "seconds and bytes, exact and keyframe samples")
    parser.add_argument("--forms", action="store_true",
                        help="only 50 scattered frames selected on the camera, cropped and after transforms")
    parser.add_argument("--first-open", action="store_true",
                        help="only the first (cold) open of a camera-sized video: index from the tables vs packets")
    args = parser.parse_args(argv)

    def video():
        return ibl_hour("body") if args.video == "ibl" else bench_video(args.minutes)

    if args.qc_task is not None:
        for label in args.qc_task or ["body"]:
            r = qc_task_cost(label)
            print(f"keyframe QC of an hour of the {label} camera ({r['frames']} frames), one thread: "
                  f"{r['first_open_cpu_s']:.3f} CPU-s a task opening the video for the first time, "
                  f"{r['cached_cpu_s']:.3f} with its index cached; phases (cProfile, wall):")
            for phase, sec in r["phases"].items():
                print(f"  {phase:<55}{sec:6.3f} s")
    elif args.peri_event_memory:
        res = peri_event_memory(ibl_video("body", 600.0))
        for (how, count), r in res.items():
            print(f"mean over {count:>6} events, {'peri_event_mean' if how == 'ours' else 'Dask mean':<16}"
                  f"peak {r['peak_mib']:7.0f} MiB, {r['s']:7.1f} s")
    elif args.remote_qc:
        videos = {"body, 10 min": ("body", ibl_video("body", 600.0)), "body, 1 h": ("body", ibl_hour("body"))}
        for label, seconds in (("left", 60.0), ("right", 60.0)):
            if ibl_video_exists(label, seconds):  # (--qc-cost makes them)
                videos[f"{label}, 1 h"] = (label, ibl_hour(label, seconds))
        res = remote_qc(videos)
        for name, r in res.items():
            print(f"{name} ({r['frames']} frames, {r['MB']:.0f} MB, tables {r['moov_MB']:.2f} MB) over HTTP: "
                  + "; ".join(f"{m} index {c}: {r[f'{m}_{c}_s']:.2f} s, {r[f'{m}_{c}_MB']:.2f} MB"
                              for m in ("keyframes", "exact") for c in ("cached", "cold"))
                  + f"; keyframes fetch {r['keyframes_vs_needed']:.2f}x the tables plus the "
                    f"{r['keyframe_packets_MB']:.2f} MB of keyframe packets decoded")
    elif args.qc_cost:
        res = qc_cost()
        for label, r in res.items():
            print(f"{label}: an hour, {r['frames']} frames, {r['GB']:.2f} GB: QC keyframes {r['keyframes_cpu_s']:.1f} "
                  f"CPU-s ({r['keyframes_s']:.1f} s), {r['keyframes_http_MB']:.0f} MB over HTTP "
                  f"({r['keyframes_http_pct']:.2f}%); exact {r['exact_cpu_s']:.1f} CPU-s ({r['exact_s']:.1f} s), "
                  f"{r['exact_http_MB']:.0f} MB ({r['exact_http_pct']:.1f}%)")
    elif args.scan_breakdown is not None:
        for label in args.scan_breakdown or ["body"]:
            for step, r in scan_breakdown(label, 600.0 if label == "body" else 60.0).items():
                print(f"{label} {step:<34}{r['ms']:6.3f} ms a frame  {r['of_ffmpeg']:5.2f} of ffmpeg -threads 1")
    elif args.scan_cameras:
        res = scan_cameras()
        for label, r in res.items():
            print(f"{label} ({r['frames']} frames {r['size']}, {r['kb_per_frame']:.1f} KB/frame): ours "
                  f"{r['ours_fps']:.0f} frames/s, ffmpeg gray pipe {r['pipe_fps']:.0f} ({r['vs_pipe']:.2f}x; rounds "
                  f"{r['rounds_vs_pipe']}), two single-threaded decoders {r['two decoders_fps']:.0f} "
                  f"(ours at {r['of_limit']:.2f}x of it)")
    elif args.batch:
        path = video()
        res = batch_throughput(path)
        print(f"batch_qc of {res['batch_sessions']} sessions ({path.name}) on {res['batch_workers']} workers: "
              + "; ".join(f"{m} samples {res[f'batch_{m}_s']:.1f} s, {res[f'batch_{m}_per_min_per_core']:.1f} "
                          f"camera-sessions/min/core ({res[f'batch_{m}_task_s']:.1f} s a task)"
                          for m in ("keyframes", "exact")))
    elif args.batch_scaling:
        for sessions in (8, 32, 128):
            r = batch_throughput(ibl_hour("body"), sessions, modes=("keyframes",))
            print(f"batch_qc of {sessions:>3} body hours, keyframe samples, 2 single-threaded workers: "
                  f"{r['batch_keyframes_s']:6.1f} s, {r['batch_keyframes_s'] * 2 / sessions:.2f} s of a core a task "
                  f"({r['batch_keyframes_task_s']:.2f} s on its worker), {r['batch_keyframes_per_min_per_core']:.1f} "
                  "camera-sessions/min/core")
    elif args.peri_event:
        res = peri_event_bench(video())
        print(f"peri-event stack, {res['pe_events']} events +-1 s ({res['pe_frames']} frames): ours "
              f"{res['pe_s_ours']:.2f} s, {res['pe_peer']} {res['pe_s_peer']:.1f} s (scaled from "
              f"{res['pe_peer_events']} events): {res['pe_ratio']:.0f}x; same frames: {res['pe_peer_identical']}; "
              f"peak memory averaging {res['pe_big_events']} events: {res['pe_big_peak_mib']:.0f} MiB")
    elif args.forms:
        res = selection_forms(video())
        print(f"{res['forms_n']} scattered frames of {res['forms_video_frames']}, selected after each form:")
        for name, r in res["forms"].items():
            print(f"  {name:<26}{r['s']:6.2f} s  {r['frames']:6d} frames decoded")
    elif args.first_open:
        res = {**first_open(dense_video()), **first_open(long_video(args.minutes), key="first_open_long"),
               **remote_first_open(long_video(args.minutes))}
        rows = _first_open_rows(res) + _first_open_rows(res, "first_open_long") + _remote_index_rows(res)
        width = max(len(r[0]) for r in rows) + 2
        print("\n".join(f"{a:<{width}}{b:<26}{c}" for a, b, c in rows))
    elif args.store_only:
        import shutil

        res, tmp, _ = store_reads(bench_video(args.minutes), np.random.default_rng(0))
        shutil.rmtree(tmp, ignore_errors=True)
        rows = _store_rows(res)
        width = max(len(r[0]) for r in rows) + 2
        print("\n".join(f"{a:<{width}}{b:<26}{c}" for a, b, c in rows))
    elif args.samples_only:
        path = video()
        runs = [sample_reads(path) for _ in range(args.samples_only)]
        for r in runs:
            line = f"100 QC samples: ours {r['qc100_s_ours']:.2f} s, OpenCV {r['qc100_s_opencv']:.2f} s " \
                   f"({r['qc100_speedup']:.2f}x; rounds {r['qc100_round_ratios']})"
            if "qc100_s_ibllib" in r:
                line += f", ibllib {r['qc100_s_ibllib']:.2f} s ({r['qc100_s_ibllib'] / r['qc100_s_ours']:.2f}x)"
            peer = r.get("qc100_s_ibllib", r["qc100_s_opencv"])
            line += (f"; nearest keyframes (samples='keyframes') {r['qc100_s_keyframes']:.3f} s, "
                     f"{peer / r['qc100_s_keyframes']:.0f}x {'ibllib' if 'qc100_s_ibllib' in r else 'OpenCV'}")
            print(line)
        res = {"samples_only": runs, **remote_samples(path)}
        print(f"100 samples over HTTP (loopback, index cached): exact {res['remote_samples_exact_s']:.2f} s, "
              f"{res['remote_samples_exact_bytes_pct']:.1f}% of the file; nearest keyframes "
              f"{res['remote_samples_keyframes_s']:.2f} s, {res['remote_samples_keyframes_bytes_pct']:.1f}%")
    else:
        res = run(args.minutes, rss=not args.no_rss)
        print(report(res))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
