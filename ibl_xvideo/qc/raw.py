"""Readers for the raw files of an IBL session the camera QC uses.

Camera files in ``raw_video_data/``:

Formats as ibllib's ``raw_data_loaders`` reads them (IBL_REFERENCE section C):
``_iblrig_<label>Camera.frameData.bin`` (float64, four values per frame: Bonsai UTC
ticks, PointGrey timestamp, frame counter, GPIO word), or the older
``frame_counter.bin``, ``GPIO.bin`` and ``timestamps.ssv`` files. File names are
matched by glob, so a UUID in the name is tolerated.

Audio TTLs (for the pin-state check), as ``CameraQC.load_data``: the ``audio`` channel of
the DAQ sync (``_spikeglx_sync.*.npy``) or the Bpod BNC2 events of the task data.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from ..errors import XVideoError

__all__ = ["load_camera_frame_data", "load_camera_ssv_times", "load_camera_frame_count", "load_camera_rig_data",
           "load_camera_gpio", "load_embedded_frame_data", "convert_pgts", "uncycle_pgts",
           "read_description", "load_audio_ttls", "DEFAULT_SYNC_CHANNELS"]

_log = logging.getLogger(__name__)
_PIN_BITS = (31, 30, 29, 28)


def convert_pgts(t):
    """PointGrey embedded timestamp (cycle format) to seconds within a 128 s cycle."""
    t = np.asarray(t, dtype=np.int64)
    return ((t >> 25) & 0x7F) + ((t >> 12) & 0x1FFF) / 8000


def uncycle_pgts(t):
    """Unwrap the 128 s cycles of converted PointGrey timestamps."""
    t = np.asarray(t, dtype=np.float64)
    return t + 128 * np.r_[0, np.cumsum(np.diff(t) < 0)]


def _find(session_path, pattern: str) -> Path | None:
    if session_path is None:
        return None
    files = sorted(Path(session_path).joinpath("raw_video_data").glob(pattern))
    return files[0] if files else None


def _gpio_bits(words: np.ndarray) -> np.ndarray:
    words = np.asarray(words, dtype=np.int64)
    return np.stack([(words >> b) & 1 for b in _PIN_BITS], axis=1).astype(bool)


def load_camera_frame_data(session_path, camera: str, raw: bool = False):
    """Read ``_iblrig_<camera>Camera.frameData*.bin``.

    Returns
    -------
    pandas.DataFrame
        ``raw=False``: columns Timestamp (s from the first frame), embeddedTimeStamp
        (s, unwrapped), embeddedFrameCounter (from 0), embeddedGPIOPinState (bool[4]
        per frame). ``raw=True``: the four int64 columns unparsed.

    Raises
    ------
    XVideoError
        If the file is missing or does not hold four values per frame.
    """
    import pandas as pd

    f = _find(session_path, f"_iblrig_{camera}Camera.frameData*.bin")
    if f is None:
        raise XVideoError(f"No raw_video_data/_iblrig_{camera}Camera.frameData.bin in {session_path}")
    data = _frame_data(f)
    cols = ["Timestamp", "embeddedTimeStamp", "embeddedFrameCounter", "embeddedGPIOPinState"]
    if raw:
        return pd.DataFrame(data, columns=cols)
    bonsai, camera_times, count, gpio = _parsed(data)
    return pd.DataFrame({"Timestamp": bonsai, "embeddedTimeStamp": camera_times, "embeddedFrameCounter": count,
                         "embeddedGPIOPinState": list(gpio)})


def _frame_data(f: Path) -> np.ndarray:
    """The ``(n, 4)`` int64 values of a ``frameData.bin`` (checked: four a frame)."""
    data = np.fromfile(f, dtype=np.float64)
    if data.size % 4:
        raise XVideoError(f"{f}: {data.size} values is not four per frame; the file is damaged.")
    return data.reshape(-1, 4).astype(np.int64)


def _parsed(data: np.ndarray) -> tuple:
    """The columns of :func:`_frame_data`'s values (at least one frame), parsed.

    ``(Bonsai times (s from the first frame), camera times (s, unwrapped, from the first),
    frame counter (from 0), GPIO pin states (bool, n x 4))``.
    """
    ts = uncycle_pgts(convert_pgts(data[:, 1]))
    return (data[:, 0] - data[0, 0]) / 1e7, ts - ts[0], data[:, 2] - data[0, 2], _gpio_bits(data[:, 3])


def load_camera_rig_data(session_path, label: str) -> tuple:
    """``(count, pin_state, bonsai_times, camera_times)`` of a camera, each file read once.

    The same values as ``load_embedded_frame_data(raw=True)`` and
    :func:`load_camera_ssv_times` (None for what the session lacks), without reading a
    ``frameData.bin`` three times or making a table of it: the camera QC's inputs.
    """
    f = None if session_path is None else _find(session_path, f"_iblrig_{label}Camera.frameData*.bin")
    if f is None:
        count, pin_state = load_embedded_frame_data(session_path, label, raw=True)
        try:
            bonsai, camera = load_camera_ssv_times(session_path, label) if session_path is not None else (None, None)
        except FileNotFoundError:
            bonsai = camera = None
        return count, pin_state, bonsai, camera
    data = _frame_data(f)
    if not len(data):
        return data[:, 2], None, np.array([]), np.array([])
    _check_gpio_words(data[:, 3], f)
    bonsai, camera_times, count, pin_state = _parsed(data)
    return count, pin_state, bonsai, camera_times


def _check_gpio_words(words: np.ndarray, f) -> None:
    """Log a warning when GPIO words hold values other than one pin state each (as ibllib)."""
    valid = {k << 28 for k in range(16)}
    if not set(np.unique(words).tolist()) <= valid:
        _log.warning("%s: unexpected GPIO values", f)


def load_camera_ssv_times(session_path, camera: str):
    """Bonsai and camera timestamps of each frame.

    From ``frameData.bin`` when present (``(Timestamp, embeddedTimeStamp)`` in s),
    else from ``timestamps.ssv`` (``(datetime64[ns] UTC, unwrapped camera seconds)``).

    Raises
    ------
    FileNotFoundError
        If neither file exists (as ibllib).
    """
    if _find(session_path, f"_iblrig_{camera}Camera.frameData*.bin") is not None:
        fd = load_camera_frame_data(session_path, camera)
        return fd["Timestamp"].values, fd["embeddedTimeStamp"].values
    f = _find(session_path, f"_iblrig_{camera.lower()}Camera.timestamps*.ssv")
    if f is None:
        raise FileNotFoundError(f"No raw_video_data/_iblrig_{camera}Camera.timestamps.ssv in {session_path}")
    rows = [line.split() for line in f.read_text().splitlines() if line.strip()]
    if not rows:
        return np.array([], dtype="datetime64[ns]"), np.array([])
    swap = not rows[0][1].lstrip("-").isdigit()
    dts, cams = [], []
    for r in rows:
        d, c = (r[1], r[0]) if swap else (r[0], r[1])
        dts.append(d)
        cams.append(int(c))
    import pandas as pd

    # ISO datetimes with a timezone offset, converted to naive UTC
    bonsai = pd.to_datetime(pd.Series(dts), utc=True, format="ISO8601").dt.tz_localize(None)
    bonsai = bonsai.to_numpy(dtype="datetime64[ns]")
    return bonsai, uncycle_pgts(convert_pgts(np.array(cams, dtype=np.int64)))


def load_camera_frame_count(session_path, label: str, raw: bool = True):
    """Frame counter per frame (None if there is none).

    From ``frameData.bin`` (always zero-based, whatever ``raw``) or
    ``frame_counter.bin`` (``raw=False`` subtracts the first value).
    """
    if session_path is None:
        return None
    if _find(session_path, f"_iblrig_{label}Camera.frameData*.bin") is not None:
        return load_camera_frame_data(session_path, label)["embeddedFrameCounter"].values
    f = _find(session_path, f"_iblrig_{label}Camera.frame_counter*.bin")
    if f is None:
        return None
    count = np.fromfile(f, dtype=np.float64).astype(int)
    if count.size == 0:
        return None
    return count if raw else count - count[0]


def load_camera_gpio(session_path, label: str, as_dicts: bool = False):
    """GPIO pin states per frame as bool ``(n, 4)``, or per-pin edge dicts.

    ``as_dicts=True`` gives, per pin, ``{'indices', 'polarities'}`` of its changes
    (a pin high at frame 0 counts as a rising edge at index 0), or None for a pin that
    never changes; ``[None] * 4`` when no pin is ever set.
    """
    if session_path is None:
        return [None] * 4 if as_dicts else None
    f = _find(session_path, f"_iblrig_{label}Camera.frameData*.bin")
    if f is not None:
        words = load_camera_frame_data(session_path, label, raw=True)["embeddedGPIOPinState"].values
    else:
        f = _find(session_path, f"_iblrig_{label}Camera.GPIO*.bin")
        if f is None:
            return [None] * 4 if as_dicts else None
        words = np.fromfile(f, dtype=np.float64).astype(np.uint32)
    if words.size == 0:
        return [None] * 4 if as_dicts else None
    _check_gpio_words(words, f)
    gpio = _gpio_bits(words)
    if not as_dicts:
        return gpio
    if not gpio.any():
        _log.error("%s: no GPIO changes", f)
        return [None] * 4
    edges = np.vstack([gpio[:1].astype(int), np.diff(gpio.astype(int), axis=0)])
    out = []
    for p in range(4):
        idx = np.flatnonzero(edges[:, p])
        out.append({"indices": idx, "polarities": edges[idx, p]} if idx.size else None)
    return out


def load_embedded_frame_data(session_path, label: str, raw: bool = False):
    """``(frame count, GPIO)`` as ibllib.

    That is ``load_camera_frame_count(raw)`` and ``load_camera_gpio(as_dicts=not raw)``.
    """
    return (load_camera_frame_count(session_path, label, raw=raw),
            load_camera_gpio(session_path, label, as_dicts=not raw))


def read_description(session_path) -> dict | None:
    """The session's ``_ibl_experiment.description*.yaml`` as a dict, or None."""
    if session_path is None:
        return None
    files = sorted(Path(session_path).glob("_ibl_experiment.description*.yaml"))
    if not files:
        return None
    import yaml

    with open(files[0]) as fid:
        return yaml.safe_load(fid) or {}


