"""Matplotlib for the package's figures, imported only when a figure is drawn."""

from __future__ import annotations

from .io.fileio import written

__all__ = ["pyplot", "save_figure"]


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


def save_figure(fig, out, dpi: int = 100) -> None:
    """Write ``fig`` to ``out`` whole or not at all (a typed ``OutputWriteError`` naming the file)."""
    from pathlib import Path

    with written(out) as tmp:
        fig.savefig(tmp, dpi=dpi, format=Path(out).suffix.lstrip(".") or "png")
