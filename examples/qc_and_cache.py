"""Camera QC, a report figure, a Zarr cache on the demo session, and the QC from that cache.

Run after ``ibl-xvideo demo`` (which builds the offline demo ONE cache):

    python examples/qc_and_cache.py [--root DEMO_CACHE] [--out FOLDER] [--keep-cache]

It writes the QC figure and a 10 s Zarr clip into FOLDER (default ``qc_and_cache_out``,
created if missing) and says where. The whole camera's Zarr cache (4 GB for the demo's
body camera) is removed at the end unless ``--keep-cache``.
"""

from __future__ import annotations

import argparse
import shutil
import time
import warnings
from pathlib import Path

from one.api import One

from ibl_xvideo import open_camera, open_store
from ibl_xvideo.demo import DEMO_EID, build_demo
from ibl_xvideo.qc import camera_qc


def main(argv=None) -> dict:
    """Run the example; returns what it computed (for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="demo ONE cache (default: the one `ibl-xvideo demo` built)")
    parser.add_argument("--out", default="qc_and_cache_out", help="folder for the figure and the Zarr stores "
                        "(created if missing; default qc_and_cache_out)")
    parser.add_argument("--keep-cache", action="store_true",
                        help="keep the whole camera's Zarr cache (GBs) instead of removing it at the end")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    one = One(cache_dir=build_demo(args.root), mode="local")

    # 1. the IBL camera QC, as ibllib computes it (position and focus against the demo
    #    session's own reference frames of its scene; the pin state against the audio
    #    TTLs of the demo's DAQ sync)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = camera_qc(DEMO_EID, "body", one=one, kind="ephys", progress=False)
    print(f"QC outcome: {res.outcome.name}")
    for key, value in res.to_dict()["metrics"].items():
        print(f"  {key:<32} {value}")
    res.plot(out / "qc_body.png")
    print(f"QC figure -> {out / 'qc_body.png'}")

    # 2. export 10 s of the body camera to Zarr and read a random frame from it
    cam = open_camera(DEMO_EID, "body", one=one)
    t0 = float(cam.time[0])
    cam.video.to_zarr(out / "body_10s.zarr", time=slice(t0, t0 + 10), progress=False)  # = to_zarr(cam, ...)
    clip = open_store(out / "body_10s.zarr")
    t = time.perf_counter()
    frame = clip.isel(time=min(123, clip.sizes["time"] - 1)).values
    print(f"Zarr clip {clip.shape} -> {out / 'body_10s.zarr'}, a random frame in "
          f"{1000 * (time.perf_counter() - t):.1f} ms")

    # 3. the whole camera through a Zarr cache: filled on first open, read from then on
    first = open_camera(DEMO_EID, "body", one=one, cache=out / "body.zarr")
    again = open_camera(DEMO_EID, "body", one=one, cache=out / "body.zarr")
    print(f"cache: {first.attrs['cache']}, then {again.attrs['cache']}")

    # 4. the QC again, its frames read from the cache instead of decoded (same verdicts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        cached = again.video.qc(kind="ephys", progress=False)  # = camera_qc(..., cache=out / "body.zarr")
    print(f"QC from the cache in {time.perf_counter() - t:.2f} s: {cached.outcome.name}")
    if args.keep_cache:
        print(f"the camera's Zarr cache -> {out / 'body.zarr'}")
    else:
        shutil.rmtree(out / "body.zarr")
        print(f"the camera's Zarr cache ({out / 'body.zarr'}) removed: --keep-cache keeps it")
    return {"qc": res, "outcome": res.outcome, "metrics": res.metrics, "figure": out / "qc_body.png",
            "clip": clip.shape, "frame": frame, "cache": (first.attrs["cache"], again.attrs["cache"]),
            "cached_qc": cached}


if __name__ == "__main__":
    main()
