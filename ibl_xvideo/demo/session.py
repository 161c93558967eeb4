"""The built-in offline demo: a synthetic IBL session in a local ONE cache.

``build_demo()`` writes, once, a ONE cache holding session
``4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a`` at ``hoferlab/Subjects/SWC_043/2020-09-21/001``
with body, left and right cameras filming a head-fixed mouse on a wheel
(:mod:`ibl_xvideo.demo.rigscene`) encoded with IBL's x264 settings (a faster preset),
``alf/_ibl_<label>Camera.times.npy`` with a session-clock offset and jitter, the task's
trials and wheel in ``alf/``, the rig's ``frameData.bin`` files (their audio pin high
during the go cues and error tones) and the DAQ sync of a 3B nidq rig
(``raw_ephys_data/_spikeglx_sync.*.npy``: camera and audio TTL fronts). The right
camera drops a few frames (:data:`DEMO_DROPPED`), a fault its QC catches.
``run_demo()`` then walks through IBL's "Loading Raw Video Data" page on our API
and runs the camera QC.
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
import pandas as pd

from ..camera import open_camera, video_meta
from ..io.sources import DEMO_EID, demo_cache_dir
from ..qc import camera_qc
from ..qc.raw import DEFAULT_SYNC_CHANNELS, DEFAULT_SYNC_CHANNELS_3A
from .rigscene import VIEWS, RigCamera, session_behaviour, wheel_trace
from .synth import encode_frames

__all__ = ["DEMO_EID", "DEMO_SESSION", "DEMO_CAMERAS", "DEMO_DROPPED", "DEMO_RUN", "DEMO_TASK", "demo_cache_dir",
           "task_trials", "task_audio", "write_task_files", "build_demo", "run_demo",
           "make_one_cache", "write_camera_session_files", "camera_times", "audio_pulses", "write_daq_sync",
           "write_timeline_daq",
           "write_bpod_task_data"]

DEMO_SESSION = "hoferlab/Subjects/SWC_043/2020-09-21/001"
#: label -> (width, height, fps, seconds of video); the body camera covers t = 1000 s.
DEMO_CAMERAS = {
    "body": (640, 512, 30, 1000.0),
    "left": (1280, 1024, 60, 32.0),
    "right": (640, 512, 150, 24.0),
}
#: The demo's deliberate fault: bursts of frames the right camera dropped, as
#: ``(first frame the camera counted, frames lost)``; the QC's dropped_frames check fails.
DEMO_DROPPED = {"right": ((300, 6), (900, 4), (1500, 5))}
#: Session-clock time of the first camera frame (the cameras start before the task).
DEMO_T0 = 12.5
#: The bout of running (session clock, s) that the wheel-alignment check finds in the side cameras.
DEMO_RUN = (14.0, 20.0)
#: The task (session clock, s): trials with go cues, rewards and error tones; the rest of
#: the session is spontaneous behaviour (no tones), filmed by the body camera only.
DEMO_TASK = (21.0, 40.0)
#: x264 settings of the demo: IBL's ``-crf 29``, keyframe interval and B-frames, with a
#: faster preset than IBL's ``slow`` (the tests and benchmarks keep ``slow``).
DEMO_ENCODER = ("-c:v", "libx264", "-preset", "veryfast", "-crf", "29", "-pix_fmt", "yuv420p")
_DEMO_VERSION = 3


def camera_times(n: int, fps: float, t0: float = DEMO_T0, jitter: float = 2e-4, seed: int = 0) -> np.ndarray:
    """Realistic camera timestamps: offset ``t0``, period ``1/fps``, Gaussian jitter (s)."""
    rng = np.random.default_rng(seed)
    t = t0 + np.arange(n) / fps + rng.normal(0, jitter, n)
    # jitter never reorders frames
    return np.maximum.accumulate(t + np.arange(n) * 1e-9)


def _frame_data(times: np.ndarray, pin4: np.ndarray, counter: np.ndarray | None = None) -> np.ndarray:
    """The rig's ``frameData.bin`` rows: Bonsai ticks, PointGrey stamp, counter, GPIO."""
    n = times.size
    ticks = 637361000000000000 + np.round(times * 1e7).astype(np.int64)  # 100 ns since year 1
    sec = np.floor(times).astype(np.int64)
    cyc = np.floor((times - sec) * 8000).astype(np.int64)
    pgts = ((sec % 128) << 25) | (cyc << 12)
    counter = 3_000_000 + (np.arange(n, dtype=np.int64) if counter is None else np.asarray(counter, np.int64))
    gpio = np.where(pin4, 1 << 28, 0).astype(np.int64)
    return np.c_[ticks, pgts, counter, gpio].astype(np.float64)


