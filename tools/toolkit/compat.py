"""Hosting every model family that the installed mmdet and mmseg bundle as
a task of SquadNet-tiny, checked against mmdet's and mmseg's own losses
(``tools/analysis_tools/compat_matrix.py``); mmpretrain's backbone
families, where mmpretrain imports, as the backbone of a one-task model.

A family is a folder of the package's bundled configs. Its representative
is the first config its ``metafile.yml`` (mmseg: ``.yaml``) lists that
exists (the folder's headline model), else its alphabetically first
config with a ``model``. A family is checked on small images, and again on
larger ones (:data:`SIZES`) only where it fails with an error.
Each family ends as one of :data:`STATUSES`:

The model is built in a one-process group (mmcv's SyncBN needs one to be
constructed), then reverted to BatchNorm as a runner without DDP does,
and without downloads (``Pretrained`` initialisations of a detector
config dropped).

* ``works``: the model builds, trains 2 iterations with finite losses and
  a gradient for every parameter of the hosted part, predicts in original
  image coordinates, and its loss equals the package's own loss on the
  same features, targets and seed (the oracle);
* ``refused``: mmsquad raised a clear error while building the model,
  before any iteration (the first line of its message is recorded);
* ``not a task model``: the folder holds no model a task can host
  (datasets only, tracking or re-identification, semi-supervised
  training around a detector, models that need a text encoder);
* ``FAILED``: anything else (an exception from another package, a loss
  that is not finite or differs from the oracle, a parameter without a
  gradient, a wrong prediction).
"""
import contextlib
import copy
import glob
import os
import os.path as osp
import socket
import time
import traceback
from typing import Callable, Dict, Iterator, List, NamedTuple, Optional

import mmengine
import torch
import torch.distributed as dist
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData

STATUSES = ('works', 'refused', 'not a task model', 'FAILED')
PACKAGES = ('mmdet', 'mmseg')
#: Packages whose families are backbones, hosted under a decode head:
#: checked where they import (mmpretrain needs torchvision, whose only
#: wheel for this torch is CUDA-built).
BACKBONE_PACKAGES = ('mmpretrain', )
#: The summary line of each package: what its families are.
FAMILY_WORDS = {'mmdet': 'mmdet detector families',
                'mmseg': 'mmseg decode-head families',
                'mmpretrain': 'mmpretrain backbone families'}
#: The image sizes a family is checked at: the first, and the next only
#: where a check fails with an error at the one before (heads that pool
#: over large maps, LRASPP's 49-pixel pool at stride 8; SSD's extra
#: levels without padding; deformable convolutions on a 2x2 level).
SIZES = {'mmdet': (128, 320), 'mmseg': (64, 400), 'mmpretrain': (64, 224)}
#: A loss and the oracle's agree to this relative tolerance.
RTOL = 1e-4
PACKAGE_DIR = osp.dirname(osp.abspath(__import__('mmsquad').__file__))
REPO = osp.dirname(PACKAGE_DIR)


class Outcome(NamedTuple):
    """How one family ended: its status and the reason or message."""
    family: str
    config: str
    status: str
    detail: str
    seconds: float


class NotATaskModel(Exception):
    """The family holds no model a task can host (the reason)."""


class Mismatch(Exception):
    """A hosted model trains or predicts differently from its package."""


def unavailable(package: str) -> Optional[str]:
    """Why ``package``'s families cannot be checked here (it, or
    torchvision for mmpretrain, does not import), or None."""
    needs = ['torchvision', package] if package in BACKBONE_PACKAGES \
        else [package]
    for module in needs:
        try:
            __import__(module)
        except Exception as error:  # ImportError, or a CUDA-built wheel's
            return f'{module} cannot be imported here ({first_line(error)})'
    return None


def configs_dir(package: str) -> str:
    """The bundled configs of an installed OpenMMLab package."""
    module = __import__(package)
    return osp.join(osp.dirname(module.__file__), '.mim', 'configs')


