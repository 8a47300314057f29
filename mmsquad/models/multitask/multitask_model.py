"""The model that wires a backbone, a neck and one head per task."""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmcv.ops import DeformConv2d, ModulatedDeformConv2d, RoIAlign
from mmengine.device import get_device
from mmengine.logging import print_log
from mmengine.model import BaseModel, ModuleDict, ModuleList
from torch import Tensor, nn

from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import build_tasks
from mmsquad.tasks.presets import TasksCfg
from ..heads import dense_task_losses
from ..utils import TaskLosses, task_losses, update_params
from ..utils.contracts import fill_arguments
from ..utils.device_kernels import refuse_accelerator_only
from ..utils.feature_probe import image_channels, probe_features

#: Layers that need contiguous (not channels-last) inputs and weights:
#: mmcv's deformable convolutions refuse channels-last tensors, and its
#: RoIAlign reads them as if contiguous (wrong values, no error).
CONTIGUOUS_ONLY = (DeformConv2d, ModulatedDeformConv2d, RoIAlign)

#: ``{task: features}`` and ``{task: {level: logits}}``.
Encoded = Tuple[Dict[str, Sequence[Tensor]], Dict[str, Dict[str, Tensor]]]

ForwardResults = Union[Dict[str, Tensor], List[MultiTaskDataSample]]


