"""The interface every task kind implements, and the dense-map base."""
import inspect
from abc import ABCMeta, abstractmethod
from typing import (Any, Callable, Dict, FrozenSet, List, Optional, Sequence,
                    Tuple)

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.structures import BaseDataElement, PixelData
from torch import Tensor

from mmsquad.functional import fill_pixels, keep_pixels

#: Value of ignored target pixels of label, binary, vector and scalar maps.
IGNORE_INDEX = 255

class InvalidTargetError(ValueError):
    """A loaded target holds values its task kind cannot have."""


#: ``warp(array, interpolation, fill)`` as geometric transforms apply it.
Warp = Callable[[np.ndarray, str, float], np.ndarray]


class BaseTask(metaclass=ABCMeta):
    """A kind of task (a label map, unit vectors, boxes, ...).

    A task is a name plus a kind with its parameters; everything that
    depends on what a task *is* lives here, so that datasets, transforms,
    heads, metrics, the visualizer, the inferencer and the export dispatch
    on the kind and never test a task's name.

    Args:
        name: The task's name; the key of its target (``gt_<name>``) and
            prediction (``pred_<name>``) unless the kind says otherwise.
            :func:`~mmsquad.tasks.build_task` fills it in.
    """

    #: Metric keys (without the ``<name>/`` prefix) the kind reports.
    metric_keys: Sequence[str] = ()
    #: The metric the multi-task literature compares the task by (its term
    #: of delta_m, its single-task reference); the first metric key when
    #: None.
    main_metric: Optional[str] = None
    #: The metric keys where lower is better.
    lower_is_better: FrozenSet[str] = frozenset()
    #: Whether the metric also scores predictions without a target.
    scores_unlabelled: bool = False

    def __init__(self, name: Optional[str] = None) -> None:
        self.name = name

    @property
    def config(self) -> dict:
        """The kind and its parameters, ``dict(type=..., ...)`` (no name):
        what builds an equal task (a kind keeps each argument of its
        ``__init__`` under the argument's name). Datasets publish their
        tasks this way (``metainfo['tasks']``), so that the model and the
        metrics can be checked against them."""
        params = [key for key in inspect.signature(
            type(self).__init__).parameters if key not in ('self', 'name')]
        missing = [key for key in params if not hasattr(self, key)]
        if missing:
            raise AttributeError(
                f'{type(self).__name__} keeps no attribute {missing}: a task '
                'kind keeps each argument of its __init__ under its name')
        args = {key: getattr(self, key) for key in params}
        return dict(type=type(self).__name__, **{
            key: list(value) if isinstance(value, tuple) else value
            for key, value in args.items()})

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BaseTask) and (self.name, self.config) == (
            other.name, other.config)

    def __hash__(self) -> int:
        return hash((type(self), self.name))

    def __repr__(self) -> str:
        args = ', '.join(f'{k}={v!r}' for k, v in self.config.items()
                         if k != 'type')
        name = '' if self.name is None else f'name={self.name!r}'
        return f'{type(self).__name__}({", ".join(filter(None, (name, args)))})'

    @property
    def main_metric_key(self) -> str:
        """:attr:`main_metric` with the task's prefix (``sal/mIoU``)."""
        return f'{self.name}/{self.main_metric or self.metric_keys[0]}'

    # Where the task lives in a data sample.
    @property
    def target_key(self) -> str:
        """The data-sample field of the target."""
        return f'gt_{self.name}'

    @property
    def sample_fields(self) -> Tuple[str, ...]:
        """Every data-sample field the task's samples may carry (no two
        tasks of a model may share one)."""
        return (self.target_key, )

    @property
    def prediction_key(self) -> str:
        """The data-sample field of the prediction."""
        return f'pred_{self.name}'

    def has_target(self, sample: BaseDataElement) -> bool:
        """Whether ``sample`` carries a target of this task."""
        return self.target_key in sample

    # Network outputs.
    @property
    @abstractmethod
    def out_channels(self) -> Optional[int]:
        """Channels a head outputs for the task (None: the head decides)."""

    @property
    def default_loss(self) -> Optional[dict]:
        """Loss config a head uses when its config names none."""
        return None

    # Data pipeline. Image-level targets do not move with the image.
    def warp(self, target: Any, warp: Warp, border: str = 'ignore') -> Any:
        """``target`` after a geometric transform ``warp``; new pixels get
        the kind's ignore value (``border='ignore'``) or its background
        value where it has one (``border='background'``)."""
        return target

    def flip_values(self, target: Any) -> Any:
        """Values after a horizontal flip of the (already flipped)
        target."""
        return target

    def rotate_values(self, target: Any, angle: float) -> Any:
        """Values after an image rotation by ``angle`` degrees (counter-
        clockwise) of the (already rotated) target."""
        return target

    def zoom_values(self, target: Any, zoom: float) -> Any:
        """Values after a zoom by ``zoom`` (the camera closer: objects
        appear ``zoom`` times larger) of the (already zoomed) target."""
        return target

    def rescale_values(self, values: Any, scale: float) -> Any:
        """Values after the image was resampled by ``scale`` (lengths in
        pixels grow by it): a resize, a zoom or the resize of a prediction
        to the original image size. Only values in pixel units change."""
        return values

    def target_problem(self, target: Any) -> Optional[str]:
        """What makes a loaded target impossible for the kind, in words
        (which values, how many, what was expected), or None when it is
        valid. Loading calls it on every target, so it must be cheap; a new
        kind gets the check by implementing this one method."""
        return None

    def check_target(self, target: Any, source: str) -> None:
        """Raise :class:`InvalidTargetError` naming ``source`` (the file the
        target came from), the task and :meth:`target_problem`'s words,
        when the target is impossible for the kind."""
        problem = self.target_problem(target)
        if problem:
            raise InvalidTargetError(
                f'{source}: invalid target of task {self.name!r} '
                f'({type(self).__name__}): {problem}')

    def pack(self, target: Any) -> BaseDataElement:
        """A loaded target as the data-sample field."""
        raise NotImplementedError(
            f'{type(self).__name__} targets are packed by their own '
            'transforms (e.g. mmdet\'s PackDetInputs)')

    # Evaluation.
    def field_array(self, field: dict) -> np.ndarray:
        """The array a metric compares, from a target or prediction field
        as the evaluator receives it (a dict)."""
        return _numpy(field['data'])

    def target_values(self, target: BaseDataElement) -> np.ndarray:
        """The valid values (C, N) of one target, from which
        :meth:`best_constant` picks the trivial predictor."""
        raise NotImplementedError(
            f'{type(self).__name__} has no constant predictor')

    def best_constant(self, values: np.ndarray) -> np.ndarray:
        """The (C,) constant prediction that scores best on the valid
        target values ``values`` (C, N) of a training set."""
        return values.mean(axis=1)

    def constant_prediction(self, constant: np.ndarray,
                            target: BaseDataElement) -> BaseDataElement:
        """The prediction field of ``constant`` for a sample with
        ``target``."""
        raise NotImplementedError(
            f'{type(self).__name__} has no constant predictor')

    def sample_stats(self, pred: Any, gt: Any) -> Any:
        """Statistics of one sample (numpy (C, H, W) maps for dense kinds;
        ``gt`` is None for unlabelled samples of kinds that score them)."""
        raise NotImplementedError(
            f'{type(self).__name__} ({self.name}) has no metric in '
            'MultiTaskMetric')

    def summarize(self, stats: List[Any]) -> Dict[str, float]:
        """The metrics (keys of :attr:`metric_keys`) from per-sample
        statistics."""
        raise NotImplementedError(
            f'{type(self).__name__} ({self.name}) has no metric in '
            'MultiTaskMetric')

    # Test-time augmentation.
    def merge_views(self, outputs: List[Any], metainfos: List[dict],
                    tta_cfg: Optional[dict] = None) -> BaseDataElement:
        """One image's prediction from its test-time augmented views.

        Args:
            outputs: Per view, what the task's head returned for the image
                (:meth:`~mmsquad.models.heads.BaseTaskHead.view_outputs`),
                at the original image size.
            metainfos: Per view, the sample's metainfo (``flip``,
                ``flip_direction``, ``ori_shape``).
            tta_cfg: Settings of kinds that merge by selection (boxes:
                ``nms``, ``max_per_img``).

        Raises:
            NotImplementedError: For kinds whose views cannot be merged.
        """
        raise NotImplementedError(
            f'{type(self).__name__} (task {self.name!r}) has no test-time '
            'merge of views (merge_views)')

    @property
    def merges_views(self) -> bool:
        """Whether the kind implements :meth:`merge_views`."""
        return type(self).merge_views is not BaseTask.merge_views

    # Pictures and outputs.
    @abstractmethod
    def draw(self, image: np.ndarray, value: BaseDataElement,
             classes: Sequence[str] = (),
             reference: Optional[BaseDataElement] = None) -> np.ndarray:
        """An (H, W, 3) uint8 RGB picture of a target or prediction.

        Args:
            image: The input image (RGB), for kinds drawn over it.
            value: The sample field (target or prediction).
            classes: Class names, for kinds that label what they draw.
            reference: The target, when ``value`` is a prediction (e.g. to
                share a colour scale).
        """

    def legend(self, value: BaseDataElement, classes: Sequence[str] = ()
               ) -> List[Tuple[Tuple[int, int, int], str]]:
        """``[(RGB colour, name)]`` explaining the colours of
        :meth:`draw`'s picture of ``value`` (none by default)."""
        return []

    @abstractmethod
    def to_output(self, prediction: BaseDataElement) -> Any:
        """The prediction as the inferencer returns it: a numpy array, or
        a dict of arrays."""


