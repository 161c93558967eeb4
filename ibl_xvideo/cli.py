"""The ibl-xvideo command line: IBL camera videos as frames, metadata, QC and Zarr stores.

Sources: an eid (with --one-cache, or this computer's ONE), a session folder, an mp4
file or an http(s) URL.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings

__all__ = ["main"]

#: Python keyword arguments named in the library's messages, and this CLI's flags for them.
_FLAGS = {"overwrite=True": "--overwrite", "repair=True": "--repair", "check_space=False": "--no-space-check",
          "refs=False": "--no-refs"}


def _roi(text: str) -> str:
    """An --roi value, checked before any work: ``y0:y1,x0:x1``."""
    from .store import parse_roi

    try:
        parse_roi(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a region: give y0:y1,x0:x1 (e.g. 0:256,320:640)") \
            from None
    return text


def _one(args):
    """The ONE the command reaches.

    ``--alyx URL`` (online, or ``--offline``), ``--one-cache FOLDER`` (its tables,
    offline), else None: this computer's configured ONE, offline
    (:func:`ibl_xvideo.io.sources.default_one`).
    """
    alyx, cache = getattr(args, "alyx", None), getattr(args, "one_cache", None)
    offline = getattr(args, "offline", False)
    if alyx:
        from one.api import ONE

        from .io.sources import one_errors

        with one_errors(f"connecting to Alyx at {alyx}"):
            return ONE(base_url=alyx, cache_dir=cache, mode="local" if offline else "remote", silent=True)
    if cache is None:
        return None
    from one.api import One

    return One(cache_dir=cache, mode="local")


def _add_one(p: argparse.ArgumentParser) -> None:
    """The flags that say which ONE an eid is looked up in."""
    p.add_argument("--one-cache", default=None,
                   help="ONE cache folder for eids (default: this computer's configured ONE, offline; the demo's "
                        "cache for the demo eid)")
    p.add_argument("--alyx", default=None, metavar="URL",
                   help="an Alyx server (e.g. https://openalyx.internationalbrainlab.org): ONE online, with the login "
                        "and data server ONE.setup() saved for it; what the command needs is fetched (the videos "
                        "streamed)")
    p.add_argument("--offline", action="store_true", help="with --alyx: ONE's local mode (its cache tables only)")


def _add_source(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="eid, session folder, mp4 file or http(s) URL")
    p.add_argument("label", nargs="?", default=None, help="camera: left, right, body or belly")
    _add_one(p)


def _cmd_demo(args) -> int:
    from .demo.session import run_demo

    run_demo(args.out, args.root)
    return 0


def _cmd_meta(args) -> int:
    from . import video_meta

    meta = video_meta(args.source, args.label, one=_one(args))
    meta = {k: (str(v) if not isinstance(v, (int, float, str, type(None))) else v) for k, v in meta.items()}
    print(json.dumps(meta, indent=2))
    return 0


def _cmd_frame(args) -> int:
    from pathlib import Path

    import imageio.v3 as iio

    from . import open_camera
    from .errors import TimeOutOfRangeError, TimestampsError
    from .io.fileio import written

    try:  # the session clock whenever the session's camera times are usable, --index or not
        cam = open_camera(args.source, args.label, one=_one(args), chunks=None)
    except TimestampsError:
        if args.index is None:
            raise
        cam = open_camera(args.source, args.label, one=_one(args), chunks=None, timestamps=False)
    if args.index is None:
        try:
            sel = cam.video.frame_at(args.time)
        except TimeOutOfRangeError as exc:
            raise SystemExit(f"ibl-xvideo frame: {exc} Or give --index.") from None
    else:
        if not -cam.shape[0] <= args.index < cam.shape[0]:
            raise SystemExit(f"ibl-xvideo frame: frame {args.index} is out of range: this video has "
                             f"{cam.shape[0]} frames.")
        sel = cam.isel(time=args.index)
    with written(args.out) as tmp:  # a PNG appears whole or not at all; a write failure is one typed line
        iio.imwrite(tmp, sel.values, extension=Path(args.out).suffix or ".png")
    clock = "video clock: frame / fps" if cam.attrs["timestamps_policy"] == "frame/fps" else "session clock"
    print(f"frame {int(sel.frame)} (t={float(sel.time):.4f} s, {clock}) -> {args.out}")
    return 0


def _cmd_qc(args) -> int:
    import warnings
    from pathlib import Path

    from .qc import camera_qc, session_qc

    kw = dict(one=_one(args), n_samples=args.n_samples, full=args.full, samples=args.samples,
              refs=False if args.no_refs else args.refs, kind=args.kind,
              progress=not args.json, full_measures=args.measures.split(",") if args.measures else None)
    whole_session = args.label is None and "://" not in args.source and Path(args.source).suffix != ".mp4"
    if args.plot and not Path(args.plot).resolve().parent.is_dir():  # before the QC runs, not after
        raise SystemExit(f"ibl-xvideo qc: --plot {args.plot}: the folder {Path(args.plot).resolve().parent} "
                         "does not exist; create it or pick another path.")
    if args.cache:
        if whole_session:
            raise SystemExit("ibl-xvideo qc: --cache is one camera's Zarr store: give the camera LABEL too.")
        kw["cache"] = args.cache
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if args.json else "default")
        results = session_qc(args.source, **kw) if whole_session else {None: camera_qc(args.source, args.label,
                                                                                         **kw)}
    for label, res in results.items():
        if args.plot:
            out = Path(args.plot)
            out = out if not whole_session else out.with_name(f"{out.stem}_{label}{out.suffix}")
            res.plot(out)
            print(f"QC figure of the {res.label} camera -> {out}", file=sys.stderr)
    if args.json:
        d = {lb: r.to_dict() for lb, r in results.items()} if whole_session else results[None].to_dict()
        print(json.dumps(d, indent=2))
        return 0
    for res in results.values():
        d = res.to_dict()
        print(res.summary())
        for k, v in d["metrics"].items():
            print(f"  {k:<32} {v}")
            if k in d["reasons"]:
                print(f"  {'':<32}   {d['reasons'][k]}")
    return 0


def _batch_sources(items: list[str]) -> list[str]:
    """qc-batch's sources: eids, session folders or videos, or .txt files listing them (one a line, # comments)."""
    from pathlib import Path

    out = []
    for item in items:
        if item.endswith(".txt"):
            try:
                lines = Path(item).read_text().splitlines()
            except OSError as exc:
                raise SystemExit(f"ibl-xvideo qc-batch: cannot read the list {item}: {exc}") from None
            out += [ln.split("#", 1)[0].strip() for ln in lines if ln.split("#", 1)[0].strip()]
        else:
            out.append(item)
    return out