#: Sync channel of each device on the nidq board of a 3B ephys rig (ibllib's default map).
DEFAULT_SYNC_CHANNELS = {"left_camera": 0, "right_camera": 1, "body_camera": 2, "imec_sync": 3, "frame2ttl": 4,
                         "rotary_encoder_0": 5, "rotary_encoder_1": 6, "audio": 7, "bpod": 16, "laser": 17,
                         "laser_ttl": 18}


#: Sync channel of each device on a 3A probe's sync port (ibllib's default map).
DEFAULT_SYNC_CHANNELS_3A = {"left_camera": 2, "right_camera": 3, "body_camera": 4, "bpod": 7, "frame2ttl": 12,
                            "rotary_encoder_0": 13, "rotary_encoder_1": 14, "audio": 15}
#: Sync channel of each pin of a 3A probe's sync connector (the others are grounds).
_PINS_3A = {f"pin{k:02d}": ch for ch, k in enumerate([1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19])}


def _sync_channels(folder: Path, default: dict = DEFAULT_SYNC_CHANNELS) -> dict:
    """Device -> sync channel: the folder's ``*.wiring*.json`` over the ``default`` map."""
    files = sorted(folder.glob("*.wiring*.json"))
    if not files:
        return dict(default)
    wiring = json.loads(files[0].read_text())
    digital = wiring.get("SYNC_WIRING_DIGITAL") or {}
    if wiring.get("SYSTEM") == "3B":  # pins named P0.0..P0.7
        chans = {name: int(pin.split(".")[-1]) for pin, name in digital.items()}
    elif wiring.get("SYSTEM") == "3A":  # pins named pin01..pin24, grounds skipped
        chans = {name: _PINS_3A[pin] for pin, name in digital.items() if pin in _PINS_3A}
    else:  # e.g. 'DI3'
        chans = {name: int(pin[3:]) for pin, name in digital.items()}
    chans.update({name: int(pin[2:]) + 16 for pin, name in (wiring.get("SYNC_WIRING_ANALOG") or {}).items()})
    return {**default, **chans}


