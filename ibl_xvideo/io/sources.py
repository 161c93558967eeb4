"""Find a camera's video file, label, session and timestamps from what the user gives.

A source is an eid (str or UUID, resolved through a ``one.api.One`` instance), a
session path, a path to an ``.mp4`` file, or an http(s) URL.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import (
    InvalidLabelError,
    InvalidOptionError,
    InvalidTimestampsError,
    RemoteError,
    SessionNotFoundError,
    SourceTypeError,
    TimestampsNotFoundError,
    VideoNotFoundError,
    XVideoError,
    check_option,
)
from .container import Source, as_source
from .fileio import cache_dir
from .remote import (
    S3_OPTIONS,
    Transport,
    download,
    http_location,
    is_s3,
    is_url,
    redact,
    redact_text,
    s3_location,
    split_auth,
)

__all__ = [
    "VIDEO_LABELS",
    "label_from_path",
    "assert_valid_label",
    "is_eid",
    "session_path_of",
    "session_labels",
    "Resolved",
    "resolve",
    "FETCH",
    "video_file_name",
    "times_file_name",
    "default_one",
    "not_a_source",
    "camera_location",
    "one_auth",
    "one_errors",
]

VIDEO_LABELS = ("left", "right", "body", "belly")

#: Where a camera's bytes come from (``open_camera``'s ``fetch``): ``'auto'`` a local copy, else
#: streamed; ``'stream'`` streamed even with a local copy; ``'download'`` downloaded when missing,
#: then read locally; ``'local'`` a local copy only.
FETCH = ("auto", "stream", "download", "local")

_log = logging.getLogger(__name__)


def video_file_name(label: str) -> str:
    """ALF name of a camera's raw video (``_iblrig_<label>Camera.raw.mp4``)."""
    return f"_iblrig_{label}Camera.raw.mp4"


def times_file_name(label: str) -> str:
    """ALF name of a camera's timestamps (``_ibl_<label>Camera.times.npy``)."""
    return f"_ibl_{label}Camera.times.npy"


def label_from_path(x) -> str | None:
    """Return the camera label in a file name or URL (``'body'`` for ``_iblrig_bodyCamera.raw.mp4``).

    Same rule as ibllib: the first lower-case word between an underscore and
    ``Camera``; None when there is none.

    Examples
    --------
    >>> label_from_path('/data/raw_video_data/_iblrig_leftCamera.raw.mp4')
    'left'
    """
    m = re.search(r"(?<=_)([a-z]+)(?=Camera)", str(x))
    return m.group(0) if m else None


def assert_valid_label(label):
    """Return the lower-cased label, or a tuple of them for an iterable.

    Raises
    ------
    InvalidLabelError
        (a ValueError) for a string that is not one of ``VIDEO_LABELS``.
    TypeError
        For anything that is neither a string nor an iterable of strings (as ibllib).
    """
    if not isinstance(label, str):
        try:
            return tuple(map(assert_valid_label, label))
        except TypeError as exc:
            raise TypeError("label must be string or iterable of strings") from exc
    if label.lower() not in VIDEO_LABELS:
        raise InvalidLabelError(f"camera must be one of ({', '.join(VIDEO_LABELS)})")
    return label.lower()


def is_eid(x) -> bool:
    """True for a UUID object or a string holding a UUID."""
    if isinstance(x, uuid.UUID):
        return True
    if isinstance(x, str):
        try:
            uuid.UUID(x)
            return len(x.replace("-", "")) == 32
        except ValueError:
            return False
    return False


def session_path_of(one, eid) -> Path:
    """The session folder of ``eid`` in ``one``'s cache.

    Raises
    ------
    SessionNotFoundError
        When ONE does not know the session, or refuses the eid (ONE takes version-4 UUIDs).
    """
    try:
        with one_errors(f"looking up session {eid}", eid):
            session_path = one.eid2path(str(eid))
    except ValueError as exc:  # ONE's own validation of the string
        raise SessionNotFoundError(f"{eid} is not an eid ONE accepts ({exc}): check the eid.") from exc
    if session_path is None:
        raise SessionNotFoundError(
            f"Session {eid} is not in the ONE cache at {getattr(one, 'cache_dir', '?')}: check the eid "
            "(one.search(...)), refresh the cache, or pass one=ONE() to ask Alyx." + _demo_hint(eid))
    return Path(session_path)


