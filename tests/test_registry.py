"""mmsquad's registry tree and reuse of mmdet / mmseg parts by scope."""
import mmengine.registry as root
import pytest
from mmengine.config import Config

from mmsquad import registry

REGISTRY_NAMES = [
    'MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'EVALUATOR', 'HOOKS',
    'OPTIM_WRAPPERS', 'OPTIMIZERS', 'PARAM_SCHEDULERS', 'VISUALIZERS',
    'VISBACKENDS', 'LOOPS', 'RUNNERS', 'RUNNER_CONSTRUCTORS', 'DATA_SAMPLERS',
    'TASK_UTILS', 'WEIGHT_INITIALIZERS', 'INFERENCERS', 'MODEL_WRAPPERS',
    'LOG_PROCESSORS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'FUNCTIONS'
]


@pytest.mark.parametrize('name', REGISTRY_NAMES)
def test_registry_is_child_of_mmengine_root(name):
    child = getattr(registry, name)
    assert child.scope == 'mmsquad'
    assert child.parent is getattr(root, name)


def test_aggregators_of_mmsquad_and_torchjd_by_scope():
    """mmsquad's aggregators by name, torchjd's under its scope."""
    import torchjd.aggregation as aggregation

    from mmsquad.engine import PCGrad, TorchJDAggregator
    assert isinstance(registry.AGGREGATORS.build(dict(type='PCGrad')), PCGrad)
    upgrad = registry.AGGREGATORS.build(dict(type='torchjd.UPGrad'))
    assert isinstance(upgrad, TorchJDAggregator)
    assert isinstance(upgrad.aggregator, aggregation.UPGrad)
    with pytest.raises(KeyError, match='UPGrad'):
        registry.AGGREGATORS.build(dict(type='UPGrad'))  # not mmsquad's


def test_mmdet_head_builds_in_its_own_scope():
    head = registry.MODELS.build(
        dict(_scope_='mmdet', type='RetinaHead', num_classes=4,
             in_channels=32, feat_channels=32))
    assert type(head).__module__.startswith('mmdet.')
    assert type(head.loss_cls).__module__.startswith('mmdet.')


def test_mmseg_head_builds_in_its_own_scope():
    head = registry.MODELS.build(
        dict(_scope_='mmseg', type='ASPPHead', in_channels=32, channels=16,
             num_classes=5, dilations=(1, 6)))
    assert type(head).__module__.startswith('mmseg.')
    assert type(head.loss_decode).__module__.startswith('mmseg.')


def test_unknown_type_names_it():
    with pytest.raises(KeyError, match='NoSuchBackbone'):
        registry.MODELS.build(dict(type='NoSuchBackbone'))


def test_config_inherits_mmdet_and_mmseg_bases(tmp_path):
    cfg_file = tmp_path / 'mixed.py'
    cfg_file.write_text(
        "_base_ = ['mmdet::_base_/models/retinanet_r50_fpn.py',\n"
        "          'mmseg::_base_/datasets/pascal_context.py']\n"
        "default_scope = 'mmsquad'\n")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.model.bbox_head.type == 'RetinaHead'  # from mmdet
    assert cfg.train_dataloader.dataset.type == 'PascalContextDataset'
    assert cfg.default_scope == 'mmsquad'


def test_an_mmengine_outside_the_tested_versions_is_refused_at_import():
    """mmsquad relies on internals of the mmengine versions it names."""
    import subprocess
    import sys

    from mmsquad.version import MMENGINE_VERSIONS
    for version in ('0.9.1', MMENGINE_VERSIONS[1]):
        result = subprocess.run(
            [sys.executable, '-c', 'import mmengine; mmengine.__version__ = '
             f'{version!r}; import mmsquad'], capture_output=True, text=True)
        assert result.returncode != 0
        assert f'mmengine {version} is installed' in result.stderr
    import mmengine
    result = subprocess.run([sys.executable, '-c', 'import mmsquad'],
                            capture_output=True, text=True)
    assert result.returncode == 0, (mmengine.__version__, result.stderr)
