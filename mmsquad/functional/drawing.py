"""Drawing primitives: the VOC palette, heat maps and boxes on an image."""
from typing import List, Sequence

import cv2
import numpy as np


def voc_palette() -> List[int]:
    """The PASCAL VOC colour palette (flat, 768 values)."""
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


PALETTE = np.array(voc_palette(), dtype=np.uint8).reshape(256, 3)


def heat_map(values: np.ndarray, valid: np.ndarray, colormap: int,
             lo: float, hi: float) -> np.ndarray:
    """An (H, W, 3) RGB picture of ``values`` scaled from ``[lo, hi]``
    through an OpenCV colour map; pixels not ``valid`` are black."""
    scaled = np.clip((values - lo) / max(hi - lo, 1e-6), 0, 1)
    rgb = cv2.applyColorMap((scaled * 255).astype(np.uint8),
                            colormap)[..., ::-1]
    return np.where(valid[..., None], rgb, 0).astype(np.uint8)


def grey_levels(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """An (H, W, 3) grey picture of values in [0, 1]; invalid pixels black."""
    grey = (np.clip(values, 0, 1) * 255 * valid).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


def draw_boxes(image: np.ndarray, instances, classes: Sequence[str] = (),
               score_thr: float = 0.3) -> np.ndarray:
    """A copy of an RGB ``image`` with mmdet ``instances`` drawn: boxes
    (x1, y1, x2, y2) with class names and, for predictions, scores;
    predictions below ``score_thr`` are left out."""
    canvas = np.ascontiguousarray(image).copy()
    bboxes = instances.bboxes
    bboxes = (bboxes.tensor if hasattr(bboxes, 'tensor') else
              bboxes).detach().cpu().numpy()
    labels = instances.labels.cpu().numpy()
    scores = instances.scores.cpu().numpy() if 'scores' in instances \
        else np.ones(len(labels))
    thickness = max(1, round(max(image.shape[:2]) / 200))
    for box, label, score in zip(bboxes, labels, scores):
        if score < score_thr:
            continue
        color = tuple(int(c) for c in PALETTE[int(label) % 255 + 1])
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, thickness)
        name = classes[label] if label < len(classes) else str(label)
        text = name if 'scores' not in instances else f'{name} {score:.2f}'
        cv2.putText(canvas, text, (x1, max(y1 - 2, 8)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.3 * thickness, color,
                    thickness, cv2.LINE_AA)
    return canvas
