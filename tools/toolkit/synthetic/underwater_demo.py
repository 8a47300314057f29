"""The embedded underwater demo: clean seabed scenes with the four DUO
classes, degraded by the underwater image-formation model.

Each clean scene ``J`` is drawn on a sandy seabed seen at an oblique angle,
so the distance ``d`` to the camera grows towards the top of the image. The
camera image is ``I_c = J_c t_c + B_c (1 - t_c)`` with transmission
``t_c = exp(-beta_c d)`` per colour channel (red attenuates fastest) and
veiling light ``B_c`` (backscatter). The degraded ``I`` is the input, ``J``
its enhancement reference. Layout (DUO style, plus references)::

    <out>/images/{train,test}/<name>.jpg      degraded inputs
    <out>/reference/{train,test}/<name>.jpg   clean references
    <out>/semantic/{train,test}/<name>.png    class index of every object
                                              pixel, 255 elsewhere (mmdet's
                                              semantic maps: HTC, SCNet)
    <out>/annotations/instances_{train,test}.json
    <out>/proposals/{train,test}.pkl          mmdet's precomputed proposals
                                              (Fast R-CNN's ``proposal_file``):
                                              jittered object boxes and
                                              random ones, keyed
                                              ``<split>/<name>``
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import mmengine
import numpy as np

from mmsquad.datasets.underwater_mt import DUO_CLASSES


def _seabed(rng: np.random.Generator, size: int) -> np.ndarray:
    """Sand (RGB, float in [0, 1]) with ripples, grain and a few stones."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    base = np.array(rng.uniform([0.70, 0.62, 0.45], [0.85, 0.76, 0.58]),
                    np.float32)
    phase = rng.uniform(0, 2 * np.pi)
    ripples = 0.04 * np.sin(xs * rng.uniform(0.15, 0.3) + ys * 0.05 + phase)
    grain = cv2.GaussianBlur(rng.normal(0, 0.05, (size, size)).astype(
        np.float32), (0, 0), 1.2)
    bed = base[None, None] * (1 + ripples + grain)[..., None]
    for _ in range(rng.integers(1, 4)):
        center = tuple(int(v) for v in rng.integers(0, size, 2))
        axes = tuple(int(v) for v in rng.integers(4, 12, 2))
        gray = float(rng.uniform(0.35, 0.55))
        cv2.ellipse(bed, center, axes, float(rng.uniform(0, 180)), 0, 360,
                    (gray, gray, gray * 0.95), -1, cv2.LINE_AA)
    return bed