def _probe_3a_audio(session_path: Path) -> np.ndarray | None:
    """Audio TTL fronts of a 3A ephys rig: the sync of the probe with the most sync fronts.

    As ibllib's ``get_main_probe_sync``: every folder with a probe's ``*.ap*.meta``
    holds that probe's ``_spikeglx_sync.*.npy``; the one with the most fronts is the
    sync master, its channels mapped by its ``*.wiring*.json`` over the 3A defaults
    (audio on 15). None without probe sync files.
    """
    best = None
    for meta in sorted(session_path.glob("**/*.ap*.meta")):
        times = sorted(meta.parent.glob("_spikeglx_sync.times*.npy"))
        chans = sorted(meta.parent.glob("_spikeglx_sync.channels*.npy"))
        if not times or not chans:
            continue
        t = np.load(times[0]).ravel()
        if best is None or t.size > best[0].size:
            best = (t, np.load(chans[0]).ravel(), meta.parent)
    if best is None:
        return None
    t, ch, folder = best
    return t[ch == _sync_channels(folder, DEFAULT_SYNC_CHANNELS_3A)["audio"]]


def _bpod_bnc2_fronts(task_file: Path) -> np.ndarray:
    """BNC2 front times of a Bpod ``_iblrig_taskData.raw.jsonable``, in session time, sorted.

    As ibllib: one row per BNC2High and BNC2Low event of each trial, and a NaN for
    each of the two when a trial has none (NaNs sort last).
    """
    times = []
    with open(task_file) as fid:
        for line in fid:
            if not line.strip():
                continue
            bd = json.loads(line)["behavior_data"]
            start, origin = bd["Trial start timestamp"], bd["Bpod start timestamp"]
            events = bd.get("Events timestamps") or {}
            for name in ("BNC2High", "BNC2Low"):
                # (t + start) - origin, in that order: the same float rounding as ibllib
                times.extend([t + start - origin for t in events[name]] if name in events else [np.nan])
    return np.sort(np.array(times, dtype=np.float64), kind="stable")