@MODELS.register_module()
class MultiTaskModel(BaseModel):
    """Backbone -> (neck) -> one head per task.

    With a neck (e.g. :class:`~mmsquad.models.ExpertSquadNeck`) every head
    sees its task's features; without one, every head sees the backbone
    outputs (the shared-encoder baseline; one head is a single-task model).
    Heads implement :class:`~mmsquad.models.BaseTaskHead`.

    The comparison architectures are the same model with other parts: a
    multi-task encoder as the backbone (a backbone that takes ``tasks``
    and returns ``{task: features}``: Cross-Stitch, NDDR-CNN, MTAN), or a
    task-interaction neck with intermediate predictions (PAD-Net, MTI-Net;
    see :class:`~mmsquad.models.BaseTaskInteractionNeck`), which the model
    supervises with each task's loss (keys ``<task>.<loss>_<level>``), also
    for ``auxiliary_tasks`` that have no head. Every part declares which of
    its parameters more than one task's loss reaches (its
    ``shared_parameters()``; a part without the method is shared whole);
    :meth:`shared_parameters` is their union, for gradient surgery and the
    gradient-conflict hook.

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
        auxiliary_tasks: Tasks without a head, trained only through a
            neck's intermediate predictions (same forms as ``tasks``).
        neck: Neck config.
        task_weights: ``{task: weight}`` applied to each task's losses,
            intermediate ones included (1 for tasks not named).
        loss_balancer: Config of a balancer (e.g. uncertainty weighting,
            ``dict(type='TorchJDScalarization', scalarizer=dict(
            type='UW'))``) whose weights multiply ``task_weights`` during
            training; ``None`` keeps them fixed.
        channels_last: Keep the 4-D parameters and the inputs in the
            channels-last memory format (faster convolutions on CPU with
            oneDNN and on GPU tensor cores). The parameters are converted
            once here, before a runner wraps the model for DDP. A head with
            mmcv's deformable convolutions (VFNet, DDOD, ...) or RoIAlign
            (two-stage detectors) stays contiguous and gets contiguous
            features (logged once).
        data_preprocessor: Data preprocessor config.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 heads: Dict[str, dict],
                 tasks: Optional[TasksCfg] = None,
                 auxiliary_tasks: Optional[TasksCfg] = None,
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
        self._init_tasks(heads, tasks, auxiliary_tasks, task_weights)
        self._init_backbone(backbone, with_neck=neck is not None)
        self._init_neck(neck)
        self._init_heads(heads)
        refuse_accelerator_only(self, get_device())
        self.loss_balancer = None if loss_balancer is None else \
            MODELS.build(dict(loss_balancer, tasks=list(self.task_weights)))
        self._init_memory_format(channels_last)

    def _init_tasks(self, heads: Dict[str, dict], tasks: Optional[TasksCfg],
                    auxiliary_tasks: Optional[TasksCfg],
                    task_weights: Optional[Dict[str, float]]) -> None:
        """The tasks (the heads' and the auxiliary ones, without a head)
        and every supervised task's weight."""
        if not heads:
            raise ValueError('MultiTaskModel needs at least one task head')
        self.tasks = build_tasks(list(heads) if tasks is None else tasks)
        if set(self.tasks) != set(heads):
            raise KeyError(f'the tasks {list(self.tasks)} and the heads '
                           f'{list(heads)} must name the same tasks')
        self.auxiliary_tasks = build_tasks(auxiliary_tasks or {})
        overlap = sorted(set(self.auxiliary_tasks) & set(self.tasks))
        if overlap:
            raise KeyError(f'auxiliary_tasks {overlap} have heads; an '
                           'auxiliary task is one without a head')
        supervised = [*self.tasks, *self.auxiliary_tasks]
        unknown = sorted(set(task_weights or {}) - set(supervised))
        if unknown:
            raise KeyError(f'task_weights names tasks the model does not '
                           f'supervise: {unknown}; the heads are '
                           f'{list(self.tasks)}, the auxiliary tasks '
                           f'{list(self.auxiliary_tasks)}')
        self.task_weights = {t: float((task_weights or {}).get(t, 1.0))
                             for t in supervised}

    def _init_backbone(self, backbone: dict, with_neck: bool) -> None:
        """The backbone, given the task names (a multi-task encoder) and,
        when a neck follows, the number of tasks (SquadNet's groups)."""
        self.backbone = MODELS.build(fill_arguments(backbone, dict(
            tasks=list(self.tasks),
            num_tasks=len(self.tasks) if with_neck else None)))
        #: Whether the backbone is a multi-task encoder.
        self.per_task_backbone = isinstance(
            getattr(self.backbone, 'out_channels', None), dict)
        if self.per_task_backbone and with_neck:
            raise ValueError(f'{type(self.backbone).__name__} gives every '
                             'task its own features; a neck cannot follow it')

    def _init_neck(self, neck: Optional[dict]) -> None:
        """The neck, and the losses of the auxiliary tasks it predicts."""
        self.neck = None if neck is None else MODELS.build(
            self._neck_config(neck, list(self.tasks)))
        self.intermediate_tasks = list(getattr(self.neck, 'intermediate_tasks',
                                               None) or [])
        missing = sorted(set(self.auxiliary_tasks) -
                         set(self.intermediate_tasks))
        if missing:
            raise ValueError(f'auxiliary tasks {missing} have no head and no '
                             'intermediate prediction: use a neck that '
                             'predicts them (PADNetNeck, MTINetNeck)')
        self.auxiliary_losses = ModuleDict({
            t: ModuleList(MODELS.build(cfg) for cfg in _as_list(
                task.default_loss))
            for t, task in self.auxiliary_tasks.items()})

    def _init_heads(self, heads: Dict[str, dict]) -> None:
        """One head per task, given its task and its features' channels and
        strides."""
        # mmengine's ModuleDict, so that init_weights reaches the heads'
        # init_cfg (e.g. the prior-probability bias of mmdet's heads).
        self.heads = ModuleDict({
            name: MODELS.build(dict(
                heads[name], task=task,
                feature_channels=self._feature_channels(name),
                feature_strides=self._feature_strides()))
            for name, task in self.tasks.items()
        })

    def _init_memory_format(self, channels_last: bool) -> None:
        """Channels-last parameters, except for the heads that take
        contiguous tensors only."""
        self.channels_last = channels_last
        #: Tasks whose heads run contiguous: heads hosting mmdet's or
        #: mmseg's code (``takes_channels_last``), and any with a layer of
        #: CONTIGUOUS_ONLY.
        self.contiguous_tasks = [
            task for task, head in self.heads.items()
            if not getattr(head, 'takes_channels_last', True) or any(
                isinstance(m, CONTIGUOUS_ONLY) for m in head.modules())
        ] if channels_last else []
        if channels_last:
            self.to(memory_format=torch.channels_last)
        for task in self.contiguous_tasks:
            self.heads[task].to(memory_format=torch.contiguous_format)
            print_log(f'channels_last is off for the {task} head '
                      f'({type(self.heads[task]).__name__}): it takes '
                      'contiguous tensors only', logger='current')

    def _neck_config(self, neck: dict, names: List[str]) -> dict:
        """``neck`` with what the model knows filled in: the task names,
        the backbone's ``feature_specs`` (SquadNet) or channels, and the
        output channels of the intermediate tasks."""
        neck = dict(neck, tasks=names)
        specs = getattr(self.backbone, 'feature_specs', None)
        if specs is not None and 'in_channels' not in neck:
            neck['feature_specs'] = specs
        kinds = dict(self.tasks, **self.auxiliary_tasks)
        values = dict(intermediate_channels={
            t: task.out_channels for t, task in kinds.items()})
        if 'feature_specs' not in neck:
            values['in_channels'], values['in_strides'] = \
                self._backbone_levels()
        return fill_arguments(neck, values)

    def _backbone_levels(self) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
        """Channels and strides of the backbone's outputs: advertised
        (``out_channels``, ``out_strides``) or measured once on a small
        input (mmseg's, mmdet's and mmpretrain's backbones)."""
        if not hasattr(self, '_levels'):
            channels = getattr(self.backbone, 'out_channels', None)
            strides = getattr(self.backbone, 'out_strides', None)
            if channels is None or strides is None:
                channels, strides = probe_features(
                    self.backbone, image_channels(self.backbone))
            if isinstance(channels, int):
                channels = (channels, )
            self._levels = (channels, tuple(strides))
        return self._levels

    def _encode(self, inputs: Tensor) -> Encoded:
        """``{task: features}`` of every head's task, and the
        intermediate predictions ``{task: {level: logits}}`` (empty
        without a neck that makes them)."""
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        feats = self.backbone(inputs)
        intermediate = {}
        if self.neck is not None:
            feats = self.neck(feats)
            if self.intermediate_tasks:
                feats, intermediate = feats
        elif not self.per_task_backbone:
            feats = {task: feats for task in self.tasks}
        for task in self.contiguous_tasks:
            feats[task] = tuple(f.contiguous() for f in feats[task])
        return feats, intermediate

    def extract_feats(self, inputs: Tensor
                      ) -> Dict[str, Sequence[Tensor]]:
        """``{task: features}`` for every task."""
        return self._encode(inputs)[0]

    def _feature_channels(self, task: str) -> Optional[Tuple[int, ...]]:
        """Channels of every level of ``task``'s features, as the neck (or,
        without one, the backbone) advertises them, or as the backbone's
        outputs measure."""
        if self.neck is None and not self.per_task_backbone:
            return self._backbone_levels()[0]
        source = self.backbone if self.neck is None else self.neck
        channels = getattr(source, 'out_channels', None)
        if isinstance(channels, dict):
            channels = channels.get(task)
        if isinstance(channels, int):
            channels = (channels, )
        return None if channels is None else tuple(channels)

    def _feature_strides(self) -> Optional[Tuple[int, ...]]:
        """Strides of every level of the heads' features: the neck's
        advertised ``out_strides``, or the backbone's."""
        if self.neck is not None:
            strides = getattr(self.neck, 'out_strides', None)
            return None if strides is None else tuple(strides)
        return self._backbone_levels()[1] \
            if not self.per_task_backbone else self.backbone.out_strides

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
        balancer also ``<task>.weight`` (logged) and its own terms. Values
        a head reports beside its losses (mmdet's ``acc``) are logged as
        they are: only keys with ``loss`` are weighted and summed."""
        feats, intermediate = self._encode(inputs)
        losses = {}
        for task in self.tasks:
            weight = self.task_weights[task]
            for name, value in self.heads[task].loss(
                    feats[task], data_samples).items():
                losses[f'{task}.{name}'] = weight * value \
                    if 'loss' in name else value
        for task, levels in intermediate.items():
            kind = self.tasks.get(task) or self.auxiliary_tasks[task]
            loss_modules = self.heads[task].losses if task in self.heads \
                else self.auxiliary_losses[task]
            for level, logits in levels.items():
                for name, value in dense_task_losses(
                        kind, loss_modules, logits, data_samples).items():
                    losses[f'{task}.{name}_{level}'] = \
                        self.task_weights[task] * value
        if self.loss_balancer is None:
            return losses
        weights, extra = self.loss_balancer(task_losses(losses),
                                            self.shared_parameters())
        balanced = {key: weights[key.partition('.')[0]] * value
                    if 'loss' in key.partition('.')[2] else value
                    for key, value in losses.items()}
        balanced.update({f'{task}.weight': weights[task].detach()
                         for task in self.task_weights})
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
        self._refuse_non_finite(feats, data_samples)
        for task in self.tasks:
            self.heads[task].predict(feats[task], data_samples,
                                     inputs.shape[-2:])
        return data_samples

    def view_outputs(self, inputs: Tensor,
                     data_samples: List[MultiTaskDataSample]
                     ) -> Dict[str, List[Any]]:
        """``{task: per sample, the head's output on this test-time view}``
        (:meth:`~mmsquad.models.heads.BaseTaskHead.view_outputs`), which
        :class:`~mmsquad.models.MultiTaskTTAModel` merges over views."""
        feats = self.extract_feats(inputs)
        self._refuse_non_finite(feats, data_samples)
        return {task: self.heads[task].view_outputs(
            feats[task], data_samples, inputs.shape[-2:])
            for task in self.tasks}

    def _refuse_non_finite(self, feats: Dict[str, Sequence[Tensor]],
                           data_samples: List[MultiTaskDataSample]) -> None:
        """Raise where a task's features hold NaN or inf, rather than
        let its head turn them into predictions (class indices from NaN
        logits look like any others; metrics over them are meaningless).

        Raises:
            FloatingPointError: Naming the task, the images and the largest
                value in the model's weights and statistics.
        """
        finite = {task: torch.stack([torch.isfinite(x).all() for x in levels])
                  for task, levels in feats.items()}
        if bool(torch.cat(list(finite.values())).all()):
            return  # one device sync for the batch
        for task in feats:
            if bool(finite[task].all()):
                continue
            largest, name = max(
                (float(value.abs().nan_to_num(torch.inf).max()), name)
                for name, value in self.state_dict().items()
                if value.is_floating_point() and value.numel())
            images = [s.metainfo.get('img_path', '(no path)')
                      for s in data_samples[:3]]
            raise FloatingPointError(
                f'the features of task {task!r} hold NaN or inf for the '
                f'batch of {images}; the largest value in the model\'s '
                f'weights and statistics is {largest:.3g} ({name}). A '
                'diverged training leaves values far above 1e4 (lower the '
                'learning rate, or resume from an earlier checkpoint); '
                'otherwise the activations exceed the range of the '
                'precision they run in (float16 autocast)')

    def shared_parameters(self) -> List[nn.Parameter]:
        """The trainable parameters more than one task's loss reaches, as
        the backbone (or multi-task encoder) and the neck declare them
        (``shared_parameters()``; a part without the method: all of it),
        in the model's parameter order."""
        return [p for _, p in self._shared_named_parameters()]

    def shared_parameter_names(self) -> List[str]:
        """The names of :meth:`shared_parameters`."""
        return [name for name, _ in self._shared_named_parameters()]

    def _shared_named_parameters(self) -> List[Tuple[str, nn.Parameter]]:
        declared = set()
        for part in (self.backbone, self.neck):
            if part is None:
                continue
            declare = getattr(part, 'shared_parameters', None)
            declared.update(map(id, declare() if declare is not None
                                else part.parameters()))
        return [(name, p) for name, p in self.named_parameters()
                if p.requires_grad and id(p) in declared]

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper) -> Dict[str, Tensor]:
        """mmengine's training step, handing the optim wrapper the per-task
        losses (:meth:`task_losses`) when it takes them (gradient
        surgery)."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, True)
            losses = self._run_forward(data, mode='loss')
        parsed, log_vars = self.parse_losses(losses)
        update_params(optim_wrapper, parsed, lambda: self.task_losses(losses))
        return log_vars

    def task_losses(self, losses: Dict[str, Tensor]) -> TaskLosses:
        """The per-task parts of a loss dict of :meth:`loss`, each task's
        weight (fixed times balanced) and the shared parameters."""
        weights = {task: weight * losses.get(f'{task}.weight', 1.0)
                   for task, weight in self.task_weights.items()}
        return TaskLosses(task_losses(losses), weights,
                          self.shared_parameters())


def _as_list(cfg: Union[dict, List[dict], None]) -> List[dict]:
    """A loss config (or list of them) as a list."""
    if cfg is None:
        return []
    return list(cfg) if isinstance(cfg, (list, tuple)) else [cfg]
