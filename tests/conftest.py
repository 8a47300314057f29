"""Shared fixtures: registered modules and a small rendered dataset; an
operator recorder; ``tools/`` on the path (its ``toolkit``). Under pytest-xdist the cores are divided between the
workers."""
import os
import os.path as osp
import sys

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mmsquad.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The tools' shared package (config set-up, demo data, references).
sys.path.insert(0, osp.join(REPO, 'tools'))
from toolkit.synthetic import make_pascal_mt_demo  # noqa: E402
TINY_CONFIG = osp.join(REPO, 'tests', 'configs', 'tiny_demo.py')

register_all_modules()


def pytest_configure(config) -> None:
    """Register the ``long`` marker. Give each pytest-xdist worker its share
    of torch's threads, and the tools it starts as subprocesses the same
    share: without it every worker's torch takes all cores and the workers
    slow each other down."""
    config.addinivalue_line(
        'markers', 'long: runs for minutes; its file is scheduled first')
    workers = os.environ.get('PYTEST_XDIST_WORKER_COUNT')
    if workers is None:
        return
    threads = max(1, torch.get_num_threads() // int(workers))
    torch.set_num_threads(threads)
    os.environ['OMP_NUM_THREADS'] = str(threads)


def pytest_collection_modifyitems(items: list) -> None:
    """Move the ``long`` tests to the front: with ``--dist=loadfile
    --no-loadscope-reorder`` (the Makefile's) their files go to the workers
    first instead of last, and the workers finish together."""
    items.sort(key=lambda item: item.get_closest_marker('long') is None)


def layout_of(x: torch.Tensor) -> str:
    """``channels_last``, ``nchw`` or ``strided``."""
    if x.is_contiguous(memory_format=torch.channels_last):
        return 'channels_last'
    return 'nchw' if x.is_contiguous() else 'strided'


class OpRecorder(TorchDispatchMode):
    """Records every operator that runs inside it: ``calls`` holds its name
    (without overload) and the layouts of its 4-D tensor arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = []

    @property
    def names(self) -> set:
        return {name for name, _ in self.calls}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls.append((func.__name__.split('.')[0], [
            layout_of(a) for a in args
            if isinstance(a, torch.Tensor) and a.dim() == 4]))
        return func(*args, **(kwargs or {}))


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory) -> str:
    """A PASCAL_MT-layout dataset of 8 train and 4 val 32x32 images."""
    root = str(tmp_path_factory.mktemp('PASCAL_MT_demo'))
    make_pascal_mt_demo(root, num_train=8, num_val=4, size=32, seed=1,
                        person_prob=0.7)
    return root


@pytest.fixture(scope='session')
def tiny_checkpoint(tmp_path_factory) -> str:
    """A checkpoint of the tiny config's model with non-trivial BatchNorm
    statistics, saved the way the runner saves them."""
    import torch
    from mmengine.runner import save_checkpoint

    from mmsquad.apis import init_model
    torch.manual_seed(0)
    model = init_model(TINY_CONFIG)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 2.0)
    path = str(tmp_path_factory.mktemp('tiny_ckpt') / 'tiny.pth')
    save_checkpoint(dict(state_dict=model.state_dict(), meta={}), path)
    return path


def reference_outputs(model, bgr_images):
    """Every task's output at the input size, computed step by step from
    the model's tensor mode: (N, H, W, 3) uint8 BGR -> {task: (N, C, H, W)}
    (softmax scores, sigmoid probabilities, unit normals)."""
    import torch
    import torch.nn.functional as F

    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    rgb = torch.from_numpy(bgr_images[..., ::-1].copy()).permute(0, 3, 1, 2)
    x = (rgb.float() - mean) / std
    with torch.no_grad():
        logits = model(x, mode='tensor')
    outputs = {}
    for task, value in logits.items():
        value = F.interpolate(value, size=x.shape[-2:], mode='bilinear',
                              align_corners=False)
        if task in ('semseg', 'human_parts'):
            outputs[task] = value.softmax(dim=1)
        elif task == 'sal':
            outputs[task] = value.sigmoid()
        else:
            outputs[task] = F.normalize(value, dim=1)
    return outputs


UNDERWATER_DEMO_CONFIG = osp.join(REPO, 'configs', 'squad',
                                  'underwater_demo.py')


@pytest.fixture(scope='session')
def underwater_root(tmp_path_factory) -> str:
    """An underwater demo set (DUO layout + references) of 8 train and 4
    test 64x64 images."""
    from toolkit.synthetic import make_underwater_demo
    root = str(tmp_path_factory.mktemp('underwater_demo'))
    make_underwater_demo(root, num_train=8, num_test=4, size=64, seed=1)
    return root
