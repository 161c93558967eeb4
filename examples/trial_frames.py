"""Frames at each trial's stimulus onset, a clip around a response, and the paws' motion against the wheel.

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
    trials = one.load_object(DEMO_EID, "trials")
    wheel = one.load_object(DEMO_EID, "wheel")
    # chunks=None: scattered selections are planned per keyframe group
    cam = open_camera(DEMO_EID, "body", one=one, chunks=None)
    h, w = cam.sizes["y"], cam.sizes["x"]
    paws = dict(y=slice(int(0.72 * h), h), x=slice(int(0.3 * w), int(0.7 * w)))  # the hind paws on the wheel

    # 1. the frame at each trial's stimulus onset (the nearest frame on the session clock)
    t = time.perf_counter()
    frames = cam.sel(time=trials["stimOn_times"], method="nearest")
    stack = frames.values
    print(f"{stack.shape[0]} stimulus-onset frames {stack.shape} in {time.perf_counter() - t:.2f} s; "
          f"frame numbers {frames.frame.values[:5]}...")

    # 2. a 2 s clip around the first response, cropped to the paws (cropped right after decoding)
    response = float(trials["response_times"][0])
    clip = cam.sel(time=slice(response - 1, response + 1)).isel(**paws)
    print(f"2 s clip of the paws around the first response: {clip.shape}")

    # 3. motion energy of the paws over the task, as a Dask reduction, against the wheel's speed
    dask_cam = open_camera(DEMO_EID, "body", one=one)  # Dask chunks = keyframe groups
    task = dask_cam.sel(time=slice(trials["intervals"][0, 0], trials["intervals"][-1, 1])).isel(**paws)
    energy = abs(task.astype("float32").diff("time")).mean(("y", "x"))
    if args.cluster:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            values = client.compute(energy.data).result()
    else:
        values = energy.values
    times = energy.time.values
    speed = np.abs(np.gradient(np.interp(times, wheel["timestamps"], wheel["position"]), times))
    r = float(np.corrcoef(values, speed)[0, 1])
    print(f"motion energy of the paws over {values.size} frame pairs: correlation with the wheel's speed "
          f"r = {r:.2f}")
    return {"onset_frames": frames.frame.values, "n_trials": len(trials["stimOn_times"]), "clip": clip.shape,
            "energy": values, "r": r}


if __name__ == "__main__":
    main()
