"""The demo session's QC as one self-contained HTML page, every camera: open it in a browser.

Run after ``ibl-xvideo demo`` (which builds the offline demo ONE cache):

    python examples/session_report.py [--root DEMO_CACHE] [--out report.html]

The same as ``ibl-xvideo report 4ecb5d24-f5cc-402c-be28-9d0f7cb14b3a -o report.html``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from one.api import One

from ibl_xvideo.demo import DEMO_EID, build_demo
from ibl_xvideo.report import session_report


def main(argv=None) -> dict:
    """Run the example; returns what it wrote (for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="demo ONE cache (default: the one `ibl-xvideo demo` built)")
    parser.add_argument("--out", default="report.html", help="the HTML page to write")
    args = parser.parse_args(argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)  # a new folder is made, not an error

    one = One(cache_dir=build_demo(args.root), mode="local")
    # for each camera: the QC outcome and each check's value and reason, the brightness of every frame,
    # a montage of the QC samples, the face against the reference, the frame intervals (dropped frames)
    # and the pose likelihoods (the demo has DLC outputs)
    page = session_report(DEMO_EID, args.out, one=one)
    html = page.read_text()
    images = re.findall(r'<img alt="" src="data:image/png;base64,', html)
    outcomes = dict(re.findall(r'<h2>(\w+) camera: <span class="(\w+)">', html))
    print(f"{page}: {page.stat().st_size / 1e6:.1f} MB, {len(images)} pictures; QC "
          + ", ".join(f"{label} {outcome}" for label, outcome in outcomes.items()))
    return {"page": page, "images": len(images), "outcomes": outcomes}


if __name__ == "__main__":
    main()
