"""Speed of the training data pipelines, on one core and with workers.

Generates PASCAL_MT-format (375x500 images, the published files: JPEG,
palette PNGs, .mat parts and LabelMaps, normals PNGs) and NYUD_MT-format
(480x640) trees, then times the shipped training pipelines
(``configs/_base_/datasets/pascal_context_mt.py``: flip, scale+rotate,
resize to 512x512; ``nyud_mt.py``) sample by sample on one core (OpenCV
and torch single-threaded), interleaved with a floor measured in the same
rounds: decoding the image and its annotations and one plain warp per
target (a resize to the output size, no validity handling), the
published code's pipeline (``toolkit/published_pipeline.py``: PIL
decoding, float32 arrays, the same warps per target) and the
pipeline with bilinear instead of bicubic warps (an option, not the
protocol). The cost of the protocol's two bicubic warps of an image
(rotation+zoom, then resize) is compared with one composed warp. The
DataLoader rate with 1 and 2 workers follows (batches of 6, mmengine's
collate).

The last line is ``pipeline_samples_per_s=<x> pipeline_floor_ratio=<r>
pipeline_published_ratio=<p> nyud_samples_per_s=<y> loader_1_worker=<a>
loader_2_workers=<b>``: the PASCAL-Context rate, its ratio to the floor's
rate (1 = as fast as the floor) and to the published pipeline's (2 =
twice as fast), the NYUD rate and the loaders' samples per second.
"""
import argparse
import os.path as osp
import sys
import tempfile
import time
from typing import Callable, List, Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from torch.utils.data import DataLoader, RandomSampler

from mmsquad.registry import DATASETS, TRANSFORMS
from mmsquad.utils import register_all_modules

# tools/ holds the toolkit package the tools share.
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from toolkit.synthetic import make_pascal_mt_demo  # noqa: E402
from toolkit.synthetic.dataset_layouts import make_nyud_mt  # noqa: E402
from toolkit import published_pipeline  # noqa: E402
from toolkit.timing import median_times  # noqa: E402

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PASCAL = osp.join(ROOT, 'configs', '_base_', 'datasets',
                  'pascal_context_mt.py')
NYUD = osp.join(ROOT, 'configs', '_base_', 'datasets', 'nyud_mt.py')
#: The loading steps of a pipeline (what the floor keeps of it).
LOADERS = ('LoadImageFromFile', 'LoadMultiTaskAnnotations')


def protocol_dataset(config: str, data_root: str,
                     interpolation: Optional[str] = None):
    """The training dataset of a shipped dataset config on ``data_root``
    (its smooth warps with ``interpolation`` where given)."""
    cfg = Config.fromfile(config)
    dataset = cfg.train_dataloader.dataset
    if interpolation:
        dataset.pipeline = [
            dict(t, interpolation=interpolation) if 'interpolation' in t
            else t for t in dataset.pipeline]
    return DATASETS.build(dict(dataset, data_root=data_root))


def warp_choices(image: np.ndarray, size, rounds: int) -> dict:
    """Milliseconds of OpenCV's bicubic warps of ``image`` as the protocol
    runs them (a rotation+zoom on the original canvas, then a resize to
    ``size``), as one composed warp to ``size``, and of the bilinear
    rotation+zoom."""
    h, w = image.shape[:2]
    rotate = cv2.getRotationMatrix2D((w / 2, h / 2), 10, 1.1)
    scale = np.diag([size[0] / w, size[1] / h, 1.0])
    composed = (scale @ np.vstack([rotate, [0, 0, 1]]))[:2]
    times = median_times(dict(
        protocol=lambda: cv2.resize(
            cv2.warpAffine(image, rotate, (w, h), flags=cv2.INTER_CUBIC),
            size, interpolation=cv2.INTER_CUBIC),
        composed=lambda: cv2.warpAffine(image, composed, size,
                                        flags=cv2.INTER_CUBIC),
        bilinear=lambda: cv2.warpAffine(image, rotate, (w, h),
                                        flags=cv2.INTER_LINEAR)),
        warmup=2, runs=rounds * 5)
    return {key: value * 1e3 for key, value in times.items()}


def floor_steps(pipeline: List[dict], size) -> Callable[[dict], dict]:
    """Decoding the image and its annotations, then one plain resize of
    the image and of every target to ``size`` (w, h)."""
    loads = [TRANSFORMS.build(t) for t in pipeline if t['type'] in LOADERS]

    def run(results: dict) -> dict:
        for step in loads:
            results = step(results)
        for key in ['img', *(f'gt_{t}' for t in results['loaded_tasks'])]:
            results[key] = cv2.resize(results[key], size,
                                      interpolation=cv2.INTER_NEAREST)
        return results
    return run