def _analog_rises(x: np.ndarray, step: float) -> np.ndarray:
    """Indices where ``x > step`` turns true (the sample after the crossing)."""
    above = x > step
    return np.flatnonzero(~above[:-1] & above[1:]) + 1


def _timeline_audio(folder: Path) -> np.ndarray | None:
    """Audio TTL front times of a Timeline DAQ recording (``_timeline_DAQdata`` in ``folder``).

    As ibllib's ``load_timeline_sync_and_chmap``: the audio channel's fronts from the
    folder's extracted ``_timeline_sync`` files when they exist; else from the raw
    samples: a voltage input is thresholded at half its maximum above its 10th
    percentile (rises where it goes above, falls where it goes below), an edge
    counter gives a front at each change. Times are the DAQ timestamps of the
    samples after each front, sorted. None without Timeline files.
    """
    metas = sorted(folder.glob("_timeline_DAQdata.meta*.json"))
    if not metas:
        return None
    inputs = json.loads(metas[0].read_text()).get("inputs") or []
    info = next((x for x in inputs if str(x.get("name", "")).lower() == "audio"), None)
    if info is None:
        raise XVideoError(f"{metas[0]} has no 'audio' input: the audio TTLs are unknown; pass audio= "
                          "to camera_qc.")
    times, chans = sorted(folder.glob("_timeline_sync.times*.npy")), sorted(folder.glob("_timeline_sync.channels*.npy"))
    if times and chans:
        t, ch = np.load(times[0]).ravel(), np.load(chans[0]).ravel()
        return t[ch == info["arrayColumn"]]
    raws = sorted(folder.glob("_timeline_DAQdata.raw*.npy"))
    stamps = sorted(folder.glob("_timeline_DAQdata.timestamps*.npy"))
    if not raws or not stamps:
        return None
    raw = np.load(raws[0], mmap_mode="r")[:, info["arrayColumn"] - 1]  # MATLAB's 1-based columns
    ts = np.load(stamps[0]).ravel()
    measurement = info.get("measurement")
    if measurement == "Voltage":
        x = raw - np.percentile(raw, 10)
        step = np.max(x) / 2
        ind = np.r_[_analog_rises(x, step), _analog_rises(-x, -step)]
    elif measurement == "EdgeCount":
        ind = np.flatnonzero(np.diff(np.asarray(raw, np.float64))) + 1
    else:
        raise XVideoError(f"{metas[0]}: an audio input measured as {measurement!r} is not read; pass audio= "
                          "to camera_qc.")
    return np.sort(ts[ind])


