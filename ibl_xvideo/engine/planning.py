"""Planned reads: a selection of frames decodes each keyframe group once, up to the last frame wanted.

Shared by the cameras (:mod:`ibl_xvideo.camera`, over a video's decoder) and the Zarr
stores (:mod:`ibl_xvideo.store`, over its shards). A *backend* is a picklable lazy
``(time, y, x)`` array with ``length``, ``shape``, ``plan_groups(frames)`` (the unit
of work of each frame: a keyframe group, a shard) and ``read_planned(frames, ykey,
xkey)`` (sorted frames of one unit, cropped), and optionally ``each_planned(frames,
ykey, xkey, fn)`` (``fn(i, frame)`` for each frame as it is read). :func:`outer_key`
turns an outer key into the frames to read, the crops to apply while reading and a
finisher; :func:`frames_dask` gives a Dask array of a backend's frames whose list
selections along time read only the frames wanted, and whose ``max``, ``min``, ``sum``
and ``mean`` over both pixel axes reduce each frame as it is read.
"""

from __future__ import annotations

import dataclasses
import functools
import operator

import numpy as np

from .index import VideoIndex

__all__ = ["outer_key", "frames_dask", "frames_source", "planned_take", "nearest", "recorded", "Recorded", "compose"]


def nearest(sorted_values, values) -> np.ndarray:
    """Index of the element of ``sorted_values`` nearest each of ``values`` (the earlier one on a tie)."""
    a, v = np.asarray(sorted_values), np.asarray(values)
    if a.size == 0:
        raise ValueError("nearest: no values to choose from")
    hi = np.clip(np.searchsorted(a, v), 0, a.size - 1)
    lo = np.maximum(hi - 1, 0)
    return np.where(np.abs(v - a[lo]) <= np.abs(a[hi] - v), lo, hi)


def outer_key(key: tuple, shape: tuple):
    """An outer ``(time, y, x)`` key as the frames to read, the crops to apply when reading, and a finisher.

    ``finish(out)`` takes the ``(len(frames), h, w)`` cropped frames and applies what a
    crop cannot (index arrays on y or x) and drops the axes of integer keys.
    """
    tkey, ykey, xkey = key
    scalar = isinstance(tkey, (int, np.integer))
    frames = np.atleast_1d(np.arange(shape[0])[tkey])
    ysl, ypost = _as_slice(ykey, shape[1])
    xsl, xpost = _as_slice(xkey, shape[2])

    def finish(out: np.ndarray) -> np.ndarray:
        if ypost is not None:
            out = out[:, ypost]
        if xpost is not None:
            out = out[:, :, xpost]
        if scalar:
            out = out[0]
        if isinstance(ykey, (int, np.integer)):
            out = out[..., 0, :] if not scalar else out[0]
        if isinstance(xkey, (int, np.integer)):
            out = out[..., 0]
        return out

    return frames, ysl, xsl, finish


def _read_planned(backend, frames: np.ndarray, ykey, xkey) -> np.ndarray:
    """One task of a planned selection (see :func:`frames_dask`)."""
    return backend.read_planned(frames, ykey, xkey)


_IDENTITY = (0, 1, 2)

# the elementwise operators that keep a camera's list selections planned (with a scalar other operand)
_BINARY = {name: getattr(operator, name) for name in (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "and_", "or_", "xor", "lshift", "rshift")}
_COMPARE = {name: getattr(operator, name) for name in ("lt", "le", "gt", "ge", "eq", "ne")}
_UNARY = {name: getattr(operator, name) for name in ("neg", "pos", "abs", "invert")}


class _Elementwise:
    """A picklable elementwise step on a block of frames: ``func(*args[:pos], block, *args[pos:], **kwargs)``."""

    def __init__(self, func, args=(), pos=0, kwargs=None):
        self.func, self.args, self.pos, self.kwargs = func, tuple(args), pos, dict(kwargs or {})

    def __call__(self, block):
        return self.func(*self.args[:self.pos], block, *self.args[self.pos:], **self.kwargs)


