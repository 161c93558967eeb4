"""A synthetic IBL rig as its three cameras see it: a head-fixed mouse on a wheel.

Used by the built-in demo. Under infrared light the mouse's fur is grey, its eye dark
with a bright corneal reflection, its whiskers bright lines; a metal lick spout
reaches its mouth; it stands on the wheel with its paws. The ``left`` (1280x1024) and
``right`` (640x512) cameras see the face from either side, the ``body`` camera
(640x512) sees the mouse from behind.

What moves follows the session's behaviour, given as arrays sampled at the frame
times (see :class:`Behaviour`): the wheel's tread turns with the wheel position (so
the wheel-alignment check of the QC finds it), the paws step with it, the pupil
dilates and constricts, the whiskers whisk, the tongue licks.

Only small regions change from frame to frame (the wheel and paws, the face), so
that a frame costs a fraction of a millisecond to draw and the demo builds fast.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Behaviour", "RigCamera", "session_behaviour", "wheel_trace", "VIEWS"]

#: The views this module draws: label -> (width, height).
VIEWS = {"left": (1280, 1024), "right": (640, 512), "body": (640, 512)}


def _min_jerk(x: np.ndarray) -> np.ndarray:
    """Smooth 0 -> 1 ramp on [0, 1] (a minimum-jerk movement profile)."""
    x = np.clip(x, 0, 1)
    return x ** 3 * (10 - 15 * x + 6 * x * x)


def wheel_trace(t_end: float, moves: np.ndarray, run: tuple[float, float], rate: float = 1000.0
                ) -> tuple[np.ndarray, np.ndarray]:
    """The session's wheel, as ``alf/_ibl_wheel.{timestamps,position}.npy`` hold it (s, rad).

    At rest but for ``moves`` (rows of onset, duration, signed amplitude: the mouse's
    responses, each a smooth turn) and, during ``run`` (start, end), a bout of
    running whose speed rises and falls with each stride.
    """
    t = np.arange(0.0, t_end, 1 / rate)
    pos = np.zeros_like(t)
    for onset, duration, amplitude in np.asarray(moves, dtype=np.float64).reshape(-1, 3):
        pos += amplitude * _min_jerk((t - onset) / duration)
    a, b = run
    inside = (t > a) & (t < b)
    phase = (t[inside] - a) / (b - a)
    speed = 2.5 * np.sin(np.pi * phase) ** 2 * (1 + 0.4 * np.sin(2 * np.pi * 2.2 * (t[inside] - a)))
    bout = np.zeros_like(t)
    if inside.any():
        bout[inside] = np.cumsum(speed) / rate
        bout[t >= b] = bout[inside][-1]
    return t, pos + bout


@dataclass
class Behaviour:
    """What the mouse does at each frame time (arrays of the frames' length).

    Attributes
    ----------
    wheel : array
        Wheel position (rad).
    pupil : array
        Pupil radius relative to its mean (about 0.6-1.4).
    whisk : array
        Whisker angle offset (rad).
    lick : array of bool
        Tongue out.
    """

    wheel: np.ndarray
    pupil: np.ndarray
    whisk: np.ndarray
    lick: np.ndarray


def session_behaviour(times: np.ndarray, wheel_t: np.ndarray, wheel_pos: np.ndarray, rewards: np.ndarray,
                      seed: int = 0) -> Behaviour:
    """The mouse's behaviour at ``times`` (s): wheel from its trace, licks after rewards.

    The pupil follows a slow random drift, the whiskers whisk at 9 Hz in bouts (always
    while the wheel turns), the tongue comes out at 7 Hz for a second after each reward.
    """
    rng = np.random.default_rng(seed + 5)
    times = np.asarray(times, dtype=np.float64)
    wheel = np.interp(times, wheel_t, wheel_pos)
    grid = np.arange(times[0] - 1, times[-1] + 2, 0.5)
    drift = np.convolve(rng.normal(0, 1, grid.size), np.ones(8) / 8, mode="same")
    pupil = 1 + 0.3 * np.tanh(np.interp(times, grid, drift) * 2)
    moving = np.abs(np.gradient(wheel, times)) > 0.2 if times.size > 1 else np.zeros(times.size, bool)
    bouts = np.interp(times, grid, (rng.uniform(0, 1, grid.size) > 0.6).astype(float)) > 0.5
    whisk = np.where(moving | bouts, 0.12 * np.sin(2 * np.pi * 9 * times), 0.0)
    lick = np.zeros(times.size, bool)
    for r in np.asarray(rewards, dtype=np.float64):
        after = (times >= r) & (times < r + 1.0)
        lick |= after & (np.sin(2 * np.pi * 7 * (times - r)) > 0)
    return Behaviour(wheel, pupil, whisk, lick)


class _Canvas:
    """Soft-edged drawing on a float image, in the coordinates of a reference view.

    ``scale``, ``mirror`` and ``offset`` map the reference view's coordinates (the left
    camera's 1280x1024 for the side views) onto this image.
    """

    def __init__(self, height, width, scale=1.0, mirror=False, offset=(0.0, 0.0), ref_width=1280):
        self.h, self.w = height, width
        self.s, self.mirror, self.off, self.ref_width = scale, mirror, offset, ref_width
        self.yy, self.xx = np.mgrid[0:height, 0:width].astype(np.float32)

    def map(self, x, y):
        x = self.ref_width - x if self.mirror else x
        return self.off[0] + self.s * x, self.off[1] + self.s * y

    def ellipse(self, cx, cy, rx, ry, angle=0.0, soft=1.5):
        """Coverage (0-1) of an ellipse; ``angle`` in degrees."""
        cx, cy = self.map(cx, cy)
        rx, ry = rx * self.s, ry * self.s
        a = np.deg2rad(-angle if self.mirror else angle)
        dx, dy = self.xx - cx, self.yy - cy
        u, v = dx * np.cos(a) + dy * np.sin(a), -dx * np.sin(a) + dy * np.cos(a)
        d = np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
        return np.clip((1 - d) * min(rx, ry) / soft + 0.5, 0, 1)

    def line(self, x0, y0, x1, y1, width, soft=1.0):
        """Coverage of a thick segment."""
        (x0, y0), (x1, y1) = self.map(x0, y0), self.map(x1, y1)
        width = max(width * self.s, 1.0)
        px, py = self.xx - x0, self.yy - y0
        vx, vy = x1 - x0, y1 - y0
        k = np.clip((px * vx + py * vy) / max(vx * vx + vy * vy, 1e-9), 0, 1)
        d = np.hypot(px - k * vx, py - k * vy)
        return np.clip((width / 2 - d) / soft + 0.5, 0, 1)

    def texture(self, rng, scale, amplitude):
        """Smooth random texture (fur, rig surfaces)."""
        from scipy.ndimage import gaussian_filter

        return gaussian_filter(rng.normal(0, 1, (self.h, self.w)).astype(np.float32), scale * self.s) \
            * amplitude * max(1.0, scale * self.s) ** 0.8


def _paint(img, cover, value):
    """Alpha-blend ``value`` (scalar or image) where ``cover`` is."""
    img *= 1 - cover
    img += cover * value
    return img


class RigCamera:
    """Draws frame ``i`` of one camera of the rig from the mouse's :class:`Behaviour`.

    Parameters
    ----------
    label : {'left', 'right', 'body'}
    behaviour : Behaviour
        One entry per frame.
    seed : int
        Textures and sensor noise.
    noise : float
        Sensor noise (grey levels, 2x2 grain).
    size : (width, height), optional
        Frame size (default the camera's, :data:`VIEWS`): the same view, scaled.
    """

    def __init__(self, label: str, behaviour: Behaviour, seed: int = 0, noise: float = 2.0,
                 size: tuple[int, int] | None = None):
        if label not in VIEWS:
            raise ValueError(f"No rig view for camera {label!r}: one of {sorted(VIEWS)}")
        self.label, self.b = label, behaviour
        self.w, self.h = size or VIEWS[label]
        k = self.w / VIEWS[label][0]  # a smaller (or larger) picture of the same view
        rng = np.random.default_rng(seed)
        side = label != "body"
        if side:  # the right camera: the left one's view mirrored, at half the resolution
            c = _Canvas(self.h, self.w, k) if label == "left" else _Canvas(self.h, self.w, 0.5 * k, True, (5 * k, 0))
        else:
            c = _Canvas(self.h, self.w, k, ref_width=640)
        self.c = c
        base = self._side_base(c, rng) if side else self._body_base(c, rng)
        grain = rng.normal(0, noise, (8, (self.h + 1) // 2, (self.w + 1) // 2)).astype(np.float32)
        noise_frames = np.repeat(np.repeat(grain, 2, 1), 2, 2)[:, :self.h, :self.w]
        self.bg = base[None] + noise_frames
        self.bg8 = np.clip(self.bg, 0, 255).astype(np.uint8)
        (self._lower if side else self._body_lower)(c, rng)
        if side:
            self._face(c)

    # -- the static scene ---------------------------------------------------------------
    def _side_base(self, c, rng):
        img = 38 + 50 * np.exp(-(((c.xx - c.map(520, 0)[0]) / (700 * c.s)) ** 2
                                 + ((c.yy - c.map(0, 320)[1]) / (650 * c.s)) ** 2)) + c.texture(rng, 6, 3)
        fur = c.texture(rng, 1.5, 9) + c.texture(rng, 5, 6)
        # head bar holder and the head bar
        _paint(img, np.clip(c.line(1280, 90, 760, 120, 46) + c.line(760, 120, 600, 130, 30), 0, 1), 82)
        _paint(img, c.line(1280, 80, 620, 116, 6), 150)
        # body, hind leg, foreleg
        _paint(img, c.ellipse(790, 520, 340, 215, -8), 128 + fur)
        _paint(img, c.ellipse(930, 700, 120, 130, 20), 118 + fur)
        _paint(img, c.ellipse(420, 640, 52, 130, 12), 132 + fur)
        # head, snout, ear, nose
        _paint(img, c.ellipse(390, 270, 200, 145, 22), 142 + fur)
        _paint(img, c.ellipse(225, 335, 95, 62, 32), 150 + fur)
        _paint(img, c.ellipse(540, 150, 72, 98, -15), 118 + fur)
        _paint(img, c.ellipse(545, 160, 44, 66, -15), 92 + fur * 0.5)
        _paint(img, c.ellipse(150, 368, 16, 14), 88)
        # the lick spout, reaching the mouth
        _paint(img, c.line(-20, 420, 150, 385, 18), 175)
        _paint(img, c.line(-20, 414, 150, 379, 4), 225)
        return img

    def _body_base(self, c, rng):
        gx, gy = c.map(320, 120)
        img = 36 + 40 * np.exp(-(((c.xx - gx) / (420 * c.s)) ** 2 + ((c.yy - gy) / (300 * c.s)) ** 2)) \
            + c.texture(rng, 4, 3)
        fur = c.texture(rng, 1.0, 14) + c.texture(rng, 4, 6)
        _paint(img, np.clip(c.line(140, 40, 500, 40, 70), 0, 1), 95 + 0.5 * c.texture(rng, 10, 4))  # the screen
        # the rig's posts, holding the head bar, with their screws
        for x in (118, 522):
            _paint(img, c.line(x, 60, x, 470, 26, soft=0.7), 120 + c.texture(rng, 2, 4))
            _paint(img, c.line(x - 13, 60, x - 13, 470, 3, soft=0.7), 190)
            for y in (150, 230, 310):
                _paint(img, c.ellipse(x, y, 6, 6, soft=0.7), 60)
        _paint(img, c.line(335, -10, 330, 92, 7), 170)  # the lick spout beyond the head
        _paint(img, c.ellipse(250, 330, 48, 70, 15), 120 + fur)  # hind legs
        _paint(img, c.ellipse(390, 330, 48, 70, -15), 120 + fur)
        _paint(img, c.ellipse(320, 255, 112, 140), 132 + fur)  # the back
        _paint(img, c.ellipse(320, 125, 74, 62), 138 + fur)  # head
        _paint(img, c.ellipse(252, 98, 30, 34, -20), 118 + fur)  # ears
        _paint(img, c.ellipse(388, 98, 30, 34, 20), 118 + fur)
        _paint(img, c.ellipse(320, 112, 36, 26), 205 + 0.3 * fur)  # the implant's cement
        _paint(img, c.line(118, 112, 522, 112, 12), 165)  # head bar
        _paint(img, c.line(322, 380, 326, 520, 13), 112 + fur)  # tail
        return img

    # -- what moves ---------------------------------------------------------------------
    def _lower(self, c, rng):
        """Side views: the wheel's tread and the paws on it (rows from the wheel's top)."""
        y0 = int(max(0, c.map(0, 700)[1]))
        self.lo = slice(y0, self.h)
        yy, xx = c.yy[self.lo], c.xx[self.lo]
        cx, cy = c.map(660, 1760)
        self.wheel_cover = np.clip((980 * c.s - np.hypot(xx - cx, yy - cy)) / 1.5 + 0.5, 0, 1)
        top = cy - 980 * c.s
        shade = np.clip(1.1 - (yy - top) / (260 * c.s) * 0.5, 0.45, 1.1)
        # irregular tread ridges along the rim, tiled so that it can slide by any amount
        self.px_per_rad = 60 * c.s * (-1 if c.mirror else 1)
        self.period = int(round(1200 * c.s))
        self.tread = _tread(rng, self.period, c.s, self.w)
        self.wheel_shade = (shade * 40).astype(np.float32)
        self.wheel_base = (shade * 85).astype(np.float32)
        # the paws: front (two, in anti-phase) and hind
        self.paw = [(360, 775, 0.0), (450, 780, np.pi), (900, 790, np.pi / 2)]
        self.paw_size = (34, 20)

    def _body_lower(self, c, rng):
        """Body view: the wheel's top seen from behind (ridges sliding up) and the hind paws."""
        self.lo = slice(int(c.map(0, 360)[1]), self.h)
        yy, xx = c.yy[self.lo], c.xx[self.lo]
        (mx, top), s = c.map(320, 398), c.s
        self.wheel_cover = np.clip((yy - top) / 1.5 + 0.5, 0, 1) * np.clip((300 * s - np.abs(xx - mx)) / 2 + 0.5, 0, 1)
        self.wheel_shade = (np.clip(1 - ((xx - mx) / (330 * s)) ** 2, 0.3, 1) * 40).astype(np.float32)
        self.wheel_base = (self.wheel_shade / 40 * 80).astype(np.float32)
        self.px_per_rad = 30.0 * s
        self.period = int(round(600 * s))
        self.tread = _tread(rng, self.period, c.s, self.h)
        self.paw = [(245, 402, 0.0), (395, 402, np.pi)]
        self.paw_size = (30, 16)

    def _face(self, c):
        """Side views: the region of the eye, whiskers and tongue, and its moving parts."""
        x0, y0 = c.map(-10 if not c.mirror else 470, 120)
        x1, y1 = c.map(470 if not c.mirror else -10, 520)
        self.face = (slice(int(max(y0, 0)), int(min(y1, self.h))), slice(int(max(x0, 0)), int(min(x1, self.w))))
        fy, fx = self.face
        sub = _Canvas.__new__(_Canvas)
        sub.__dict__.update(c.__dict__)
        sub.yy, sub.xx = c.yy[fy, fx], c.xx[fy, fx]
        self.eye = sub.ellipse(335, 222, 36, 29, 10)
        self.glint = sub.ellipse(322, 210, 6, 6)
        self.tongue = sub.ellipse(168, 398, 30, 13, -15)
        self._sub = sub
        self._whisker_cache, self._pupil_cache = {}, {}

    def _pupil(self, radius: float) -> np.ndarray:
        key = int(round(radius * 20))  # 5% steps
        if key not in self._pupil_cache:
            self._pupil_cache[key] = self._sub.ellipse(335, 222, 15 * key / 20, 15 * key / 20)
        return self._pupil_cache[key]

    def _whiskers(self, angle: float) -> np.ndarray:
        key = int(round(angle * 40))  # 1/40 rad steps
        if key not in self._whisker_cache:
            a0 = key / 40
            cover = np.zeros(self._sub.yy.shape, np.float32)
            for k, (base, length) in enumerate(zip(np.linspace(2.6, 3.7, 7), (230, 260, 250, 240, 220, 200, 170))):
                x0, y0 = 205 - 8 * k, 318 + 9 * k
                a = base + a0
                cover = np.maximum(cover, self._sub.line(x0, y0, x0 + length * np.cos(a), y0 + length * np.sin(a),
                                                         2.6, soft=0.8))
            self._whisker_cache[key] = cover
        return self._whisker_cache[key]

    def _paw_at(self, wheel, k: int):
        """Where paw ``k`` is drawn (reference-view coordinates) for wheel positions ``wheel``."""
        px, py, ph = self.paw[k]
        gait = np.asarray(wheel, dtype=np.float64) * 3.0
        dx = 22 * np.cos(gait + ph) * (0.3 if self.label == "body" else 1.0)  # from behind, a paw moves up and down
        lift = 14 * np.maximum(0.0, np.sin(gait + ph))
        return px + dx, py - lift

    def pose(self) -> dict[str, np.ndarray]:
        """What a pose estimator would find on every frame: ``{'<point>_x', '<point>_y', '<point>_likelihood'}``.

        IBL's DLC point names: on the side cameras the nose tip, the pupil's top,
        bottom, left and right edges, the tongue's end (likely only while it is out),
        the lick spout's tip and the front paws; on the body camera the tail's start
        and the hind paws. Pixel coordinates of this camera's frames.
        """
        b, c, n = self.b, self.c, len(self.b.wheel)
        points = {}

        def put(name, x, y, likely=None):
            mx, my = c.map(np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
            points[f"{name}_x"] = np.broadcast_to(mx, (n,)).astype(np.float64)
            points[f"{name}_y"] = np.broadcast_to(my, (n,)).astype(np.float64)
            points[f"{name}_likelihood"] = np.broadcast_to(0.99 if likely is None else likely, (n,)).astype(
                np.float64)

        if self.label == "body":
            put("tail_start", 322, 380)
            for k, name in enumerate(("paw_l", "paw_r")):
                put(name, *self._paw_at(b.wheel, k))
            return points
        r = 15 * np.asarray(b.pupil, dtype=np.float64)
        put("pupil_top_r", 335, 222 - r)
        put("pupil_bottom_r", 335, 222 + r)
        put("pupil_left_r", 335 - r, 222)
        put("pupil_right_r", 335 + r, 222)
        put("nose_tip", 138, 368)
        put("tongue_end_r", 140, 404, np.where(b.lick, 0.99, 0.02))
        put("tube_top", 150, 376)
        for k, name in enumerate(("paw_r", "paw_l")):
            put(name, *self._paw_at(b.wheel, k))
        return points

    def __call__(self, i: int) -> np.ndarray:
        """Frame ``i``, ``(height, width)`` uint8."""
        out = self.bg8[i % 8].copy()
        b = self.b
        # the wheel's tread slides with the wheel's position; the paws step with it
        shift = b.wheel[i] * self.px_per_rad
        o = int(np.floor(shift)) % self.period
        f = shift - np.floor(shift)
        n = self.w if self.label != "body" else self.h - self.lo.start
        tread = (1 - f) * self.tread[o:o + n] + f * self.tread[o + 1:o + 1 + n]
        tread = tread[None, :] if self.label != "body" else tread[:, None]
        lo = self.bg[i % 8][self.lo].copy()
        _paint(lo, self.wheel_cover, self.wheel_base + self.wheel_shade * tread)
        c = self.c
        for k in range(len(self.paw)):
            _paint_ellipse(lo, c, self.lo.start, *self._paw_at(b.wheel[i], k), *self.paw_size, 168)
        out[self.lo] = np.clip(lo, 0, 255)
        if self.label != "body":
            fy, fx = self.face
            face = self.bg[i % 8][fy, fx].copy()
            _paint(face, self._whiskers(float(b.whisk[i])), 185)
            _paint(face, self.eye, 22)
            _paint(face, self._pupil(float(b.pupil[i])), 6)
            _paint(face, self.glint, 245)
            if b.lick[i]:
                _paint(face, self.tongue, 172)
            out[fy, fx] = np.clip(face, 0, 255)
        return out


def _tread(rng, period: int, scale: float, n: int) -> np.ndarray:
    """Irregular ridges of a wheel's tread, one ``period`` tiled to slide over ``n`` pixels."""
    from scipy.ndimage import gaussian_filter1d

    width = max(2, int(round(6 * scale)))
    ridges = np.repeat(rng.uniform(-1, 1, period // width + 1), width)[:period]
    ridges = gaussian_filter1d(ridges, 1.5 * max(scale, 0.5), mode="wrap").astype(np.float32)
    return np.tile(ridges, int(np.ceil((n + 2) / period)) + 2)


def _paint_ellipse(region: np.ndarray, c: _Canvas, row0: int, cx, cy, rx, ry, value) -> None:
    """Paint an ellipse into ``region`` (the canvas' rows from ``row0``), in its bounding box only."""
    mx, my = c.map(cx, cy)
    rx, ry = rx * c.s, ry * c.s
    y0, y1 = int(max(my - ry - 3, row0)), int(min(my + ry + 4, c.h))
    x0, x1 = int(max(mx - rx - 3, 0)), int(min(mx + rx + 4, c.w))
    if y1 <= y0 or x1 <= x0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    d = np.sqrt(((xx - mx) / rx) ** 2 + ((yy - my) / ry) ** 2)
    _paint(region[y0 - row0:y1 - row0, x0:x1], np.clip((1 - d) * min(rx, ry) / 1.5 + 0.5, 0, 1), value)
