"""Typed errors raised by ibl-xvideo.

Every error derives from :class:`XVideoError`, so ``except XVideoError`` catches
anything this library raises on purpose. Each message names the file, URL or
session it concerns and says what to do about it.
"""

from __future__ import annotations

__all__ = [
    "XVideoError",
    "InvalidLabelError",
    "SessionNotFoundError",
    "VideoNotFoundError",
    "TimestampsError",
    "TimestampsNotFoundError",
    "TimestampsMismatchError",
    "InvalidTimestampsError",
    "CorruptVideoError",
    "DecodeError",
    "FrameIdentityError",
    "RemoteError",
    "DependencyError",
    "StoreCorruptError",
    "StoreWriteError",
    "StoreLockedError",
    "InvalidOptionError",
    "SourceTypeError",
    "OutputWriteError",
    "PoseTableError",
    "SourceChangedError",
    "TimeOutOfRangeError",
]


class XVideoError(Exception):
    """Base class of every error raised by ibl-xvideo."""


class InvalidLabelError(XVideoError, ValueError):
    """A camera label is not one of ``VIDEO_LABELS`` (``left, right, body, belly``)."""


class SessionNotFoundError(XVideoError, LookupError):
    """The eid or session path is not known to the ONE instance or the disk."""


class VideoNotFoundError(XVideoError, FileNotFoundError):
    """The session has no raw video for the requested camera."""


class TimestampsError(XVideoError):
    """Base of the errors about a camera's timestamps: missing, of another length, or invalid."""


class TimestampsNotFoundError(TimestampsError, FileNotFoundError):
    """The camera timestamps (``alf/_ibl_<label>Camera.times.npy``) are missing."""


class TimestampsMismatchError(TimestampsError, ValueError):
    """The number of timestamps differs from the number of frames in the video."""


class InvalidTimestampsError(TimestampsError, ValueError):
    """The timestamps contain NaNs or are not strictly increasing."""


class CorruptVideoError(XVideoError, OSError):
    """The file is not a readable video (empty, truncated, not a video, no video stream)."""


class DecodeError(CorruptVideoError):
    """Decoding did not produce the expected frames (missing, shifted or unreadable)."""


class FrameIdentityError(CorruptVideoError):
    """The frames of a video cannot be identified for certain (its timestamps cannot order them, here).

    The file may be intact: the message says how to read it (e.g. download it, or re-encode it).
    """


class RemoteError(XVideoError, OSError):
    """A remote (HTTP) source failed; the URL is given without credentials."""


class DependencyError(XVideoError, ImportError):
    """A feature needs a package that is not installed (or not available for this Python)."""


class StoreCorruptError(XVideoError, OSError):
    """A Zarr export's shard is missing, short or fails its checksum: its frames cannot be trusted."""


class StoreWriteError(XVideoError, OSError):
    """A Zarr store cannot be written (disk full, read-only, permission denied); its errno is kept."""


class StoreLockedError(XVideoError):
    """Another exporter (a live process, named in the message) is writing this Zarr store."""


class SourceChangedError(XVideoError, OSError):
    """The video file or URL changed (size, mtime, ETag) since it was opened: reopen it."""


class OutputWriteError(XVideoError, OSError):
    """A file the package writes (a page, a figure, a clip, a table) cannot be written; its errno is kept."""

    def __str__(self) -> str:  # the message alone, not OSError's "[Errno n]" prefix
        return str(self.strerror if self.strerror is not None else super().__str__())


class TimeOutOfRangeError(XVideoError, KeyError):
    """A session time outside the camera's first and last frame times (by more than a frame)."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else ""


class InvalidOptionError(XVideoError, ValueError):
    """An argument is not one of the values the function accepts (they are listed in the message)."""


class SourceTypeError(XVideoError, TypeError):
    """A source of the wrong type (an open ``cv2.VideoCapture``, a DataArray where a file or eid is read)."""


class PoseTableError(XVideoError, ValueError):
    """A pose table (DLC output) is unreadable or incomplete: the file and the column are named."""


def check_count(name: str, value, minimum: int = 1) -> None:
    """Raise :class:`InvalidOptionError` unless ``value`` is an int (not a bool) of at least ``minimum``."""
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidOptionError(f"{name} must be an int of at least {minimum}; got {value!r}.")


def check_option(name: str, value, allowed) -> None:
    """Raise :class:`InvalidOptionError` unless ``value`` is one of ``allowed``."""
    try:
        ok = value in allowed
    except (TypeError, ValueError):  # e.g. an array
        ok = False
    if not ok:
        raise InvalidOptionError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}.")
