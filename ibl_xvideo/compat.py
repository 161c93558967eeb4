"""Drop-in twins of ``ibllib.io.video`` functions, running on the ibl-xvideo engine.

Same signatures and return types as ibllib, with these deliberate differences:

* frames are decoded by PyAV (exact frame identity by pts, one decode per keyframe
  group) instead of OpenCV seeks; pixel values equal OpenCV's BGR output;
* progress is a tqdm bar (``quiet=True`` hides it), not ``sys.stdout`` writes;
* a frame that cannot be decoded raises :class:`~ibl_xvideo.errors.DecodeError`
  instead of being left as zeros (or None) with a printed message;
* an http(s) URL (``url_from_eid``'s, or any data server's) is streamed with Range
  requests, fetching only the keyframe groups decoded; credentials come from the
  URL or, as ibllib, from this computer's ONE parameters (``HTTP_DATA_SERVER_LOGIN``
  / ``_PWD``; read, never written); ``get_video_meta`` gives its size in bytes;
* an open ``cv2.VideoCapture`` (which ibllib's ``get_video_frames_preload`` also
  takes) is refused with a TypeError saying to pass the video's path.
"""

from __future__ import annotations

import datetime
import os
import re

import numpy as np

from .engine.decode import read_frames
from .engine.index import get_index
from .errors import InvalidLabelError, InvalidOptionError, SessionNotFoundError, SourceTypeError, VideoNotFoundError
from .io.remote import is_url, split_auth
from .io.sources import (
    VIDEO_LABELS,
    assert_valid_label,
    camera_location,
    configured_data_server_auth,
    default_one,
    is_eid,
    label_from_path,
    not_a_source,
    one_auth,
)

__all__ = ["url_from_eid", "get_video_frame", "get_video_frames_preload", "get_video_meta",
           "label_from_path", "assert_valid_label", "VIDEO_LABELS"]


def _index(video_path, one=None):
    """The index of a local video or of an http(s) URL (streamed, as ibllib's VideoStreamer).

    A URL's credentials: those in it, else ``one``'s data server login, else the
    configured ONE's (as ibllib).
    """
    if not isinstance(video_path, (str, os.PathLike)):
        raise SourceTypeError(not_a_source(video_path, "ibl_xvideo.compat reads a video file's path or URL"))
    s = str(video_path)
    if not is_url(s):
        return get_index(s)
    url, auth = split_auth(s)
    return get_index(url, auth=auth or (one_auth(one) if one is not None else None) or configured_data_server_auth())


def _bgr(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=-1)


def get_video_frame(video_path, frame_number):
    """Return frame ``frame_number`` (0-based) as BGR uint8 ``(h, w, 3)``, as ibllib.

    The three channels all hold OpenCV's channel 0 (the camera is monochrome).
    Unlike ibllib, a frame that cannot be read raises instead of returning None.
    """
    index = _index(video_path)
    return _bgr(read_frames(index, [frame_number])[0])


def get_video_frames_preload(vid, frame_numbers=None, mask=Ellipsis, as_list=False, func=lambda x: x,
                             quiet=False):
    """Load many frames at once, as ibllib's function of the same name.

    Parameters
    ----------
    vid : str or PathLike
        Video file.
    frame_numbers : list or numpy.ndarray, optional
        0-based frame indices (any order); default: every frame.
    mask : numpy.s_ slice
        Applied to each ``(h, w, 3)`` BGR frame, e.g. ``np.s_[:, :, 0]`` (the IBL QC uses it).
        Spatial slices are applied at decode time, so memory holds only the crop.
    as_list : bool
        Return a list of frames instead of one array.
    func : callable
        Applied to each masked frame.
    quiet : bool
        Hide the progress bar.

    Returns
    -------
    numpy.ndarray or list
        ``(n, ...)`` uint8 array (as ibllib, always uint8) or list of frames.
    """
    from tqdm.auto import tqdm

    if mask is not Ellipsis and not isinstance(mask, (tuple, slice, int)):
        raise ValueError("mask must be a numpy.s_ slice expression, not a boolean array")
    index = _index(vid)
    idx = np.arange(index.length) if frame_numbers is None else np.asarray(frame_numbers, dtype=np.int64)
    ysl = xsl = slice(None)
    rest = mask
    if isinstance(mask, tuple) and Ellipsis not in mask and len(mask) >= 2 \
            and all(isinstance(m, slice) for m in mask[:2]):
        ysl, xsl, rest = mask[0], mask[1], (slice(None), slice(None)) + mask[2:]
    # one channel of a grey camera: every BGR channel holds the same values
    one_channel = isinstance(rest, tuple) and len(rest) == 3 and isinstance(rest[2], (int, np.integer)) \
        and rest[:2] == (slice(None), slice(None))
    with tqdm(total=np.unique(idx).size, desc="loading frames", unit="frame", disable=quiet,
              leave=False) as bar:
        # every keyframe group decoded once, groups in parallel; the bar moves per group
        crop = read_frames(index, idx, y=ysl, x=xsl, workers=os.cpu_count() or 1, progress=bar.update)
    results = [func(frame if one_channel else _bgr(frame)[rest]) for frame in crop]
    if as_list:
        return results
    if not results:
        return np.zeros((0,), np.uint8)
    return np.stack([np.asarray(r) for r in results]).astype(np.uint8, copy=False)


