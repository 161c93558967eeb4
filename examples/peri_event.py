"""The body camera around each stimulus onset: a peri-event stack, its average and a figure.

Run after ``ibl-xvideo demo`` (which builds the offline demo ONE cache):

    python examples/peri_event.py [--root DEMO_CACHE] [--out peri_event.png] [--cluster]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from one.api import One

from ibl_xvideo import open_camera, peri_event, peri_event_mean
from ibl_xvideo.demo import DEMO_EID, build_demo
from ibl_xvideo.events import plot_peri_event


def main(argv=None) -> dict:
    """Run the example; returns what it computed (for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="demo ONE cache (default: the one `ibl-xvideo demo` built)")
    parser.add_argument("--out", default="peri_event.png", help="PNG of the average around the stimulus")
    parser.add_argument("--cluster", action="store_true", help="average on a local dask.distributed cluster")
    args = parser.parse_args(argv)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)  # a new folder is made, not an error

    one = One(cache_dir=build_demo(args.root), mode="local")
    trials = one.load_object(DEMO_EID, "trials")
    cam = open_camera(DEMO_EID, "body", one=one)
    h, w = cam.sizes["y"], cam.sizes["x"]
    paws = cam.isel(y=slice(int(0.72 * h), h), x=slice(int(0.3 * w), int(0.7 * w)))  # the hind paws on the wheel

    # 1. the frames from 0.5 s before to 1.5 s after each stimulus onset: (event, lag, y, x), lazy
    stack = peri_event(paws, trials["stimOn_times"], window=(-0.5, 1.5))
    print(f"{stack.sizes['event']} trials x {stack.sizes['lag']} frames of {stack.sizes['y']}x{stack.sizes['x']} "
          f"pixels; {int(stack.valid.sum())} of {stack.valid.size} frames exist")

    # 2. the paws' motion around the stimulus, trial by trial, and the average frame at each lag over all
    #    trials (Dask reductions; the average as running sums, its memory the same for 10 trials or 10,000;
    #    with --cluster on a local dask.distributed cluster, each worker decoding its own blocks of trials)
    motion = abs(stack.astype("float32").where(stack.valid).diff("lag")).mean(("y", "x"))
    average = peri_event_mean(stack)
    t = time.perf_counter()
    if args.cluster:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, host="127.0.0.1") as cluster, \
                Client(cluster) as client:
            motion, average = client.compute([motion, average], sync=True)
    else:
        motion, average = motion.compute(), average.compute()
    onset = float(motion.lag[np.nanargmax(motion.mean("event").values)])
    print(f"motion and average computed in {time.perf_counter() - t:.1f} s"
          f"{' on a local cluster' if args.cluster else ''}; the paws move most {onset:+.2f} s after the stimulus")

    # 3. the figure: the average frame at lags around the stimulus, and the motion against the lag
    plot_peri_event(stack, args.out)
    print(f"figure: {args.out}")
    return {"stack": stack.shape, "peri_event": stack, "motion": motion, "average": average, "peak_lag": onset,
            "figure": args.out}


if __name__ == "__main__":
    main()
