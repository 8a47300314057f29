"""Run a trained multi-task model on images: ``MultiTaskInferencer``."""
import collections
import glob
import logging
import math
import os.path as osp
from datetime import datetime
from typing import (Any, Dict, Iterable, Iterator, List, Optional, Sequence,
                    Union)

import cv2
import mmcv
import mmengine
import numpy as np
import torch
from mmengine.infer import BaseInferencer
from mmengine.logging import print_log
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from rich.progress import track

import mmsquad
from mmsquad.models.deploy import fold_batchnorm
from mmsquad.registry import INFERENCERS, VISUALIZERS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import BaseTask
from mmsquad.utils import register_all_modules
from mmsquad.utils.checkpoint import load_weights
from mmsquad.utils.checkpoint import trust_checkpoint as mark_trusted
from mmsquad.utils.image_files import (IMAGE_SUFFIXES, exif_orientation,
                                       find_images)
from mmsquad.utils.precision import autocast
from mmsquad.visualization import MultiTaskVisualizer

InputType = Union[str, np.ndarray]
InputsType = Union[InputType, Sequence[InputType]]

# What a file that cannot be read or decoded raises in the image loader
# (cv2.error for a 0-byte file).
UNREADABLE_ERRORS = (OSError, AssertionError, ValueError, cv2.error)
# Largest network input (height x width) predicted by default: a 4000x3000
# photo through a test pipeline without a resize needs about 14 GB.
MAX_PIXELS = 2048 * 2048
# Test-pipeline steps that read labels, which an inferencer does not have.
ANNOTATION_LOADERS = ('LoadMultiTaskAnnotations', 'LoadAnnotations',
                      'mmdet.LoadAnnotations', 'LoadEnhancementReference')


def check_device(device: Optional[str]) -> None:
    """Raise unless ``device`` (None: the default) names a device this
    machine has, with the reason (torch's own errors say
    'Torch not compiled with CUDA enabled' from inside the model's move).

    Raises:
        ValueError: For a malformed name, or a CUDA device that is not there.
    """
    if device is None:
        return
    try:
        kind = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f'device {device!r}: {error}') from None
    if kind.type != 'cuda':
        return
    count = torch.cuda.device_count()
    if (kind.index or 0) < count:
        return
    raise ValueError(f'device {device!r}: this machine has '
                     f'{count or "no"} CUDA device{"" if count == 1 else "s"}'
                     f'{"" if count else "; use cpu"}')


def config_dir() -> str:
    """The ``configs/`` of the repository, or of the installed package."""
    package = osp.dirname(osp.abspath(mmsquad.__file__))
    repo_configs = osp.join(osp.dirname(package), 'configs')
    if osp.isdir(repo_configs):
        return repo_configs
    return osp.join(package, '.mim', 'configs')


def list_configs() -> List[str]:
    """Names of the shipped configs, e.g. ``squad/pascal_ctx``."""
    root = config_dir()
    paths = glob.glob(osp.join(root, '**', '*.py'), recursive=True)
    return sorted(osp.relpath(p, root)[:-3] for p in paths
                  if '_base_' not in p)


def resolve_config(model: str) -> str:
    """The config file of ``model``: a path, or a shipped config's name
    (``squad/pascal_ctx`` or just ``pascal_ctx``).

    Raises:
        ValueError: When ``model`` is neither.
    """
    if osp.isfile(model):
        return model
    name = model[:-3] if model.endswith('.py') else model
    names = list_configs()
    matches = [n for n in names if n == name or osp.basename(n) == name]
    if len(matches) != 1:
        problem = 'is ambiguous' if matches else 'is neither a config file ' \
            'nor the name of a shipped config'
        raise ValueError(f'model {model!r} {problem}; shipped configs: '
                         f'{names}')
    return osp.join(config_dir(), matches[0] + '.py')


