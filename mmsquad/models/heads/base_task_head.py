"""The interface every task head implements."""
from abc import ABCMeta, abstractmethod
from typing import Any, Dict, List, Optional, Sequence, Union

from mmengine.model import BaseModule
from torch import Tensor

from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask, build_task

Channels = Union[int, Sequence[int]]


class BaseTaskHead(BaseModule, metaclass=ABCMeta):
    """A head that trains and predicts one task from its features.

    :class:`~mmsquad.models.MultiTaskModel` builds every head with its
    task (a :class:`~mmsquad.tasks.BaseTask`) and the channels and strides
    of the features the head will see (``feature_channels``,
    ``feature_strides``, one entry per level, as the neck or backbone
    advertises them), so configs never compute channel counts or strides; a
    head checks any explicit value against them.

    Args:
        task: The task: a built task, or a preset name.
        feature_channels: Channels of every level of the head's features,
            when known.
        feature_strides: Strides of every level of the head's features,
            when known.
        init_cfg: Initialisation config.
    """

    #: Whether the head runs on channels-last tensors in a channels-last
    #: model. Heads that host another package's components set False:
    #: that code is written for contiguous tensors (mmdet's views of head
    #: outputs fail on channels-last maps; mmcv's RoIAlign reads them as if
    #: contiguous).
    takes_channels_last: bool = True

    def __init__(self,
                 task: Union[str, BaseTask],
                 feature_channels: Optional[Sequence[int]] = None,
                 feature_strides: Optional[Sequence[int]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.task = task if isinstance(task, BaseTask) else build_task(task)
        self.feature_channels = None if feature_channels is None else tuple(
            feature_channels)
        self.feature_strides = None if feature_strides is None else tuple(
            feature_strides)

    @property
    def needed_fields(self) -> Dict[str, str]:
        """``{field: why and how to load it}`` of what a training sample
        labelled for the task must carry besides its target (checked
        before the first iteration by
        :class:`~mmsquad.engine.hooks.TaskAgreementHook`); none here."""
        return {}

    @property
    def needed_fields_to_predict(self) -> Dict[str, str]:
        """``{field: why and how to load it}`` of what every sample must
        carry to be predicted on (checked on the first sample of the
        validation and test data before the first training iteration);
        none here."""
        return {}

    @abstractmethod
    def loss(self, feats: Sequence[Tensor],
             data_samples: List[MultiTaskDataSample]) -> Dict[str, Tensor]:
        """The task's losses on the samples that carry its target; a batch
        without any gives zero losses that still reach every parameter."""

    @abstractmethod
    def predict(self, feats: Sequence[Tensor],
                data_samples: List[MultiTaskDataSample],
                batch_shape: Sequence[int]) -> None:
        """Set the task's prediction on every sample, at its original size,
        in float32 (the same meaning as mmdet's ``predict``)."""

    def view_outputs(self, feats: Sequence[Tensor],
                     data_samples: List[MultiTaskDataSample],
                     batch_shape: Sequence[int]) -> List[Any]:
        """Per sample, the task's output on one test-time augmented view,
        as its kind's :meth:`~mmsquad.tasks.BaseTask.merge_views` takes
        it: here the prediction :meth:`predict` sets (boxes, class
        probabilities); dense heads return their activated maps."""
        self.predict(feats, data_samples, batch_shape)
        return [sample.get(self.task.prediction_key)
                for sample in data_samples]

    def export(self, feats: Sequence[Tensor],
               batch_shape: Sequence[int]) -> Dict[str, Tensor]:
        """``{output name: tensor}`` an exported graph returns for the task
        (no data samples, traceable).

        Raises:
            NotImplementedError: For heads that cannot be exported.
        """
        raise NotImplementedError(
            f'{type(self).__name__} (task {self.task.name!r}) has no '
            'export(): it cannot be part of an exported graph')

    def contract_channels(self, explicit: Optional[Channels],
                          advertised: Optional[Channels],
                          what: str = 'in_channels') -> Channels:
        """``explicit`` checked against the ``advertised`` channels, or the
        advertised channels when no explicit value is given.

        Raises:
            ValueError: When the two differ, naming both, or when neither
                is known.
        """
        def normal(c: Channels):
            return c if isinstance(c, int) else tuple(c)

        name = f'{type(self).__name__} of task {self.task.name!r}'
        if explicit is None:
            if advertised is None:
                raise ValueError(
                    f'{name} needs {what}: give it, or build the head in a '
                    'MultiTaskModel whose neck or backbone advertises its '
                    'output channels')
            return normal(advertised)
        if advertised is not None and normal(explicit) != normal(advertised):
            raise ValueError(
                f'{name}: {what}={normal(explicit)} contradicts the '
                f'{normal(advertised)} channels its features have')
        return normal(explicit)

    def contract_out_channels(self, explicit: Optional[int]) -> int:
        """The task kind's output channels, checked against ``explicit``."""
        advertised = self.task.out_channels
        if advertised is None:
            return self.contract_channels(explicit, None, 'out_channels')
        if explicit is not None and explicit != advertised:
            raise ValueError(
                f'{type(self).__name__} of task {self.task.name!r}: '
                f'out_channels={explicit} contradicts the {advertised} '
                f'outputs of its task {self.task!r}')
        return advertised