class DenseMapTask(BaseTask):
    """A task whose target and prediction are (C, H, W) maps aligned with
    the image, kept as :class:`~mmengine.structures.PixelData`.

    Subclasses set the class attributes below and the metric.

    Args:
        name: The task's name.
        ignore_index: Value of ignored pixels; batching and geometric
            transforms fill new pixels with it.
    """

    #: Channels of the target and of the prediction.
    channels: int = 1
    #: dtype of the packed target.
    target_dtype: torch.dtype = torch.float32
    #: Interpolation of the target under geometric transforms.
    interpolation: str = 'nearest'
    #: Value meaning "nothing here" that a transform's border may take
    #: (``border='background'``); None: the border is ignored.
    background: Optional[float] = None

    def __init__(self, name: Optional[str] = None,
                 ignore_index: float = IGNORE_INDEX) -> None:
        super().__init__(name)
        self.ignore_index = ignore_index

    @property
    def out_channels(self) -> int:
        return self.channels

    # Data pipeline (numpy (H, W) or (H, W, C) arrays).
    def warp(self, target: np.ndarray, warp: Warp,
             border: str = 'ignore') -> np.ndarray:
        """A nearest-interpolated target (labels, binary maps) takes the
        fill at new pixels: the background under ``border='background'``
        where the kind has one, else ``ignore_index``. A smoothly
        interpolated one is warped over its valid pixels only
        (:meth:`warp_valid`): neither the fill nor the ignore value ever
        blends into its values, and new pixels are ignored."""
        if self.interpolation == 'nearest':
            fill = self.background if border == 'background' and \
                self.background is not None else self.ignore_index
            return warp(target, 'nearest', fill)
        return self.warp_valid(target, warp)

    def warp_valid(self, target: np.ndarray, warp: Warp,
                   normalise: bool = True) -> np.ndarray:
        """An (H, W) or (H, W, C) ``target`` warped with
        :attr:`interpolation` over its valid pixels only: every value is
        the interpolation's weighted average of the valid values around it
        (normalised convolution: the values with invalid ones zeroed,
        divided by the warped validity). A pixel whose nearest source is
        invalid or outside the image holds ``ignore_index``.

        Args:
            target: The target.
            warp: The transform.
            normalise: Divide by the warped validity; without, values near
                invalid pixels shrink towards 0 (enough for unit vectors,
                which are renormalised after).
        """
        warped, valid = self.warp_valid_pixels(target, warp, normalise)
        warped = fill_pixels(warped, ~valid, self.ignore_index)
        return warped[..., 0] if target.ndim == 2 else warped

    def warp_valid_pixels(self, target: np.ndarray, warp: Warp,
                          normalise: bool = True
                          ) -> Tuple[np.ndarray, np.ndarray]:
        """:meth:`warp_valid`'s (H, W, C) float32 values (invalid pixels not
        yet set to ``ignore_index``) and (H, W) validity, for kinds that
        post-process the values first."""
        data = target[..., None] if target.ndim == 2 else target
        valid = self.valid_pixels(data)
        zeroed = keep_pixels(data.astype(np.float32, copy=False), valid)
        warped = _channels_last(warp(zeroed, self.interpolation, 0))
        if normalise:
            weight = warp(valid.astype(np.float32), self.interpolation, 0)
            warped /= np.where(np.abs(weight) > 1e-6, weight, 1)[..., None]
        valid = warp(valid.view(np.uint8), 'nearest', 0).view(bool)
        return warped, valid

    @staticmethod
    def map_values(target: np.ndarray) -> np.ndarray:
        """An (H, W) or (H, W, 1) target as (H, W); other shapes unchanged
        (for :meth:`target_problem` to refuse)."""
        return target[..., 0] if target.ndim == 3 and \
            target.shape[2] == 1 else target

    def valid_pixels(self, target: np.ndarray) -> np.ndarray:
        """(H, W) mask of the pixels of an (H, W) or (H, W, C) target that
        hold ``ignore_index`` in no channel."""
        if target.ndim == 2:
            return target != self.ignore_index
        valid = target[..., 0] != self.ignore_index
        for channel in range(1, target.shape[2]):
            valid &= target[..., channel] != self.ignore_index
        return valid

    def pack(self, target: np.ndarray) -> PixelData:
        """A (H, W[, C]) array as a (C, H, W) target that records its pad
        value (the data preprocessor pads batches with it)."""
        if target.ndim == 2:
            target = target[..., None]
        tensor = torch.from_numpy(
            np.ascontiguousarray(target.transpose(2, 0, 1)))
        return PixelData(data=tensor.to(self.target_dtype),
                         metainfo=dict(ignore_index=self.ignore_index))

    def valid_mask(self, data: np.ndarray) -> np.ndarray:
        """(H, W) mask of the pixels of a (C, H, W) map that count."""
        return np.all(data != self.ignore_index, axis=0)

    # Predictions (torch).
    def activate(self, logits: Tensor) -> Tensor:
        """Head outputs (N, C, H, W) -> the task's outputs, as an exported
        graph returns them (scores, probabilities, vectors, values)."""
        return logits

    def finalize(self, output: Tensor) -> PixelData:
        """One sample's activated output (C, H, W) at its original size ->
        the prediction set on the sample."""
        return PixelData(data=output)

    def output_at(self, output: Tensor, size: Sequence[int]) -> Tensor:
        """One sample's activated output (C, h, w) at ``size`` (the
        original image size): resized bilinearly, values in pixel units
        rescaled with it."""
        scale = float(np.sqrt(size[0] * size[1] /
                              (output.shape[-2] * output.shape[-1])))
        return self.rescale_values(resize_map(output, size, 'bilinear'),
                                   scale)

    def finalize_at(self, output: Tensor,
                    size: Sequence[int]) -> PixelData:
        """The prediction at ``size`` (the original image size) from one
        sample's activated output (C, h, w): :meth:`output_at`, then
        finalised."""
        return self.finalize(self.output_at(output, size))

    def unflip_output(self, output: Tensor) -> Tensor:
        """The activated output (C, H, W) of a horizontally flipped view as
        the unflipped image's: mirrored back, its values by
        :meth:`flip_values` (the data pipeline's definition, so a kind
        defines what a flip does to its values once)."""
        mirrored = output.flip(-1)
        if type(self).flip_values is BaseTask.flip_values:
            return mirrored
        values = self.flip_values(
            mirrored.permute(1, 2, 0).cpu().numpy().copy())
        return torch.from_numpy(values).permute(2, 0, 1).to(output)

    def merge_views(self, outputs: List[Tensor], metainfos: List[dict],
                    tta_cfg: Optional[dict] = None) -> PixelData:
        """The mean of the views' activated outputs (flipped views
        unflipped), finalised: class probabilities averaged then the
        argmax, unit vectors averaged then normalised (mmseg's
        ``SegTTAModel`` averages probabilities the same way)."""
        views = [self.unflip_output(output) if flipped(meta) else output
                 for output, meta in zip(outputs, metainfos)]
        return self.finalize(torch.stack(views).mean(dim=0))

    def target_values(self, target: PixelData) -> np.ndarray:
        data = target.data.numpy()
        return data.reshape(data.shape[0], -1)[
            :, self.valid_mask(data).reshape(-1)]

    def constant_prediction(self, constant: np.ndarray,
                            target: PixelData) -> PixelData:
        value = torch.as_tensor(constant, dtype=target.data.dtype)
        return PixelData(data=value.reshape(-1, 1, 1).expand(
            -1, *target.shape))

    def draw(self, image: np.ndarray, value: BaseDataElement,
             classes: Sequence[str] = (),
             reference: Optional[BaseDataElement] = None) -> np.ndarray:
        ref = None if reference is None else _numpy(reference.data)
        return self.render(_numpy(value.data), ref)

    @abstractmethod
    def render(self, data: np.ndarray,
               reference: Optional[np.ndarray] = None) -> np.ndarray:
        """An (H, W, 3) uint8 RGB picture of a (C, H, W) map."""

    def to_output(self, prediction: BaseDataElement) -> np.ndarray:
        """(H, W) for one-channel maps, (H, W, C) otherwise."""
        data = _numpy(prediction.data)
        return data[0] if data.shape[0] == 1 else data.transpose(1, 2, 0)