@dataclass
class Resolved:
    """Where a camera's data are: video location, label, session and timestamps."""

    location: str
    label: str | None
    eid: str | None = None
    session_path: Path | None = None
    times: np.ndarray | None = None
    times_origin: str = "none"
    transport: Transport | None = field(default=None, repr=False)

    @property
    def source(self) -> Source:
        """The video's :class:`~ibl_xvideo.io.container.Source`: the handle the index and the decoder read."""
        return as_source(self.location, self.transport)


def _quiet_load(one, eid, name, collection):
    """``one.load_dataset`` without the local-mode revision / hash chatter.

    Offline, ONE's hash check of the local file can only log a warning (that this
    silences) yet costs ~0.14 s a call (iblutil allocates a 256 MiB buffer for each
    hash): it is skipped then. Online, a mismatching file is downloaded again.
    """
    from one.alf.exceptions import ALFObjectNotFound

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logger = logging.getLogger("one")
        level = logger.level
        logger.setLevel(logging.ERROR)
        try:
            with one_errors(f"loading {collection}/{name} of session {eid}", eid):
                try:
                    return one.load_dataset(eid, name, collection=collection,
                                            check_hash=not getattr(one, "offline", False))
                except ALFObjectNotFound:
                    return None
        finally:
            logger.setLevel(level)


def _times_from_session(session_path: Path, label: str) -> np.ndarray | None:
    files = sorted((session_path / "alf").glob(f"_ibl_{label}Camera.times*.npy"))
    return _read_times_file(files[0]) if files else None


def _times_from_one(one, eid: str, session_path: Path, label: str) -> np.ndarray | None:
    """The camera's ALF timestamps through ONE, else from the session folder; None if neither has them."""
    name = times_file_name(label)
    try:
        found = _quiet_load(one, eid, name, "alf")
    except (ValueError, EOFError) as exc:  # np.load of an empty, damaged or pickled file
        raise InvalidTimestampsError(
            f"The timestamps alf/{name} of session {eid} cannot be read as a NumPy array ({exc}). "
            "Re-download them (one.load_dataset(eid, ..., download_only=True) after deleting the "
            "file), or open the camera with timestamps=False."
        ) from exc
    return found if found is not None else _times_from_session(session_path, label)


def _read_times_file(path: Path) -> np.ndarray:
    """A timestamps ``.npy`` file (never unpickled), or InvalidTimestampsError naming it."""
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise InvalidTimestampsError(
            f"The timestamps file {path} cannot be read as a NumPy array of numbers ({exc}): it is "
            "empty, damaged or holds Python objects. Re-download it, or pass timestamps=False."
        ) from exc


def _as_times(values, where: str) -> np.ndarray:
    """Timestamps as a 1-D float64 array (one per frame), or InvalidTimestampsError naming ``where``."""
    try:
        arr = np.asarray(values)
    except ValueError as exc:  # ragged sequences
        raise InvalidTimestampsError(f"{where}: timestamps are not an array of numbers ({exc}).") from exc
    if arr.dtype.kind not in "iuf":
        raise InvalidTimestampsError(
            f"{where}: timestamps must be numbers (seconds on the session clock), got an array of "
            f"dtype {arr.dtype}. Pass a float array, or timestamps=False."
        )
    if arr.ndim == 2 and 1 in arr.shape:  # a row or a column: still one number per frame
        arr = arr.reshape(-1)
    if arr.ndim != 1 or arr.size == 0:
        raise InvalidTimestampsError(
            f"{where}: timestamps must be a non-empty 1-D array (one time per frame), got shape "
            f"{arr.shape}. Pass the camera's times, or timestamps=False."
        )
    return arr.astype(np.float64)


def _find_video(session_path: Path, label: str) -> Path | None:
    files = sorted((session_path / "raw_video_data").glob(f"_iblrig_{label}Camera.raw*.mp4"))
    return files[0] if files else None


def _cameras_in(session_path: Path) -> list[str]:
    return sorted({label_from_path(p.name) for p in (session_path / "raw_video_data").glob(
        "_iblrig_*Camera.raw*.mp4")} - {None})


