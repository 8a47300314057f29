"""Loss balancers against hand computations, and built from config."""
import math

import pytest
import torch
from mmengine.logging import MessageHub
from torch import nn

from conftest import TINY_CONFIG
from mmsquad.apis import init_model
from mmsquad.models.multitask import build_scalarizer, scalarizer_names
from mmsquad.registry import MODELS

TASKS = ['a', 'b']


def test_torchjd_uncertainty_weighting_is_kendalls_loss():
    balancer = MODELS.build(dict(type='TorchJDScalarization', tasks=TASKS,
                                 scalarizer=dict(type='UW')))
    log_var = balancer.scalarizer.log_var
    with torch.no_grad():
        log_var.copy_(torch.tensor([0.5, -1.0]))
    losses = dict(a=torch.tensor(2.0), b=torch.tensor(3.0))
    weights, extra = balancer(losses, [])
    total = sum(weights[t] * losses[t] for t in TASKS) + sum(extra.values())
    expected = (math.exp(-0.5) / 2 * 2 + 0.5 / 2 +
                math.exp(1.0) / 2 * 3 - 1.0 / 2)
    assert float(total) == pytest.approx(expected)
    assert float(weights['a']) == pytest.approx(math.exp(-0.5) / 2)
    total.backward()  # d/ds_a = -exp(-s_a) L_a / 2 + 1/2
    assert float(log_var.grad[0]) == pytest.approx(
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


SCALARIZERS = {  # the arguments of those that need some
    'Constant': dict(weights=[0.3, 0.7]), 'COSMOS': dict(
        lambda_=0.5, weights=[0.3, 0.7]), 'PBI': dict(
        theta=2.0, weights=[0.3, 0.7]), 'STCH': dict(mu=0.5)}


@pytest.mark.parametrize('name', scalarizer_names())
def test_torchjd_scalarization_gives_the_gradient_of_its_scalarization(name):
    """The model's and the scalarization's own parameters get the gradient
    of torchjd's ``s(L)`` computed directly, and the total equals it."""
    args = SCALARIZERS.get(name, {})
    torch.manual_seed(0)
    shared = nn.Linear(3, 2)
    x = torch.randn(6, 3)

    def task_losses():
        out = shared(x)
        return dict(a=out[:, 0].square().mean() + 0.5,
                    b=2 * out[:, 1].square().mean() + 0.5)

    balancer = MODELS.build(dict(type='TorchJDScalarization', tasks=TASKS,
                                 scalarizer=dict(type=name, **args))).train()
    reference = build_scalarizer(dict(type=name, **args), 2)
    reference.load_state_dict(balancer.scalarizer.state_dict())
    own = list(balancer.scalarizer.parameters())
    losses = task_losses()
    torch.manual_seed(1)  # Random draws its weights
    weights, extra = balancer(losses, [])
    total = sum(weights[t] * losses[t] for t in TASKS) + sum(extra.values())
    grads = torch.autograd.grad(total, [*shared.parameters(), *own])
    losses = task_losses()
    torch.manual_seed(1)
    expected = reference(torch.stack([losses['a'], losses['b']]))
    expected_grads = torch.autograd.grad(
        expected, [*shared.parameters(), *reference.parameters()])
    assert float(total) == pytest.approx(float(expected), rel=1e-6)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want)


def test_torchjd_dwa_steps_at_every_new_epoch():
    """torchjd's DWA, stepped by the balancer when the epoch changes, gives
    the same weights as mmsquad's DynamicWeightAverage."""
    hub = MessageHub.get_instance('test_torchjd_dwa')
    ours = MODELS.build(dict(type='DynamicWeightAverage', tasks=TASKS))
    theirs = MODELS.build(dict(type='TorchJDScalarization', tasks=TASKS,
                               scalarizer=dict(type='DWA')))
    ours.train(), theirs.train()
    for epoch, (a, b) in enumerate([(3.0, 2.0), (1.5, 2.0), (1.0, 1.0)]):
        hub.update_info('epoch', epoch)
        losses = dict(a=torch.tensor(a), b=torch.tensor(b))
        expected, _ = ours(losses, [])
        got, _ = theirs(losses, [])
        assert [float(got[t]) for t in TASKS] == pytest.approx(
            [float(expected[t]) for t in TASKS])
    assert float(got['a']) != pytest.approx(1.0)  # the third epoch moved


def test_unsupported_and_unknown_scalarizations_are_named():
    with pytest.raises(KeyError, match='FAMO cannot be a loss balancer'):
        build_scalarizer(dict(type='FAMO'), 2)
    with pytest.raises(KeyError, match="'UWW' is not a torchjd"):
        build_scalarizer(dict(type='UWW'), 2)


@pytest.mark.parametrize('balancer', [
    dict(type='DynamicWeightAverage'), dict(type='GradNorm'),
    dict(type='TorchJDScalarization', scalarizer=dict(type='UW'))],
    ids=lambda b: b.get('scalarizer', b)['type'])
def test_balancers_train_the_multitask_model_from_config(balancer):
    model = init_model(TINY_CONFIG, cfg_options={
        'model.loss_balancer': balancer}).train()
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