def get_video_meta(video_path, one=None):
    """Return ibllib's video metadata Bunch: length, fps (int), width, height, duration, size."""
    from iblutil.util import Bunch

    if isinstance(video_path, str) and is_eid(video_path) and not os.path.exists(video_path):
        raise TypeError(f"get_video_meta reads a video file's path or URL, as ibllib's, not an eid ({video_path}): "
                        "use url_from_eid(eid, label) first, or ibl_xvideo.video_meta(eid, label).")
    index = _index(video_path, one)
    fps = int(index.fps)
    return Bunch(
        length=index.length,
        fps=fps,
        width=index.width,
        height=index.height,
        duration=datetime.timedelta(seconds=index.length / fps) if fps else 0,
        size=index.size,
    )


def url_from_eid(eid, label=None, one=None):
    """Return the video URL(s) of a session, as ibllib's ``url_from_eid``.

    Parameters
    ----------
    eid : str or uuid.UUID
        Session eid.
    label : str or sequence of str, optional
        Camera label(s); default: all.
    one : one.api.One, optional
        ONE instance (default: :func:`ibl_xvideo.io.sources.default_one`).

    Returns
    -------
    str or dict
        For a string label, its URL; else a ``{label: url}`` dict (None where missing).
        With a remote ONE, Alyx's data URLs (as ibllib); with a local ONE cache, the URLs
        on its data server in ONE's layout (``$IBL_XVIDEO_DATA_SERVER``), else the local
        files' paths (which every function here and ``open_camera`` accept).

    Raises
    ------
    SessionNotFoundError
        For an eid this ONE does not know or refuses (ibllib returns ``{}``).
    InvalidOptionError, InvalidLabelError
        For a string that is no eid, or a label that is no camera's (both ValueErrors).
    """
    valid = np.isin(label, VIDEO_LABELS).all() if label is not None else True
    if not valid:
        raise InvalidLabelError(f"labels must be one of {', '.join(VIDEO_LABELS)}, not {label!r}")
    if not is_eid(eid):
        raise InvalidOptionError(f"{eid!r} is not an eid: give a session's UUID, as one.search() returns them.")
    one = default_one(eid) if one is None else one
    wanted = [label] if isinstance(label, str) else (label or VIDEO_LABELS)
    rx = re.compile(r"^_iblrig_([a-z]+)(?=Camera.raw.mp4$)")
    urls = {}
    if not getattr(one, "offline", True) and hasattr(one, "get_details"):
        import requests

        try:
            det = one.get_details(str(eid), full=True)
        except ValueError as exc:  # ONE refuses the eid
            raise SessionNotFoundError(f"{eid} is not an eid ONE accepts ({exc}): check the eid.") from exc
        except requests.HTTPError as exc:  # Alyx answers 404 for a session it does not have
            if exc.response is None or exc.response.status_code != 404:
                raise
            raise SessionNotFoundError(f"Alyx has no session {eid}: check the eid (one.search(...)).") from exc
        for d in det.get("data_dataset_session_related", []):
            m = rx.match(d.get("name", ""))
            if d.get("dataset_type") == "_iblrig_Camera.raw" and m and m.group(1) in wanted:
                urls[m.group(1)] = d["data_url"]
    else:  # a local cache: URLs on its data server in ONE's layout, else the local files
        for lb in wanted:
            where = camera_location(one, str(eid), lb)
            if where is not None:
                urls[lb] = where
    if isinstance(label, str):
        if label not in urls:
            raise VideoNotFoundError(f"Session {eid} has no {label} camera video.")
        return urls[label]
    out = dict.fromkeys(label) if label else {}
    out.update(urls)
    return out