@INFERENCERS.register_module()
class MultiTaskInferencer(BaseInferencer):
    """Every task's prediction for images, as mmdet's ``DetInferencer`` and
    mmseg's ``MMSegInferencer`` give theirs.

    Example::

        inferencer = MultiTaskInferencer('configs/squad/demo.py',
                                         weights='epoch_4.pth', device='cpu')
        result = inferencer('images/', out_dir='outputs', batch_size=4)
        result['predictions'][0]['semseg']  # (H, W) class indices

    Args:
        model: Config file path, a shipped config's name (see
            :func:`list_configs`) or a loaded config.
        weights: Checkpoint path.
        device: Device to run on (default: CUDA when available).
        tasks: Tasks to return and draw (default: all of the model's).
        fold: Fold BatchNorm and channel shuffles into the convolutions
            first (same outputs, faster).
        show_progress: Show a progress bar.
        allow_partial: Load only the checkpoint keys that fit the model; by
            default a checkpoint that does not fit exactly is refused.
        trust_checkpoint: Allow the checkpoint to be fully unpickled (it can
            then run code); only for files from a trusted source.
        max_pixels: Images whose network input (after the test pipeline)
            has more pixels than this are skipped with a message; raise it,
            or add a resize to the test pipeline, for larger ones.
        precision: ``fp32``, ``bf16`` (CPUs with avx512_bf16/AMX, GPUs
            that support it) or ``fp16`` (CUDA only): the network runs under
            autocast in that precision; predictions are returned in float32.
    """

    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = {'return_vis'}
    postprocess_kwargs: set = set()

    def __init__(self,
                 model: Union[str, mmengine.Config],
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 tasks: Optional[Sequence[str]] = None,
                 fold: bool = False,
                 show_progress: bool = True,
                 allow_partial: bool = False,
                 trust_checkpoint: bool = False,
                 max_pixels: int = MAX_PIXELS,
                 precision: str = 'fp32') -> None:
        register_all_modules(init_default_scope=False)
        init_default_scope('mmsquad')
        if isinstance(model, str):
            model = resolve_config(model)
        if weights is not None and not osp.isfile(weights):
            raise FileNotFoundError(f'weights {weights} do not exist')
        if weights is not None and trust_checkpoint:
            mark_trusted(weights)
        check_device(device)
        self.weights_name = weights
        self.allow_partial = allow_partial
        self.max_pixels = max_pixels
        super().__init__(model=model, weights=weights, device=device,
                         scope='mmsquad', show_progress=show_progress)
        if device == 'cpu' or not next(self.model.parameters()).is_cuda:
            self.model = revert_sync_batchnorm(self.model)
        if fold:
            self.model = fold_batchnorm(self.model)
        self.precision = precision
        self._autocast()  # checks the precision before any image is read
        self.tasks = self._check_tasks(tasks)
        self.skipped: List[str] = []
        device = next(self.model.parameters()).device
        print_log(f'MultiTaskInferencer: {type(self.model).__name__} with '
                  f'tasks {list(self.tasks)} on {device} in {precision}'
                  f'{" (BatchNorm folded)" if fold else ""}',
                  logger='current')

    def _load_weights_to_model(self, model, checkpoint: Optional[dict],
                               cfg) -> None:
        """Load the weights, refusing a checkpoint that does not fit."""
        if checkpoint is None:
            super()._load_weights_to_model(model, checkpoint, cfg)
        else:
            load_weights(model, checkpoint, self.weights_name,
                         self.allow_partial)

    def _check_tasks(self, tasks: Optional[Sequence[str]]
                     ) -> Dict[str, BaseTask]:
        if tasks is None:
            return dict(self.model.tasks)
        unknown = [t for t in tasks if t not in self.model.tasks]
        if unknown:
            raise ValueError(f'unknown tasks {unknown}: the model predicts '
                             f'{list(self.model.tasks)}')
        return {name: self.model.tasks[name] for name in tasks}

    def _init_pipeline(self, cfg: mmengine.Config) -> mmcv.transforms.Compose:
        """The test pipeline without annotation loading, reading paths and
        arrays alike; photos are turned upright by their EXIF orientation
        (datasets decode in stored order, as their annotations are)."""
        pipeline = [dict(t) for t in cfg.test_dataloader.dataset.pipeline
                    if t['type'] not in ANNOTATION_LOADERS]
        loaders = [i for i, t in enumerate(pipeline)
                   if t['type'] == 'LoadImageFromFile']
        if not loaders:
            raise ValueError('the test pipeline of the config has no '
                             'LoadImageFromFile step')
        pipeline[loaders[0]].update(type='mmdet.InferencerLoader',
                                    color_type='color')
        return mmcv.transforms.Compose(pipeline)

    def _init_visualizer(self, cfg: mmengine.Config) -> MultiTaskVisualizer:
        """The config's visualizer, without backends: the inferencer writes
        its own files."""
        vis_cfg = dict(cfg.get('visualizer', dict(type='MultiTaskVisualizer')))
        vis_cfg.update(vis_backends=None,
                       name=f'inferencer-{datetime.now().timestamp()}')
        return VISUALIZERS.build(vis_cfg)

    def _inputs_to_list(self, inputs: InputsType) -> list:
        """A directory becomes its image files (sub-directories included,
        see :func:`~mmsquad.utils.image_files.find_images`), sorted; a 2-D
        (grayscale) or 4-channel (BGRA) array becomes BGR.

        Raises:
            FileNotFoundError: For a path that does not exist.
            ValueError: For a directory without images, or no inputs.
        """
        if isinstance(inputs, str) and osp.isdir(inputs):
            found = find_images(inputs)
            if not found:
                raise ValueError(f'no images ({", ".join(IMAGE_SUFFIXES)}) '
                                 f'in the directory {inputs}')
            return found
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) \
            else [inputs]
        if not inputs:
            raise ValueError('no inputs given')
        for single in inputs:
            if isinstance(single, str) and not osp.isfile(single):
                raise FileNotFoundError(
                    f'input {single} is a broken or looping symbolic link'
                    if osp.islink(single) else f'input {single} does not '
                    'exist' if not osp.exists(single) else
                    f'input {single} is not an image file or directory')
        return [_bgr(single) for single in inputs]

    def __call__(self,
                 inputs: InputsType,
                 return_datasamples: bool = False,
                 batch_size: int = 1,
                 out_dir: str = '',
                 **kwargs) -> dict:
        """Predict every image of ``inputs``.

        Args:
            inputs: Image path, directory, BGR array, or a list of them.
            return_datasamples: Return the data samples as predictions.
            batch_size: Images per forward pass.
            out_dir: Write panels to ``out_dir/vis`` and predictions to
                ``out_dir/preds``.
            return_vis: Also return the panels (RGB arrays).

        Returns:
            ``dict(predictions=[...], visualization=[...], skipped=[...])``:
            one prediction per readable image (``{'img_path',
            'exif_orientation', <task>: array}`` or a data sample), the
            panels when asked for, and the names of the images that could
            not be read. A photo is predicted upright: turned as its EXIF
            orientation tag says (``exif_orientation``, 1 when it has none),
            and the predictions are in that upright frame.
        """
        _, _, visualize_kwargs, postprocess_kwargs = \
            self._dispatch_kwargs(**kwargs)
        ori_inputs = self._inputs_to_list(inputs)
        self.skipped = []
        batches: Iterable = self.preprocess(ori_inputs, batch_size=batch_size)
        if self.show_progress:
            batches = track(batches, description='Inference',
                            total=math.ceil(len(ori_inputs) / batch_size))
        preds: List[MultiTaskDataSample] = []
        for data in batches:
            preds.extend(self.forward(data))
        visualization = self.visualize(ori_inputs, preds, out_dir=out_dir,
                                       **visualize_kwargs)
        results = self.postprocess(preds, visualization, return_datasamples,
                                   out_dir=out_dir, **postprocess_kwargs)
        results['skipped'] = list(self.skipped)
        return results

    def preprocess(self, inputs: list, batch_size: int = 1,
                   **kwargs) -> Iterator[dict]:
        """Batches of the readable inputs; unreadable ones are reported."""
        readable = self._load_readable(inputs)
        yield from map(self.collate_fn,
                       self._get_chunk_data(readable, batch_size))

    def _load_readable(self, inputs: list) -> Iterator[dict]:
        stems = output_stems(inputs)
        for index, single in enumerate(inputs):
            name = _input_name(single, index)
            try:
                data = self.pipeline(single)
            except UNREADABLE_ERRORS as error:
                self._skip(name, f'cannot read it ({error})')
                continue
            height, width = data['inputs'].shape[-2:]
            if height * width > self.max_pixels:
                self._skip(name, f'its network input is {height}x{width}, '
                           f'more than max_pixels={self.max_pixels}; add a '
                           'resize to the test pipeline or raise max_pixels')
                continue
            data['data_samples'].set_metainfo(
                dict(input_index=index, input_name=name,
                     output_stem=stems[index],
                     exif_orientation=exif_orientation(single)
                     if isinstance(single, str) else 1))
            yield data

    @torch.no_grad()
    def forward(self, inputs: dict, **kwargs) -> List[MultiTaskDataSample]:
        """Predict a batch in the inferencer's precision."""
        with self._autocast():
            return self.model.test_step(inputs)

    def _autocast(self):
        device = next(self.model.parameters()).device.type
        return autocast(self.precision, device)

    def _skip(self, name: str, reason: str) -> None:
        print_log(f'skipped {name}: {reason}', logger='current',
                  level=logging.WARNING)
        self.skipped.append(name)

    def visualize(self,
                  inputs: list,
                  preds: List[MultiTaskDataSample],
                  return_vis: bool = False,
                  out_dir: str = '') -> Optional[List[np.ndarray]]:
        """One panel per image (input + every task); with ``out_dir``,
        ``vis/<name>.png`` and ``vis/<name>_<task>.png`` as well."""
        if not return_vis and not out_dir:
            return None
        panels = []
        for pred in preds:
            image = _rgb(inputs[pred.input_index])
            panel = self.visualizer.make_panel(image, pred, self.tasks)
            panels.append(panel)
            if not out_dir:
                continue
            stem = osp.join(out_dir, 'vis', pred.output_stem)
            mmcv.imwrite(panel[..., ::-1], f'{stem}.png')
            classes = (self.visualizer.dataset_meta or {}).get('classes', ())
            for name, task in self.tasks.items():
                picture = task.draw(image, pred.get(task.prediction_key),
                                    classes)
                mmcv.imwrite(picture[..., ::-1], f'{stem}_{name}.png')
        return panels

    def postprocess(self,
                    preds: List[MultiTaskDataSample],
                    visualization: Optional[List[np.ndarray]] = None,
                    return_datasample: bool = False,
                    out_dir: str = '') -> dict:
        """Predictions as arrays (or data samples); with ``out_dir``, label
        maps as ``preds/<name>_<task>.png`` and other maps as ``.npy``."""
        predictions: List[Union[dict, MultiTaskDataSample]] = []
        for pred in preds:
            arrays = self._as_arrays(pred)
            if out_dir:
                stem = osp.join(out_dir, 'preds', pred.output_stem)
                _save_arrays(arrays, stem)
            predictions.append(pred if return_datasample else dict(
                img_path=pred.get('img_path'),
                exif_orientation=pred.get('exif_orientation'), **arrays))
        return dict(predictions=predictions,
                    visualization=visualization or [])

    def _as_arrays(self, pred: MultiTaskDataSample) -> Dict[str, Any]:
        """``{task: output}`` as each task kind gives it: (H, W) maps,
        (H, W, C) vectors, (H, W, 3) uint8 RGB images; for boxes a dict of
        ``bboxes`` (N, 4), ``scores`` (N,) and ``labels`` (N,)."""
        return {name: task.to_output(pred.get(task.prediction_key))
                for name, task in self.tasks.items()}


