"""A tiny ray caster for scenes of planes, spheres, boxes and a jointed
person, returning exact per-pixel object ids, normals and depth."""
from dataclasses import dataclass, field
from typing import List, Tuple

import numpy as np


@dataclass
class Primitive:
    """One surface: its kind, parameters, object id and part name."""

    kind: str  # 'plane', 'sphere', 'box' or 'capsule'
    params: dict
    object_id: int
    part: str = ''


@dataclass
class Scene:
    """Primitives plus, per object id, its semantic class and label."""

    primitives: List[Primitive] = field(default_factory=list)
    objects: dict = field(default_factory=dict)  # id -> dict(...)


def _sphere(ro_dirs: np.ndarray, center: np.ndarray, radius: float
            ) -> Tuple[np.ndarray, np.ndarray]:
    b = ro_dirs @ center
    c = center @ center - radius**2
    h = b * b - c
    t = np.where(h >= 0, b - np.sqrt(np.maximum(h, 0)), np.inf)
    t = np.where(t > 1e-4, t, np.inf)
    pos = ro_dirs * np.where(np.isfinite(t), t, 0)[:, None]
    normal = (pos - center) / radius
    return t, normal


def _capsule(rd: np.ndarray, pa: np.ndarray, pb: np.ndarray, r: float
             ) -> Tuple[np.ndarray, np.ndarray]:
    ba = pb - pa
    oa = -pa
    baba = ba @ ba
    bard = rd @ ba
    baoa = ba @ oa
    rdoa = rd @ oa
    oaoa = oa @ oa
    a = baba - bard * bard
    b = baba * rdoa - baoa * bard
    c = baba * oaoa - baoa * baoa - r * r * baba
    h = b * b - a * c
    with np.errstate(invalid='ignore', divide='ignore'):
        t_body = (-b - np.sqrt(np.maximum(h, 0))) / a
    y = baoa + t_body * bard
    body = (h >= 0) & (y > 0) & (y < baba)
    t = np.where(body, t_body, np.inf)
    for end in (pa, pb):
        t_cap, _ = _sphere(rd, end, r)
        t = np.minimum(t, np.where(h >= 0, t_cap, np.inf))
    pos = rd * np.where(np.isfinite(t), t, 0)[:, None]
    k = np.clip(((pos - pa) @ ba) / baba, 0, 1)
    normal = (pos - pa - k[:, None] * ba) / r
    return t, normal


def _box(rd: np.ndarray, center: np.ndarray, half: np.ndarray, yaw: float
         ) -> Tuple[np.ndarray, np.ndarray]:
    c, s = np.cos(yaw), np.sin(yaw)
    rot = np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])  # world -> local
    d = rd @ rot.T
    o = -(rot @ center)
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / d
        t1 = (-half - o) * inv
        t2 = (half - o) * inv
    tmin = np.minimum(t1, t2)
    tmax = np.maximum(t1, t2)
    t_near = tmin.max(axis=1)
    t_far = tmax.min(axis=1)
    hit = (t_near <= t_far) & (t_near > 1e-4)
    t = np.where(hit, t_near, np.inf)
    axis = tmin.argmax(axis=1)
    local_n = np.zeros_like(d)
    rows = np.arange(len(d))
    local_n[rows, axis] = -np.sign(d[rows, axis])
    return t, local_n @ rot


def _plane(rd: np.ndarray, normal: np.ndarray, offset: float
           ) -> Tuple[np.ndarray, np.ndarray]:
    denom = rd @ normal
    with np.errstate(divide='ignore', invalid='ignore'):
        t = offset / denom
    t = np.where((denom < -1e-6) & (t > 1e-4), t, np.inf)
    return t, np.broadcast_to(normal, rd.shape)


_INTERSECT = dict(
    sphere=lambda rd, p: _sphere(rd, p['center'], p['radius']),
    capsule=lambda rd, p: _capsule(rd, p['a'], p['b'], p['radius']),
    box=lambda rd, p: _box(rd, p['center'], p['half'], p['yaw']),
    plane=lambda rd, p: _plane(rd, p['normal'], p['offset']),
)


def render(scene: Scene, height: int, width: int, focal: float
           ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Cast one ray per pixel from a pinhole camera at the origin.

    Camera axes: x right, y down, z forward.

    Returns:
        ``(primitive index map (H, W), normals (H, W, 3) facing the camera,
        z-depth (H, W), ray directions (H, W, 3))``; index -1 where nothing
        is hit.
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    rd = np.stack([(xs + 0.5 - width / 2) / focal,
                   (ys + 0.5 - height / 2) / focal,
                   np.ones_like(xs)], axis=-1).reshape(-1, 3)
    rd /= np.linalg.norm(rd, axis=1, keepdims=True)
    best_t = np.full(len(rd), np.inf)
    index = np.full(len(rd), -1)
    normals = np.zeros_like(rd)
    for i, prim in enumerate(scene.primitives):
        t, n = _INTERSECT[prim.kind](rd, prim.params)
        closer = t < best_t
        best_t[closer] = t[closer]
        index[closer] = i
        normals[closer] = n[closer]
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True),
                          1e-9)
    facing = np.sum(normals * rd, axis=1) > 0
    normals[facing] *= -1
    depth = np.where(np.isfinite(best_t), best_t * rd[:, 2], 0)
    return (index.reshape(height, width), normals.reshape(height, width, 3),
            depth.reshape(height, width), rd.reshape(height, width, 3))
