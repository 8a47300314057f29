"""Batching of images and every task's targets."""
import torch.nn.functional as F
from mmdet.models.utils import samplelist_boxtype2tensor
from mmengine.model import ImgDataPreprocessor
from mmengine.structures import PixelData

from mmsquad.registry import MODELS


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
    mmdet's ``DetDataPreprocessor`` leaves them for its heads.

    Arguments as mmengine's ``ImgDataPreprocessor``.
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        data = super().forward(data, training)
        inputs, samples = data['inputs'], data.get('data_samples')
        if samples is None:
            return data
        batch_shape = tuple(inputs.shape[-2:])
        samplelist_boxtype2tensor(samples)
        for sample in samples:
            sample.set_metainfo(dict(batch_input_shape=batch_shape,
                                     pad_shape=batch_shape))
            if not training:
                continue
            for task in sample.labelled_tasks:
                target = sample.get_target(task)
                h, w = target.shape
                if (h, w) == batch_shape:
                    continue
                # PixelData refuses a field of a new size: build a new one.
                padded = F.pad(target.data,
                               (0, batch_shape[1] - w, 0, batch_shape[0] - h),
                               value=_ignore_index(target, task))
                sample.set_target(task, PixelData(
                    metainfo=target.metainfo, data=padded))
        return data


def _ignore_index(target: PixelData, task: str) -> float:
    """The ignored value a task kind recorded in its packed target."""
    if 'ignore_index' not in target:
        raise KeyError(f'the target of {task!r} records no ignore_index; pack '
                       "targets with their task kind's pack() (as "
                       'PackMultiTaskInputs does)')
    return target.ignore_index