def _astype(block, dtype, casting="unsafe"):
    return block.astype(dtype, casting=casting)


def _apply(block, steps):
    for step in steps:
        block = step(block)
    return block


def _scalar(x) -> bool:
    return isinstance(x, (bool, int, float, complex, np.generic)) or (isinstance(x, np.ndarray) and x.ndim == 0)


@functools.lru_cache(maxsize=1)
def _frames_dask_class():
    """The Dask array subclass of cameras and stores (made on first use: Dask is imported only then)."""
    import dask.array as dsa

    class _FramesDask(dsa.Array):
        """A Dask array of frames whose list selections along time read only the frames wanted.

        Dask turns ``x[[i, j, ...]]`` into a shuffle of whole chunks: every chunk
        holding a wanted frame would be read (for a video: decoded to its end). Here
        such a selection (and ``sel(time=[...], method='nearest')``, which xarray sends
        as one) becomes one task per unit of its backend (a keyframe group of a video,
        a shard of a store) reading only the wanted frames, as ``chunks=None`` does.
        Slices (of time, y or x) keep this behaviour, the crops being applied as the
        frames are read. Elementwise operators and NumPy ufuncs with scalar operands,
        ``astype`` and ``transpose`` keep it too: they are remembered, and applied to
        the frames read after the selection. Anything else is Dask's own indexing.

        ``np.max``, ``np.min``, ``np.sum`` and ``np.mean`` over both pixel axes (xarray's
        ``cam.max(("y", "x"))``...) take one task per time chunk that reduces each frame as
        the backend reads it (a video's frames as they leave the decoder), instead of
        holding the chunk's frames: the same values, in a fraction of the memory and time.
        Sums and means whose additions could round (a float sum of floats) are Dask's.
        """

        def __getitem__(self, index):
            planned = self._xv_plan(index) if self._xv_backend is not None else None
            return super().__getitem__(index) if planned is None else planned

        def __setitem__(self, key, value):
            # Dask assigns in place: from now on this array's values are its graph's, not its backend's frames
            super().__setitem__(key, value)
            self._xv_backend = None

        def __reduce__(self):
            return _frames_dask_rebuild, (self.dask, self.name, self.chunks, self._meta, self._xv_backend,
                                          self._xv_frames, self._xv_crop, self._xv_steps, self._xv_axes)

        def _xv_then(self, out, step=None, axes=None):
            """``out`` (this array transformed by ``step`` or transposed to ``axes``), still planned."""
            if self._xv_backend is None:  # assigned to: a plain Dask array from here
                return out
            steps = self._xv_steps + ((step,) if step is not None else ())
            return frames_dask(out, self._xv_backend, self._xv_frames, self._xv_crop, steps,
                               self._xv_axes if axes is None else axes)

        def astype(self, dtype, **kwargs):
            out = super().astype(dtype, **kwargs)
            if out is self or set(kwargs) - {"casting", "copy"}:
                return out
            return self._xv_then(out, _Elementwise(_astype, (np.dtype(dtype), kwargs.get("casting", "unsafe"))))

        def transpose(self, *axes):
            out = super().transpose(*axes)
            if out is self or self.ndim != 3:
                return out
            perm = axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else axes
            perm = tuple(int(a) % 3 for a in perm) if perm else (2, 1, 0)
            return self._xv_then(out, axes=tuple(self._xv_axes[p] for p in perm))

        def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
            out = super().__array_ufunc__(ufunc, method, *inputs, **kwargs)
            mine = [i for i, x in enumerate(inputs) if x is self]
            if (out is NotImplemented or method != "__call__" or ufunc.nout != 1 or ufunc.signature is not None
                    or "out" in kwargs or len(mine) != 1
                    or not all(_scalar(x) for i, x in enumerate(inputs) if i != mine[0])):
                return out
            others = inputs[:mine[0]] + inputs[mine[0] + 1:]
            return self._xv_then(out, _Elementwise(ufunc, others, mine[0], kwargs))

        def __array_function__(self, func, types, args, kwargs):
            fused = self._xv_reduce(func, args, kwargs) if self._xv_backend is not None else None
            return super().__array_function__(func, types, args, kwargs) if fused is None else fused

        def _xv_reduce(self, func, args, kwargs):
            """``np.max/min/sum/mean`` over both pixel axes, reduced frame by frame as they are read; else None."""
            how = _REDUCTIONS.get(func)
            kw = dict(kwargs)
            axis, dtype = kw.pop("axis", None), kw.pop("dtype", None)
            if (how is None or len(args) != 1 or args[0] is not self or self.ndim != 3 or kw.pop("keepdims", False)
                    or kw or axis is None or (dtype is not None and how in ("max", "min"))):
                return None
            axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
            if len(axes) != 2 or {self._xv_axes[int(a) % 3] for a in axes} != {1, 2}:
                return None
            if not all(isinstance(c, slice) for c in self._xv_crop) or 0 in self.shape[1:]:
                return None
            out = getattr(np, how)(np.ones((1, 1, 1), self.dtype), axis=(1, 2), **_dtype_kw(dtype)).dtype
            # exact whatever the order of the additions: integer sums, or float64 sums of integers
            if how in ("sum", "mean") and not (out.kind in "biu" or (out == np.float64 and self.dtype.kind in "biu")):
                return None
            return _reduced(self, how, dtype, out)

        def _xv_plan(self, index):
            key = index if isinstance(index, tuple) else (index,)
            if any(k is Ellipsis or k is None for k in key) or len(key) > self.ndim or not self.ndim:
                return None
            key = key + (slice(None),) * (self.ndim - len(key))
            if any(not isinstance(k, (slice, int, np.integer)) for i, k in enumerate(key)
                   if self._xv_axes[i] != 0):
                return None
            transposed = self._xv_axes[:self.ndim] != _IDENTITY[:self.ndim]
            if transposed and any(isinstance(k, (int, np.integer)) for k in key):
                return None  # an axis taken away from a transposed array: Dask's own indexing
            key = tuple(key[self._xv_axes.index(i)] for i in range(self.ndim))  # in the backend's order
            tkey, keys = key[0], iter(key[1:])
            # the y and x keys on the backend's whole frames (an integer crop took its axis away;
            # IndexError out of range, as NumPy)
            rest = tuple(crop if isinstance(crop, int) else compose(crop, next(keys), n)
                         for crop, n in zip(self._xv_crop, self._xv_backend.shape[1:]))
            if isinstance(tkey, slice):  # a time slice: still frames of the backend
                return frames_dask(super().__getitem__(index), self._xv_backend, self._xv_frames[tkey], rest,
                                   self._xv_steps, self._xv_axes)
            t = np.asarray(tkey)
            if t.ndim != 1 or t.dtype.kind not in "iub" or (t.dtype.kind == "b" and t.size != self.shape[0]):
                return None
            wanted = self._xv_frames[t]  # IndexError for frames out of range, as NumPy
            out = _planned(self._xv_backend, wanted, rest, self.name)
            if self._xv_steps:
                out = out.map_blocks(functools.partial(_apply, steps=self._xv_steps), dtype=self.dtype)
            return out.transpose(self._xv_axes) if transposed else out

    for name, op in {**_BINARY, **_COMPARE}.items():
        dunder = f"__{name.rstrip('_')}__"
        _add_operator(_FramesDask, dunder, op, pos=0)
        if name in _BINARY:
            _add_operator(_FramesDask, f"__r{dunder[2:]}", op, pos=1)
    for name, op in _UNARY.items():
        _add_operator(_FramesDask, f"__{name}__", op, pos=None)
    return _FramesDask