def audio_pulses(t0: float, t1: float, seed: int = 0, width: float = 0.1) -> np.ndarray:
    """Audio TTL pulses of a session, ``(n, 2)`` rise and fall times: 100 ms tones every 2-6 s."""
    rng = np.random.default_rng(seed + 1000)
    onsets = t0 + 1 + np.cumsum(rng.uniform(2, 6, int((t1 - t0) / 2) + 1))
    onsets = onsets[onsets + width < t1 - 1]
    return np.c_[onsets, onsets + width]


def task_trials(t_start: float, t_stop: float, seed: int = 0) -> dict[str, np.ndarray]:
    """The trials of a visual decision task run from ``t_start`` to ``t_stop``, as ALF's ``trials`` object.

    Each trial: 0.4-0.7 s of quiescence, the stimulus (and its go cue), the first wheel
    movement 0.2-0.6 s later, the response 0.3-1.0 s after that, then the feedback: a
    reward for 80% of the trials (``feedbackType`` 1), else an error tone (-1); the
    next trial starts 1 s after a reward, 2 s after an error. ``choice`` is the side
    the wheel turned to (-1, 1).
    """
    rng = np.random.default_rng(seed + 3)
    rows, start = [], t_start
    while True:
        stim_on = start + rng.uniform(0.4, 0.7)
        first_move = stim_on + rng.uniform(0.2, 0.6)
        response = first_move + rng.uniform(0.3, 1.0)
        correct = rng.uniform() < 0.8
        end = response + (1.0 if correct else 2.0)
        if end > t_stop:
            break
        rows.append((start, end, stim_on, first_move, response, 1 if correct else -1, rng.choice([-1, 1])))
        start = end
    start, end, stim_on, first_move, response, feedback_type, choice = np.array(rows).reshape(-1, 7).T
    return {"intervals": np.c_[start, end], "stimOn_times": stim_on, "goCue_times": stim_on,
            "firstMovement_times": first_move, "response_times": response, "feedback_times": response + 0.01,
            "feedbackType": feedback_type.astype(int), "choice": choice.astype(int)}


def task_audio(trials: dict[str, np.ndarray]) -> np.ndarray:
    """The audio TTL pulses of the trials, ``(n, 2)`` rise and fall: the go cues (100 ms), the error tones (500 ms)."""
    go = trials["goCue_times"]
    error = trials["feedback_times"][trials["feedbackType"] < 0]
    pulses = np.r_[np.c_[go, go + 0.1], np.c_[error, error + 0.5]]
    return pulses[np.argsort(pulses[:, 0])]


def write_task_files(session_path: Path, trials: dict[str, np.ndarray], t_end: float) -> tuple[np.ndarray, np.ndarray]:
    """Write ``alf/_ibl_trials.*.npy`` and the wheel (``alf/_ibl_wheel.*.npy``); return the wheel's (times, positions).

    The wheel turns about 35 degrees from each trial's first movement to its response
    (towards the choice) and, during :data:`DEMO_RUN`, runs; it rests otherwise.
    """
    alf = Path(session_path) / "alf"
    alf.mkdir(parents=True, exist_ok=True)
    for attr, values in trials.items():
        np.save(alf / f"_ibl_trials.{attr}.npy", values)
    moves = np.c_[trials["firstMovement_times"], trials["response_times"] - trials["firstMovement_times"],
                  0.35 * trials["choice"]]
    wheel_t, wheel_pos = wheel_trace(t_end, moves, DEMO_RUN)
    np.save(alf / "_ibl_wheel.timestamps.npy", wheel_t)
    np.save(alf / "_ibl_wheel.position.npy", wheel_pos)
    return wheel_t, wheel_pos


