"""Transforms of the underwater setting: the enhancement reference loads
beside the input, follows its geometric transforms, and is packed with the
detection targets into one multi-task data sample."""
import contextlib
from typing import ContextManager, Iterator, List, Optional, Union

import mmcv
from mmcv.transforms import BaseTransform, Compose
from mmcv.transforms.utils import cache_random_params
from mmdet.datasets.transforms import PackDetInputs
from mmengine.fileio import get

from mmsquad.registry import TRANSFORMS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BoxTask, ImageTask

@TRANSFORMS.register_module()
class LoadEnhancementReference(BaseTransform):
    """Load ``results['ref_path']`` (when not None) into ``ref_img``, a BGR
    uint8 image of the input's original size (``ori_shape``), in stored
    pixel order (as the input). Before
    geometric transforms wrapped in :class:`WithReference` it then follows
    them; after a test-time resize it stays at the original size, where
    predictions are compared with it.

    Raises:
        OSError: When the reference cannot be decoded, naming it.
        ValueError: When its size differs from the input's, naming both.
    """

    def transform(self, results: dict) -> dict:
        path = results.get('ref_path')
        if path is None:
            return results
        ref = mmcv.imfrombytes(get(path), flag='color_ignore_orientation',
                               channel_order='bgr')
        if ref is None:
            raise OSError(f'cannot decode the enhancement reference {path}')
        img_shape = tuple(results['ori_shape'][:2])
        if ref.shape[:2] != img_shape:
            raise ValueError(
                f'the enhancement reference {path} is {ref.shape[:2]} but '
                f'its input {results["img_path"]} is {img_shape}; a '
                'reference must have the size of its input')
        results['ref_img'] = ref
        return results


@TRANSFORMS.register_module()
class WithReference(BaseTransform):
    """Apply geometric transforms to the input and, with the same random
    parameters, to its enhancement reference ``ref_img``.

    Any transform whose randomness goes through mmcv's ``cache_randomness``
    (mmdet's ``Resize``, ``RandomResize``, ``RandomFlip``, ``RandomCrop``,
    ...) can be wrapped; the input and its targets are transformed once,
    the reference on its own. Photometric transforms stay outside, so they
    change the input only. Inside a wrapper that shares random parameters
    between several inputs (mmdet's ``ProposalBroadcaster``, whose
    ``cache_random_params`` reaches the wrapped transforms through
    ``__iter__``), the wrapper's parameters serve every call.

    Args:
        transforms: Transform configs.

    Raises:
        ValueError: When a transform leaves the reference with another size
            than the input.
    """

    def __init__(self, transforms: List[Union[dict, BaseTransform]]) -> None:
        self.transforms = Compose(transforms)

    def transform(self, results: dict) -> Optional[dict]:
        ref = results.get('ref_img')
        if ref is None:
            return self.transforms(results)
        with self._shared_random_params():
            results = self.transforms(results)
            if results is None:  # e.g. a crop without objects, retried
                return None
            ref_results = self.transforms(dict(
                img=ref, img_shape=ref.shape[:2], ori_shape=ref.shape[:2],
                img_path=results['img_path']))
        ref = ref_results['img']
        if ref.shape[:2] != results['img'].shape[:2]:
            raise ValueError(
                f'{self.transforms} left the reference of '
                f'{results["img_path"]} at {ref.shape[:2]} and the input at '
                f'{results["img"].shape[:2]}; wrap geometric transforms only')
        results['ref_img'] = ref
        return results

    def __iter__(self) -> Iterator[BaseTransform]:
        return iter(self.transforms)

    def _shared_random_params(self) -> ContextManager:
        """mmcv's ``cache_random_params`` over the wrapped transforms,
        unless an enclosing one already caches them (a nested one would
        drop the enclosing cache when it ends)."""
        if any(getattr(t, '_cache_enabled', False) for t in self.transforms):
            return contextlib.nullcontext()
        return cache_random_params(self.transforms)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.transforms})'


@TRANSFORMS.register_module()
class PackUnderwaterInputs(PackDetInputs):
    """Pack the input, its boxes (mmdet's ``gt_instances`` and
    ``ignored_instances``, and ``gt_sem_seg`` where loaded, only for
    samples with detection labels), mmdet's ``proposals`` where loaded,
    and its reference (the target of the dataset's
    :class:`~mmsquad.tasks.ImageTask`: RGB float in [0, 1], (3, H, W)) into
    a :class:`~mmsquad.structures.MultiTaskDataSample`.

    A sample whose ``det_labelled`` is False (an enhancement-only pair), or
    that has no loaded boxes at all (inference), carries no
    ``gt_instances``, so the detection loss skips it. Samples
    without ``scale_factor`` (no resize) get ``(1.0, 1.0)``.

    Args:
        meta_keys: As mmdet's ``PackDetInputs``.
    """

    def transform(self, results: dict) -> dict:
        results.setdefault('scale_factor', (1.0, 1.0))
        packed = super().transform(results)
        det_sample = packed['data_samples']
        sample = MultiTaskDataSample(metainfo=det_sample.metainfo)
        BoxTask.carry_fields(det_sample, sample, labelled=results.get(
            'det_labelled', 'gt_bboxes' in results))
        ref = results.get('ref_img')
        if ref is not None:
            task = reference_task(results)
            sample.set_field(task.pack_image(ref[..., ::-1]),
                             task.target_key)
        packed['data_samples'] = sample
        return packed


def reference_task(results: dict) -> ImageTask:
    """The one image task of the dataset that loaded ``results``, whose
    target a loaded reference is.

    Raises:
        KeyError: When the results carry no tasks, or not one image task.
    """
    tasks = [t for t in results.get('tasks', {}).values()
             if isinstance(t, ImageTask)]
    if len(tasks) != 1:
        raise KeyError(
            f'{results.get("img_path")}: a reference was loaded, but the '
            f'dataset labels {len(tasks)} image tasks (its `tasks`: '
            f'{list(results.get("tasks", {}))}); load references with '
            'UnderwaterMTDataset or EnhancementPairDataset, whose tasks '
            'have one ImageTask')
    return tasks[0]