def families(package: str) -> List[str]:
    """The family folders of a package's bundled configs (``_base_`` is
    the parts they inherit, not a family)."""
    root = configs_dir(package)
    return sorted(name for name in os.listdir(root)
                  if osp.isdir(osp.join(root, name))
                  and not name.startswith('_'))


def representative(package: str, family: str) -> Optional[str]:
    """The family's representative config (path relative to the package's
    configs): the first its ``metafile.yml`` (mmseg: ``metafile.yaml``)
    lists that exists, else the
    alphabetically first that defines a ``model``; None if none does."""
    root = configs_dir(package)
    metafile = next((path for path in (
        osp.join(root, family, f'metafile.{ext}') for ext in ('yml', 'yaml'))
        if osp.exists(path)), None)
    meta = mmengine.load(metafile) if metafile else None
    if isinstance(meta, dict):
        for model in meta.get('Models') or []:
            config = model.get('Config', '')
            relative = config.split('configs/', 1)[-1]
            if osp.exists(osp.join(root, relative)):
                return relative
    for path in sorted(glob.glob(osp.join(root, family, '**', '*.py'),
                                 recursive=True)):
        try:
            if 'model' in Config.fromfile(path,
                                          import_custom_modules=False):
                return osp.relpath(path, root)
        except Exception:  # a config this installation cannot read
            continue
    return None


def raised_by_mmsquad(error: BaseException) -> bool:
    """Whether the innermost frame that raised ``error`` is mmsquad's own
    code (a refusal with a message) rather than another package's."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return False
    return osp.abspath(frames[-1].filename).startswith(PACKAGE_DIR + os.sep)


def first_line(error: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an exception, on one line, cut to ``limit``."""
    text = f'{type(error).__name__}: {error}'.replace('\n', ' ').replace(
        '|', '/')
    return text if len(text) <= limit else text[:limit - 3] + '...'


def check_family(package: str, family: str, data_root: str) -> Outcome:
    """Host one family's representative and return how it ended."""
    start = time.perf_counter()
    try:
        config = representative(package, family)
    except Exception as error:  # a folder this installation cannot read
        return Outcome(family, '', 'FAILED', first_line(error),
                       time.perf_counter() - start)
    if config is None:
        return Outcome(family, '', 'not a task model',
                       'no config with a model (datasets or shared parts)',
                       time.perf_counter() - start)
    check = dict(mmdet=check_detector, mmseg=check_decode_head,
                 mmpretrain=check_backbone)[package]
    path = osp.join(configs_dir(package), config)
    for size in SIZES[package]:
        try:
            status, detail = check(path, data_root, size)
        except NotATaskModel as reason:
            status, detail = 'not a task model', str(reason)
        except Mismatch as error:  # wrong, not too small: no retry
            status, detail = 'FAILED', first_line(error)
        except Exception as error:  # every failure is recorded, not raised
            status, detail = 'FAILED', first_line(error)
            if size != SIZES[package][-1]:
                continue
        break
    if size != SIZES[package][0]:
        detail += f' (at {size} px; at {SIZES[package][0]} px it fails)' \
            if status != 'FAILED' else ' (at ' + ' and '.join(
                str(s) for s in SIZES[package]) + ' px)'
    return Outcome(family, config, status, detail,
                   time.perf_counter() - start)


@contextlib.contextmanager
def _one_process_group() -> Iterator[None]:
    """A one-process gloo group while a model is built: mmcv's SyncBN
    cannot be constructed without one (as under ``dist_train.sh CONFIG
    1``); the built model is then reverted to BatchNorm, as a runner
    without DDP does."""
    if dist.is_initialized():
        yield
        return
    with socket.socket() as free:
        free.bind(('127.0.0.1', 0))
        port = free.getsockname()[1]
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=0, world_size=1)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _build(build: Callable[[], torch.nn.Module]):
    """``(model, None)``, or ``(None, refusal)`` when mmsquad refuses the
    component; another package's exception propagates (a failure)."""
    try:
        with _one_process_group():
            return build(), None
    except Exception as error:
        if raised_by_mmsquad(error) and isinstance(error, (ValueError,
                                                           TypeError)):
            return None, first_line(error)
        raise