def _add_operator(cls, dunder: str, op, pos):
    """Give ``cls`` Dask's operator ``dunder``, remembered as a step when the other operand is a scalar."""
    base = getattr(cls.__mro__[1], dunder)

    def method(self, *other):
        out = base(self, *other)
        if out is NotImplemented or (other and not _scalar(other[0])):
            return out
        return self._xv_then(out, _Elementwise(op, other, pos or 0))

    method.__name__ = dunder
    setattr(cls, dunder, method)


#: the NumPy reductions a camera reduces frame by frame when they are over both pixel axes
_REDUCTIONS = {np.max: "max", np.amax: "max", np.min: "min", np.amin: "min", np.sum: "sum", np.mean: "mean"}


def _dtype_kw(dtype) -> dict:
    return {} if dtype is None else {"dtype": dtype}


def _reduced(arr, how: str, dtype, out_dtype: np.dtype):
    """A Dask array of ``np.<how>`` of each frame of the planned ``arr``: one task per time chunk.

    The task reduces each frame as it comes out of the backend (a video's decoder),
    instead of materialising the chunk of frames and reducing that.
    """
    import dask.array as dsa
    from dask.base import tokenize

    t = arr._xv_axes.index(0)
    name = f"frames-{how}-" + tokenize(arr.name, how, dtype)
    # (the steps and crops in a partial: Dask would take a tuple of them for a task)
    task = functools.partial(_reduce_block, crop=arr._xv_crop, steps=arr._xv_steps, how=how, dtype=dtype,
                             out_dtype=out_dtype)
    graph, start = {}, 0
    for c, n in enumerate(arr.chunks[t]):
        graph[(name, c)] = (task, arr._xv_backend, arr._xv_frames[start:start + n])
        start += n
    return dsa.Array(graph, name, (arr.chunks[t],), dtype=out_dtype, meta=np.empty((0,), out_dtype))