def _load_times(user_times, found: np.ndarray | None, where: str, label: str):
    """Apply the user's ``timestamps=`` choice; return (times or None, origin)."""
    if user_times is False:
        return None, "none"
    if user_times is None:
        if found is None:
            return None, "none"
        return _as_times(found, f"The timestamps alf/{times_file_name(label)} of {where}"), "alf"
    if isinstance(user_times, (str, Path)):
        p = Path(user_times)
        if not p.exists():
            raise TimestampsNotFoundError(f"Timestamps file {p} does not exist.")
        return _as_times(_read_times_file(p), f"The timestamps file {p}"), str(p)
    return _as_times(user_times, f"timestamps= given for {where}"), "user"


def resolve(
    source: Any,
    label: str | None = None,
    *,
    one=None,
    timestamps: Any = None,
    require_times: bool = False,
    fetch: str = "auto",
    storage_options: dict | Transport | None = None,
) -> Resolved:
    """Resolve a source (eid, session path, mp4 path, URL) to a :class:`Resolved`.

    Parameters
    ----------
    source : str, uuid.UUID or PathLike
        An eid, a session path, an mp4 file, an http(s) URL or an ``s3://`` URL.
    label : str, optional
        Camera label; may be omitted when the file name carries it.
    one : one.api.One, optional
        ONE instance used for eids (required for them) and to look up a session's eid.
    timestamps : None, False, array-like or PathLike
        None: the session's ``alf/_ibl_<label>Camera.times.npy`` when found; False: no
        timestamps; an array or an ``.npy`` path: these timestamps.
    require_times : bool
        Raise :class:`TimestampsNotFoundError` when no timestamps are found.
    fetch : {'auto', 'stream', 'download', 'local'}
        Where the bytes come from (see :data:`FETCH`). For an eid: ``'auto'`` reads the
        local copy and streams the video from the data server when there is none;
        ``'stream'`` always streams; ``'download'`` downloads a missing video first (through
        ONE when it is remote), then reads it locally; ``'local'`` reads only a local copy.
        A URL is streamed (``'auto'`` or ``'stream'``); a file is read (``'auto'`` or ``'local'``).
    storage_options : dict or Transport, optional
        How remote bytes are read, in fsspec's convention. For http(s): ``username`` and
        ``password`` (or ``auth``), ``timeout``, ``retries``, ``backoff``
        (:func:`ibl_xvideo.io.remote.transport_options`). For ``s3://``: ``anon``, ``key``,
        ``secret``, ``token``, ``profile``, ``endpoint_url``, ``region_name`` and the same
        ``timeout``, ``retries``, ``backoff`` (:func:`ibl_xvideo.io.remote.s3_location`). For an
        eid, also ``data_server``: the data server's root in ONE's layout (ONE's
        ``HTTP_DATA_SERVER``, or ``s3://bucket/root``; S3 options alone mean IBL's public
        bucket, :data:`IBL_PUBLIC_BUCKET`). A :class:`~ibl_xvideo.io.remote.Transport` is a
        URL's options already made (as an opened camera's).
    """
    check_option("fetch", fetch, FETCH)
    if is_s3(source):  # an object store: read over HTTPS, each request signed when there are keys
        _check_fetch(fetch, ("auto", "stream"), "an s3:// URL is streamed")
        url, transport = s3_location(source, storage_options)
        return resolve(url, label, timestamps=timestamps, require_times=require_times, storage_options=transport)
    if storage_options and not is_eid(source) and not is_url(source):
        raise InvalidOptionError(f"storage_options are for URLs and eids read from a data server; "
                                 f"{source!r} is neither.")
    if label is not None:
        try:
            label = assert_valid_label(label)
        except InvalidLabelError:
            shown = source
            if isinstance(source, str) and re.match(r"^https?://", source, re.I):
                shown = split_auth(source)[0]  # never show credentials
            raise InvalidLabelError(
                f"{label!r} is not a camera label (opening {shown}): give one of "
                f"{', '.join(VIDEO_LABELS)}."
            ) from None
    if isinstance(source, str) and re.match(r"^[a-z][a-z0-9+.-]*://", source, re.I) \
            and not re.match(r"^https?://", source, re.I):
        scheme = source.split("://", 1)[0]
        if scheme.lower() == "s3":
            raise VideoNotFoundError(f"{source}: an s3:// URL names an object, s3://bucket/key.")
        raise VideoNotFoundError(
            f"{scheme}:// URLs are not read here ({split_auth(source)[0]}): ibl-xvideo reads local files, http(s):// "
            "and s3:// URLs. A store with an S3-compatible API (Google Cloud Storage, MinIO, Ceph...) opens as "
            "s3://bucket/key with storage_options={'endpoint_url': ..., 'key': ..., 'secret': ...}; otherwise "
            "download the file first.")
    if is_url(source):
        _check_fetch(fetch, ("auto", "stream"), "a URL is streamed")
        url, transport = _url_transport(source, storage_options)
        if label is None:
            found_label = label_from_path(url.rsplit("/", 1)[-1])
            label = found_label if found_label in VIDEO_LABELS else None
        times, origin = _load_times(timestamps, None, url, label or "")
        return Resolved(url, label, None, None, times, origin, transport)
    if not isinstance(source, (str, os.PathLike, uuid.UUID)):
        raise SourceTypeError(not_a_source(source, "open_camera reads an eid, a session folder, a video file or a URL"))
    if is_eid(source):
        res = _resolve_eid(str(source), label, one, timestamps, fetch, storage_options)
    else:
        _check_fetch(fetch, ("auto", "local"), "a file or a session folder is read where it is")
        path = Path(source).expanduser()
        if path.is_dir():
            res = _resolve_session(path, label, one, timestamps)
        elif path.suffix.lower() == ".nwb" and path.is_file():
            res = _resolve_nwb(path, label, timestamps)
        elif path.exists():
            res = _resolve_file(path, label, one, timestamps)
        else:
            raise VideoNotFoundError(
                f"{source!r} is neither an eid, an existing session folder nor an existing "
                "video file: check the path (or pass an eid with one=One(...))."
            )
    # a session's camera is expected to have its ALF timestamps; a bare file is not
    require_times = require_times or (timestamps is None and res.session_path is not None
                                      and not _is_file_source(source))
    if require_times and res.times is None:
        raise TimestampsNotFoundError(
            f"No timestamps for the {res.label} camera of {res.eid or res.location}: expected "
            f"alf/{times_file_name(res.label)}; pass timestamps=... or timestamps=False."
        )
    return res