def _cmd_qc_batch(args) -> int:
    from pathlib import Path

    from .qc.batch import batch_qc

    if not Path(args.out).resolve().parent.is_dir():  # before any work
        raise SystemExit(f"ibl-xvideo qc-batch: -o {args.out}: the folder {Path(args.out).resolve().parent} does "
                         "not exist; create it or pick another path.")
    client = None
    if args.scheduler:
        from distributed import Client

        try:
            client = Client(args.scheduler, timeout="20s")
        except OSError as exc:
            raise SystemExit(f"ibl-xvideo qc-batch: no Dask scheduler answers at {args.scheduler} ({exc}).") \
                from None
    try:
        table = batch_qc(_batch_sources(args.sources), args.labels.split(",") if args.labels else None,
                         out=args.out, client=client, one=_one(args), samples=args.samples,
                         n_samples=args.n_samples, kind=args.kind, refs=False if args.no_refs else args.refs,
                         retry_errors=args.retry_errors)
    finally:
        if client is not None:
            client.close()
    failed = table["error_type"].notna()
    print(f"{len(table)} cameras -> {args.out}")
    counts = table[~failed].groupby(["label", "outcome"]).size()
    for (label, outcome), n in counts.items():
        print(f"  {label:<6} {outcome:<9} {n}")
    for _, row in table[failed].iterrows():
        print(f"  {row['source']} {row['label'] or ''}: {row['error_type']}: {row['error']}")
    return 0


def _cmd_export(args) -> int:
    from . import open_camera, to_zarr

    cam = open_camera(args.source, args.label, one=_one(args),
                      timestamps=False if args.no_times else None)
    time = slice(args.start, args.stop) if (args.start is not None or args.stop is not None) else None
    to_zarr(cam, args.store, time=time, roi=args.roi, overwrite=args.overwrite, repair=args.repair,
            check_space=not args.no_space_check)
    print(f"exported {cam.name} to {args.store}")
    return 0