def _kept_frames(n: int, dropped) -> np.ndarray:
    """Which of ``n`` exposures reached the video, given ``(first, count)`` bursts dropped."""
    keep = np.ones(n, bool)
    for first, count in dropped:
        keep[first:first + count] = False
    return keep


def write_camera_session_files(session_path: Path, label: str, times: np.ndarray, seed: int = 0,
                               audio: np.ndarray | None = None, counter: np.ndarray | None = None) -> None:
    """Write ``alf/_ibl_<label>Camera.times.npy`` and ``raw_video_data/..frameData.bin``.

    The GPIO audio pin is high on the frames taken during the ``audio`` pulses (rise,
    fall times), or, without pulses, on a few random runs of 5 frames. ``counter`` is
    the camera's frame count of each frame (default 0, 1, 2...: none dropped).
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
    _frame_data(times, pin4, counter).tofile(session_path / "raw_video_data" / f"_iblrig_{label}Camera.frameData.bin")


def write_daq_sync(session_path: Path, audio: np.ndarray, cameras: dict[str, np.ndarray],
                   probe: str | None = None) -> Path:
    """Write an ephys rig's sync: ``_spikeglx_sync.{times,channels,polarities}.npy``; return their folder.

    Fronts on ibllib's default channels: each camera's frame TTLs (1 ms pulses at the
    frame times) and the audio pulses. A 3B rig (``probe=None``): the nidq board's
    sync in ``raw_ephys_data`` (audio on channel 7) and its ``.meta`` file. A 3A rig
    (``probe='probe00'``...): that probe's sync in ``raw_ephys_data/<probe>`` (audio on
    channel 15) and its ``.ap.meta`` file.
    """
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
    ds["default_revision"] = True  # one revision of each dataset, as Alyx marks it (else ONE warns on load)
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
    """Build the offline demo ONE cache once (about 70 s on two cores); return its root.

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

    captures = {label: int(round(seconds * fps)) for label, (_, _, fps, seconds) in cameras.items()}
    keep = {label: _kept_frames(n, DEMO_DROPPED.get(label, ())) for label, n in captures.items()}
    # in frames encoded (the body camera is most of the work), so that the bar moves all along
    bar = tqdm(total=sum(int(k.sum()) for k in keep.values()), desc="building demo session", unit="frame",
               unit_scale=True, disable=not progress)
    t = time.perf_counter()
    t_end = DEMO_T0 + max(v[3] for v in cameras.values()) + 2
    trials = task_trials(*DEMO_TASK)
    audio = task_audio(trials)
    wheel_t, wheel_pos = write_task_files(wsession, trials, t_end)
    rewards = trials["feedback_times"][trials["feedbackType"] > 0]
    exposures = {}
    for k, (label, (w, h, fps, seconds)) in enumerate(cameras.items()):
        bar.set_postfix_str(f"{label} camera {w}x{h}@{fps}Hz")
        exposures[label] = camera_times(captures[label], fps, seed=k)
        times = exposures[label][keep[label]]
        behaviour = session_behaviour(times, wheel_t, wheel_pos, rewards, seed=k)
        paint = RigCamera(label if label in VIEWS else "body", behaviour, seed=k, size=(w, h))
        raw = wsession / "raw_video_data"
        encode_frames(raw / f"_iblrig_{label}Camera.raw.mp4", (paint(i) for i in range(times.size)), width=w,
                      height=h, fps=fps, output_args=DEMO_ENCODER, progress=bar.update)
        write_camera_session_files(wsession, label, times, seed=k, audio=audio, counter=np.flatnonzero(keep[label]))
        # what DLC would find on these frames: IBL's pose table, one row per frame
        pd.DataFrame(paint.pose()).to_parquet(wsession / "alf" / f"_ibl_{label}Camera.dlc.pqt")
        # the scene's own reference frames for the QC's position and focus checks (this session only)
        np.save(raw / f"_xvideo_{label}Camera.referenceFrames.npy",
                np.stack([paint(i) for i in (0, times.size // 2, times.size - 1)]))
    bar.close()
    write_daq_sync(wsession, audio, exposures)  # the DAQ sees every exposure, dropped frames too
    make_one_cache(work, {DEMO_SESSION: DEMO_EID})
    (work / "ibl_xvideo_demo.json").write_text(json.dumps(
        {"version": _DEMO_VERSION, "eid": DEMO_EID, "cameras": {k: list(v) for k, v in cameras.items()},
         "build_seconds": round(time.perf_counter() - t, 1)}))
    work.rename(root)
    return root


def run_demo(out: str | os.PathLike = "demo_frame.png", root: str | os.PathLike | None = None,
             cameras: dict | None = None) -> dict:
    """Walk through IBL's "Loading Raw Video Data" on the demo session and run its camera QC.

    Returns what it found: the frame at t = 1000 s (``frame``, ``time``, ``png``), the
    first ten frames' shape, ``video_meta`` and ``qc`` (label -> QCResult).
    """
    import imageio.v3 as iio
    from one.api import One

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
    qc = _demo_qc(eid, one, list(cameras or DEMO_CAMERAS), Path(out))
    print(f"\nnext: ibl-xvideo report {eid} -o report.html   (every camera's QC as pictures, one page)\n"
          f"      ibl-xvideo qc {eid} --json   (the same QC, as JSON)\n"
          "      python examples/peri_event.py ; python examples/pose_clip.py ; python examples/trial_frames.py")
    return {"frame": int(frame.frame), "time": float(frame.time), "meta": meta, "png": str(out),
            "first10": first10.shape, "qc": qc}


def _demo_qc(eid: str, one, labels: list[str], out: Path) -> dict:
    """Run the camera QC of each camera; print the outcomes, why each check did not pass, and the fault.

    Returns label -> the :class:`~ibl_xvideo.qc.QCResult`; draws the figure of the first
    camera that does not pass next to ``out`` (with matplotlib installed).
    """
    from one.alf.spec import QC

    print("\ncamera QC (ibllib's checks on our engine; every check that does not PASS says why):")
    results = {}
    for label in labels:
        results[label] = res = camera_qc(eid, label, one=one, progress=False)
        print(f"  {label} camera: {res.outcome.name}")
        for key, why in res.reasons.items():
            print(f"      {key.split('_', 2)[-1]}: {why}")
    for label, dropped in DEMO_DROPPED.items():
        if label not in results:
            continue
        cam = open_camera(eid, label, one=one)
        dt = np.diff(cam.time.values)
        gaps = np.flatnonzero(dt > 1.5 * np.median(dt))
        print(f"\nthe demo's fault: the {label} camera dropped {sum(n for _, n in dropped)} frames in "
              f"{len(dropped)} bursts; its times jump at t = "
              + ", ".join(f"{cam.time.values[i]:.3f}" for i in gaps)
              + f" s. The QC caught it: {label} dropped_frames {results[label].outcome.name} (above).")
    bad = [label for label, res in results.items() if res.outcome != QC.PASS]
    if bad:
        figure = out.with_name(f"{out.stem}_qc_{bad[0]}.png")
        try:
            results[bad[0]].plot(figure)
            print(f"the {bad[0]} camera's QC figure: {figure}")
        except ImportError as exc:
            print(f"(no QC figure: {exc})")
    return results
