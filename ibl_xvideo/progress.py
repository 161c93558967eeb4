"""One progress bar for long Dask computations on cameras, in the style of every other bar here (tqdm)."""

from __future__ import annotations

import contextlib

__all__ = ["progress"]


@contextlib.contextmanager
def progress(desc: str = "computing", *, disable: bool = False):
    """Show a tqdm progress bar for the Dask computations run inside the block.

    The bar counts Dask tasks (for a camera: chunks of frames), on the local
    schedulers; a ``dask.distributed`` client has its own dashboard.

    Parameters
    ----------
    desc : str
        The bar's label.
    disable : bool
        No bar (for scripts that print JSON, for example).

    Examples
    --------
    >>> with ibl_xvideo.progress("brightness"):  # doctest: +SKIP
    ...     brightness = cam.mean(("y", "x")).compute()
    """
    from tqdm.dask import TqdmCallback

    with TqdmCallback(desc=desc, unit="task", disable=disable):
        yield
