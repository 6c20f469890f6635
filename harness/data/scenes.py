"""The lecture's self-driving scenes: small colour road images, one task per object type.

Each image is a road under a sky (horizon height, colours and lane markings jittered)
in which every object type appears independently with its frequency (data.frequency,
or data.frequencies per type). Task k asks "is there an object of type k in the
picture?". The first four types are the lecture's pedestrian, car, stop sign and
traffic light; types 4, 5, ... (data.tasks > 4) are procedurally generated from the
same strokes (bars, disks, rings, octagons, triangles, poles) and the same palette,
so that all tasks share low-level features. A type's look is fixed by its index alone,
so `shape7` is the same object in every seed and at every task count.

Objects stand on the ground: position, size (larger when lower in the picture, i.e.
nearer) and colours are jittered per instance, and nearer objects hide farther ones
(a z-buffer), as in a photograph; an occluded object keeps its label. Pixel noise of
standard deviation data.noise is added and values are clipped to [0, 1].

Every random quantity is drawn for every (image, type) whether or not the object is
present, and presence is `uniform < frequency`, so sweeping frequencies keeps the same
backgrounds and placements: sweep points are paired.
"""

from __future__ import annotations

import numpy as np

from harness.config import DataConfig
from harness.data.base import Dataset, label_mask
from harness.data.suite import Suite, generated_size

LECTURE_OBJECTS = ("pedestrian", "car", "stop_sign", "traffic_light")

PALETTE = np.array(
    [
        [0.85, 0.1, 0.1],  # red
        [0.1, 0.65, 0.2],  # green
        [0.15, 0.3, 0.85],  # blue
        [0.95, 0.85, 0.1],  # yellow
        [0.95, 0.95, 0.95],  # white
        [0.08, 0.08, 0.08],  # black
        [0.95, 0.55, 0.1],  # orange
        [0.6, 0.2, 0.7],  # purple
    ],
    dtype=np.float32,
)
SKIN, PANTS, POLE, GLASS = (0.9, 0.7, 0.55), (0.15, 0.15, 0.35), (0.5, 0.5, 0.5), (0.35, 0.45, 0.55)

# A part is (stroke, dx, dy, a, b, colour): centre offset from the object's foot in units
# of its height (dy < 0 is up), half-extents a, b (b only for bars), and a colour, either
# RGB or "shirt"/"body" (a palette colour drawn per instance).
Part = tuple[str, float, float, float, float, object]

SHAPES: dict[str, list[Part]] = {
    "pedestrian": [
        ("bar", -0.06, -0.2, 0.035, 0.2, PANTS),
        ("bar", 0.06, -0.2, 0.035, 0.2, PANTS),
        ("bar", 0.0, -0.55, 0.11, 0.17, "shirt"),
        ("disk", 0.0, -0.82, 0.1, 0.0, SKIN),
    ],
    "car": [
        ("bar", 0.0, -0.33, 0.22, 0.09, GLASS),
        ("bar", 0.0, -0.17, 0.42, 0.1, "body"),
        ("disk", -0.25, -0.07, 0.08, 0.0, PALETTE[5]),
        ("disk", 0.25, -0.07, 0.08, 0.0, PALETTE[5]),
    ],
    "stop_sign": [
        ("bar", 0.0, -0.3, 0.025, 0.3, POLE),
        ("octagon", 0.0, -0.75, 0.18, 0.0, PALETTE[0]),
        ("bar", 0.0, -0.75, 0.12, 0.035, PALETTE[4]),
    ],
    "traffic_light": [
        ("bar", 0.0, -0.25, 0.025, 0.25, POLE),
        ("bar", 0.0, -0.7, 0.09, 0.22, PALETTE[5]),
        ("disk", 0.0, -0.85, 0.055, 0.0, "lamp0"),
        ("disk", 0.0, -0.7, 0.055, 0.0, "lamp1"),
        ("disk", 0.0, -0.55, 0.055, 0.0, "lamp2"),
    ],
}
LAMPS = np.array([PALETTE[0], PALETTE[6], PALETTE[1]])
STROKES = ("bar", "disk", "ring", "octagon", "triangle")


def task_names(tasks: int) -> list[str]:
    return [LECTURE_OBJECTS[k] if k < len(LECTURE_OBJECTS) else f"shape{k}" for k in range(tasks)]


def shape(k: int) -> list[Part]:
    """The parts of object type k: the lecture's four, then generated ones."""
    if k < len(LECTURE_OBJECTS):
        return SHAPES[LECTURE_OBJECTS[k]]
    rng = np.random.default_rng([0x5CE7E5, k])  # fixed per type: independent of seed and task count
    parts: list[Part] = []
    if rng.random() < 0.5:  # on a pole, like signs and lights
        parts.append(("bar", 0.0, -0.3, 0.025, 0.3, POLE))
    for _ in range(rng.integers(2, 4, endpoint=True)):
        stroke = STROKES[rng.integers(len(STROKES))]
        parts.append(
            (
                stroke,
                rng.uniform(-0.25, 0.25),
                rng.uniform(-0.85, -0.15),
                rng.uniform(0.06, 0.22),
                rng.uniform(0.03, 0.2),
                PALETTE[rng.integers(len(PALETTE))],
            )
        )
    return parts