def not_a_source(source, what: str) -> str:
    """The message for a source of the wrong type (an open ``cv2.VideoCapture``, most often)."""
    if type(source).__name__ == "DataArray":
        return (f"{what}, not an array: for a camera array use its own methods (cam.video.qc(), "
                "cam.video.to_zarr(...)), which take the array as it is, or pass the path in its attrs['source'].")
    return (f"{what}, not {type(source).__name__} (ibllib also accepts an open cv2.VideoCapture): pass the "
            "video's path instead.")


def _is_file_source(source) -> bool:
    return not is_eid(source) and Path(source).expanduser().is_file()


#: The ONE instances :func:`default_one` made, by the settings they were made from (a settings file and its
#: default database, or the demo's folder): building one reads its cache tables.
_DEFAULT_ONES: dict = {}


def _configured_one() -> tuple[str, str] | None:
    """``(the settings file, its default database)`` of this computer's ONE settings, or None; writes nothing."""
    import json

    from iblutil.io import params as iopar

    try:
        caches = Path(iopar.getfile("one/caches"))
        client = json.loads(caches.read_text()).get("DEFAULT") if caches.exists() else None
    except (OSError, ValueError, KeyError, AttributeError):
        return None
    return None if client is None else (str(caches), client)


def configured_data_server_auth() -> tuple[str, str] | None:
    """The data server credentials of this computer's default ONE database, or None; writes nothing.

    ibllib's video streamer puts ``HTTP_DATA_SERVER_LOGIN`` / ``HTTP_DATA_SERVER_PWD``
    of ``one.params.get()`` into every URL; this reads the same parameter file
    without ``one.params``' setup prompt or writes.
    """
    from iblutil.io import params as iopar

    configured = _configured_one()
    if configured is None:
        return None
    client = configured[1]
    try:
        par = iopar.read(f"one/{client}")
    except (OSError, ValueError, AttributeError):
        return None
    login = getattr(par, "HTTP_DATA_SERVER_LOGIN", None)
    pwd = getattr(par, "HTTP_DATA_SERVER_PWD", None)
    return (login, pwd or "") if login not in (None, "None") else None


