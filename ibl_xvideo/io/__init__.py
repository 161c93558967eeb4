"""Where a video's bytes and times come from: files, HTTP(S) and S3, containers, ONE sessions.

- :mod:`~ibl_xvideo.io.sources`: an eid, a session folder, a file, a URL or an NWB file ->
  where the video is (a :class:`~ibl_xvideo.io.container.Source`), its label and its times;
- :mod:`~ibl_xvideo.io.nwb`: a camera's external-mode ``ImageSeries`` in an NWB file;
- :mod:`~ibl_xvideo.io.container`: source handles (local, HTTP(S), S3), pinned to a version,
  and the one place videos are opened with PyAV;
- :mod:`~ibl_xvideo.io.remote`: Range reads over HTTP(S) and S3, retries, credentials
  (:class:`~ibl_xvideo.io.remote.Transport`), fetched blocks kept in the package's byte cache;
- :mod:`~ibl_xvideo.io.fileio`: raw files with zero-filled holes, mp4 boxes, fingerprints,
  the cache folder.
"""
