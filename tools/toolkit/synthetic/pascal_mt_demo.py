"""An embedded demo dataset in the exact PASCAL_MT layout.

Scenes of a floor, a back wall (with a poster), spheres, boxes and, in most
images, a jointed person are ray cast (:mod:`.scene_renderer`), so every
target is exact and the tasks are related: semantic classes (spheres are
``bottle``, boxes ``tvmonitor``, the person ``person``, walls and floor
``background``), person parts, saliency of the foreground objects,
normals from the geometry and PASCAL-Context-style label maps from which
the loader derives edges. Files are written in the formats of the real
archive: JPEG images, palette PNG labels, PASCAL-Part ``.mat`` files,
distilled saliency and normals PNGs and ``LabelMap`` ``.mat`` files.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import scipy.io as sio
from PIL import Image

from mmsquad.functional import voc_palette
from .scene_renderer import Primitive, Scene, render

# (VOC class, PASCAL-Context LabelMap id) of every kind of surface.
SURFACE_LABELS: Dict[str, tuple] = {
    'floor': (0, 158),
    'wall': (0, 427),
    'poster': (0, 2),  # a Context class outside the normals-valid set
    'sphere': (5, 105),
    'box': (20, 417),
    'person': (15, 284),
}
FOREGROUND = ('sphere', 'box', 'person')
PERSON_PARTS = ('head', 'torso', 'luarm', 'ruarm', 'llarm', 'rlarm',
                'luleg', 'ruleg', 'llleg', 'rlleg')
CAMERA_HEIGHT = 1.2


def _person(rng: np.random.Generator, obj_id: int) -> List[Primitive]:
    x0 = rng.uniform(-0.8, 0.8)
    z0 = rng.uniform(2.6, 3.6)
    s = rng.uniform(0.95, 1.15)
    floor = CAMERA_HEIGHT
    hip = np.array([x0, floor - 0.9 * s, z0])
    neck = np.array([x0, floor - 1.45 * s, z0])
    head = np.array([x0, floor - 1.62 * s, z0])

    def limb(start: np.ndarray, length: float, angle: float) -> np.ndarray:
        return start + length * np.array([np.sin(angle), np.cos(angle), 0])

    prims = [
        Primitive('sphere', dict(center=head, radius=0.13 * s), obj_id,
                  'head'),
        Primitive('capsule', dict(a=hip, b=neck, radius=0.16 * s), obj_id,
                  'torso'),
    ]
    for side, sign in (('l', -1), ('r', 1)):
        shoulder = neck + np.array([sign * 0.2 * s, 0.05 * s, 0])
        elbow = limb(shoulder, 0.3 * s, sign * rng.uniform(0.1, 1.2))
        hand = limb(elbow, 0.28 * s, sign * rng.uniform(-0.3, 1.6))
        hip_j = hip + np.array([sign * 0.1 * s, 0, 0])
        knee = limb(hip_j, 0.45 * s, sign * rng.uniform(0.0, 0.4))
        foot = limb(knee, 0.45 * s, sign * rng.uniform(-0.2, 0.2))
        foot[1] = min(foot[1], floor - 0.06 * s)
        prims += [
            Primitive('capsule', dict(a=shoulder, b=elbow, radius=0.06 * s),
                      obj_id, f'{side}uarm'),
            Primitive('capsule', dict(a=elbow, b=hand, radius=0.05 * s),
                      obj_id, f'{side}larm'),
            Primitive('capsule', dict(a=hip_j, b=knee, radius=0.08 * s),
                      obj_id, f'{side}uleg'),
            Primitive('capsule', dict(a=knee, b=foot, radius=0.065 * s),
                      obj_id, f'{side}lleg'),
        ]
    return prims


def random_scene(rng: np.random.Generator,
                 person_prob: float = 0.75) -> Scene:
    """Sample a scene: floor, wall with poster, 1-2 spheres, 1-2 boxes and
    a person with probability ``person_prob``."""
    scene = Scene()
    wall_z = rng.uniform(7.0, 9.0)

    def add(kind: str, params: dict, surface: str, part: str = '') -> int:
        obj_id = len(scene.objects)
        colour = rng.uniform(0.15, 1.0, size=3)
        scene.objects[obj_id] = dict(surface=surface, colour=colour)
        scene.primitives.append(Primitive(kind, params, obj_id, part))
        return obj_id

    add('plane', dict(normal=np.array([0., -1., 0.]),
                      offset=-CAMERA_HEIGHT), 'floor')
    add('plane', dict(normal=np.array([0., 0., -1.]), offset=-wall_z),
        'wall')
    add('box', dict(center=np.array([rng.uniform(-2, 2),
                                     rng.uniform(-1.5, -0.5), wall_z]),
                    half=np.array([rng.uniform(0.4, 0.9),
                                   rng.uniform(0.3, 0.6), 0.05]),
                    yaw=0.0), 'poster')
    for _ in range(rng.integers(1, 3)):
        r = rng.uniform(0.35, 0.65)
        add('sphere', dict(center=np.array([rng.uniform(-1.8, 1.8),
                                            CAMERA_HEIGHT - r,
                                            rng.uniform(2.8, 4.8)]),
                           radius=r), 'sphere')
    for _ in range(rng.integers(1, 3)):
        half = rng.uniform(0.3, 0.6, size=3)
        add('box', dict(center=np.array([rng.uniform(-1.8, 1.8),
                                         CAMERA_HEIGHT - half[1],
                                         rng.uniform(2.8, 4.8)]),
                        half=half, yaw=rng.uniform(0, np.pi / 2)), 'box')
    if rng.random() < person_prob:
        obj_id = len(scene.objects)
        scene.objects[obj_id] = dict(
            surface='person', colour=rng.uniform(0.2, 0.9, size=3))
        scene.primitives += _person(rng, obj_id)
    return scene


def render_sample(scene: Scene, size: Union[int, Tuple[int, int]],
                  rng: np.random.Generator) -> dict:
    """Render the image and every exact target of a scene, ``size`` pixels
    square or ``(height, width)``."""
    height, width = (size, size) if isinstance(size, int) else size
    index, normals, depth, _ = render(scene, height, width,
                                      focal=min(height, width) * 0.9)
    obj = np.array([p.object_id for p in scene.primitives])[index]
    surface_of = np.array([scene.objects[o]['surface']
                           for o in range(len(scene.objects))])
    surfaces = surface_of[obj]
    semseg = np.zeros(obj.shape, np.uint8)
    label_map = np.zeros(obj.shape, np.uint16)
    for name, (voc, context) in SURFACE_LABELS.items():
        semseg[surfaces == name] = voc
        label_map[surfaces == name] = context
    saliency = np.isin(surfaces, FOREGROUND).astype(np.uint8) * 255

    light = rng.normal(size=3)
    light[1] = -abs(light[1]) - 0.5  # from above
    light[2] = -abs(light[2])  # from the camera side
    light /= np.linalg.norm(light)
    colours = np.stack([scene.objects[o]['colour']
                        for o in range(len(scene.objects))])
    albedo = colours[obj]
    shade = 0.35 + 0.65 * np.clip((normals * -light).sum(-1), 0, 1)
    checker = ((np.indices(obj.shape).sum(0) // 6) % 2) * 0.08
    flat = np.isin(surfaces, ('floor', 'wall'))
    img = albedo * shade[..., None] + np.where(flat, checker, 0)[..., None]
    img += rng.normal(scale=0.02, size=img.shape)
    img = (np.clip(img, 0, 1) * 255).astype(np.uint8)

    part_masks = {}
    for i, prim in enumerate(scene.primitives):
        if prim.part:
            part_masks[prim.part] = part_masks.get(prim.part, False) | (
                index == i)
    return dict(img=img, semseg=semseg, label_map=label_map,
                saliency=saliency, normals=normals, depth=depth,
                part_masks=part_masks, objects=obj, scene=scene)


def _parts_mat(sample: dict, img_id: str) -> dict:
    """A PASCAL-Part ``anno`` struct for the rendered objects."""
    scene, obj = sample['scene'], sample['objects']
    dtype = [('class', 'O'), ('class_ind', 'O'), ('mask', 'O'),
             ('parts', 'O')]
    entries = []
    for obj_id, info in scene.objects.items():
        voc = SURFACE_LABELS[info['surface']][0]
        mask = (obj == obj_id).astype(np.uint8)
        if voc == 0 or not mask.any():
            continue
        parts = np.zeros((0, 0))
        if info['surface'] == 'person':
            names = [n for n in PERSON_PARTS
                     if np.any(sample['part_masks'].get(n, False))]
            parts = np.zeros((1, len(names)),
                             dtype=[('part_name', 'O'), ('mask', 'O')])
            for j, name in enumerate(names):
                parts[0, j] = (name, sample['part_masks'][name].astype(
                    np.uint8))
        entries.append((info['surface'], np.array([[voc]], np.uint8), mask,
                        parts))
    objects = np.zeros((1, len(entries)), dtype=dtype)
    for j, entry in enumerate(entries):
        objects[0, j] = entry
    return dict(anno=dict(imname=img_id, objects=objects))


def write_sample(root: str, img_id: str, sample: dict) -> None:
    """Write one rendered sample in the PASCAL_MT formats."""
    cv2.imwrite(osp.join(root, 'JPEGImages', f'{img_id}.jpg'),
                sample['img'][..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
    label = Image.fromarray(sample['semseg'], mode='P')
    label.putpalette(voc_palette())
    label.save(osp.join(root, 'semseg', 'VOC12', f'{img_id}.png'))
    cv2.imwrite(osp.join(root, 'sal_distill', f'{img_id}.png'),
                sample['saliency'])
    normals_png = np.round((sample['normals'] + 1) / 2 * 255).astype(
        np.uint8)
    cv2.imwrite(osp.join(root, 'normals_distill', f'{img_id}.png'),
                normals_png[..., ::-1])
    sio.savemat(osp.join(root, 'human_parts', f'{img_id}.mat'),
                _parts_mat(sample, img_id))
    sio.savemat(osp.join(root, 'pascal-context', 'trainval', f'{img_id}.mat'),
                dict(LabelMap=sample['label_map']))


def make_pascal_mt_demo(root: str, num_train: int = 200, num_val: int = 50,
                        size: Union[int, Sequence[Tuple[int, int]]] = 96,
                        seed: int = 0,
                        person_prob: Optional[float] = 0.75) -> None:
    """Render and write a PASCAL_MT-layout demo dataset under ``root``.

    ``size`` is the side of every (square) image, or a list of
    ``(height, width)`` that the images of each split take in turn.
    """
    sizes = [size] if isinstance(size, int) else list(size)
    for sub in ('JPEGImages', 'ImageSets/Context', 'semseg/VOC12',
                'sal_distill', 'normals_distill', 'human_parts',
                'pascal-context/trainval'):
        os.makedirs(osp.join(root, sub), exist_ok=True)
    rng = np.random.default_rng(seed)
    for split, count in (('train', num_train), ('val', num_val)):
        ids = [f'demo_{split}_{i:05d}' for i in range(count)]
        for i, img_id in enumerate(ids):
            scene = random_scene(rng, person_prob)
            write_sample(root, img_id,
                         render_sample(scene, sizes[i % len(sizes)], rng))
        with open(osp.join(root, 'ImageSets', 'Context', f'{split}.txt'),
                  'w') as f:
            f.write('\n'.join(ids) + '\n')