def session_labels(eid, *, one=None) -> list[str]:
    """The cameras whose video a session has (eid with ``one``, or session path), in label order.

    Raises
    ------
    SessionNotFoundError
        For an eid ONE does not know.
    """
    if is_eid(eid):
        one = default_one(eid) if one is None else one
        session_path = session_path_of(one, eid)
        # the cameras ONE lists (downloaded or not: those not here are streamed), and any found in the folder
        found = set(_cameras_in(session_path)) | set(_listed_cameras(one, str(eid)))
    else:
        found = set(_cameras_in(Path(eid)))
    return [lb for lb in VIDEO_LABELS if lb in found]


def _listed_cameras(one, eid: str) -> list[str]:
    """The labels of the raw camera videos ONE lists for a session (its cache tables, or Alyx when online)."""
    df = _raw_videos(one, eid)
    if df is None:
        return []
    return sorted({label_from_path(Path(str(rel)).name) for rel in df["rel_path"]
                   if re.search(r"_iblrig_\w+Camera\.raw.*\.mp4$", str(rel))} - {None})


#: IBL's public data on AWS, in ONE's layout (ONE's ``one.remote.aws``: bucket and ``data`` root).
IBL_PUBLIC_BUCKET = "s3://ibl-brain-wide-map-public/data"

#: The built-in demo session's eid (see :mod:`ibl_xvideo.demo`).
DEMO_EID = "4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a"


def demo_cache_dir() -> Path:
    """Folder of the demo ONE cache (``$IBL_XVIDEO_DEMO_DIR`` or inside :func:`~ibl_xvideo.io.fileio.cache_dir`)."""
    return Path(os.environ.get("IBL_XVIDEO_DEMO_DIR") or cache_dir() / "demo_one_cache")


def _knows(one, eid) -> bool:
    """Whether ``one``'s cache holds session ``eid``."""
    try:
        return one.eid2path(str(eid)) is not None
    except ValueError:
        return False


def default_one(eid=None):
    """The ONE instance used for an eid given without ``one=``.

    This computer's configured ONE (``ONE.setup()``) in local mode: its cache tables,
    no Alyx query (videos not downloaded stream from its data server). For the
    built-in demo's eid, the demo's cache when the configured one does not hold that
    session. Pass ``one=ONE()`` for Alyx queries.

    Raises
    ------
    XVideoError
        When no ONE is configured and the eid is not the built demo's.
    """
    configured = _configured_one()
    demo = demo_cache_dir()
    is_demo = str(eid) == DEMO_EID and (demo / "ibl_xvideo_demo.json").exists()
    # by the settings a ONE is made from: another settings file (HOME) or demo folder is another ONE
    keys = ([("configured", configured)] if configured else []) + ([("demo", str(demo))] if is_demo else [])
    for kind, where in keys:
        one = _DEFAULT_ONES.get((kind, where))
        if one is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if kind == "configured":
                    from one.api import ONE

                    one = ONE(mode="local", silent=True)
                else:
                    from one.api import One

                    one = One(cache_dir=where, mode="local")
            _DEFAULT_ONES[(kind, where)] = one
        if eid is None or kind == keys[-1][0] or _knows(one, eid):
            return one
    raise SessionNotFoundError(
        f"Opening eid {eid} needs ONE, and none is configured on this computer: pass one=ONE() (after "
        "ONE.setup()) or one=One(cache_dir=<folder with ONE's cache tables>) (command line: --one-cache), "
        "or give the session folder or the mp4 file instead." + _demo_hint(eid)
    )