def load_audio_ttls(session_path, kind: str | None = None) -> np.ndarray | None:
    """Times (s) of the audio TTL fronts, rising and falling, as ``CameraQC.load_data`` gets them.

    The sync comes from the experiment description (``sync:`` key, its
    ``collection``); without one, ``kind='ephys'`` means a nidq DAQ in
    ``raw_ephys_data`` and anything else Bpod.

    - DAQ (nidq): fronts on the ``audio`` channel of ``<collection>/_spikeglx_sync.*.npy``,
      the channel from the folder's ``*.wiring*.json`` (default 7).
    - 3A probes (``raw_ephys_data`` without a nidq board): the sync of the probe with
      the most fronts (see :func:`_probe_3a_audio`; audio on channel 15 by default).
    - Timeline (``acquisition_software: timeline``): the ``audio`` input of
      ``<collection>/_timeline_DAQdata.*`` (see :func:`_timeline_audio`).
    - Bpod: the BNC2 fronts of ``<task collection>/_iblrig_taskData.raw*.jsonable``.

    Returns None when the session does not have those files.

    Raises
    ------
    XVideoError
        For a sync this reader does not handle (acquisition software other than
        SpikeGLX and Timeline): pass ``audio=``.
    """
    if session_path is None:
        return None
    sp = Path(session_path)
    desc = read_description(sp) or {}
    sync_name, sync = next(iter((desc.get("sync") or {}).items()), (None, None))
    sync = sync or {}
    if sync_name is None:
        sync_name = "nidq" if kind == "ephys" else "bpod"
    if sync_name != "bpod":
        namespace = sync.get("acquisition_software") or "spikeglx"
        folder = sp / (sync.get("collection") or "raw_ephys_data")
        if namespace == "timeline":
            return _timeline_audio(folder)
        if namespace != "spikeglx":
            raise XVideoError(f"{sp}: audio TTLs from a {namespace!r} sync are not read here; pass audio= "
                              "to camera_qc (the times of the audio TTL fronts).")
        if folder.name == "raw_ephys_data" and not any(folder.glob("*nidq.meta")):
            return _probe_3a_audio(sp)  # no nidq board: a 3A rig, synced on a probe
        times = sorted(folder.glob("_spikeglx_sync.times*.npy"))
        chans = sorted(folder.glob("_spikeglx_sync.channels*.npy"))
        if not times or not chans:
            return None
        t, ch = np.load(times[0]).ravel(), np.load(chans[0]).ravel()
        return t[ch == _sync_channels(folder)["audio"]]
    tasks = desc.get("tasks") or []
    collection = next((v.get("collection") for task in tasks for v in task.values() if isinstance(v, dict)
                       and v.get("collection")), "raw_behavior_data")
    files = sorted((sp / collection).glob("_iblrig_taskData.raw*.jsonable"))
    return _bpod_bnc2_fronts(files[0]) if files else None
