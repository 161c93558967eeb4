"""The built-in offline demo: a synthetic IBL session in a local ONE cache.

``build_demo()`` writes, once, a ONE cache holding session
``4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a`` at ``hoferlab/Subjects/SWC_043/2020-09-21/001``
with body, left and right cameras: rig-like synthetic videos encoded the IBL way
(libx264 ``-preset slow -crf 29``), ``alf/_ibl_<label>Camera.times.npy`` with a
session-clock offset and jitter, the rig's ``frameData.bin`` files (their audio pin high
during the session's audio TTL pulses) and the DAQ sync of a 3B nidq rig
(``raw_ephys_data/_spikeglx_sync.*.npy``: camera and audio TTL fronts).
``run_demo()`` then walks through IBL's "Loading Raw Video Data" page on our API.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from .index import cache_dir
from .synth import make_video

__all__ = ["DEMO_EID", "DEMO_SESSION", "DEMO_CAMERAS", "demo_cache_dir", "build_demo", "run_demo",
           "make_one_cache", "write_camera_session_files", "camera_times", "audio_pulses", "write_daq_sync",
           "write_bpod_task_data"]

DEMO_EID = "4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a"
DEMO_SESSION = "hoferlab/Subjects/SWC_043/2020-09-21/001"
#: label -> (width, height, fps, seconds of video); the body camera covers t = 1000 s.
DEMO_CAMERAS = {
    "body": (640, 512, 30, 1000.0),
    "left": (1280, 1024, 60, 6.0),
    "right": (640, 512, 150, 4.0),
}
#: Session-clock time of the first camera frame (the cameras start before the task).
DEMO_T0 = 12.5
_DEMO_VERSION = 2


def demo_cache_dir() -> Path:
    """Folder of the demo ONE cache (``$IBL_XVIDEO_DEMO_DIR`` or inside :func:`cache_dir`)."""
    return Path(os.environ.get("IBL_XVIDEO_DEMO_DIR") or cache_dir() / "demo_one_cache")


def camera_times(n: int, fps: float, t0: float = DEMO_T0, jitter: float = 2e-4, seed: int = 0) -> np.ndarray:
    """Realistic camera timestamps: offset ``t0``, period ``1/fps``, Gaussian jitter (s)."""
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(n) / fps + rng.normal(0, jitter, n)
    # jitter never reorders frames
    return np.maximum.accumulate(t + np.arange(n) * 1e-9)


def _frame_data(times: np.ndarray, pin4: np.ndarray) -> np.ndarray:
    """The rig's ``frameData.bin`` rows: Bonsai ticks, PointGrey stamp, counter, GPIO."""
    n = times.size
    ticks = 637361000000000000 + np.round(times * 1e7).astype(np.int64)  # 100 ns since year 1
    sec = np.floor(times).astype(np.int64)
    cyc = np.floor((times - sec) * 8000).astype(np.int64)
    pgts = ((sec % 128) << 25) | (cyc << 12)
    counter = 3_000_000 + np.arange(n, dtype=np.int64)
    gpio = np.where(pin4, 1 << 28, 0).astype(np.int64)
    return np.c_[ticks, pgts, counter, gpio].astype(np.float64)


def audio_pulses(t0: float, t1: float, seed: int = 0, width: float = 0.1) -> np.ndarray:
    """Audio TTL pulses of a session, ``(n, 2)`` rise and fall times: 100 ms tones every 2-6 s."""
    rng = np.random.default_rng(seed + 1000)
    onsets = t0 + 1 + np.cumsum(rng.uniform(2, 6, int((t1 - t0) / 2) + 1))
    onsets = onsets[onsets + width < t1 - 1]
    return np.c_[onsets, onsets + width]