@contextlib.contextmanager
def one_errors(doing: str, eid=None):
    """ONE's, Alyx's and the data server's errors while ``doing``, as this package's typed errors.

    Authentication (Alyx or data server): :class:`~ibl_xvideo.io.remote.RemoteAuthError`; a
    404: :class:`SessionNotFoundError` for Alyx, :class:`VideoNotFoundError` for a file;
    an unreachable server: :class:`~ibl_xvideo.errors.RemoteError`. Messages name the eid
    and what to do, never a password.
    """
    import urllib.error

    from one.alf.exceptions import ALFError

    try:
        yield
    except XVideoError:
        raise
    except ALFError as exc:
        raise VideoNotFoundError(f"{doing}: ONE says {redact_text(str(exc))} Check the eid and the dataset "
                                 "names (one.list_datasets(eid)).") from exc
    except urllib.error.HTTPError as exc:  # ONE's downloads from the data server
        raise _http_error(doing, exc.code, "the data server", redact(exc.url or "")) from exc
    except (urllib.error.URLError, ConnectionError) as exc:
        raise RemoteError(f"{doing}: the server cannot be reached ({redact_text(str(exc))}): check the network, "
                          "or use ONE(mode='local') on the files already downloaded.") from exc
    except Exception as exc:  # requests' errors from Alyx, without importing requests here
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None)
        if code is not None:
            raise _http_error(doing, code, "Alyx", redact(getattr(response, "url", "") or "")) from exc
        if type(exc).__module__.startswith(("requests", "urllib3")):
            raise RemoteError(f"{doing}: Alyx cannot be reached ({redact_text(str(exc))}): check ONE's base "
                              "URL and the network, or use ONE(mode='local').") from exc
        raise


def _http_error(doing: str, code: int, who: str, url: str) -> XVideoError:
    from .remote import RemoteAuthError

    if code in (401, 403):
        how = ("log in again (ONE(..., password=...) or one.alyx.authenticate(force=True))" if who == "Alyx" else
               "check the data server's login and password in ONE's settings (ONE.setup(), HTTP_DATA_SERVER_LOGIN "
               "/ HTTP_DATA_SERVER_PWD)")
        return RemoteAuthError(f"{doing}: {who} refused the credentials (HTTP {code}{', ' + url if url else ''}): "
                               f"{how}.")
    if code == 404:
        cls = SessionNotFoundError if who == "Alyx" else VideoNotFoundError
        return cls(f"{doing}: {who} has no such {'record' if who == 'Alyx' else 'file'} (HTTP 404"
                   f"{', ' + url if url else ''}): check the eid, or whether the dataset was released.")
    return RemoteError(f"{doing}: {who} answered HTTP {code}{' for ' + url if url else ''}: try again later.")


def _demo_hint(eid) -> str:
    """What to say of the built-in demo to a user whose eid is unknown: the demo's eid, if it looks meant."""
    import difflib

    if str(eid).lower() == DEMO_EID:
        return " It is the built-in demo's session, not built on this computer yet: `ibl-xvideo demo` builds it."
    near = difflib.SequenceMatcher(None, str(eid).lower(), DEMO_EID).ratio() >= 0.8
    if near:
        return f" Did you mean the built-in demo's session {DEMO_EID}? (`ibl-xvideo demo` builds it.)"
    return f" (The built-in demo's session is {DEMO_EID}: `ibl-xvideo demo` builds it.)"


def _url_transport(url: str, storage_options, default_auth=None) -> tuple[str, Transport]:
    """An http(s) URL without its credentials, and how to read it (``storage_options``, or a Transport made)."""
    opts = storage_options
    if not isinstance(opts, Transport):
        opts = dict(opts or {})
        if default_auth and not {"auth", "username", "password"} & set(opts) and not split_auth(url)[1]:
            opts["auth"] = default_auth
    return http_location(url, opts)


def _check_fetch(fetch: str, allowed: tuple, why: str) -> None:
    if fetch not in allowed:
        raise InvalidOptionError(f"fetch={fetch!r} does not apply here: {why} (fetch="
                                 f"{' or '.join(repr(a) for a in allowed)}). 'download' and 'local' choose "
                                 "how an eid's video is read.")


def _data_server(storage_options) -> tuple[str | None, dict | None]:
    """``(data server root, the other storage options)`` of an eid's ``storage_options``."""
    if storage_options is None or isinstance(storage_options, Transport):
        return None, storage_options
    opts = dict(storage_options)
    server = opts.pop("data_server", None)
    if server is None and set(opts) & set(S3_OPTIONS):  # keys for an object store: IBL's public one
        server = IBL_PUBLIC_BUCKET
    return server, opts