def _reduce_block(backend, frames: np.ndarray, crop: tuple, steps: tuple, how: str, dtype, out_dtype) -> np.ndarray:
    """``np.<how>`` of each of ``frames`` of ``backend``, cropped by ``crop``, after ``steps``."""
    out = np.empty(frames.size, out_dtype)
    order = np.argsort(frames, kind="stable")
    wanted = frames[order]
    reduce, kw = getattr(np, how), _dtype_kw(dtype)
    each = getattr(backend, "each_planned", None)
    if each is not None:  # frame by frame, as the decoder gives them
        places = iter(order.tolist())

        def fn(i, frame):
            out[next(places)] = reduce(_apply(frame, steps), **kw)

        each(wanted, *crop, fn)
        return out
    for a, b in _unit_spans(backend, wanted):  # a unit (a store's shard) at a time
        out[order[a:b]] = reduce(_apply(backend.read_planned(wanted[a:b], *crop), steps), axis=(1, 2), **kw)
    return out


def _unit_spans(backend, frames: np.ndarray) -> list[tuple[int, int]]:
    """``(a, b)`` of each run of the sorted ``frames`` that is one unit of ``backend`` (a keyframe group, a shard)."""
    if not frames.size:
        return []
    groups = backend.plan_groups(frames)
    bounds = np.flatnonzero(np.r_[True, np.diff(groups) != 0, True])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def frames_dask(data, backend, frames: np.ndarray | None = None, crop: tuple | None = None,
                steps: tuple = (), axes: tuple = _IDENTITY):
    """``data`` (a Dask array of ``backend``'s frames ``frames``, cropped by ``crop``) with planned list selections.

    ``backend``: a picklable lazy ``(time, y, x)`` array with ``length``, ``shape``,
    ``plan_groups(frames)`` (the unit of work of each frame) and
    ``read_planned(frames, ykey, xkey)`` (sorted frames of one unit, cropped).
    ``crop``: the y and x keys (slices, or integers for axes taken away) of the backend's
    frames that ``data`` holds; ``steps``: the elementwise steps applied to them since
    (see :class:`_Elementwise`); ``axes``: their order since (``data`` is the cropped
    frames, transformed, transposed by ``axes``).
    """
    from dask.array.utils import meta_from_array

    out = _frames_dask_class()(data.dask, data.name, data.chunks, meta=meta_from_array(data))
    out._xv_backend = backend
    out._xv_frames = np.arange(backend.length) if frames is None else frames
    out._xv_crop = (slice(None), slice(None)) if crop is None else tuple(crop)
    out._xv_steps, out._xv_axes = tuple(steps), tuple(axes)
    return out