def write_camera_session_files(session_path: Path, label: str, times: np.ndarray, seed: int = 0,
                               audio: np.ndarray | None = None) -> None:
    """Write ``alf/_ibl_<label>Camera.times.npy`` and ``raw_video_data/..frameData.bin``.

    The GPIO audio pin is high on the frames taken during the ``audio`` pulses (rise,
    fall times), or, without pulses, on a few random runs of 5 frames.
    """
    (session_path / "alf").mkdir(parents=True, exist_ok=True)
    (session_path / "raw_video_data").mkdir(parents=True, exist_ok=True)
    np.save(session_path / "alf" / f"_ibl_{label}Camera.times.npy", times)
    pin4 = np.zeros(times.size, bool)
    if audio is not None:
        for rise, fall in audio:
            pin4[(times >= rise) & (times < fall)] = True
    else:
        rng = np.random.default_rng(seed)
        for start in rng.choice(max(times.size - 10, 1), size=max(times.size // 300, 1), replace=False):
            pin4[start:start + 5] = True  # audio TTL pulses seen by the camera's GPIO
    _frame_data(times, pin4).tofile(session_path / "raw_video_data" / f"_iblrig_{label}Camera.frameData.bin")


def write_daq_sync(session_path: Path, audio: np.ndarray, cameras: dict[str, np.ndarray],
                   probe: str | None = None) -> Path:
    """Write an ephys rig's sync: ``_spikeglx_sync.{times,channels,polarities}.npy``; return their folder.

    Fronts on ibllib's default channels: each camera's frame TTLs (1 ms pulses at the
    frame times) and the audio pulses. A 3B rig (``probe=None``): the nidq board's
    sync in ``raw_ephys_data`` (audio on channel 7) and its ``.meta`` file. A 3A rig
    (``probe='probe00'``...): that probe's sync in ``raw_ephys_data/<probe>`` (audio on
    channel 15) and its ``.ap.meta`` file.
    """
    from .qc.raw import DEFAULT_SYNC_CHANNELS, DEFAULT_SYNC_CHANNELS_3A

    folder = Path(session_path) / "raw_ephys_data" / (probe or "")
    folder.mkdir(parents=True, exist_ok=True)
    chmap = DEFAULT_SYNC_CHANNELS_3A if probe else DEFAULT_SYNC_CHANNELS
    t, ch, pol = [], [], []
    for channel, rises, falls in [(chmap["audio"], audio[:, 0], audio[:, 1])] + [
            (chmap[f"{label}_camera"], times, times + 1e-3) for label, times in cameras.items()]:
        for times, sign in ((rises, 1.0), (falls, -1.0)):
            t.append(np.asarray(times, np.float64))
            ch.append(np.full(len(times), channel, np.int64))
            pol.append(np.full(len(times), sign))
    t, ch, pol = np.concatenate(t), np.concatenate(ch), np.concatenate(pol)
    order = np.argsort(t, kind="stable")
    np.save(folder / "_spikeglx_sync.times.npy", t[order])
    np.save(folder / "_spikeglx_sync.channels.npy", ch[order])
    np.save(folder / "_spikeglx_sync.polarities.npy", pol[order])
    if probe:
        (folder / "_spikeglx_ephysData_g0_t0.imec.ap.meta").write_text(
            "typeEnabled=imec\nimSampRate=30000\nnSavedChans=385\n")
    else:
        (folder / "_spikeglx_ephysData_g0_t0.nidq.meta").write_text(
            "typeThis=nidq\nniSampRate=30000\nnSavedChans=2\nsnsMnMaXaDw=0,0,0,1\n")
    return folder


def write_timeline_daq(session_path: Path, audio: np.ndarray, cameras: dict[str, np.ndarray],
                       collection: str = "raw_sync_data", rate: float = 1000.0, seed: int = 0) -> Path:
    """Write a Timeline (mesoscope rig) DAQ recording: ``_timeline_DAQdata.{raw,timestamps}.npy`` and ``.meta.json``.

    ``raw`` holds one column per input, as Timeline saves them: ``chrono`` (a voltage
    toggled every sample), ``audio`` (a voltage: ~0 V with noise and a DC offset, 5 V
    during the pulses) and each camera's frame counter (``EdgeCount``: one count per
    frame); ``timestamps`` the sample times on the DAQ clock.
    """
    folder = Path(session_path) / collection
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    end = max([float(audio.max()) if audio.size else 0.0] + [float(t[-1]) for t in cameras.values()]) + 1.0
    ts = np.arange(0.0, end, 1.0 / rate)
    volts = 0.3 + rng.normal(0, 0.02, ts.size)
    for rise, fall in audio:
        volts[(ts >= rise) & (ts < fall)] += 5.0
    inputs = [{"name": "chrono", "arrayColumn": 1, "measurement": "Voltage", "daqChannelID": "ai0"},
              {"name": "audio", "arrayColumn": 2, "measurement": "Voltage", "daqChannelID": "ai1"}]
    columns = [(np.arange(ts.size) % 2) * 5.0, volts]
    for k, (label, times) in enumerate(cameras.items()):
        inputs.append({"name": f"{label}_camera", "arrayColumn": 3 + k, "measurement": "EdgeCount",
                       "daqChannelID": f"ctr{k}"})
        columns.append(np.searchsorted(times, ts, side="right").astype(np.float64))
    np.save(folder / "_timeline_DAQdata.raw.npy", np.column_stack(columns))
    np.save(folder / "_timeline_DAQdata.timestamps.npy", ts)
    meta = {"acqStartDateTime": "2023-03-01 12:00:00", "daqSampleRate": rate, "inputs": inputs}
    (folder / "_timeline_DAQdata.meta.json").write_text(json.dumps(meta))
    return folder


def write_bpod_task_data(session_path: Path, audio: np.ndarray, trial_length: float = 10.0,
                         bpod_start: float = 1000.0) -> Path:
    """Write ``raw_behavior_data/_iblrig_taskData.raw.jsonable`` whose BNC2 events are the audio pulses.

    One trial per ``trial_length`` seconds, Bpod times relative to each trial's start
    (``bpod_start`` on Bpod's clock is session time 0); trials without a pulse have no
    BNC2 events, as on the rig.
    """
    folder = Path(session_path) / "raw_behavior_data"
    folder.mkdir(parents=True, exist_ok=True)
    n = int(np.ceil((audio.max() if audio.size else 0) / trial_length)) + 1
    path = folder / "_iblrig_taskData.raw.jsonable"
    with open(path, "w") as fid:
        for k in range(n):
            start = k * trial_length
            inside = (audio[:, 0] >= start) & (audio[:, 0] < start + trial_length)
            events = {"Tup": [0.5]}
            if inside.any():
                events["BNC2High"] = (audio[inside, 0] - start).tolist()
                events["BNC2Low"] = (audio[inside, 1] - start).tolist()
            fid.write(json.dumps({"trial_num": k + 1, "behavior_data": {
                "Bpod start timestamp": bpod_start, "Trial start timestamp": bpod_start + start,
                "Trial end timestamp": bpod_start + start + trial_length, "Events timestamps": events,
                "States timestamps": {"trial_start": [[0.0, 0.5]]}}}) + "\n")
    return path


def make_one_cache(root: Path, eids: dict[str, str] | None = None) -> Path:
    """Write ONE's ``sessions.pqt`` / ``datasets.pqt`` for every session under ``root``.

    Parameters
    ----------
    root : Path
        Cache root holding ``lab/Subjects/subject/date/number`` session folders.
    eids : dict, optional
        Session folder (relative, e.g. ``'hoferlab/Subjects/SWC_043/2020-09-21/001'``) to
        the eid it must have; others keep ONE's random uuids. Dataset ids are uuid5s of
        ``eid/rel_path`` so that they are reproducible.

    Returns
    -------
    Path
        ``root``.
    """
    import warnings

    import pandas as pd
    from iblutil.io import parquet
    from one.alf.cache import make_parquet_db

    root = Path(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fn_ses, fn_ds = make_parquet_db(root, hash_ids=True)
    ses, meta = parquet.load(fn_ses)
    ds, meta_ds = parquet.load(fn_ds)
    eids = {k.replace("\\", "/"): v for k, v in (eids or {}).items()}
    mapping, folders = {}, {}
    for eid, row in ses.iterrows():
        key = "/".join([row["lab"], "Subjects", row["subject"], str(row["date"]), f"{int(row['number']):03d}"]) \
            if row["lab"] else "/".join([row["subject"], str(row["date"]), f"{int(row['number']):03d}"])
        mapping[str(eid)] = eids.get(key, str(eid))
        folders[str(eid)] = key
    # each file's md5, as Alyx records it (iblutil's hashing allocates 256 MiB per file)
    ds["hash"] = [_md5(root / folders[str(e)] / r) for (e, _), r in zip(ds.index, ds["rel_path"])]
    ses.index = ses.index.map(lambda e: mapping[str(e)])
    ses.index.name = "id"
    new_idx = [(mapping[str(e)], str(uuid.uuid5(uuid.UUID(mapping[str(e)]), r))) for (e, _), r in
               zip(ds.index, ds["rel_path"])]
    ds.index = pd.MultiIndex.from_tuples(new_idx, names=ds.index.names)
    parquet.save(fn_ses, ses, meta)
    parquet.save(fn_ds, ds, meta_ds)
    return root


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fid:
        for block in iter(lambda: fid.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_demo(root: str | os.PathLike | None = None, *, force: bool = False, progress: bool = True,
               cameras: dict | None = None) -> Path:
    """Build the offline demo ONE cache once (2-4 minutes on two cores); return its root.

    Parameters
    ----------
    root : PathLike, optional
        Where to build it (default :func:`demo_cache_dir`).
    force : bool
        Rebuild even if a complete demo is there.
    progress : bool
        Show a progress bar.
    cameras : dict, optional
        ``label -> (width, height, fps, seconds)``. Default: accept the complete demo
        found at ``root`` whatever its cameras, else build :data:`DEMO_CAMERAS`.
    """
    root = Path(root) if root is not None else demo_cache_dir()
    spec = None if cameras is None else {k: list(v) for k, v in cameras.items()}
    cameras = DEMO_CAMERAS if cameras is None else cameras
    marker = root / "ibl_xvideo_demo.json"
    if marker.exists() and not force:
        try:
            done = json.loads(marker.read_text())
            if done.get("version") == _DEMO_VERSION and spec in (None, done.get("cameras")):
                return root
        except ValueError:
            pass
    if root.exists():
        shutil.rmtree(root)
    work = root.with_name(root.name + ".building")
    shutil.rmtree(work, ignore_errors=True)
    wsession = work / DEMO_SESSION
    from tqdm.auto import tqdm

    counts = {label: int(round(seconds * fps)) for label, (_, _, fps, seconds) in cameras.items()}
    # in frames encoded (the body camera is most of the work), so that the bar moves all along
    bar = tqdm(total=sum(counts.values()), desc="building demo session", unit="frame", unit_scale=True,
               disable=not progress)
    t = time.perf_counter()
    audio = audio_pulses(DEMO_T0, DEMO_T0 + max(v[3] for v in cameras.values()))
    all_times = {}
    for k, (label, (w, h, fps, seconds)) in enumerate(cameras.items()):
        bar.set_postfix_str(f"{label} camera {w}x{h}@{fps}Hz")
        n = counts[label]
        make_video(wsession / "raw_video_data" / f"_iblrig_{label}Camera.raw.mp4", n, width=w, height=h,
                   fps=fps, seed=k, progress=bar.update)
        all_times[label] = camera_times(n, fps, seed=k)
        write_camera_session_files(wsession, label, all_times[label], seed=k, audio=audio)
    bar.close()
    write_daq_sync(wsession, audio, all_times)
    make_one_cache(work, {DEMO_SESSION: DEMO_EID})
    (work / "ibl_xvideo_demo.json").write_text(json.dumps(
        {"version": _DEMO_VERSION, "eid": DEMO_EID, "cameras": {k: list(v) for k, v in cameras.items()},
         "build_seconds": round(time.perf_counter() - t, 1)}))
    work.rename(root)
    return root


def run_demo(out: str | os.PathLike = "demo_frame.png", root: str | os.PathLike | None = None,
             cameras: dict | None = None) -> dict:
    """Walk through IBL's "Loading Raw Video Data" on the demo session; return what it found."""
    import imageio.v3 as iio
    from one.api import One

    from . import open_camera, video_meta

    root = build_demo(root, cameras=cameras)
    one = One(cache_dir=root, mode="local")
    eid, label = DEMO_EID, "body"
    print(f"ONE cache: {root}\nsession {eid} -> {one.eid2path(eid)}")

    t = time.perf_counter()
    cam = open_camera(eid, label, one=one)
    print(f"\nopen_camera(eid, {label!r}) in {1000 * (time.perf_counter() - t):.0f} ms:\n{cam}\n")

    t = time.perf_counter()
    frame = cam.sel(time=1000, method="nearest")
    img = frame.values
    print(f"frame nearest t=1000 s: frame #{int(frame.frame)} at t={float(frame.time):.4f} s, "
          f"shape {img.shape}, mean grey {img.mean():.1f} ({1000 * (time.perf_counter() - t):.0f} ms)")

    t = time.perf_counter()
    first10 = cam.isel(time=slice(0, 10)).values
    print(f"first 10 frames: {first10.shape} {first10.dtype} ({1000 * (time.perf_counter() - t):.0f} ms)")

    meta = video_meta(eid, label, one=one)
    print("video_meta:", {k: meta[k] for k in ("length", "fps", "width", "height", "duration", "size")})

    iio.imwrite(out, img)
    print(f"saved the frame at t=1000 s to {out}")
    print(f"\nnext: ibl-xvideo qc {eid} body --plot qc.png   (the camera QC of this session: each check that\n"
          "      does not PASS says why; the synthetic scene is no mouse, so position and focus against IBL's\n"
          "      reference frames fail, and --no-refs skips them)\n"
          f"      python examples/trial_frames.py ; python examples/qc_and_cache.py")
    return {"frame": int(frame.frame), "time": float(frame.time), "meta": meta, "png": str(out),
            "first10": first10.shape}
