"""torchjd's autogram engine on SquadNet: it sees every shared parameter
(channels-last included), and the Gramian route of the benchmarks gives
the update of the gradient-surgery optim wrapper."""
import os.path as osp

import pytest
import torch
from torch import vmap
from torchjd.autogram import Engine

from conftest import REPO
from mmsquad.engine.task_gradients import gram_matrix, per_task_gradients
from mmsquad.models.layers import grad_in_input_format
from mmsquad.models.utils import task_losses
from toolkit.gramian_surgery import GramianSurgeryOptimWrapper, shared_modules
from toolkit.samples import random_samples
from toolkit.train_steps import build_train_step

SQUAD = osp.join(REPO, 'configs', 'squad', 'pascal_ctx.py')
TINY = dict(backbone=dict(type='SquadNet', arch='tiny'))
PLAIN = dict(optim_wrapper=dict(type='OptimWrapper'))


def test_autogram_computes_squadnets_gramian_in_channels_last():
    model, _ = build_train_step(SQUAD, PLAIN, TINY)
    assert model.channels_last
    engine = Engine(*shared_modules(model), batch_dim=None)
    data = model.data_preprocessor(dict(
        inputs=[torch.randint(0, 256, (3, 40, 40), dtype=torch.uint8)
                for _ in range(2)],
        data_samples=random_samples(model.tasks, 2, 40)), True)
    losses = task_losses(model(**data, mode='loss'))
    theirs = engine.compute_gramian(torch.stack(list(losses.values())))
    ours = gram_matrix(per_task_gradients(losses,
                                          model.shared_parameters()))
    assert (theirs.double() - ours).abs().max() <= 1e-5 * ours.abs().max()


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


def _update(optim_wrapper) -> torch.Tensor:
    """The parameter change of one training step of the tiny SquadNet with
    ``optim_wrapper`` (a config or a callable), from the same weights, batch
    and dropout draws every time."""
    model, step_at = build_train_step(SQUAD, dict(optim_wrapper=optim_wrapper),
                                      TINY)
    before = torch.cat([p.detach().reshape(-1).clone()
                        for p in model.parameters()])
    torch.manual_seed(1)
    step = step_at(2, 32)
    torch.manual_seed(2)
    step()
    after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return after - before


@pytest.mark.parametrize('aggregator', ['UPGrad', 'MGDA'])
def test_the_gramian_route_gives_the_surgery_update(aggregator):
    expected = _update(dict(type='GradSurgeryOptimWrapper',
                            aggregator=dict(type=f'torchjd.{aggregator}')))
    plain = _update(PLAIN['optim_wrapper'])
    update = _update(lambda model, optimizer: GramianSurgeryOptimWrapper(
        optimizer, model, aggregator))
    # The two routes sum the float32 Gramian in different orders (about
    # 5e-7 apart, relative), which the aggregators' quadratic programs
    # carry into their weights: about 1e-5 of the update apart.
    assert (update - expected).norm() <= 5e-5 * expected.norm()
    # The surgery changes the update: the comparison can tell them apart.
    assert (plain - expected).norm() > 0.1 * expected.norm()


def test_the_gramian_route_refuses_an_aggregator_without_a_gramian():
    model, _ = build_train_step(SQUAD, PLAIN, TINY)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match='GradDrop does not weight by'):
        GramianSurgeryOptimWrapper(optimizer, model, 'GradDrop')