def _model_class(registry, cfg: dict) -> type:
    kind = cfg['type']
    found = registry.get(kind) if isinstance(kind, str) else kind
    if found is None:
        raise Mismatch(f'{kind} is not registered in the installed package')
    return found


def _gradless(module: torch.nn.Module) -> List[str]:
    return [name for name, p in module.named_parameters()
            if p.requires_grad and p.grad is None]


def _train_twice(model, raw: dict, hosted: torch.nn.Module) -> None:
    """One backward pass checked for a gradient on every parameter of
    ``hosted``, then two training steps with finite losses."""
    model.train()
    data = model.data_preprocessor(copy.deepcopy(raw), True)
    losses = model(**data, mode='loss')
    total, _ = model.parse_losses(losses)
    total.backward()
    missing = _gradless(hosted)
    if missing:
        raise Mismatch(f'{len(missing)} parameters get no gradient '
                       f'({missing[0]}, ...): DDP would need '
                       'find_unused_parameters')
    model.zero_grad()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=1e-4))
    for _ in range(2):
        log = model.train_step(copy.deepcopy(raw), wrapper)
        bad = [k for k, v in log.items() if not torch.isfinite(v).all()]
        if bad:
            raise Mismatch(f'losses not finite: {bad}')


def _same(name: str, ours: float, theirs: float) -> None:
    if not abs(ours - theirs) <= RTOL * max(1.0, abs(theirs)):
        raise Mismatch(f'{name} {ours:.6g} differs from the package\'s own '
                       f'{theirs:.6g} on the same features')


# -- mmdet -------------------------------------------------------------------

UNDERWATER_CONFIG = osp.join(REPO, 'configs', 'squad',
                             'underwater_demo.py')


def _not_a_detector(model_cfg: dict) -> None:
    """Raise :class:`NotATaskModel` for a model that is no detector a box
    task can host."""
    from mmdet.models.detectors import BaseDetector
    from mmdet.registry import MODELS as DET_MODELS
    kind = _model_class(DET_MODELS, model_cfg)
    if 'language_model' in model_cfg:
        raise NotATaskModel(f'{kind.__name__} detects from text prompts '
                            'through a language model (grounding)')
    names = [base.__name__ for base in kind.__mro__]
    if 'SemiBaseDetector' in names:
        raise NotATaskModel(f'{kind.__name__} is semi-supervised training '
                            '(teacher and student) around a detector')
    if not issubclass(kind, BaseDetector):
        role = next((n for n in names if n.startswith('Base')), names[1])
        raise NotATaskModel(f'{kind.__name__} is a {role} (video tracking '
                            'or re-identification), not a detector')


def _each_dict(cfg) -> Iterator[dict]:
    """Every dict nested in a config (itself included); a visitor may
    change the dict it is given before its items are walked."""
    if isinstance(cfg, dict):
        yield cfg
        cfg = cfg.values()
    for item in list(cfg):
        if isinstance(item, (dict, list)):
            yield from _each_dict(item)


def _keep_every_box(cfg) -> None:
    """Set every ``score_thr`` to 0: an untrained detector's scores are
    below mmdet's thresholds, and the check needs boxes."""
    for item in _each_dict(cfg):
        if 'score_thr' in item:
            item['score_thr'] = 0.0