def _stroke(kind: str, du: np.ndarray, dv: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pixels inside a stroke, from offsets to its centre; all arrays broadcast to [n, H, W]."""
    if kind == "bar":
        return (np.abs(du) <= a) & (np.abs(dv) <= b)
    r2 = du**2 + dv**2
    if kind == "disk":
        return r2 <= a**2
    if kind == "ring":
        return (r2 <= a**2) & (r2 >= (0.55 * a) ** 2)
    if kind == "octagon":
        return (np.abs(du) <= a) & (np.abs(dv) <= a) & (np.abs(du) + np.abs(dv) <= np.sqrt(2.0) * a)
    if kind == "triangle":  # pointing up
        return (np.abs(dv) <= a) & (np.abs(du) <= (dv + a) / 2)
    raise ValueError(f"unknown stroke {kind!r}")


def _background(rng: np.random.Generator, n: int, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sky, grass verges, road and a dashed centre line; returns images [n, H, W, 3] and horizons [n]."""
    horizon = rng.uniform(0.3, 0.5, n)[:, None, None]
    sky = np.array([0.55, 0.75, 0.95]) + rng.normal(0, 0.05, (n, 1, 1, 3))
    grass = np.array([0.3, 0.55, 0.25]) + rng.normal(0, 0.05, (n, 1, 1, 3))
    road = rng.uniform(0.3, 0.45, (n, 1, 1, 1)) + rng.normal(0, 0.02, (n, 1, 1, 3))
    near = np.clip((v - horizon) / (1.0 - horizon), 0.0, 1.0)  # 0 at the horizon, 1 at the bottom
    on_road = np.abs(u - 0.5) <= 0.05 + 0.45 * near
    line = (np.abs(u - 0.5) <= 0.01 + 0.02 * near) & (np.sin(12.0 * np.log1p(8.0 * near)) > 0)
    below = (v >= horizon)[..., None]
    image = np.where(below, np.where(on_road[..., None], road, grass), sky)
    image = np.where((below[..., 0] & line)[..., None], np.array([0.95, 0.9, 0.6]), image)
    return image, horizon[:, 0, 0]


def render(present: np.ndarray, image_size: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Scenes [n, S, S, 3] float32 in which object type k is drawn where present[:, k]."""
    n, tasks = present.shape
    size = image_size
    centres = (np.arange(size) + 0.5) / size
    u, v = centres[None, None, :], centres[None, :, None]
    image, horizon = _background(rng, n, u, v)
    depth = np.full((n, size, size), -np.inf)
    # Placement and jitter for every (image, type), present or not (see module docstring).
    across = rng.uniform(0.08, 0.92, (n, tasks))
    ground = horizon[:, None] + rng.uniform(0.12, 1.0, (n, tasks)) * (0.99 - horizon[:, None])
    nearness = (ground - horizon[:, None]) / (1.0 - horizon[:, None])
    height = 0.42 * rng.uniform(0.8, 1.2, (n, tasks)) * (0.6 + 0.5 * nearness)
    tint = rng.normal(0.0, 0.06, (n, tasks, 3))
    pick = rng.integers(len(PALETTE), size=(n, tasks))
    lit = rng.integers(3, size=(n, tasks))
    min_half = 0.55 / size  # every stroke covers at least one pixel centre
    for k in range(tasks):
        idx = np.flatnonzero(present[:, k])
        if idx.size == 0:
            continue
        cu, cv, h = (a[idx, k][:, None, None] for a in (across, ground, height))
        z = ground[idx, k][:, None, None]
        sub, zbuf = image[idx], depth[idx]
        for stroke, dx, dy, a, b, colour in shape(k):
            if isinstance(colour, str) and colour.startswith("lamp"):
                lamp = int(colour[-1])
                rgb = LAMPS[lamp] * np.where(lit[idx, k] == lamp, 1.0, 0.3)[:, None]
            elif isinstance(colour, str):  # "shirt" / "body": a palette colour per instance
                rgb = PALETTE[pick[idx, k]]
            else:
                rgb = np.broadcast_to(np.asarray(colour), (idx.size, 3))
            rgb = np.clip(rgb + tint[idx, k], 0.0, 1.0)
            half_a = np.maximum(a * h, min_half)
            half_b = np.maximum(b * h, min_half)
            inside = _stroke(stroke, u - (cu + dx * h), v - (cv + dy * h), half_a, half_b) & (z >= zbuf)
            sub = np.where(inside[..., None], rgb[:, None, None, :], sub)
            zbuf = np.where(inside, z, zbuf)
        image[idx], depth[idx] = sub, zbuf
    image = image * rng.uniform(0.85, 1.15, (n, 1, 1, 1)) + noise * rng.standard_normal(image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def frequencies(cfg: DataConfig) -> np.ndarray:
    if cfg.frequencies is not None:
        return np.asarray(cfg.frequencies, dtype=np.float64)
    return np.full(cfg.tasks, cfg.frequency)


def make(cfg: DataConfig, seed: int) -> Dataset:
    freq = frequencies(cfg)

    def split(n: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([seed, stream])
        present = rng.random((n, cfg.tasks)) < freq
        return render(present, cfg.image_size, cfg.noise, rng), present.astype(np.float32)

    x_train, y_train = split(cfg.pool, 0)
    x_val, y_val = split(cfg.n_val, 1)
    x_test, y_test = split(cfg.n_test, 2)
    mask = label_mask(cfg, np.random.default_rng([seed, 3]))
    return Dataset(x_train, y_train, mask, x_val, y_val, x_test, y_test)


SUITE = Suite(
    make=make,
    task_names=lambda d: task_names(d.tasks),
    size=lambda d: generated_size(d, 3 * d.image_size**2, f"data.image_size={d.image_size}"),
    title="driving scenes",
    images=True,
)