def _frames_dask_rebuild(graph, name, chunks, meta, backend, frames, crop=None, steps=(), axes=_IDENTITY):
    """Unpickle a :func:`frames_dask` array (keeping its planned list selections)."""
    import dask.array as dsa

    return frames_dask(dsa.Array(graph, name, chunks, meta=meta), backend, frames, crop, steps, axes)


def compose(crop: slice, key, n: int):
    """The key on an axis of length ``n`` equal to ``key`` applied after ``crop``: a slice, or an int."""
    picked = range(n)[crop][key]
    if isinstance(picked, int):
        return int(picked)
    return slice(picked.start, None if picked.stop < 0 else picked.stop, picked.step)


def _planned(backend, frames: np.ndarray, rest: tuple, parent: str):
    """A Dask array of ``frames`` (any order) cropped by ``rest``: one task per unit of ``backend``."""
    import dask.array as dsa
    from dask.base import tokenize

    uniq, inverse = np.unique(frames, return_inverse=True)
    name = "frames-" + tokenize(parent, uniq, rest)
    shape = np.empty((1,) + backend.shape[1:], np.uint8)[(slice(None),) + rest].shape[1:]
    zeros = (0,) * len(shape)
    graph, sizes = {}, []
    if uniq.size:
        for j, (a, b) in enumerate(_unit_spans(backend, uniq)):
            graph[(name, j) + zeros] = (_read_planned, backend, uniq[a:b], *rest)
            sizes.append(b - a)
    else:
        graph[(name, 0) + zeros] = (np.empty, (0,) + shape, np.uint8)
        sizes.append(0)
    out = dsa.Array(graph, name, (tuple(sizes),) + tuple((n,) for n in shape), dtype=np.uint8,
                    meta=np.empty((0,) * (1 + len(shape)), np.uint8))
    in_order = uniq.size == frames.size and np.array_equal(uniq, frames)
    return out if in_order else out[inverse.reshape(-1)]


def _as_slice(key, n: int):
    """A y/x key as (slice to crop at decode time, NumPy post-index or None)."""
    if isinstance(key, slice):
        return key, None
    if isinstance(key, (int, np.integer)):
        k = int(key) % n
        return slice(k, k + 1), None
    arr = np.asarray(key)
    if arr.dtype == bool:
        arr = np.flatnonzero(arr)
    arr = np.where(arr < 0, arr + n, arr)
    if arr.size == 0:
        return slice(0, 0), None
    lo, hi = int(arr.min()), int(arr.max()) + 1
    return slice(lo, hi), arr - lo


def frames_source(data):
    """``(backend, frames, crop)`` behind a camera's data, or None when it is not a camera's frames.

    ``data`` is a camera variable's data: the planned Dask array of
    :func:`frames_dask` (any time slices and crops kept, not transformed), or xarray's lazily indexed
    wrapper of a backend (``chunks=None``). ``frames`` are the backend's frames along
    the data's time axis, ``crop`` the y and x keys of the backend's frames.
    """
    from xarray.core import indexing

    backend = getattr(data, "_xv_backend", None)
    if backend is not None and not data._xv_steps and data._xv_axes == _IDENTITY and data.dtype == np.uint8:
        return backend, np.asarray(data._xv_frames), tuple(data._xv_crop)
    if isinstance(data, indexing.LazilyIndexedArray) and hasattr(data.array, "read_planned"):
        tkey, ykey, xkey = data.key.tuple
        return data.array, np.arange(data.array.length)[tkey], (ykey, xkey)
    return None


