"""What the installed PyAV accepts, found out once, so that every release users get works.

PyAV changes its API between major releases: 19 removed ``av.open``'s
``metadata_errors`` argument (it now decodes container metadata with
``surrogateescape``, which never raises), where 17 and 18 raise
``UnicodeDecodeError`` on a non-UTF-8 tag unless told to ignore it. Rather than pin a
release, the package asks PyAV what it accepts, here and only here.
"""

from __future__ import annotations

import functools
import io

__all__ = ["open_input"]


@functools.lru_cache(maxsize=1)
def _open_kwargs() -> dict:
    """Keyword arguments for ``av.open`` that keep a stray metadata byte from failing an open."""
    import av

    try:  # an empty input fails inside FFmpeg, after the arguments were accepted
        av.open(io.BytesIO(b""), mode="r", metadata_errors="ignore")
    except av.FFmpegError:
        return {"metadata_errors": "ignore"}
    except Exception:  # TypeError on PyAV >= 19 (no such argument; metadata never fails to decode)
        pass
    return {}


def open_input(file):
    """``av.open(file)`` for reading, on any supported PyAV release.

    Parameters
    ----------
    file : str or file-like
        A path, or a seekable binary file object (PyAV reads it through its own I/O).

    Returns
    -------
    av.container.InputContainer
        Raises what ``av.open`` raises (``av.FFmpegError`` for a file that is not a video).
    """
    import av

    return av.open(file, mode="r", **_open_kwargs())