def one_pass(run: Callable[[int], dict], count: int) -> Callable:
    """A pass over samples ``0..count-1`` through ``run`` (for
    :func:`median_times`)."""
    def timed():
        for index in range(count):
            run(index)
    return timed


def loader_rate(dataset, workers: int, batches: int) -> float:
    """Samples per second of a DataLoader with ``workers`` processes."""
    sampler = RandomSampler(dataset, replacement=True,
                            num_samples=6 * (batches + 1))
    loader = DataLoader(dataset, batch_size=6, num_workers=workers,
                        collate_fn=pseudo_collate, sampler=sampler)
    iterator = iter(loader)
    next(iterator)  # workers started
    start = time.perf_counter()
    count = sum(len(batch['inputs']) for batch in iterator)
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--samples', type=int, default=12,
                        help='images per generated tree')
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    register_all_modules()
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    work = tempfile.mkdtemp(prefix='mmsquad_pipeline_')
    pascal_root = osp.join(work, 'PASCAL_MT')
    make_pascal_mt_demo(pascal_root, num_train=args.samples, num_val=1,
                        size=[(375, 500)], seed=0)
    nyud_root = make_nyud_mt(osp.join(work, 'NYUD_MT'),
                             [(480, 640)] * args.samples, seed=0)
    pascal = protocol_dataset(PASCAL, pascal_root)
    bilinear = protocol_dataset(PASCAL, pascal_root, 'bilinear')
    nyud = protocol_dataset(NYUD, nyud_root)
    np.random.seed(0)
    floor = floor_steps(Config.fromfile(PASCAL).train_pipeline, (512, 512))
    times = median_times(dict(
        pipeline=one_pass(pascal.prepare_data, len(pascal)),
        floor=one_pass(lambda i: floor(pascal.get_data_info(i)),
                       len(pascal)),
        published=one_pass(lambda i: published_pipeline.transform(
            published_pipeline.load(pascal.get_data_info(i))), len(pascal)),
        bilinear=one_pass(bilinear.prepare_data, len(bilinear)),
        nyud=one_pass(nyud.prepare_data, len(nyud))),
        warmup=1, runs=args.rounds)
    per_s = len(pascal) / times['pipeline']
    floor_per_s = len(pascal) / times['floor']
    published_per_s = len(pascal) / times['published']
    nyud_per_s = len(nyud) / times['nyud']
    print(f'PASCAL-Context train pipeline, 375x500 -> 512x512, one core: '
          f'{per_s:.1f} samples/s ({1e3 / per_s:.1f} ms); the floor '
          f'(decode + one plain resize per target): {floor_per_s:.1f} '
          f'samples/s; the published code\'s pipeline (re-implemented): '
          f'{published_per_s:.1f} samples/s (mmsquad\'s is '
          f'{per_s / published_per_s:.2f}x as fast); with bilinear instead '
          f'of bicubic warps '
          f'(not the protocol): {len(bilinear) / times["bilinear"]:.1f} '
          'samples/s')
    image = pascal.prepare_data(0)['inputs'].permute(1, 2, 0).numpy()
    image = cv2.resize(np.ascontiguousarray(image), (500, 375))
    warps = warp_choices(image, (512, 512), args.rounds)
    print(f'bicubic warps of a 375x500 image: rotation+zoom then resize to '
          f'512x512 (the protocol) {warps["protocol"]:.2f} ms, as one '
          f'composed warp {warps["composed"]:.2f} ms; the bilinear '
          f'rotation+zoom alone {warps["bilinear"]:.2f} ms')
    print(f'NYUD-v2 train pipeline, 480x640, one core: {nyud_per_s:.1f} '
          'samples/s')
    loaders = {k: loader_rate(pascal, k, batches=6) for k in (1, 2)}
    for workers, value in loaders.items():
        print(f'DataLoader, {workers} worker(s), batch 6: {value:.1f} '
              'samples/s')
    print(f'pipeline_samples_per_s={per_s:.1f} '
          f'pipeline_floor_ratio={per_s / floor_per_s:.2f} '
          f'pipeline_published_ratio={per_s / published_per_s:.2f} '
          f'nyud_samples_per_s={nyud_per_s:.1f} '
          f'loader_1_worker={loaders[1]:.1f} '
          f'loader_2_workers={loaders[2]:.1f}')


if __name__ == '__main__':
    main()