def planned_take(backend, frames: np.ndarray, crop: tuple, block: int):
    """A Dask array of ``backend``'s ``frames`` (any shape; -1: no frame, zeros), cropped by ``crop``.

    Chunked along the first axis of ``frames`` in blocks of ``block`` rows; each
    block's task reads the frames its rows want, each keyframe group (a store's
    shard) once and up to its last wanted frame. Blocks are independent, so a
    reduction over a large stack holds a few blocks at a time; a group wanted by two
    blocks is read by both (the decoder of a thread carries on from where its last
    read stopped, so consecutive blocks in time order seldom decode a frame twice).
    """
    import dask.array as dsa
    from dask.base import tokenize

    frames = np.asarray(frames, dtype=np.int64)
    fshape = np.empty((1,) + tuple(backend.shape[1:]), np.uint8)[(slice(None),) + tuple(crop)].shape[1:]
    name = "frames-take-" + tokenize(backend, frames, crop, block)
    rows = frames.shape[0]
    zeros = (0,) * (frames.ndim - 1 + len(fshape))
    graph, sizes = {}, []
    for c, r0 in enumerate(range(0, max(rows, 1), max(block, 1))):
        r1 = min(rows, r0 + block)
        graph[(name, c) + zeros] = (_take_block, backend, frames[r0:r1], tuple(crop), fshape)
        sizes.append(r1 - r0)
    chunks = (tuple(sizes),) + tuple((n,) for n in frames.shape[1:] + fshape)
    return dsa.Array(graph, name, chunks, dtype=np.uint8, meta=np.empty((0,) * len(chunks), np.uint8))


def _take_block(backend, frames: np.ndarray, crop: tuple, fshape: tuple) -> np.ndarray:
    """One block of :func:`planned_take`: its wanted frames read group by group, zeros where there is none."""
    out = np.zeros(frames.shape + fshape, np.uint8)
    flat, wanted = out.reshape((-1,) + fshape), frames.reshape(-1)
    valid = wanted >= 0
    uniq, inverse = np.unique(wanted[valid], return_inverse=True)
    if uniq.size:
        read = np.concatenate([backend.read_planned(uniq[a:b], *crop) for a, b in _unit_spans(backend, uniq)])
        flat[valid] = read[inverse.reshape(-1)]
    return out


@dataclasses.dataclass(frozen=True)
class Recorded:
    """What an array provably holds: frames ``frames`` of a video (by its index), cropped by ``crop``, unchanged."""

    index: VideoIndex
    pixels: str
    strict: bool
    frames: np.ndarray
    crop: tuple

    @property
    def whole(self) -> bool:
        """Whether the crop keeps every pixel of the frame, in order."""
        return all(range(n)[c] == range(n) for c, n in zip(self.crop, (self.index.height, self.index.width)))

    @property
    def contiguous(self) -> bool:
        """Whether the frames are one range, in order."""
        return bool(self.frames.size) and bool(np.all(np.diff(self.frames) == 1))


def recorded(arr) -> Recorded | None:
    """The video frames an xarray ``arr`` holds, when it provably is a camera's decoded frames; else None.

    True of a camera from :func:`ibl_xvideo.open_camera` and of its time selections and
    crops (slices and lists of frames, slices of pixels), as long as its values are the
    decoder's: after arithmetic, ``astype``, an assignment, a transpose or a copy with
    other data it is not, and a function that would read the video for it must read the
    array's values instead. A Zarr store's frames are not a video's.
    """
    if getattr(arr, "dims", None) != ("time", "y", "x") or arr.dtype != np.uint8:
        return None
    found = frames_source(arr.variable._data)
    if found is None or not isinstance(getattr(found[0], "index", None), VideoIndex):
        return None
    backend, frames, crop = found
    if not all(isinstance(c, slice) for c in crop):
        return None
    return Recorded(backend.index, backend.pixels, bool(getattr(backend, "strict", False)),
                    np.asarray(frames, np.int64), tuple(crop))