def _cmd_download(args) -> int:
    from .io.sources import resolve

    res = resolve(args.source, args.label, one=_one(args), timestamps=False, fetch="download",
                  storage_options={"data_server": args.data_server} if args.data_server else None)
    print(res.location)
    return 0


def _cmd_report(args) -> int:
    from pathlib import Path

    from .report import session_report

    if not Path(args.out).resolve().parent.is_dir():  # before the QC runs, not after
        raise SystemExit(f"ibl-xvideo report: -o {args.out}: the folder {Path(args.out).resolve().parent} does not "
                         "exist; create it or pick another path.")
    out = session_report(args.source, args.out, one=_one(args), refs=False if args.no_refs else None,
                         full=not args.samples_only)
    print(f"report of {args.source} -> {out}", file=sys.stderr)
    return 0


def _cmd_nwb(args) -> int:
    from pathlib import Path

    from . import open_camera
    from .io.sources import session_labels

    one = _one(args)
    labels = [args.label] if args.label else session_labels(args.source, one=one)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for label in labels:
        cam = open_camera(args.source, label, one=one)
        path = cam.video.to_nwb(out / f"{label}Camera.nwb")
        print(f"{label} camera -> {path} (its video beside it)")
    return 0


def _cmd_verify(args) -> int:
    from .verify import verify

    result = verify(args.file, n_samples=args.n_samples, pixels=args.pixels)
    print(result)
    return 0 if result.exact else 1


