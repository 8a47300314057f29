"""Test-time augmentation of a multi-task model."""
from typing import Any, Dict, List, Optional, Union

from mmengine.model import BaseTTAModel
from torch import nn

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import flipped

#: The data-sample field that carries a view's outputs to the merge.
VIEW_OUTPUTS = 'view_outputs'


@MODELS.register_module()
class MultiTaskTTAModel(BaseTTAModel):
    """Every task's prediction merged over the test-time augmented views
    of an image (flips and scales made by mmcv's ``TestTimeAug`` in the
    config's ``tta_pipeline``), as its kind defines the merge
    (:meth:`~mmsquad.tasks.BaseTask.merge_views`): dense maps average
    their activated outputs at the original image size (flipped views
    mirrored back, unit vectors' x negated back), class labels their
    probabilities, boxes are pooled and pass NMS as in mmdet's
    ``DetTTAModel``.

    ``tools/test.py --tta`` wraps the config's ``model`` in its
    ``tta_model``, as mmseg and mmdet do. A model with a task whose kind
    has no merge is refused when this wrapper is built.

    Args:
        module: The multi-task model (config or module).
        tta_cfg: Settings of merges by selection (boxes: ``nms``,
            ``max_per_img``; mmdet's defaults when None).
        data_preprocessor: Replaces the module's, as in mmengine.

    Example:
        >>> tta_model = dict(type='MultiTaskTTAModel')
        >>> tta_pipeline = [
        ...     dict(type='LoadImageFromFile'),
        ...     dict(type='TestTimeAug', transforms=[
        ...         [dict(type='MultiTaskResize', scale=(384, 384)),
        ...          dict(type='MultiTaskResize', scale=(512, 512))],
        ...         [dict(type='MultiTaskRandomFlip', prob=0.),
        ...          dict(type='MultiTaskRandomFlip', prob=1.)],
        ...         [dict(type='LoadMultiTaskAnnotations')],
        ...         [dict(type='PackMultiTaskInputs')]])]
    """

    def __init__(self, module: Union[dict, nn.Module],
                 tta_cfg: Optional[dict] = None,
                 data_preprocessor: Union[dict, nn.Module, None] = None
                 ) -> None:
        super().__init__(module=module, data_preprocessor=data_preprocessor)
        self.tta_cfg = tta_cfg
        tasks = getattr(self.module, 'tasks', None)
        if not isinstance(tasks, dict):
            raise TypeError(f'MultiTaskTTAModel wraps a multi-task model; '
                            f'got {type(self.module).__name__}')
        unmerged = [f'{name} ({type(task).__name__})'
                    for name, task in tasks.items() if not task.merges_views]
        if unmerged:
            raise ValueError(
                'test-time augmentation merges each task\'s views as its '
                'kind defines (merge_views); these kinds define none: '
                + ', '.join(unmerged))

    def test_step(self, data: dict) -> List[MultiTaskDataSample]:
        """Predict every view of the batch, then merge each image's views
        (:meth:`merge_preds`)."""
        if not isinstance(data, dict):
            raise TypeError('MultiTaskTTAModel takes the dict of views '
                            "mmengine's pseudo_collate makes of "
                            f'TestTimeAug samples; got {type(data)}')
        num_views = len(data['inputs'])
        views = [{key: value[index] for key, value in data.items()}
                 for index in range(num_views)]
        return self.merge_preds(
            list(zip(*[self._predict_view(view) for view in views])))

    def _predict_view(self, view: dict) -> List[MultiTaskDataSample]:
        """One view of every image in the batch, its samples carrying the
        heads' view outputs."""
        data = self.module.data_preprocessor(view, False)
        samples = data['data_samples']
        outputs = self.module.view_outputs(data['inputs'], samples)
        for index, sample in enumerate(samples):
            sample.set_field(
                {task: values[index] for task, values in outputs.items()},
                VIEW_OUTPUTS)
        return samples

    def merge_preds(self, data_samples_list: List[List[MultiTaskDataSample]]
                    ) -> List[MultiTaskDataSample]:
        """Per image, one view's sample (its targets and metainfo) with
        every task's prediction merged over the views."""
        return [self._merge_image(views) for views in data_samples_list]

    def _merge_image(self, views: List[MultiTaskDataSample]
                     ) -> MultiTaskDataSample:
        """The merged sample is the first unflipped view's, whose targets
        are right whether the pipeline loaded them before or after the
        flips."""
        outputs: List[Dict[str, Any]] = [view.get(VIEW_OUTPUTS)
                                         for view in views]
        metainfos = [view.metainfo for view in views]
        for meta in metainfos:
            check_whole_image(meta)
        merged = next((view for view, meta in zip(views, metainfos)
                       if not flipped(meta)), views[0])
        for name, task in self.module.tasks.items():
            merged.set_field(task.merge_views(
                [output[name] for output in outputs], metainfos,
                self.tta_cfg), task.prediction_key)
        for view in views:
            delattr(view, VIEW_OUTPUTS)
        return merged


def check_whole_image(metainfo: dict) -> None:
    """Refuse a view that is not the whole image, resized: its outputs
    are brought back to the original size by resizing alone, so a crop
    would be stretched over the image.

    Raises:
        ValueError: When ``img_shape`` differs from ``ori_shape`` times
            ``scale_factor`` by more than a pixel, naming the image.
    """
    h, w = metainfo['img_shape'][:2]
    ori_h, ori_w = metainfo.get('ori_shape', (h, w))[:2]
    scale_w, scale_h = metainfo.get('scale_factor', (1.0, 1.0))[:2]
    if abs(ori_h * scale_h - h) > 1 or abs(ori_w * scale_w - w) > 1:
        raise ValueError(
            f'{metainfo.get("img_path", "a view")}: a test-time view of '
            f'{h}x{w} pixels is not the {ori_h}x{ori_w} image resized by '
            f'its scale_factor ({scale_w:g}, {scale_h:g}); views may resize '
            'and flip the whole image, not crop it')