def _resolve_eid(eid: str, label, one, timestamps, fetch: str = "auto", storage_options=None) -> Resolved:
    if one is None:
        one = default_one(eid)
    if label is None:
        raise InvalidLabelError(f"Give the camera label for eid {eid}: one of {VIDEO_LABELS}.")
    data_server, options = _data_server(storage_options)
    session_path = session_path_of(one, eid)
    video = _find_video(session_path, label)
    location, transport = (str(video) if video is not None else None), None
    if video is None or fetch == "stream":
        listed = _listed_video(one, eid, label)
        if listed is None:
            if video is None:
                have = _cameras_in(session_path)
                raise VideoNotFoundError(
                    f"Session {eid} ({session_path}) has no {label} camera video; cameras found: "
                    f"{', '.join(have) or 'none'}."
                )
        else:
            rel_path, dataset_id = listed
            if video is None and fetch == "local":
                raise VideoNotFoundError(
                    f"Session {eid} has a {label} camera video ({rel_path}) but no local copy at "
                    f"{session_path}: pass fetch='download' (or fetch='auto' to stream it), or "
                    f"one.load_dataset(eid, '{video_file_name(label)}', download_only=True)."
                )
            if fetch == "download":
                location = str(_download(one, eid, session_path, rel_path, dataset_id, data_server, options))
            else:
                with one_errors(f"finding the URL of {rel_path} of session {eid}", eid):
                    url = dataset_url(one, session_path, rel_path, dataset_id, data_server)
                location, transport = _remote(url, options, one)
    found = _times_from_one(one, eid, session_path, label) if timestamps is None else None
    times, origin = _load_times(timestamps, found, str(session_path), label)
    return Resolved(location, label, eid, session_path, times, origin, transport)


def _remote(url: str, options, one) -> tuple[str, Transport]:
    """A dataset URL (http(s) or s3://) and how to read it: the options, else ONE's data server login."""
    if is_s3(url):
        return s3_location(url, options)
    return _url_transport(url, options, one_auth(one))


def _raw_videos(one, eid: str):
    """ONE's datasets of a session's ``raw_video_data`` collection (details), or None when it lists none."""
    with warnings.catch_warnings(), one_errors(f"listing the videos of session {eid}", eid):
        warnings.simplefilter("ignore")
        df = one.list_datasets(eid, collection="raw_video_data", details=True)
    return None if df is None or len(df) == 0 else df


def _listed_video(one, eid: str, label: str):
    """``(rel_path, dataset id)`` of the camera's raw video in ONE's datasets table, or None."""
    df = _raw_videos(one, eid)
    if df is None:
        return None
    rx = re.compile(rf"(^|/)_iblrig_{label}Camera\.raw.*\.mp4$")
    for did, rel in zip(df.index, df["rel_path"]):
        if rx.search(str(rel)):
            did = did[-1] if isinstance(did, tuple) else did
            return str(rel), str(did)
    return None


def one_auth(one):
    """The data server credentials of a ONE instance (HTTP_DATA_SERVER_LOGIN / _PWD), if any."""
    par = getattr(getattr(one, "alyx", None), "_par", None)
    login = getattr(par, "HTTP_DATA_SERVER_LOGIN", None)
    pwd = getattr(par, "HTTP_DATA_SERVER_PWD", None)
    return (login, pwd) if login not in (None, "None") else None


def dataset_url(one, session_path: Path, rel_path: str, dataset_id: str, data_server: str | None = None) -> str:
    """The data-server URL of a session's dataset, as ONE builds it.

    With a remote ONE, ``one.path2url``. Otherwise (a local ONE cache) from
    ``data_server`` (or ``$IBL_XVIDEO_DATA_SERVER``) in ONE's layout:
    ``<server>/<lab>/Subjects/<subject>/<date>/<number>/<collection>/<name>.<dataset id>.<ext>``.
    An ``s3://bucket/root`` server gives the object's ``s3://`` URL in the same layout
    (IBL's public bucket: :data:`IBL_PUBLIC_BUCKET`).
    """
    import os

    if data_server is None:
        try:
            url = one.path2url(session_path / rel_path)
            if url:
                return url
        except AssertionError:  # a local One has no web client
            pass
        data_server = os.environ.get("IBL_XVIDEO_DATA_SERVER")
    if not data_server:
        raise VideoNotFoundError(
            f"{session_path / rel_path} is not on this computer and this ONE instance cannot make "
            "its URL: pass storage_options={'data_server': 'https://.../public'} (or set "
            "IBL_XVIDEO_DATA_SERVER), or download it with a remote ONE."
        )
    rel_session = Path(session_path).relative_to(Path(one.cache_dir)).as_posix()
    collection, _, name = rel_path.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    return f"{data_server.rstrip('/')}/{rel_session}/{collection}/{stem}.{dataset_id}{dot}{ext}"


