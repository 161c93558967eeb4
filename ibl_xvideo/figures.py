"""Matplotlib for the package's figures, imported only when a figure is drawn."""

from __future__ import annotations

__all__ = ["pyplot"]


def pyplot(out=None):
    """``matplotlib.pyplot``, on the non-interactive Agg backend when the figure goes to a file ``out``.

    Raises
    ------
    ImportError
        Saying how to install matplotlib, when it is missing.
    """
    try:
        import matplotlib

        if out is not None:
            matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Figures need matplotlib: pip install 'ibl-xvideo[plot]'") from exc
    return plt
