"""Loss balancers against hand computations, and built from config."""
import math

import pytest
import torch
from mmengine.logging import MessageHub
from torch import nn

from conftest import TINY_CONFIG
from mmsquad.apis import init_model
from mmsquad.registry import MODELS

TASKS = ['a', 'b']


def test_uncertainty_weighting_is_kendalls_loss():
    balancer = MODELS.build(dict(type='UncertaintyWeighting', tasks=TASKS))
    with torch.no_grad():
        balancer.log_vars.copy_(torch.tensor([0.5, -1.0]))
    losses = dict(a=torch.tensor(2.0), b=torch.tensor(3.0))
    weights, extra = balancer(losses, [])
    total = sum(weights[t] * losses[t] for t in TASKS) + sum(extra.values())
    expected = (math.exp(-0.5) / 2 * 2 + 0.5 / 2 +
                math.exp(1.0) / 2 * 3 - 1.0 / 2)
    assert float(total) == pytest.approx(expected)
    total.backward()  # d/ds_a = -exp(-s_a) L_a / 2 + 1/2
    assert float(balancer.log_vars.grad[0]) == pytest.approx(
        -math.exp(-0.5) * 2 / 2 + 0.5)


def test_dynamic_weight_average_uses_the_last_two_epoch_means():
    hub = MessageHub.get_instance('test_dwa')
    balancer = MODELS.build(dict(type='DynamicWeightAverage', tasks=TASKS,
                                 temperature=2.0)).train()
    epoch_losses = {0: [(4.0, 2.0), (2.0, 2.0)],  # means (3, 2)
                    1: [(1.5, 2.0), (1.5, 2.0)],  # means (1.5, 2)
                    2: [(1.0, 1.0)]}
    seen = []
    for epoch, batches in epoch_losses.items():
        hub.update_info('epoch', epoch)
        for a, b in batches:
            weights, _ = balancer(dict(a=torch.tensor(a), b=torch.tensor(b)),
                                  [])
            seen.append((float(weights['a']), float(weights['b'])))
    assert seen[:4] == [(1.0, 1.0)] * 4
    r = torch.tensor([1.5 / 3, 2 / 2])
    expected = 2 * torch.softmax(r / 2.0, dim=0)
    assert seen[4] == pytest.approx(tuple(expected.tolist()))


def test_gradnorm_loss_moves_weights_towards_the_target():
    torch.manual_seed(0)
    shared = nn.Linear(3, 3)
    x = torch.randn(5, 3)
    feats = shared(x)
    losses = dict(a=feats[:, 0].square().mean(),
                  b=10 * feats[:, 1].square().mean())
    balancer = MODELS.build(dict(type='GradNorm', tasks=TASKS, alpha=1.5))
    weights, extra = balancer(losses, list(shared.parameters()))
    # First step: r_t = 1, the target is the mean gradient norm.
    norms = [torch.autograd.grad(losses[t], shared.weight,
                                 retain_graph=True)[0].norm() for t in TASKS]
    mean = (norms[0] + norms[1]) / 2
    expected = abs(norms[0] - mean) + abs(norms[1] - mean)
    assert float(extra['loss_gradnorm']) == pytest.approx(float(expected))
    assert not weights['a'].requires_grad
    extra['loss_gradnorm'].backward()
    # b's gradient is larger: the loss pushes w_b down and w_a up.
    assert balancer.weights.grad[0] < 0 < balancer.weights.grad[1]
    assert shared.weight.grad is None


@pytest.mark.parametrize('balancer', ['UncertaintyWeighting',
                                      'DynamicWeightAverage', 'GradNorm'])
def test_balancers_train_the_multitask_model_from_config(balancer):
    model = init_model(TINY_CONFIG, cfg_options={
        'model.loss_balancer': dict(type=balancer)}).train()
    samples = _random_samples()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    losses = model(torch.randn(2, 3, 32, 32), samples, mode='loss')
    for task in model.tasks:
        assert f'{task}.weight' in losses
    total, _ = model.parse_losses(losses)
    total.backward()
    optimizer.step()
    assert torch.isfinite(total)


def _random_samples():
    from mmengine.structures import PixelData

    from mmsquad.structures import MultiTaskDataSample
    samples = []
    for _ in range(2):
        sample = MultiTaskDataSample(metainfo=dict(img_shape=(32, 32)))
        sample.set_target('semseg', PixelData(
            data=torch.randint(0, 21, (1, 32, 32))))
        sample.set_target('human_parts', PixelData(
            data=torch.randint(0, 7, (1, 32, 32))))
        sample.set_target('sal', PixelData(
            data=torch.randint(0, 2, (1, 32, 32))))
        sample.set_target('normals', PixelData(
            data=torch.nn.functional.normalize(torch.randn(3, 32, 32),
                                               dim=0)))
        samples.append(sample)
    return samples
