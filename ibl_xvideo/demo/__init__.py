"""The built-in demo session: a synthetic IBL session, offline, apart from the engine.

- :mod:`~ibl_xvideo.demo.session` builds it (videos, the rig's files, a ONE cache) and runs
  the main job on it (``ibl-xvideo demo``);
- :mod:`~ibl_xvideo.demo.rigscene` draws what IBL's three cameras see of a head-fixed mouse;
- :mod:`~ibl_xvideo.demo.synth` encodes frames with the ffmpeg binary of ``imageio-ffmpeg``.

The session's names are reached here too (``ibl_xvideo.demo.build_demo``).
"""

from .session import (
    DEMO_CAMERAS,
    DEMO_DROPPED,
    DEMO_EID,
    DEMO_RUN,
    DEMO_SESSION,
    DEMO_TASK,
    audio_pulses,
    build_demo,
    camera_times,
    demo_cache_dir,
    make_one_cache,
    run_demo,
    task_audio,
    task_trials,
    write_bpod_task_data,
    write_camera_session_files,
    write_daq_sync,
    write_task_files,
    write_timeline_daq,
)

__all__ = ["DEMO_EID", "DEMO_SESSION", "DEMO_CAMERAS", "DEMO_DROPPED", "DEMO_RUN", "DEMO_TASK", "demo_cache_dir",
           "task_trials", "task_audio", "write_task_files", "build_demo", "run_demo", "make_one_cache",
           "write_camera_session_files", "camera_times", "audio_pulses", "write_daq_sync", "write_bpod_task_data",
           "write_timeline_daq"]
