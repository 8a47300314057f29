"""Every gradient-surgery method applies, under 2-process CPU DDP, the
update that one process applies to the same total batch, and resumes from
its state_dict as if never stopped.

The model is norm-free across samples (group norms, no dropout) and its
losses are means over equally sized maps, so the total batch's gradients
are the mean of the two halves' and any difference is the method's. The
two processes' global random generators are put in different states
before the step, as different data or dropout would leave them."""
import io
import os.path as osp

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.optim import build_optim_wrapper
from mmengine.structures import PixelData

from toolkit.method_catalogue import surgery_methods
from mmsquad.models import MultiTaskDistributedDataParallel
from mmsquad.registry import MODELS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import build_tasks
from mmsquad.utils import register_all_modules

TASKS = dict(semseg=dict(type='LabelMapTask', num_classes=5),
             human_parts=dict(type='LabelMapTask', num_classes=3),
             normals=dict(type='UnitVectorTask'))
GROUP_NORM = dict(type='GN', num_groups=2)
SIZE = 16


def methods() -> dict:
    """Every float32 surgery method (see
    :func:`~mmsquad.engine.surgery_methods`)."""
    return surgery_methods(len(TASKS))


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return MODELS.build(dict(
        type='MultiTaskModel', tasks=TASKS,
        backbone=dict(type='mmseg.ResNet', depth=18, base_channels=4,
                      norm_cfg=GROUP_NORM, out_indices=(3, )),
        heads={t: dict(type='ASPPTaskHead', channels=8, dilations=(1, 2),
                       norm_cfg=GROUP_NORM, dropout_ratio=0.0)
               for t in TASKS}))


def batch(indices) -> dict:
    """Images and targets of the samples ``indices`` of a fixed batch."""
    tasks = build_tasks(TASKS)
    generator = torch.Generator().manual_seed(1)
    images, samples = [], []
    for i in range(4):
        image = torch.randint(0, 256, (3, SIZE, SIZE), generator=generator,
                              dtype=torch.uint8)
        sample = MultiTaskDataSample(metainfo=dict(img_shape=(SIZE, SIZE),
                                                   ori_shape=(SIZE, SIZE)))
        for name, task in tasks.items():
            if name == 'normals':
                data = torch.nn.functional.normalize(
                    torch.randn(3, SIZE, SIZE, generator=generator), dim=0)
            else:
                data = torch.randint(0, task.num_classes, (1, SIZE, SIZE),
                                     generator=generator)
            sample.set_target(name, PixelData(data=data))
        if i in indices:
            images.append(image)
            samples.append(sample)
    return dict(inputs=images, data_samples=samples)


def train(model, wrapper_cfg: dict, indices, steps: int = 2,
          wrapper=None, state=None):
    """``steps`` SGD updates of ``model`` (DDP-wrapped or not) with the
    method; the flat parameters after each and the wrapper's final state."""
    module = getattr(model, 'module', model)
    if wrapper is None:
        wrapper = build_optim_wrapper(module, dict(
            wrapper_cfg, optimizer=dict(type='SGD', lr=0.1)))
    if state is not None:
        wrapper.load_state_dict(state)
    params = []
    for _ in range(steps):
        model.train_step(batch(indices), wrapper)
        params.append(torch.cat([p.detach().reshape(-1)
                                 for p in module.parameters()]))
    return params, wrapper.state_dict()


def worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=2)
    register_all_modules()
    results = {}
    for name, cfg in methods().items():
        model = MultiTaskDistributedDataParallel(module=tiny_model())
        torch.manual_seed(100 + rank)  # the processes' generators differ
        results[name], _ = train(model, cfg, (2 * rank, 2 * rank + 1))
    torch.save(results, osp.join(out_dir, f'rank{rank}.pth'))
    dist.destroy_process_group()


@pytest.fixture(scope='module')
def ddp_results(tmp_path_factory):
    out = tmp_path_factory.mktemp('ddp')
    mp.spawn(worker, args=(str(out / 'init'), str(out)), nprocs=2)
    return [torch.load(out / f'rank{r}.pth') for r in range(2)]


@pytest.mark.parametrize('name', sorted(methods()))
def test_two_process_update_equals_the_one_process_update(name,
                                                          ddp_results):
    single, _ = train(tiny_model(), methods()[name], range(4))
    for rank in range(2):
        for step, (got, want) in enumerate(zip(ddp_results[rank][name],
                                               single)):
            torch.testing.assert_close(
                got, want, rtol=1e-4, atol=1e-5,
                msg=lambda m: f'rank {rank}, update {step + 1}: {m}')


@pytest.mark.parametrize('name', sorted(methods()))
def test_a_resumed_method_continues_as_if_never_stopped(name):
    """Two updates, the wrapper's state saved and loaded into a new one
    (through torch.save, as a checkpoint), a third update: the parameters
    of an uninterrupted run."""
    cfg = methods()[name]
    straight, _ = train(tiny_model(), cfg, range(4), steps=3)
    model = tiny_model()
    _, state = train(model, cfg, range(4), steps=2)
    resumed, _ = train(model, cfg, range(4), steps=1,
                       state=_through_a_checkpoint(state))
    torch.testing.assert_close(resumed[0], straight[2], rtol=1e-5,
                               atol=1e-6)


def _through_a_checkpoint(state: dict) -> dict:
    """``state`` saved and loaded as mmengine loads a checkpoint (the
    weights-only unpickler)."""
    data = io.BytesIO()
    torch.save(state, data)
    data.seek(0)
    return torch.load(data, weights_only=True)
