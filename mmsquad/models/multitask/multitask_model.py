"""The model that wires a backbone, a neck and one head per task."""
import inspect
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmcv.ops import DeformConv2d, ModulatedDeformConv2d
from mmengine.logging import print_log
from mmengine.model import BaseModel, ModuleDict
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import build_tasks
from mmsquad.tasks.presets import TasksCfg
from ..utils import attach_task_losses, task_losses

#: Layers that need contiguous (not channels-last) inputs and weights.
CONTIGUOUS_ONLY = (DeformConv2d, ModulatedDeformConv2d)

#: Names of the parameters every task's loss reaches.
SHARED_PATTERN = r'^(backbone|neck)\.'

ForwardResults = Union[Dict[str, Tensor], List[MultiTaskDataSample]]


@MODELS.register_module()
class MultiTaskModel(BaseModel):
    """Backbone -> (neck) -> one head per task.

    With a neck (e.g. :class:`~mmsquad.models.ExpertSquadNeck`) every head
    sees its task's features; without one, every head sees the backbone
    outputs (the shared-encoder baseline; one head is a single-task model).
    Heads implement :class:`~mmsquad.models.BaseTaskHead`.

    The model wires the contracts, so configs never compute channels: the
    neck gets the task names (and the backbone's ``feature_specs`` when it
    advertises them); with a neck, a backbone that takes ``num_tasks``
    gets the number of heads; every head gets its task and the channels and
    strides of its features (``feature_channels``: the neck's
    ``out_channels`` of the task, or the backbone's; ``feature_strides``:
    the neck's ``out_strides``, or the backbone's). An explicit value that
    contradicts them is an error naming both.

    Args:
        backbone: Backbone config.
        heads: ``{task: head config}``.
        tasks: The tasks: ``{name: kind config}`` or preset names (see
            :func:`~mmsquad.tasks.build_tasks`); by default the presets
            named like the heads. Their names must be the heads'.
        neck: Neck config.
        task_weights: ``{task: weight}`` applied to each task's losses
            (1 for tasks not named).
        loss_balancer: Config of a balancer (e.g.
            ``dict(type='UncertaintyWeighting')``) whose weights multiply
            ``task_weights`` during training; ``None`` keeps them fixed.
        channels_last: Keep the 4-D parameters and the inputs in the
            channels-last memory format (faster convolutions on CPU with
            oneDNN and on GPU tensor cores). The parameters are converted
            once here, before a runner wraps the model for DDP. A head with
            mmcv's deformable convolutions (VFNet, DDOD, ...) stays
            contiguous and gets contiguous features (logged once).
        data_preprocessor: Data preprocessor config.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 heads: Dict[str, dict],
                 tasks: Optional[TasksCfg] = None,
                 neck: Optional[dict] = None,
                 task_weights: Optional[Dict[str, float]] = None,
                 loss_balancer: Optional[dict] = None,
                 channels_last: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='MultiTaskDataPreprocessor')
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        if not heads:
            raise ValueError('MultiTaskModel needs at least one task head')
        self.tasks = build_tasks(list(heads) if tasks is None else tasks)
        if set(self.tasks) != set(heads):
            raise KeyError(f'the tasks {list(self.tasks)} and the heads '
                           f'{list(heads)} must name the same tasks')
        unknown = sorted(set(task_weights or {}) - set(self.tasks))
        if unknown:
            raise KeyError(f'task_weights names tasks without a head: '
                           f'{unknown}; the heads are {list(self.tasks)}')
        self.task_weights = {t: float((task_weights or {}).get(t, 1.0))
                             for t in self.tasks}
        names = list(self.tasks)
        if neck is not None:
            backbone = _with_num_tasks(backbone, len(names))
        self.backbone = MODELS.build(backbone)
        if neck is not None:
            neck = dict(neck, tasks=names)
            specs = getattr(self.backbone, 'feature_specs', None)
            if specs is not None and 'in_channels' not in neck:
                neck['feature_specs'] = specs
            self.neck = MODELS.build(neck)
        else:
            self.neck = None
        self.loss_balancer = None if loss_balancer is None else \
            MODELS.build(dict(loss_balancer, tasks=names))
        # mmengine's ModuleDict, so that init_weights reaches the heads'
        # init_cfg (e.g. the prior-probability bias of mmdet's heads).
        self.heads = ModuleDict({
            name: MODELS.build(dict(
                heads[name], task=task,
                feature_channels=self._feature_channels(name),
                feature_strides=self._feature_strides()))
            for name, task in self.tasks.items()
        })
        self.channels_last = channels_last
        #: Tasks whose heads run contiguous (mmcv's deformable convolutions
        #: take no channels-last tensors).
        self.contiguous_tasks = [
            task for task, head in self.heads.items()
            if any(isinstance(m, CONTIGUOUS_ONLY) for m in head.modules())
        ] if channels_last else []
        if channels_last:
            self.to(memory_format=torch.channels_last)
        for task in self.contiguous_tasks:
            self.heads[task].to(memory_format=torch.contiguous_format)
            print_log(f'channels_last is off for the {task} head: mmcv\'s '
                      'deformable convolutions take contiguous tensors only',
                      logger='current')

    def extract_feats(self, inputs: Tensor
                      ) -> Dict[str, Sequence[Tensor]]:
        """``{task: features}`` for every task."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        feats = self.backbone(inputs)
        feats = self.neck(feats) if self.neck is not None else {
            task: feats for task in self.tasks}
        for task in self.contiguous_tasks:
            feats[task] = tuple(f.contiguous() for f in feats[task])
        return feats

    def _feature_channels(self, task: str) -> Optional[Tuple[int, ...]]:
        """Channels of every level of ``task``'s features, as the neck (or,
        without one, the backbone) advertises them; None if it does not."""
        source = self.backbone if self.neck is None else self.neck
        channels = getattr(source, 'out_channels', None)
        if isinstance(channels, dict):
            channels = channels.get(task)
        if isinstance(channels, int):
            channels = (channels, )
        return None if channels is None else tuple(channels)

    def _feature_strides(self) -> Optional[Tuple[int, ...]]:
        """Strides of every level of the heads' features, as the neck (or,
        without one, the backbone) advertises them; None if it does not."""
        source = self.backbone if self.neck is None else self.neck
        strides = getattr(source, 'out_strides', None)
        return None if strides is None else tuple(strides)

    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List[MultiTaskDataSample]] = None,
                mode: str = 'tensor') -> ForwardResults:
        """``loss``: loss dict; ``predict``: data samples with predictions;
        ``tensor``: ``{task: logits}``."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            feats = self.extract_feats(inputs)
            return {t: self.heads[t](feats[t]) for t in self.tasks}
        raise ValueError(f'invalid mode {mode!r}; expected loss, predict or '
                         'tensor')

    def loss(self, inputs: Tensor,
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """Weighted losses, keyed ``<task>.loss_<name>``; with a loss
        balancer also ``<task>.weight`` (logged) and its own terms."""
        feats = self.extract_feats(inputs)
        losses = {}
        for task in self.tasks:
            weight = self.task_weights[task]
            for name, value in self.heads[task].loss(
                    feats[task], data_samples).items():
                losses[f'{task}.{name}'] = weight * value
        if self.loss_balancer is None:
            return losses
        weights, extra = self.loss_balancer(task_losses(losses),
                                            self.shared_parameters())
        balanced = {key: weights[key.partition('.')[0]] * value
                    for key, value in losses.items()}
        balanced.update({f'{task}.weight': weights[task].detach()
                         for task in self.tasks})
        balanced.update(extra)
        return balanced

    def predict(self, inputs: Tensor,
                data_samples: Optional[List[MultiTaskDataSample]] = None
                ) -> List[MultiTaskDataSample]:
        """Predict every task at the original image size.

        Each head sets its task's prediction on the samples, as the task
        kind defines it: ``pred_<task>`` (C, H, W) for dense maps (class
        indices, probabilities, unit vectors, values, images), mmdet's
        ``pred_instances`` for boxes.
        """
        if data_samples is None:
            data_samples = [
                MultiTaskDataSample(metainfo=dict(
                    img_shape=inputs.shape[-2:], ori_shape=inputs.shape[-2:]))
                for _ in range(inputs.shape[0])
            ]
        feats = self.extract_feats(inputs)
        for task in self.tasks:
            self.heads[task].predict(feats[task], data_samples,
                                     inputs.shape[-2:])
        return data_samples

    def shared_parameters(self) -> List[nn.Parameter]:
        """The trainable parameters every task's loss reaches: the
        backbone's and the neck's."""
        return [p for name, p in self.named_parameters()
                if p.requires_grad and re.match(SHARED_PATTERN, name)]

    def parse_losses(self, losses: Dict[str, Tensor]
                     ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """mmengine's total loss and log variables; the total also carries
        the loss dict, the shared parameters and each task's weight (fixed
        times balanced) for gradient surgery (see
        :func:`~mmsquad.models.utils.attach_task_losses`)."""
        loss, log_vars = super().parse_losses(losses)
        weights = {task: self.task_weights[task] * losses.get(
            f'{task}.weight', 1.0) for task in self.tasks}
        attach_task_losses(loss, losses, self.shared_parameters, weights)
        return loss, log_vars


def _with_num_tasks(backbone: dict, num_tasks: int) -> dict:
    """``backbone`` with ``num_tasks`` filled in, when its class takes it.

    Raises:
        ValueError: When the config gives another number.
    """
    cls = backbone['type']
    if isinstance(cls, str):
        cls = None if '_scope_' in backbone else MODELS.get(cls)
    if cls is None or 'num_tasks' not in inspect.signature(
            cls.__init__).parameters:
        return backbone
    given = backbone.get('num_tasks')
    if given is None:
        return dict(backbone, num_tasks=num_tasks)
    if given != num_tasks:
        raise ValueError(f'backbone num_tasks={given} contradicts the '
                         f'{num_tasks} task heads of the model')
    return backbone
