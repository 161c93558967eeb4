"""IBL cameras in NWB: external-mode ``ImageSeries`` read as cameras, and cameras written as them.

The IBL Brain-Wide Map on DANDI holds each camera as an ``ImageSeries`` in external mode
(the mp4 beside the ``.nwb``, its ``timestamps`` in the file), the layout NWB's best
practices recommend for animal videos. :func:`find_camera` finds one by its label
(``OriginalVideoBodyCamera``, as IBL's conversion names them, else a series named like
the label) and gives the video's path and times, which :func:`ibl_xvideo.open_camera`
reads as any camera (``open_camera("session.nwb", "body")``);
:func:`ibl_xvideo.nwbexport.to_nwb` writes a camera as such a file. Both need ``pynwb``
(``pip install 'ibl-xvideo[nwb]'``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DependencyError, InvalidLabelError, TimestampsMismatchError, VideoNotFoundError, XVideoError

__all__ = ["find_camera", "series_name", "pynwb_module"]


def pynwb_module():
    """``pynwb``, or a :class:`DependencyError` saying how to install it."""
    return _pynwb()


def _pynwb():
    try:
        import pynwb
    except ImportError as exc:
        raise DependencyError("NWB files need pynwb: pip install 'ibl-xvideo[nwb]' (or pip install pynwb).") from exc
    return pynwb


def series_name(label: str) -> str:
    """The ``ImageSeries`` name IBL's NWB conversion gives a camera's video (``OriginalVideoBodyCamera``)."""
    return f"OriginalVideo{label.capitalize()}Camera"


def _series(nwbfile):
    """Every ``ImageSeries`` of the file (acquisition, then processing modules)."""
    pynwb = _pynwb()
    found = [o for o in nwbfile.acquisition.values() if isinstance(o, pynwb.image.ImageSeries)]
    for module in nwbfile.processing.values():
        found += [o for o in module.data_interfaces.values() if isinstance(o, pynwb.image.ImageSeries)]
    return found


def find_camera(path, label: str | None, labels=("left", "right", "body", "belly")
                ) -> tuple[Path, np.ndarray, str, dict]:
    """``(video path, timestamps, label, facts)`` of a camera's external-mode ``ImageSeries`` in an NWB file.

    Raises
    ------
    InvalidLabelError
        Without a label when the file holds several cameras (they are named).
    VideoNotFoundError
        When no series matches, its video is stored in the file (not external), or the
        external file is missing.
    TimestampsMismatchError
        When the series' timestamps are not one per frame of its video.
    """
    pynwb = _pynwb()
    path = Path(path)
    try:
        io = pynwb.NWBHDF5IO(str(path), mode="r", load_namespaces=True)
        nwbfile = io.read()
    except (OSError, ValueError, KeyError) as exc:
        raise XVideoError(f"{path} cannot be read as an NWB file ({exc}).") from exc
    try:
        series = _series(nwbfile)
        names = [s.name for s in series]
        if label is None:
            found = [lb for lb in labels if any(lb in s.name.lower() for s in series)]
            if len(found) != 1:
                raise InvalidLabelError(f"{path} holds the image series {names}: give the camera label "
                                        f"({', '.join(labels)}).")
            label = found[0]
        wanted = [s for s in series if s.name == series_name(label)] or \
            [s for s in series if s.name.lower() in (label, f"{label}camera")] or \
            [s for s in series if f"{label}camera" in s.name.lower()]
        if not wanted:
            raise VideoNotFoundError(f"{path} has no image series of the {label} camera (looked for "
                                     f"{series_name(label)!r}); it holds {names}.")
        s = wanted[0]
        if s.external_file is None or not len(s.external_file):
            raise VideoNotFoundError(f"{path}: the image series {s.name!r} stores its frames in the file, not as "
                                     "an external video: ibl-xvideo reads external-mode series (the mp4 beside the "
                                     ".nwb, as IBL's and NWB's best practices have it).")
        video = Path(str(s.external_file[0]))
        video = video if video.is_absolute() else path.parent / video
        if not video.is_file():
            raise VideoNotFoundError(f"{path}: the video of {s.name!r}, {video}, is not there: download it beside "
                                     "the .nwb file (DANDI keeps it as a separate asset).")
        if s.timestamps is not None:
            times = np.asarray(s.timestamps[:], dtype=np.float64)
        elif s.rate:  # a regular clock: one time per frame of the video
            from .container import open_container

            with open_container(str(video)) as container:
                n = sum(1 for p in container.demux(container.streams.video[0]) if p.size)
            times = float(s.starting_time or 0.0) + np.arange(n) / float(s.rate)
        else:
            raise TimestampsMismatchError(f"{path}: the image series {s.name!r} has neither timestamps nor a rate.")
        facts = {"series": s.name, "session_id": nwbfile.session_id or "", "identifier": nwbfile.identifier}
    finally:
        io.close()
    return video, times, label, facts