def bad_values(values: np.ndarray, bad: np.ndarray, expected: str,
               shown: int = 6) -> Optional[str]:
    """``'<n> of <m> pixels hold <values>; expected <expected>'`` for the
    ``bad`` (H, W) pixels of ``values`` (H, W[, C]), or None when there are
    none."""
    count = int(np.count_nonzero(bad))
    if not count:
        return None
    found = np.unique(values[bad], axis=0)
    listed = ', '.join(str(v.tolist() if isinstance(v, np.ndarray) else v)
                       for v in found[:shown])
    more = f' and {len(found) - shown} other values' \
        if len(found) > shown else ''
    return (f'{count} of {bad.size} pixels hold {listed}{more}; expected '
            f'{expected}')


def flipped(metainfo: dict) -> bool:
    """Whether a test-time view was flipped horizontally (``flip`` and
    ``flip_direction`` as mmcv's and mmsquad's flips record them).

    Raises:
        ValueError: For another direction; no task kind undoes it.
    """
    if not metainfo.get('flip'):
        return False
    direction = metainfo.get('flip_direction', 'horizontal')
    if direction != 'horizontal':
        raise ValueError(
            f'{metainfo.get("img_path", "a view")}: flip_direction '
            f'{direction!r}; test-time views can only be flipped '
            "horizontally ('horizontal')")
    return True


def resize_map(output: Tensor, size: Sequence[int], mode: str) -> Tensor:
    """A (C, h, w) tensor resized to ``size`` (h, w) with ``mode``."""
    size = tuple(int(s) for s in size)
    if tuple(output.shape[-2:]) == size:
        return output
    if mode == 'nearest':  # integer maps: interpolate as float
        return F.interpolate(output[None].float(), size=size,
                             mode='nearest')[0].to(output.dtype)
    return F.interpolate(output[None], size=size, mode=mode,
                         align_corners=False)[0]


def _channels_last(array: np.ndarray) -> np.ndarray:
    """An (H, W) array as (H, W, 1); (H, W, C) unchanged (OpenCV drops a
    channel axis of one)."""
    return array[..., None] if array.ndim == 2 else array


def _numpy(tensor: Tensor) -> np.ndarray:
    """A tensor as a numpy array (reduced-precision floats as float32)."""
    if tensor.is_floating_point():
        tensor = tensor.float()
    return tensor.detach().cpu().numpy()
