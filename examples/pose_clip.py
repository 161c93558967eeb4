"""The left camera's pose: frames around a reward with DLC's points, and a shareable clip of a lick bout.

Run after ``ibl-xvideo demo`` (which builds the offline demo ONE cache):

    python examples/pose_clip.py [--root DEMO_CACHE] [--out FOLDER]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from one.api import One

from ibl_xvideo import open_camera
from ibl_xvideo.demo import DEMO_EID, build_demo


def main(argv=None) -> dict:
    """Run the example; returns what it computed (for the tests)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=None, help="demo ONE cache (default: the one `ibl-xvideo demo` built)")
    parser.add_argument("--out", default=".", help="folder for the montage and the clip")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    one = One(cache_dir=build_demo(args.root), mode="local")
    trials = one.load_object(DEMO_EID, "trials")
    cam = open_camera(DEMO_EID, "left", one=one)
    pose = cam.video.pose()  # alf/_ibl_leftCamera.dlc.pqt on the camera's clock
    sure = pose.likelihood > 0.9
    print(f"{pose.sizes['keypoints']} points over {pose.sizes['time']} frames; the tongue is out (and sure) in "
          f"{float(sure.sel(keypoints='tongue_end_r').mean()):.1%} of them")

    # 1. the first reward inside the left camera's video, and the frames around it with their points
    rewards = trials["feedback_times"][trials["feedbackType"] > 0]
    reward = float(rewards[(rewards > float(cam.time[0])) & (rewards < float(cam.time[-1]) - 1)][0])
    times = reward + np.linspace(-0.1, 0.5, 8)
    cam.video.montage(times, pose=pose, out=out / "pose_montage.png")
    print(f"montage of 8 frames around the reward at {reward:.2f} s: {out / 'pose_montage.png'}")

    # 2. the lick bout as a clip: face region, time and points burned in, times beside it
    clip = cam.video.to_mp4(out / "licks.mp4", time=slice(reward - 0.2, reward + 1.0), roi="0:640,0:640",
                            pose=pose, burn_time=True, progress=False)
    print(f"clip: {clip} and {clip.with_suffix('.times.npy')}")
    return {"reward": reward, "montage": out / "pose_montage.png", "clip": clip, "camera": cam, "times": times,
            "pose": pose}


if __name__ == "__main__":
    main()