def _holothurian(canvas, mask, rng, cx, cy, r):
    angle = float(rng.uniform(0, 180))
    axes = (int(r), max(3, int(r * rng.uniform(0.3, 0.4))))
    color = tuple(float(v) for v in rng.uniform([0.22, 0.15, 0.10],
                                                [0.32, 0.22, 0.15]))
    for target, value in ((canvas, color), (mask, 1)):
        cv2.ellipse(target, (cx, cy), axes, angle, 0, 360, value, -1,
                    cv2.LINE_AA if target is canvas else cv2.LINE_8)
    theta = np.deg2rad(angle)
    for k in np.linspace(-0.8, 0.8, 6):  # papillae along the body
        px = int(cx + k * axes[0] * np.cos(theta))
        py = int(cy + k * axes[0] * np.sin(theta))
        cv2.circle(canvas, (px, py), max(1, axes[1] // 3),
                   (0.45, 0.36, 0.28), -1, cv2.LINE_AA)


def _echinus(canvas, mask, rng, cx, cy, r):
    body = int(r * 0.6)
    color = tuple(float(v) for v in rng.uniform([0.18, 0.08, 0.20],
                                                [0.28, 0.14, 0.30]))
    for k in range(24):  # spines
        theta = 2 * np.pi * k / 24 + rng.uniform(-0.1, 0.1)
        end = (int(cx + r * np.cos(theta)), int(cy + r * np.sin(theta)))
        cv2.line(canvas, (cx, cy), end, color, 1, cv2.LINE_AA)
        cv2.line(mask, (cx, cy), end, 1, 1)
    cv2.circle(canvas, (cx, cy), body, color, -1, cv2.LINE_AA)
    cv2.circle(mask, (cx, cy), body, 1, -1)


def _scallop(canvas, mask, rng, cx, cy, r):
    angle = float(rng.uniform(-30, 30))
    color = tuple(float(v) for v in rng.uniform([0.88, 0.72, 0.55],
                                                [0.96, 0.82, 0.65]))
    for target, value in ((canvas, color), (mask, 1)):
        cv2.ellipse(target, (cx, cy + r // 2), (r, r), angle - 90, -75, 75,
                    value, -1)
        cv2.rectangle(target, (cx - r // 4, cy + r // 2 - 2),
                      (cx + r // 4, cy + r // 2 + r // 5), value, -1)
    for k in np.linspace(-65, 65, 7):  # ribs
        theta = np.deg2rad(angle - 90 + k)
        end = (int(cx + r * 0.95 * np.cos(theta)),
               int(cy + r // 2 + r * 0.95 * np.sin(theta)))
        cv2.line(canvas, (cx, cy + r // 2), end, (0.6, 0.45, 0.32), 1,
                 cv2.LINE_AA)


def _starfish(canvas, mask, rng, cx, cy, r):
    rotation = rng.uniform(0, 2 * np.pi)
    points = []
    for k in range(10):
        radius = r if k % 2 == 0 else r * 0.38
        theta = rotation + np.pi * k / 5
        points.append((cx + radius * np.cos(theta),
                       cy + radius * np.sin(theta)))
    polygon = np.round(np.array(points)).astype(np.int32)
    color = tuple(float(v) for v in rng.uniform([0.85, 0.35, 0.12],
                                                [0.95, 0.50, 0.22]))
    cv2.fillPoly(canvas, [polygon], color, cv2.LINE_AA)
    cv2.fillPoly(mask, [polygon], 1)


_DRAW = dict(holothurian=_holothurian, echinus=_echinus, scallop=_scallop,
             starfish=_starfish)


def render_clean_scene(rng: np.random.Generator, size: int
                       ) -> Tuple[np.ndarray, List[Tuple[int, list]]]:
    """A clean RGB scene in [0, 1] and its ``(class index, xywh box,
    polygons)``, each box the tight box of the object's pixels."""
    canvas = _seabed(rng, size)
    objects = []
    taken = np.zeros((size, size), bool)
    for _ in range(int(rng.integers(1, 5))):
        label = int(rng.integers(len(DUO_CLASSES)))
        r = int(rng.uniform(0.09, 0.17) * size)
        for _attempt in range(20):
            cx, cy = (int(v) for v in rng.integers(r + 2, size - r - 2, 2))
            if not taken[cy - r:cy + r, cx - r:cx + r].any():
                break
        else:
            continue
        mask = np.zeros((size, size), np.uint8)
        _DRAW[DUO_CLASSES[label]](canvas, mask, rng, cx, cy, r)
        ys, xs = np.nonzero(mask)
        if len(xs) == 0:
            continue
        taken[cy - r:cy + r, cx - r:cx + r] = True
        x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        objects.append((label, [float(x0), float(y0), float(x1 - x0),
                                float(y1 - y0)], _polygons(mask)))
    return np.clip(canvas, 0, 1), objects


def _polygons(mask: np.ndarray) -> List[List[float]]:
    """The outlines of a 0/1 mask as COCO polygons (``[x, y, ...]``, at
    least 3 points each)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    return [c.reshape(-1).astype(float).tolist() for c in contours
            if len(c) >= 3]


def degrade(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Apply the underwater image-formation model to an RGB image in
    [0, 1]: distance grows from the bottom row (near) to the top (far)."""
    size = clean.shape[0]
    near, far = rng.uniform(1.0, 2.0), rng.uniform(4.0, 7.0)
    distance = np.linspace(far, near, size, dtype=np.float32)[:, None, None]
    beta = rng.uniform([0.30, 0.06, 0.04], [0.55, 0.14, 0.10])
    veil = rng.uniform([0.02, 0.30, 0.35], [0.10, 0.50, 0.60])
    transmission = np.exp(-beta[None, None] * distance)
    degraded = clean * transmission + veil[None, None] * (1 - transmission)
    degraded += rng.normal(0, 0.01, degraded.shape)
    return np.clip(degraded, 0, 1).astype(np.float32)


def _semantic_map(objects: List[Tuple[int, list, list]],
                  size: int) -> np.ndarray:
    """The class index of every pixel inside an object's polygons, 255
    (ignored) elsewhere."""
    semantic = np.full((size, size), 255, np.uint8)
    for label, _, polygons in objects:
        cv2.fillPoly(semantic, [np.round(np.reshape(p, (-1, 2))).astype(
            np.int32) for p in polygons], label)
    return semantic


def _proposals(objects: List[Tuple[int, list, list]], size: int,
               rng: np.random.Generator, num_random: int = 8) -> dict:
    """mmdet's proposals of one image: each object's box jittered, and
    ``num_random`` boxes anywhere, with scores in [0, 1]."""
    boxes = [[x, y, x + w, y + h] for _, (x, y, w, h), _ in objects]
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    boxes = boxes + rng.normal(0, 0.05 * size, boxes.shape)
    corners = np.sort(rng.uniform(0, size, (num_random, 2, 2)), axis=1)
    boxes = np.concatenate([boxes, corners.transpose(0, 2, 1).reshape(
        num_random, 4)[:, [0, 2, 1, 3]]])
    boxes = np.clip(np.concatenate([
        np.minimum(boxes[:, :2], boxes[:, 2:]),
        np.maximum(boxes[:, :2], boxes[:, 2:])], axis=1), 0, size)
    boxes = boxes.astype(np.float32)
    return dict(bboxes=boxes, scores=rng.uniform(0, 1, len(boxes)).astype(
        np.float32))


def _write_rgb(path: str, image: np.ndarray) -> None:
    bgr = np.round(image[..., ::-1] * 255).astype(np.uint8)
    cv2.imwrite(path, bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])


def make_underwater_demo(out: str, num_train: int, num_test: int,
                         size: int, seed: int) -> Dict[str, int]:
    """Render the demo into ``out``; returns images per split."""
    rng = np.random.default_rng(seed)
    # Its own generator: the images stay those of earlier versions.
    proposal_rng = np.random.default_rng([seed, 1])
    categories = [dict(id=i + 1, name=name)
                  for i, name in enumerate(DUO_CLASSES)]
    counts = {}
    for split, num in (('train', num_train), ('test', num_test)):
        for sub in ('images', 'reference', 'semantic'):
            os.makedirs(osp.join(out, sub, split), exist_ok=True)
        images, annotations, proposals = [], [], {}
        for i in range(num):
            name = f'{split}_{i:05d}.jpg'
            clean, objects = render_clean_scene(rng, size)
            proposals[f'{split}/{name}'] = _proposals(objects, size,
                                                      proposal_rng)
            _write_rgb(osp.join(out, 'reference', split, name), clean)
            _write_rgb(osp.join(out, 'images', split, name),
                       degrade(clean, rng))
            images.append(dict(id=i + 1, file_name=name, width=size,
                               height=size))
            cv2.imwrite(osp.join(out, 'semantic', split,
                                 osp.splitext(name)[0] + '.png'),
                        _semantic_map(objects, size))
            for label, box, polygons in objects:
                annotations.append(dict(
                    id=len(annotations) + 1, image_id=i + 1,
                    category_id=label + 1, bbox=box, area=box[2] * box[3],
                    segmentation=polygons, iscrowd=0))
        os.makedirs(osp.join(out, 'annotations'), exist_ok=True)
        with open(osp.join(out, 'annotations', f'instances_{split}.json'),
                  'w') as f:
            json.dump(dict(images=images, annotations=annotations,
                           categories=categories), f)
        mmengine.dump(proposals, osp.join(out, 'proposals', f'{split}.pkl'))
        counts[split] = num
    return counts