def camera_location(one, eid: str, label: str, data_server: str | None = None) -> str | None:
    """Where a session's camera video is, for a local ONE cache: its URL, else its local path.

    The URL on the data server in ONE's layout (``one.path2url``, else ``data_server``
    or ``$IBL_XVIDEO_DATA_SERVER``); without a data server, the local file when it is
    there. None when the session lists no video of that camera.

    Raises
    ------
    SessionNotFoundError
        If ``eid`` is not a session of this ONE cache.
    """
    session_path = session_path_of(one, eid)
    listed = _listed_video(one, str(eid), label)
    if listed is None:
        return None
    rel_path, dataset_id = listed
    try:
        return dataset_url(one, session_path, rel_path, dataset_id, data_server)
    except VideoNotFoundError:  # no data server: the local copy, which every reader here accepts
        local = session_path / rel_path
        return str(local) if local.exists() else None


def _download(one, eid, session_path: Path, rel_path: str, dataset_id: str, data_server, options) -> Path:
    """Fetch a dataset to its place in the session folder (through ONE when it can), with a progress bar."""
    dest = session_path / rel_path
    if not getattr(one, "offline", True) and data_server is None:
        with warnings.catch_warnings(), one_errors(f"downloading {rel_path} of session {eid}", eid):
            warnings.simplefilter("ignore")
            return Path(one.load_dataset(eid, Path(rel_path).name, collection=str(Path(rel_path).parent),
                                         download_only=True))
    url, transport = _remote(dataset_url(one, session_path, rel_path, dataset_id, data_server), options, one)
    return download(url, dest, transport)


def _resolve_nwb(path: Path, label, timestamps) -> Resolved:
    """A camera's external-mode ``ImageSeries`` in an NWB file: its video, with the series' timestamps."""
    from .nwb import find_camera

    video, times, label, facts = find_camera(path, label, VIDEO_LABELS)
    if timestamps is None:
        times, origin = _as_times(times, f"the timestamps of {facts['series']} in {path}"), "nwb"
    else:
        times, origin = _load_times(timestamps, None, str(path), label)
    eid = facts["session_id"] if is_eid(facts["session_id"]) else None
    return Resolved(str(video), label, eid, None, times, origin)


def _eid_of(session_path: Path, one) -> str | None:
    if one is None:
        return None
    try:
        eid = one.path2eid(session_path)
    except Exception:  # an unknown path is not an error here
        return None
    return str(eid) if eid else None


def _resolve_session(session_path: Path, label, one, timestamps) -> Resolved:
    if label is None:
        raise InvalidLabelError(
            f"Give the camera label for session {session_path}: one of {VIDEO_LABELS} "
            f"(found: {', '.join(_cameras_in(session_path)) or 'none'})."
        )
    video = _find_video(session_path, label)
    if video is None:
        have = _cameras_in(session_path)
        raise VideoNotFoundError(
            f"Session {session_path} has no raw_video_data/{video_file_name(label)}; cameras "
            f"found: {', '.join(have) or 'none'}."
        )
    found = _times_from_session(session_path, label) if timestamps is None else None
    times, origin = _load_times(timestamps, found, str(session_path), label)
    return Resolved(str(video), label, _eid_of(session_path, one), session_path, times, origin)


def _resolve_file(path: Path, label, one, timestamps) -> Resolved:
    if label is None:
        found_label = label_from_path(path.name)
        label = found_label if found_label in VIDEO_LABELS else None
    session_path = None
    found = None
    if path.parent.name == "raw_video_data":
        session_path = path.parent.parent
        if label and timestamps is None:
            found = _times_from_session(session_path, label)
    times, origin = _load_times(timestamps, found, str(path), label or "")
    eid = _eid_of(session_path, one) if session_path is not None else None
    return Resolved(str(path), label, eid, session_path, times, origin)
