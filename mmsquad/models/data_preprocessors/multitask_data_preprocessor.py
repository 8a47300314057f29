"""Batching of images and every task's targets."""
from typing import Sequence, Tuple

import torch.nn.functional as F
from mmdet.models.utils import samplelist_boxtype2tensor
from mmengine.model import ImgDataPreprocessor
from mmengine.structures import PixelData
from torch import Tensor

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BoxTask


@MODELS.register_module()
class MultiTaskDataPreprocessor(ImgDataPreprocessor):
    """Normalise and batch images; pad each dense target with the ignored
    value its task kind recorded in it (``ignore_index`` of the target's
    metainfo), so that padded pixels never count as real values.

    Images are padded at the bottom and right to a common size (a multiple
    of ``pad_size_divisor``). In training every dense target of a sample is
    padded to that size too; in evaluation targets stay as loaded (at the
    original image size, where predictions are compared with them).
    ``batch_input_shape`` and ``pad_shape`` are recorded in each sample's
    metainfo. Detection boxes (mmdet box types) become plain tensors, as
    mmdet's ``DetDataPreprocessor`` leaves them for its heads; a box
    sample's semantic map (``gt_sem_seg``) is padded with 255 in training,
    as its ``pad_seg=True``.

    Arguments as mmengine's ``ImgDataPreprocessor``.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        inputs, samples = data['inputs'], data.get('data_samples')
        if samples is None:
            return data
        refuse_foreign_samples(samples)
        if training:
            refuse_unlabelled_batch(samples)
        batch_shape = tuple(inputs.shape[-2:])
        samplelist_boxtype2tensor(samples)
        for sample in samples:
            sample.set_metainfo(dict(batch_input_shape=batch_shape,
                                     pad_shape=batch_shape))
            if not training:
                continue
            semantic = sample.get('gt_sem_seg')
            if isinstance(semantic, PixelData) and 'sem_seg' in semantic \
                    and tuple(semantic.shape) != batch_shape:
                sample.gt_sem_seg = PixelData(
                    metainfo=semantic.metainfo, sem_seg=_padded(
                        semantic.sem_seg, batch_shape,
                        BoxTask.semantic_ignore_index))
            for task in sample.labelled_tasks:
                target = sample.get_target(task)
                if tuple(target.shape) == batch_shape:
                    continue
                # PixelData refuses a field of a new size: build a new one.
                sample.set_target(task, PixelData(
                    metainfo=target.metainfo, data=_padded(
                        target.data, batch_shape,
                        _ignore_index(target, task))))
        return data


def refuse_foreign_samples(samples: Sequence) -> None:
    """Raise unless every sample is a :class:`MultiTaskDataSample`: a
    pipeline ending in another package's packer (mmseg's
    ``PackSegInputs``, mmdet's ``PackDetInputs``) gives samples whose
    targets no task reads, which failed deep in training and left every
    task out of the metrics in evaluation.

    Raises:
        TypeError: Naming the sample type and the fix.
    """
    foreign = sorted({type(s).__name__ for s in samples
                      if not isinstance(s, MultiTaskDataSample)})
    if foreign:
        raise TypeError(
            f'the data samples are {", ".join(foreign)}, not '
            'MultiTaskDataSample: end the dataset pipeline with '
            'PackMultiTaskInputs; a dataset of mmdet or mmseg, with its '
            'own packer, feeds a task through TaskDataset')


def refuse_unlabelled_batch(samples: Sequence[MultiTaskDataSample]) -> None:
    """Raise when no sample of a training batch carries a target of any
    task: a training pipeline that loads no annotations trained with every
    loss 0 to the end.

    Raises:
        ValueError: Naming the fix.
    """
    if not any(key.startswith('gt_') for sample in samples
               for key in sample.keys()):
        raise ValueError(
            f'none of the {len(samples)} samples of a training batch '
            'carries a target of any task (every loss would be 0): the '
            'training pipeline loads no annotations (LoadMultiTaskAnnotations'
            ' before the augmentations, as the shipped pipelines have it)')


def _padded(target: Tensor, shape: Tuple[int, int], value: float) -> Tensor:
    """``target`` (..., H, W) padded at the bottom and right to ``shape``
    with ``value``."""
    h, w = target.shape[-2:]
    return F.pad(target, (0, shape[1] - w, 0, shape[0] - h), value=value)


def _ignore_index(target: PixelData, task: str) -> float:
    """The ignored value a task kind recorded in its packed target."""
    if 'ignore_index' not in target:
        raise KeyError(f'the target of {task!r} records no ignore_index; pack '
                       "targets with their task kind's pack() (as "
                       'PackMultiTaskInputs does)')
    return target.ignore_index
