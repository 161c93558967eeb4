"""The API reference builds from the numpydoc docstrings without a warning, and the docs' links resolve."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The public modules the reference documents (``docs/`` says how to build it).
MODULES = ["ibl_xvideo", "ibl_xvideo.camera", "ibl_xvideo.decode", "ibl_xvideo.index", "ibl_xvideo.remote",
           "ibl_xvideo.sources", "ibl_xvideo.store", "ibl_xvideo.compat", "ibl_xvideo.qc", "ibl_xvideo.synth",
           "ibl_xvideo.demo", "ibl_xvideo.accessor", "ibl_xvideo.events", "ibl_xvideo.pose", "ibl_xvideo.clips",
           "ibl_xvideo.planning", "ibl_xvideo.fileio", "ibl_xvideo.container", "ibl_xvideo.rigscene"]
# (errors and progress come with the package)


def test_api_reference_builds_without_warnings(tmp_path):
    pdoc = pytest.importorskip("pdoc")
    pdoc.render.configure(docformat="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.filterwarnings("ignore", category=DeprecationWarning)  # the dependencies' own
        pdoc.pdoc(*MODULES, output_directory=tmp_path)
    for module in MODULES + ["ibl_xvideo.errors", "ibl_xvideo.progress"]:
        page = tmp_path / (module.replace(".", "/") + ".html")
        assert page.stat().st_size > 2000, module
    assert "open_camera" in (tmp_path / "ibl_xvideo" / "camera.html").read_text()


def test_the_docs_links_resolve():
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#]+\.md)\)", doc.read_text()):
            assert (doc.parent / target).is_file(), f"{doc.name} links to {target}, which is not there"