def _same_state(detector: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``detector`` for the oracle, so that losses with state
    (GHM's running statistics) see the same state in both computations;
    the detector itself where it cannot be copied (YOLACT keeps tensors
    made in a graph)."""
    try:
        return copy.deepcopy(detector)
    except RuntimeError:
        return detector


def _without_downloads(cfg) -> None:
    """Drop every ``Pretrained`` ``init_cfg`` (the check runs offline and
    is about hosting, not about weights)."""
    for item in _each_dict(cfg):
        init = item.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            del item['init_cfg']
        elif isinstance(init, list):
            item['init_cfg'] = [i for i in init
                                if i.get('type') != 'Pretrained'] or None


def _training_pipeline(bundled: Config) -> list:
    """The bundled config's training pipeline (inside dataset wrappers)."""
    loader = bundled.get('train_dataloader') or {}
    dataset = loader.get('dataset') or {}
    while 'pipeline' not in dataset and isinstance(dataset.get('dataset'),
                                                     dict):
        dataset = dataset['dataset']
    return dataset.get('pipeline') or bundled.get('train_pipeline') or []


def _annotations_loaded(bundled: Config) -> dict:
    """What the bundled config's training pipeline loads besides boxes
    (``with_mask``, ``poly2mask``, ``with_seg``): its detector trains on
    it."""
    for step in _training_pipeline(bundled):
        if str(step.get('type', '')).endswith('LoadAnnotations'):
            return {k: v for k, v in step.items()
                    if k in ('with_mask', 'poly2mask', 'with_seg')}
    return {}


def _loads_proposals(bundled: Config) -> bool:
    """Whether the bundled config's detector reads precomputed proposals
    (Fast R-CNN's ``LoadProposals``)."""
    return any(str(step.get('type', '')).endswith('LoadProposals')
               for step in _training_pipeline(bundled))


def _with_proposals(pipeline: list) -> list:
    """``pipeline`` loading the demo's proposals after the image, its
    geometric steps (``WithReference``, ``Resize``) wrapped in mmdet's
    ``ProposalBroadcaster``, as mmdet's Fast R-CNN configs do."""
    steps = [dict(type='mmdet.ProposalBroadcaster', transforms=[step])
             if step['type'] == 'WithReference'
             or step['type'].endswith('Resize') else step
             for step in pipeline]
    return steps[:1] + [dict(type='mmdet.LoadProposals')] + steps[1:]


def check_detector(path: str, data_root: str, size: int):
    """Host an mmdet config's detector as the det task of the underwater
    model (SquadNet-tiny) on the demo data in ``data_root``, resized to
    ``size`` (the longer side)."""
    from mmsquad.models.heads.dense_head_adapter import with_test_metainfo
    from mmsquad.registry import DATASETS, MODELS
    bundled = Config.fromfile(path, import_custom_modules=False)
    detector = bundled.model.to_dict()
    _not_a_detector(detector)
    _keep_every_box(detector)
    _without_downloads(detector)
    cfg = Config.fromfile(UNDERWATER_CONFIG)
    for step in _each_dict([cfg.train_dataloader.dataset.pipeline,
                            cfg.test_dataloader.dataset.pipeline]):
        if step['type'].endswith('LoadAnnotations'):
            step.update(_annotations_loaded(bundled))
        if step['type'].endswith('Resize'):
            step['scale'] = (size, size)
    for loader, split in ((cfg.train_dataloader, 'train'),
                          (cfg.test_dataloader, 'test')):
        if _annotations_loaded(bundled).get('with_seg'):  # HTC's, SCNet's
            loader.dataset.data_prefix['seg'] = f'semantic/{split}/'
        if _loads_proposals(bundled):  # Fast R-CNN's
            loader.dataset.proposal_file = f'proposals/{split}.pkl'
            loader.dataset.pipeline = _with_proposals(
                loader.dataset.pipeline)
    cfg.model.backbone.arch = 'tiny'
    cfg.model.heads.det = dict(type='DetectorAdapter', detector=detector,
                               num_classes=4, strides_from_features=True)

    def build():
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.init_weights()
        return revert_sync_batchnorm(model)  # as a runner without DDP

    model, refusal = _build(build)
    if refusal:
        return 'refused', refusal
    raw, test_raw = (pseudo_collate([dataset[i] for i in range(min(
        2, len(dataset)))]) for dataset in (DATASETS.build(dict(
            loader.dataset.to_dict(), data_root=data_root)) for loader in (
                cfg.train_dataloader, cfg.test_dataloader)))
    adapter = model.heads.det
    _train_twice(model, raw, adapter)
    own = _same_state(adapter.detector)
    with torch.no_grad():  # in training mode: query heads need it
        data = model.data_preprocessor(copy.deepcopy(raw), True)
        torch.manual_seed(1)
        # A copy: mmdet's RoI heads rename the fields of the samples'
        # proposals in place.
        ours = sum(float(v) for k, v in model(
            **copy.deepcopy(data), mode='loss').items()
            if k.startswith('det.') and 'loss' in k)
        torch.manual_seed(1)
        feats = tuple(model.extract_feats(data['inputs'])['det'])
        feats = feats[-adapter.levels:] if adapter.levels else feats
        theirs, _ = own.parse_losses(own.loss(feats,
                                              data['data_samples']))
        _same('the detector loss', ours, float(theirs))
        model.eval()
        samples, unscaled = [], []
        # The test pipeline's samples (no training flip for mmdet's
        # test-time merges to undo), one image a batch, as mmdet's test
        # loaders (its guided anchoring masks a convolution per image).
        for one in ({k: v[i:i + 1] for k, v in test_raw.items()}
                    for i in range(len(test_raw['inputs']))):
            samples += model.test_step(copy.deepcopy(one))
            # The inputs test_step predicts on: preprocessed for testing.
            data = model.data_preprocessor(copy.deepcopy(one), False)
            feats = tuple(model.extract_feats(data['inputs'])['det'])
            feats = feats[-adapter.levels:] if adapter.levels else feats
            with_test_metainfo(data['data_samples'])  # as mmdet's pipeline
            unscaled += adapter.detector.predict(
                tuple(f.float() for f in feats), data['data_samples'],
                rescale=False)
    for sample, before in zip(samples, unscaled):
        boxes = sample.pred_instances.bboxes
        if len(boxes) != len(before.pred_instances.bboxes):
            raise Mismatch(f'{len(boxes)} boxes predicted, the detector '
                           f'predicts {len(before.pred_instances.bboxes)}')
        scale = boxes.new_tensor(sample.scale_factor).repeat(2)
        if not torch.allclose(boxes, before.pred_instances.bboxes / scale,
                              rtol=1e-4, atol=1e-3):
            raise Mismatch('predicted boxes are not the detector\'s own in '
                           'original image coordinates')
    return 'works', f'{type(adapter.detector).__name__}'


# -- mmseg -------------------------------------------------------------------

def _segmentor_heads(model_cfg: dict) -> dict:
    """The decode and auxiliary heads of an mmseg segmentor config, for a
    task of the model (``in_channels`` and ``num_classes`` removed, as the
    mixing guide says), or :class:`NotATaskModel`."""
    from mmseg.models.segmentors import EncoderDecoder
    from mmseg.registry import MODELS as SEG_MODELS
    kind = _model_class(SEG_MODELS, model_cfg)
    if 'text_encoder' in model_cfg:
        raise NotATaskModel(f'{kind.__name__} segments from text prompts '
                            'through a text encoder (open vocabulary)')
    if not issubclass(kind, EncoderDecoder) or 'decode_head' not in \
            model_cfg:
        raise NotATaskModel(f'{kind.__name__} has no decode head')

    def plain(head):
        if isinstance(head, list):
            return [plain(h) for h in head]
        head = dict(head, _scope_='mmseg')
        head.pop('in_channels', None)
        head.pop('num_classes', None)
        return head

    heads = dict(head=plain(model_cfg['decode_head']),
                 backbone_levels=_backbone_levels(model_cfg))
    if model_cfg.get('auxiliary_head'):
        heads['auxiliary_head'] = plain(model_cfg['auxiliary_head'])
    return heads


def _backbone_levels(model_cfg: dict) -> int:
    """How many levels the segmentor config's backbone gives: its
    ``out_indices`` (given, or its class's default), else one more than
    the deepest ``in_index`` of its heads."""
    import inspect

    from mmseg.registry import MODELS as SEG_MODELS
    backbone = model_cfg.get('backbone') or {}
    out = backbone.get('out_indices')
    if out is None and isinstance(backbone.get('type'), str):
        kind = SEG_MODELS.get(backbone['type'])
        if kind is not None:
            param = inspect.signature(kind.__init__).parameters.get(
                'out_indices')
            out = None if param is None else param.default
    if isinstance(out, (list, tuple)) and out:
        return len(out)
    heads = [model_cfg['decode_head'], model_cfg.get('auxiliary_head')]
    indices = []
    for head in heads:
        for h in (head if isinstance(head, list) else [head]):
            if h:
                index = h.get('in_index', -1)
                indices += index if isinstance(index, (list, tuple)) \
                    else [index]
    return max(indices + [0]) + 1


def _seg_samples(samples: list, size: int) -> list:
    from mmseg.structures import SegDataSample
    converted = []
    for sample in samples:
        seg = SegDataSample(gt_sem_seg=PixelData(
            data=sample.gt_semseg.data))
        seg.set_metainfo(dict(img_shape=(size, size),
                              pad_shape=(size, size)))
        converted.append(seg)
    return converted


def as_mmseg_segmentor(adapter, feats: list):
    """The hosted heads in mmseg's own segmentor code: the methods of
    ``EncoderDecoder`` (``CascadeEncoderDecoder`` for a cascade) bound to
    a stand-in whose backbone gives ``feats``."""
    import types

    from mmseg.models.segmentors import (CascadeEncoderDecoder,
                                         EncoderDecoder)
    stages = adapter.stages
    kind = CascadeEncoderDecoder if len(stages) > 1 else EncoderDecoder
    aux = adapter.auxiliary_heads
    segmentor = types.SimpleNamespace(
        decode_head=adapter.head, num_stages=len(stages),
        auxiliary_head=aux[0] if len(aux) == 1 else aux,
        with_auxiliary_head=len(aux) > 0, train_cfg=adapter.train_cfg,
        test_cfg=adapter.test_cfg, extract_feat=lambda inputs: feats)
    for name in ('_decode_head_forward_train',
                 '_auxiliary_head_forward_train', 'encode_decode'):
        setattr(segmentor, name, types.MethodType(getattr(kind, name),
                                                  segmentor))
    return segmentor


def _loss_sum(losses: dict, keep: Callable[[str], bool]) -> float:
    return sum(float(v) for k, v in losses.items()
               if keep(k) and 'loss' in k.rpartition('.')[2])


def check_decode_head(path: str, data_root: str, size: int):
    """Host an mmseg config's decode head (and auxiliary heads) as the
    semseg task of SquadNet-tiny on random labels of ``size`` x ``size``
    (``data_root`` unused); the oracle is mmseg's own segmentor code
    (``EncoderDecoder`` or ``CascadeEncoderDecoder``) on the same
    features."""
    from mmsquad.registry import MODELS
    from toolkit.samples import random_samples
    segmentor = Config.fromfile(path, import_custom_modules=False).model
    heads = _segmentor_heads(segmentor.to_dict())

    def build():
        torch.manual_seed(0)
        model = MODELS.build(dict(
            type='MultiTaskModel', tasks=['semseg'],
            backbone=dict(type='SquadNet', arch='tiny'),
            heads=dict(semseg=dict(
                type='DecodeHeadAdapter', **heads,
                train_cfg=segmentor.get('train_cfg'),
                test_cfg=segmentor.get('test_cfg')))))
        model.init_weights()
        return revert_sync_batchnorm(model)  # as a runner without DDP

    model, refusal = _build(build)
    if refusal:
        return 'refused', refusal
    torch.manual_seed(0)
    samples = random_samples(model.tasks, 2, size)
    samples[0].gt_semseg.data[:, :4] = 255  # ignored pixels
    inputs = [torch.randint(0, 256, (3, size, size),
                            dtype=torch.uint8) for _ in samples]
    raw = dict(inputs=inputs, data_samples=samples)
    adapter = model.heads.semseg
    _train_twice(model, raw, adapter)
    model.eval()  # the same statistics and no dropout in both
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(raw), True)
        torch.manual_seed(1)  # point and query heads sample points
        ours = model(**data, mode='loss')
        feats = list(model.extract_feats(data['inputs'])['semseg'])
        seg = _seg_samples(data['data_samples'], size)
        own = as_mmseg_segmentor(adapter, feats)
        torch.manual_seed(1)
        theirs = own._decode_head_forward_train(feats, seg)
        if own.with_auxiliary_head:
            theirs.update(own._auxiliary_head_forward_train(feats, seg))
        _same('the decode head loss',
              _loss_sum(ours, lambda k: not k.startswith('semseg.aux')),
              _loss_sum(theirs, lambda k: k.startswith('decode')))
        _same('the auxiliary head loss',
              _loss_sum(ours, lambda k: k.startswith('semseg.aux')),
              _loss_sum(theirs, lambda k: k.startswith('aux')))
        torch.manual_seed(2)  # heads that draw (Hamburger's NMF bases)
        predicted = model.test_step(copy.deepcopy(raw))
        data = model.data_preprocessor(copy.deepcopy(raw), False)
        feats = list(model.extract_feats(data['inputs'])['semseg'])
        metas = [dict(img_shape=(size, size), pad_shape=(size, size))
                 for _ in feats[0]]
        torch.manual_seed(2)
        classes = as_mmseg_segmentor(adapter, feats).encode_decode(
            None, metas).argmax(1)
    for sample, expected in zip(predicted, classes):
        found = sample.pred_semseg.data
        if tuple(found.shape[-2:]) != (size, size):
            raise Mismatch(f'pred_semseg of shape {tuple(found.shape)}, '
                           'not the image\'s')
        agree = (found[0] == expected).float().mean().item()
        if agree < 0.999:
            raise Mismatch(f'pred_semseg agrees with mmseg\'s prediction '
                           f'on {agree:.1%} of the pixels')
    return 'works', ' + '.join(type(h).__name__ for h in adapter.stages)


# -- mmpretrain ---------------------------------------------------------------

def check_backbone(path: str, data_root: str, size: int):
    """Host a config's backbone (an mmpretrain classifier's, or any
    config's ``model.backbone``, in its package's scope) as the backbone
    of a one-task model under an FCN decode head, on random labels of
    ``size`` x ``size`` (``data_root`` unused): it trains 2 iterations
    with a gradient for each of its trainable parameters, and the features
    the model hands the head are the backbone's own outputs (the
    oracle)."""
    from mmsquad.registry import MODELS
    from toolkit.samples import random_samples
    model_cfg = Config.fromfile(path, import_custom_modules=False).model
    backbone = model_cfg.get('backbone')
    if not backbone:
        raise NotATaskModel(f'{model_cfg.get("type")} has no backbone')
    scope = next(p for p in (*PACKAGES, *BACKBONE_PACKAGES)
                 if path.startswith(configs_dir(p)))
    backbone = dict(backbone.to_dict(), _scope_=scope)
    _without_downloads(backbone)

    def build():
        torch.manual_seed(0)
        model = MODELS.build(dict(
            type='MultiTaskModel', tasks=['semseg'], backbone=backbone,
            heads=dict(semseg=dict(type='DecodeHeadAdapter', head=dict(
                _scope_='mmseg', type='FCNHead', channels=16, num_convs=1,
                norm_cfg=dict(type='BN'))))))
        model.init_weights()
        return revert_sync_batchnorm(model)

    model, refusal = _build(build)
    if refusal:
        return 'refused', refusal
    torch.manual_seed(0)
    samples = random_samples(model.tasks, 2, size)
    inputs = [torch.randint(0, 256, (3, size, size), dtype=torch.uint8)
              for _ in samples]
    raw = dict(inputs=inputs, data_samples=samples)
    _train_twice(model, raw, model.backbone)
    model.eval()
    with torch.no_grad():
        data = model.data_preprocessor(copy.deepcopy(raw), False)
        ours = model.extract_feats(data['inputs'])['semseg']
        theirs = model.backbone(data['inputs'])
        theirs = [theirs] if isinstance(theirs, torch.Tensor) else theirs
        for level, (a, b) in enumerate(zip(ours, theirs)):
            if not torch.allclose(a, b, rtol=RTOL, atol=1e-5):
                raise Mismatch(f'feature level {level} differs from the '
                               'backbone\'s own output')
        predicted = model.test_step(copy.deepcopy(raw))
    shape = tuple(predicted[0].pred_semseg.data.shape[-2:])
    if shape != (size, size):
        raise Mismatch(f'pred_semseg of shape {shape}, not the image\'s')
    return 'works', type(model.backbone).__name__


# -- the report --------------------------------------------------------------

def summary_line(package: str, outcomes: List[Outcome]) -> str:
    """``mmdet detector families: W works, R refused, N not a task model,
    F FAILED of T``."""
    counts = {status: sum(o.status == status for o in outcomes)
              for status in STATUSES}
    return (f'{FAMILY_WORDS[package]}: ' + ', '.join(
        f'{counts[s]} {s}' for s in STATUSES) + f' of {len(outcomes)}')


def versions() -> Dict[str, str]:
    """The versions (and mmsquad's commit) the matrix was made with
    (mmpretrain's where it imports)."""
    import mmcv
    import mmdet
    import mmseg

    import mmsquad
    from toolkit.experiment import code_commit
    found = {'mmsquad': f'{mmsquad.__version__} ({code_commit()})',
             'mmdet': mmdet.__version__, 'mmseg': mmseg.__version__}
    if unavailable('mmpretrain') is None:
        found['mmpretrain'] = __import__('mmpretrain').__version__
    return dict(found, mmcv=mmcv.__version__, mmengine=mmengine.__version__,
                torch=torch.__version__)


def cache_key() -> str:
    """What a cached outcome depends on: the packages' versions, mmsquad's
    source and the checks' (a digest of ``mmsquad/**/*.py`` and of this
    file)."""
    import hashlib
    import json
    digest = hashlib.sha256()
    for path in sorted(glob.glob(osp.join(PACKAGE_DIR, '**', '*.py'),
                                 recursive=True)) + [osp.abspath(__file__)]:
        digest.update(osp.relpath(path, REPO).encode())
        with open(path, 'rb') as f:
            digest.update(f.read())
    found = {k: v for k, v in versions().items() if k != 'mmsquad'}
    return json.dumps(dict(found, mmsquad=digest.hexdigest()[:16]),
                      sort_keys=True)


def markdown(results: Dict[str, List[Outcome]],
             skipped: Dict[str, str]) -> str:
    """``docs/compatibility.md``: versions, the summary lines, one table
    per package with one row per family, and why a package in
    ``skipped`` was not checked."""
    lines = [
        '# Compatibility with mmdet, mmseg and mmpretrain', '',
        'Every model family (config folder) that the installed mmdet and '
        'mmseg bundle, hosted as a task of SquadNet-tiny by '
        '`make compat` (`tools/analysis_tools/compat_matrix.py`): its '
        "representative config (the first its `metafile.yml` lists) "
        'trains 2 iterations on generated data, predicts, and its loss '
        "is compared with the package's own on the same features "
        '(`tools/toolkit/compat.py` states the rules). mmpretrain\'s '
        'backbone families, where it imports, are hosted as the backbone '
        'of a one-task model under an FCN head.', '',
        'Versions: ' + ', '.join(f'{k} {v}' for k, v in
                                 versions().items()) + '.', '']
    every = (*PACKAGES, *BACKBONE_PACKAGES)
    lines += [summary_line(p, results[p]) for p in every if p in results]
    for package in every:
        if package in skipped:
            lines += ['', f'## {package}', '',
                      f'Not checked: {skipped[package]}.']
        if package not in results:
            continue
        lines += ['', f'## {package}', '',
                  '| family | config | status | detail |',
                  '|---|---|---|---|']
        lines += [f'| {o.family} | {o.config} | {o.status} | {o.detail} |'
                  for o in results[package]]
    return '\n'.join(lines) + '\n'