def _input_name(single: InputType, index: int) -> str:
    return single if isinstance(single, str) else f'array_{index:05d}'


def output_stems(inputs: list) -> List[str]:
    """Where each input's outputs go, relative to the output directory.

    A file keeps its path relative to the inputs' common directory, without
    its extension (``a/x.jpg`` -> ``a/x``), or with it where two inputs
    would otherwise share a name (``a/x.jpg``, ``a/x.png`` -> ``a/x.jpg``,
    ``a/x.png``); an array is ``array_<index>``.
    """
    paths = [p for p in inputs if isinstance(p, str)]
    root = osp.commonpath([osp.dirname(osp.abspath(p)) for p in paths]) \
        if paths else ''
    names = [osp.relpath(osp.abspath(p), root) if isinstance(p, str) else
             _input_name(p, i) for i, p in enumerate(inputs)]
    stems = [osp.splitext(n)[0] if isinstance(p, str) else n
             for n, p in zip(names, inputs)]
    counts = collections.Counter(stems)
    return [n if counts[s] > 1 else s for n, s in zip(names, stems)]


def _bgr(single: InputType) -> InputType:
    """A path unchanged; an array as 3-channel BGR (from gray or BGRA)."""
    if isinstance(single, str) or single.ndim == 3 and single.shape[2] == 3:
        return single
    if single.ndim == 2 or single.ndim == 3 and single.shape[2] == 1:
        return cv2.cvtColor(single, cv2.COLOR_GRAY2BGR)
    if single.ndim == 3 and single.shape[2] == 4:
        return cv2.cvtColor(single, cv2.COLOR_BGRA2BGR)
    raise ValueError(f'an image array must be (H, W), (H, W, 3) or '
                     f'(H, W, 4); got shape {single.shape}')


def _rgb(single: InputType) -> np.ndarray:
    if isinstance(single, str):
        return mmcv.imread(single, channel_order='rgb')
    return mmcv.bgr2rgb(single)


def _save_arrays(arrays: Dict[str, np.ndarray], stem: str) -> None:
    mmengine.mkdir_or_exist(osp.dirname(stem))
    for task, array in arrays.items():
        if isinstance(array, dict):  # detections
            mmengine.dump({k: v.tolist() for k, v in array.items()},
                          f'{stem}_{task}.json')
        elif array.dtype == np.uint8:
            mmcv.imwrite(array[..., ::-1] if array.ndim == 3 else array,
                         f'{stem}_{task}.png')
        else:
            np.save(f'{stem}_{task}.npy', array.astype(np.float32))
