"""Frames at many session times, a cropped clip and a motion-energy trace, on the demo session.

Run after ``ibl-xvideo demo`` (which builds the offline demo ONE cache):

    python examples/trial_frames.py [--root DEMO_CACHE] [--cluster]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from one.api import One

from ibl_xvideo import open_camera
from ibl_xvideo.demo import DEMO_EID, build_demo


def main(argv=None) -> dict:
    """Run the example; returns what it computed (for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="demo ONE cache (default: the one `ibl-xvideo demo` built)")
    parser.add_argument("--cluster", action="store_true", help="compute on a local dask.distributed cluster")
    args = parser.parse_args(argv)

    one = One(cache_dir=build_demo(args.root), mode="local")
    # chunks=None: scattered selections are planned per keyframe group
    cam = open_camera(DEMO_EID, "body", one=one, chunks=None)
    t0, t1 = float(cam.time[0]), float(cam.time[-1])

    # 1. one frame per "trial onset": 40 session times, any order
    onsets = np.sort(np.random.default_rng(1).uniform(t0, t1, 40))
    t = time.perf_counter()
    frames = cam.sel(time=onsets, method="nearest")
    stack = frames.values
    print(f"{len(onsets)} trial-onset frames {stack.shape} in {time.perf_counter() - t:.2f} s; "
          f"frame numbers {frames.frame.values[:5]}...")

    # 2. a 2 s clip cropped to a region of interest (cropped right after decoding)
    clip = cam.sel(time=slice(t0 + 1, t0 + 3)).isel(y=slice(100, 300), x=slice(200, 500))
    print(f"2 s clip of the ROI: {clip.shape}")

    # 3. motion energy of that ROI over the clip, as a Dask reduction
    dask_cam = open_camera(DEMO_EID, "body", one=one)  # Dask chunks = keyframe groups
    roi = dask_cam.sel(time=slice(t0 + 1, t0 + 3)).isel(y=slice(100, 300), x=slice(200, 500))
    energy = abs(roi.astype("float32").diff("time")).mean(("y", "x"))
    if args.cluster:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            values = client.compute(energy.data).result()
    else:
        values = energy.values
    print(f"motion energy over {values.size} frame pairs: mean {values.mean():.2f}, max {values.max():.2f}")
    return {"onset_frames": frames.frame.values, "clip": clip.shape, "energy": values}


if __name__ == "__main__":
    main()
