"""torchjd's autogram engine on every architecture: it sees every shared
parameter (SquadNet's channels-last included), and the Gramian route of
the benchmarks gives the update of the gradient-surgery optim wrapper."""
import os.path as osp

import pytest
import torch
from mmengine.optim import OptimWrapper
from torch import vmap
from torchjd.autogram import Engine

from conftest import REPO
from mmsquad.engine.task_gradients import gram_matrix, per_task_gradients
from mmsquad.models.layers import grad_in_input_format
from mmsquad.models.utils import task_losses, update_params
from mmsquad.registry import OPTIM_WRAPPERS
from toolkit.gramian_surgery import GramianSurgeryOptimWrapper, shared_modules
from toolkit.samples import random_samples
from toolkit.train_steps import ARCHITECTURE_CONFIGS, build_train_step

SQUAD = osp.join(REPO, 'configs', 'squad', 'pascal_ctx.py')
TINY = dict(backbone=dict(type='SquadNet', arch='tiny'))
PLAIN = dict(optim_wrapper=dict(type='OptimWrapper'))


@pytest.mark.parametrize('name', list(ARCHITECTURE_CONFIGS))
def test_autogram_computes_every_architectures_gramian(name):
    model, _ = build_train_step(osp.join(REPO, ARCHITECTURE_CONFIGS[name]),
                                PLAIN)
    # SquadNet trains channels-last: the engine's batched backward too.
    assert model.channels_last or name != 'SquadNet-small'
    engine = Engine(*shared_modules(model), batch_dim=None)
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=random_samples(model.tasks, 2, 40)), True)
    losses = task_losses(model(**data, mode='loss'))
    theirs = engine.compute_gramian(torch.stack(list(losses.values())))
    ours = gram_matrix(per_task_gradients(losses,
                                          model.shared_parameters()))
    # float32 sums in two orders: up to about 7e-6 apart.
    assert (theirs.double() - ours).abs().max() <= 5e-5 * ours.abs().max()


def test_a_module_mixing_shared_and_task_parameters_is_refused():
    model, _ = build_train_step(SQUAD, PLAIN, TINY)
    # A shared parameter held directly beside a layer of one task.
    layer = model.backbone.stem[0]
    layer.scale = torch.nn.Parameter(torch.ones(1))
    model.shared_parameters = lambda: [layer.scale]
    with pytest.raises(ValueError, match='ConvNormAct holds shared'):
        shared_modules(model)


def test_batched_gradients_pass_the_layout_function():
    x = torch.randn(2, 6, 5, 5).contiguous(
        memory_format=torch.channels_last).requires_grad_()
    # A channel slice and a reduction downstream: NCHW gradients.
    y = (grad_in_input_format(x) * x)[:, :4].sum((2, 3)).reshape(-1)
    cotangents = torch.randn(3, y.numel())
    rows = torch.stack([torch.autograd.grad(y, x, c, retain_graph=True)[0]
                        for c in cotangents])
    batched, = torch.autograd.grad(y, x, cotangents, retain_graph=True,
                                   is_grads_batched=True)
    mapped = vmap(lambda c: torch.autograd.grad(y, x, c,
                                                retain_graph=True)[0])(
        cotangents)
    torch.testing.assert_close(batched, rows)
    torch.testing.assert_close(mapped, rows)


def _update(make_wrapper) -> torch.Tensor:
    """The parameter change of one update of the tiny SquadNet in float64
    (so that what is compared is the arithmetic, not float32 rounding
    along two routes) with the optim wrapper ``make_wrapper(model,
    optimizer)``, from the same weights, batch and dropout draws every
    time."""
    model, _ = build_train_step(SQUAD, PLAIN, TINY)
    model.double()
    wrapper = make_wrapper(model, torch.optim.SGD(model.parameters(),
                                                  lr=0.1))
    before = torch.cat([p.detach().reshape(-1).clone()
                        for p in model.parameters()])
    torch.manual_seed(1)
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=random_samples(model.tasks, 2, 32)), True)
    torch.manual_seed(2)
    losses = model(data['inputs'].double(), data['data_samples'],
                   mode='loss')
    total, _ = model.parse_losses(losses)
    update_params(wrapper, total, lambda: model.task_losses(losses))
    after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return after - before


def _surgery(aggregator: str):
    def make(model, optimizer):
        return OPTIM_WRAPPERS.build(dict(
            type='GradSurgeryOptimWrapper', optimizer=optimizer,
            aggregator=dict(type=f'torchjd.{aggregator}')))
    return make


@pytest.mark.parametrize('aggregator', ['UPGrad', 'MGDA'])
def test_the_gramian_route_gives_the_surgery_update(aggregator):
    expected = _update(_surgery(aggregator))
    update = _update(lambda model, optimizer: GramianSurgeryOptimWrapper(
        optimizer, model, aggregator))
    plain = _update(lambda model, optimizer: OptimWrapper(optimizer))
    assert (update - expected).norm() <= 1e-6 * expected.norm()
    # The surgery changes the update: the comparison can tell them apart.
    assert (plain - expected).norm() > 0.1 * expected.norm()


def test_the_gramian_route_refuses_an_aggregator_without_a_gramian():
    model, _ = build_train_step(SQUAD, PLAIN, TINY)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match='GradDrop does not weight by'):
        GramianSurgeryOptimWrapper(optimizer, model, 'GradDrop')


def test_the_gramian_route_refuses_distributed_training(monkeypatch):
    import toolkit.gramian_surgery as gramian_surgery
    model, _ = build_train_step(SQUAD, PLAIN, TINY)
    wrapper = GramianSurgeryOptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.1), model, 'UPGrad')
    monkeypatch.setattr(gramian_surgery, 'get_world_size', lambda: 2)
    with pytest.raises(RuntimeError, match='one process only'):
        wrapper.surgery_gradient({}, model.shared_parameters(), 1.0)