def _cmd_info(args) -> int:
    from . import show_versions

    print(show_versions())
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from . import __version__
    from .errors import XVideoError

    parser = argparse.ArgumentParser(prog="ibl-xvideo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"ibl-xvideo {__version__}")
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("demo", help="build the offline demo session, run the walkthrough and the camera QC")
    p.add_argument("--out", default="demo_frame.png",
                   help="PNG of the frame at t=1000 s (the QC figure is written beside it, <out>_qc_<label>.png)")
    p.add_argument("--root", default=None, help="where to build the demo ONE cache")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("meta", help="print a video's metadata as JSON")
    _add_source(p)
    p.set_defaults(func=_cmd_meta)

    p = sub.add_parser("frame", help="save one frame as PNG")
    _add_source(p)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--time", type=float, help="session time in s (nearest frame)")
    g.add_argument("--index", type=int, help="frame number (0-based; negative from the end)")
    p.add_argument("-o", "--out", default="frame.png", help="PNG to write (default frame.png)")
    p.set_defaults(func=_cmd_frame)

    p = sub.add_parser("qc", help="run the IBL camera QC (every camera of a session when LABEL is omitted)")
    _add_source(p)
    p.add_argument("--full", action="store_true",
                   help="every frame's measures in one decoding pass (brightness; with reference frames also "
                        "histogram correlation, focus and face position)")
    p.add_argument("--measures", default=None,
                   help="with --full: comma-separated per-frame measures to compute (default all: "
                        "brightness,hist_corr,focus_lpc,focus_fft,position)")
    p.add_argument("--n-samples", type=int, default=100, help="sample frames (default 100, as ibllib)")
    p.add_argument("--samples", choices=("exact", "keyframes"), default="exact",
                   help="exact: ibllib's sample frames; keyframes: the keyframe nearest each (one intra-frame "
                        "decode a sample, much faster, especially over HTTP)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--refs", default=None, help="reference frames .npy for position and focus")
    g.add_argument("--no-refs", action="store_true", help="skip the position and focus checks (NOT_SET)")
    p.add_argument("--plot", default=None, help="write the QC report figure to this PNG")
    p.add_argument("--cache", default=None,
                   help="Zarr store of this camera's decoded frames (filled first unless complete): read instead "
                        "of decoding")
    p.add_argument("--kind", choices=("ephys", "training"), default=None, help="rig type (default: from the session)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_qc)

    p = sub.add_parser("qc-batch", help="the camera QC of many sessions on a Dask cluster, into a Parquet table "
                                        "(resumable: a rerun skips the rows done)")
    p.add_argument("sources", nargs="+", metavar="FILE|EID|SESSION",
                   help="eids, session folders or mp4 files/URLs; a .txt file lists them, one a line")
    p.add_argument("-o", "--out", required=True, help="the Parquet table (rows already in it are skipped)")
    p.add_argument("--scheduler", default=None,
                   help="address of a running Dask scheduler (default: a local cluster, a worker per core)")
    p.add_argument("--labels", default=None, help="comma-separated cameras (default: every camera of a session)")
    _add_one(p)
    p.add_argument("--n-samples", type=int, default=100, help="sample frames (default 100, as ibllib)")
    p.add_argument("--samples", choices=("exact", "keyframes"), default="exact",
                   help="exact: ibllib's sample frames; keyframes: the keyframe nearest each")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--refs", default=None, help="reference frames .npy for position and focus")
    g.add_argument("--no-refs", action="store_true", help="skip the position and focus checks (NOT_SET)")
    p.add_argument("--kind", choices=("ephys", "training"), default=None, help="rig type (default: from the session)")
    p.add_argument("--retry-errors", action="store_true", help="run the rows that failed again")
    p.set_defaults(func=_cmd_qc_batch)

    p = sub.add_parser("export", help="decode frames to a Zarr store (resumable)")
    _add_source(p)
    p.add_argument("store", help="Zarr store: a folder or an fsspec URL")
    p.add_argument("--start", type=float, default=None, help="first session time (s)")
    p.add_argument("--stop", type=float, default=None, help="last session time (s)")
    p.add_argument("--roi", default=None, type=_roi, help="region y0:y1,x0:x1, cropped as frames are decoded")
    p.add_argument("--overwrite", action="store_true", help="replace a store holding another export")
    p.add_argument("--repair", action="store_true",
                   help="check every frame's checksum and rewrite only the damaged shards")
    p.add_argument("--no-space-check", action="store_true",
                   help="write even if the estimated size exceeds the free disk space")
    p.add_argument("--no-times", action="store_true", help="ignore the ALF timestamps (time = frame / fps)")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("download", help="download a session's camera video into the ONE cache")
    _add_source(p)
    p.add_argument("--data-server", default=None, help="data server root, for a local ONE cache")
    p.set_defaults(func=_cmd_download)

    p = sub.add_parser("report", help="a session's QC as one self-contained HTML page, every camera")
    p.add_argument("source", help="eid or session folder")
    p.add_argument("-o", "--out", default="report.html", help="the HTML file to write (default report.html)")
    _add_one(p)
    p.add_argument("--no-refs", action="store_true", help="skip the position and focus checks (NOT_SET)")
    p.add_argument("--samples-only", action="store_true",
                   help="brightness of the QC's sample frames only, not of every frame (no full decoding pass)")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("nwb", help="each camera of a session (or one) as an NWB file: an external-mode ImageSeries "
                                   "with the camera's times, its video copied beside it (needs pynwb)")
    _add_source(p)
    p.add_argument("-o", "--out", default="nwb", help="folder for the .nwb files and videos (default nwb, created)")
    p.set_defaults(func=_cmd_nwb)

    p = sub.add_parser("verify", help="read a video file in every access pattern and compare each frame with one "
                                      "sequential decode: prints 'exact', or the frames that differ (exit 1)")
    p.add_argument("file", help="a local video file, whatever recorded it")
    p.add_argument("--n-samples", type=int, default=50,
                   help="random frames read by the list patterns, besides every keyframe and the frame after it")
    p.add_argument("--pixels", choices=("ibllib", "luma"), default="ibllib", help="grey values compared")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("info", help="versions of ibl-xvideo and its decoding stack")
    p.set_defaults(func=_cmd_info)

    args = parser.parse_args(argv)
    shown = warnings.showwarning
    warnings.showwarning = _show_warning  # a message, not the source line that warned
    try:
        return args.func(args)
    except XVideoError as exc:
        print(f"ibl-xvideo: error: {_as_flags(str(exc))}", file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = shown


def _as_flags(message: str) -> str:
    """A library message as the CLI's user reads it: its flags where it names keyword arguments."""
    for kwarg, flag in _FLAGS.items():
        message = message.replace(kwarg, flag)
    return message


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"ibl-xvideo: warning: {_as_flags(str(message))}", file=sys.stderr if file is None else file)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
