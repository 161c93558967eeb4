"""The API reference builds from the numpydoc docstrings without a warning, and the docs' links resolve."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The public modules the reference documents (``docs/`` says how to build it).
MODULES = ["ibl_xvideo", "ibl_xvideo.camera", "ibl_xvideo.engine.decode", "ibl_xvideo.engine.index",
           "ibl_xvideo.engine.planning", "ibl_xvideo.io.remote", "ibl_xvideo.io.sources", "ibl_xvideo.io.fileio",
           "ibl_xvideo.io.container", "ibl_xvideo.io.nwb", "ibl_xvideo.store", "ibl_xvideo.compat", "ibl_xvideo.qc",
           "ibl_xvideo.demo", "ibl_xvideo.demo.session", "ibl_xvideo.demo.synth", "ibl_xvideo.demo.rigscene",
           "ibl_xvideo.accessor", "ibl_xvideo.events", "ibl_xvideo.pose", "ibl_xvideo.clips", "ibl_xvideo.verify",
           "ibl_xvideo.nwbexport"]
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


def _readme_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory):
    """The demo session with a short full-size body camera (the README's times and regions are in it)."""
    from ibl_xvideo.demo import build_demo

    return build_demo(tmp_path_factory.mktemp("readme") / "demo", cameras={"body": (640, 512, 30, 30.0)},
                      progress=False)


@pytest.mark.slow
def test_the_readmes_first_block_runs_as_a_script_and_as_a_cell(small_demo, tmp_path):
    """Saved as a script (a cluster's workers import it again: the guard), and run as a notebook cell would."""
    import os
    import subprocess
    import sys

    code = _readme_blocks()[0]
    script = tmp_path / "readme_example.py"
    script.write_text(code)
    env = {**os.environ, "IBL_XVIDEO_DEMO_DIR": str(small_demo)}
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "body camera of 4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a:" in run.stdout
    assert "motion energy" in run.stderr  # the progress bar, under the distributed client
    assert (tmp_path / "paws.zarr").is_dir()
    cell = tmp_path / "cell"
    cell.mkdir()
    cwd = os.getcwd()
    old = os.environ.get("IBL_XVIDEO_DEMO_DIR")
    os.environ["IBL_XVIDEO_DEMO_DIR"] = str(small_demo)
    try:
        os.chdir(cell)
        exec(compile(code, "README.md", "exec"), {"__name__": "__main__"})
    finally:
        os.chdir(cwd)
        if old is None:
            os.environ.pop("IBL_XVIDEO_DEMO_DIR", None)
        else:
            os.environ["IBL_XVIDEO_DEMO_DIR"] = old
    assert (cell / "paws.zarr").is_dir()
