"""Per-task gradients, conflict statistics and gradient surgery against
numpy references on hand-made gradients."""
import itertools
import math

import numpy as np
import pytest
import torch
from mmengine.logging import MessageHub
from torch import nn

from mmsquad.engine import cagrad, gradvac, nash_mtl, pcgrad
from mmsquad.engine.task_gradients import (conflict_stats, gram_matrix,
                                           per_task_gradients)
from mmsquad.models.utils import TaskLosses
from mmsquad.utils.precision import cpu_supports_bfloat16
from mmsquad.registry import OPTIM_WRAPPERS


def surgery(aggregator: str, optimizer, **kwargs):
    """A GradSurgeryOptimWrapper with mmsquad's ``aggregator``."""
    return OPTIM_WRAPPERS.build(dict(
        type='GradSurgeryOptimWrapper', optimizer=optimizer,
        aggregator=dict(type=aggregator, **kwargs.pop('aggregator_args', {})),
        **kwargs))


def numpy_pcgrad(grads, order):
    result = np.zeros_like(grads[0])
    for i, others in enumerate(order):
        g = grads[i].copy()
        for j in others:
            if g @ grads[j] < 0:
                g = g - (g @ grads[j]) / (grads[j] @ grads[j]) * grads[j]
        result += g
    return result


def numpy_gradvac(grads, order, targets, beta, below_target_only=False):
    result = np.zeros_like(grads[0])
    for i, others in enumerate(order):
        g = grads[i].copy()
        for j in others:
            cos = g @ grads[j] / np.linalg.norm(g) / np.linalg.norm(grads[j])
            t = targets[i, j]
            if cos < t:
                g = g + (np.linalg.norm(g) * (t * np.sqrt(1 - cos ** 2) -
                                              cos * np.sqrt(1 - t ** 2)) /
                         (np.linalg.norm(grads[j]) * np.sqrt(1 - t ** 2))
                         ) * grads[j]
            if cos < t or not below_target_only:
                targets[i, j] = (1 - beta) * t + beta * cos
        result += g
    return result


def numpy_config(grads, weights):
    """ConFIG's Eq. 2 as written: the pseudo-inverse of the unit rows."""
    units = grads / np.linalg.norm(grads, axis=1, keepdims=True)
    direction = np.linalg.pinv(units) @ weights
    direction /= np.linalg.norm(direction)
    return (grads @ direction).sum() * direction


def test_pcgrad_projects_two_known_vectors():
    grads = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    # g1 . g2 = -1: g1 -> g1 - (-1 / 2) g2 = (0.5, 0.5);
    # g2 -> g2 - (-1 / 1) g1 = (0, 1); their sum is (0.5, 1.5).
    out = pcgrad(grads, [[1], [0]])
    np.testing.assert_allclose(out.numpy(), [0.5, 1.5], atol=1e-7)
    # Without a conflict PCGrad is the plain sum.
    agree = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_allclose(pcgrad(agree, [[1], [0]]).numpy(), [2, 1])


def test_pcgrad_matches_numpy_on_three_tasks():
    rng = np.random.default_rng(0)
    grads = rng.normal(size=(3, 50))
    grads[1] = -grads[0] + 0.3 * rng.normal(size=50)  # a real conflict
    order = [[2, 1], [0, 2], [1, 0]]
    out = pcgrad(torch.from_numpy(grads), order).numpy()
    np.testing.assert_allclose(out, numpy_pcgrad(grads, order), rtol=1e-10)


def test_gradvac_matches_numpy_and_updates_targets():
    rng = np.random.default_rng(1)
    grads = rng.normal(size=(3, 20))
    grads[2] = -grads[0] + 0.5 * rng.normal(size=20)
    order = [[1, 2], [2, 0], [0, 1]]
    targets_np = np.full((3, 3), 0.1)
    targets = torch.full((3, 3), 0.1, dtype=torch.float64)
    for _ in range(2):  # the second call sees the updated targets
        expected = numpy_gradvac(grads, order, targets_np, beta=0.3)
        out = gradvac(torch.from_numpy(grads), order, targets, beta=0.3)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
        np.testing.assert_allclose(targets.numpy(), targets_np, rtol=1e-10)
    # With zero targets a conflicting pair is projected exactly as PCGrad.
    two = torch.tensor([[1.0, 0.0], [-1.0, 1.0]], dtype=torch.float64)
    zero = torch.zeros(2, 2, dtype=torch.float64)
    np.testing.assert_allclose(gradvac(two, [[1], [0]], zero, 0.01).numpy(),
                               [0.5, 1.5], atol=1e-12)


def test_gradvac_published_code_variant_updates_only_pairs_below_target():
    rng = np.random.default_rng(2)
    grads = rng.normal(size=(3, 20))
    grads[2] = -grads[0] + 0.5 * rng.normal(size=20)
    order = [[1, 2], [2, 0], [0, 1]]
    targets_np = np.full((3, 3), -0.05)
    targets = torch.full((3, 3), -0.05, dtype=torch.float64)
    for _ in range(3):
        expected = numpy_gradvac(grads, order, targets_np, beta=0.3,
                                 below_target_only=True)
        out = gradvac(torch.from_numpy(grads), order, targets, beta=0.3,
                      update='below_target')
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10)
        np.testing.assert_allclose(targets.numpy(), targets_np, rtol=1e-10)
    # A pair above its target keeps it; the paper's rule would move it.
    off_diagonal = targets.numpy()[~np.eye(3, dtype=bool)]
    assert (off_diagonal == -0.05).any()


def test_gradvac_targets_restart_at_every_epoch_when_asked(monkeypatch):
    hub = MessageHub.get_instance('gradvac_epochs')
    monkeypatch.setattr(MessageHub, 'get_current_instance', lambda: hub)
    shared, (head_a, head_b), _ = two_task_problem()
    params = list(shared.parameters())
    x = torch.randn(8, 4)

    def losses():  # the same gradients at every step (lr 0)
        feats = shared(x)
        return {'a': (head_a(feats) - 1).square().mean(),
                'b': (head_b(feats) + 1).square().mean()}

    grads = per_task_gradients(losses(), params).numpy()
    expected = np.zeros((2, 2))
    numpy_gradvac(grads, [[1], [0]], expected, 0.01)  # one step from zero
    for reset, epochs in ((True, (0, 0, 1)), (False, (0, 1))):
        wrapper = surgery('GradVac', torch.optim.SGD(params, lr=0.0),
                          aggregator_args=dict(reset_every_epoch=reset))
        for epoch in epochs:
            hub.update_info('epoch', epoch)
            values = losses()
            wrapper.update_params(sum(values.values()), task_losses=TaskLosses(
                values, {}, params))
        fresh = np.allclose(wrapper.aggregator.targets.numpy(), expected)
        assert fresh == reset


def test_cagrad_matches_a_grid_search_on_two_tasks():
    grads = np.array([[1.0, 0.2, 0.0], [-0.8, 1.0, 0.3]])
    c = 0.4
    gram = grads @ grads.T
    g0 = grads.mean(0)
    radius = c * np.linalg.norm(g0)
    best = min(np.linspace(0, 1, 100001), key=lambda a: (
        np.array([a, 1 - a]) @ grads @ g0 +
        radius * np.linalg.norm(np.array([a, 1 - a]) @ grads)))
    gw = np.array([best, 1 - best]) @ grads
    expected = (g0 + radius / np.linalg.norm(gw) * gw) / (1 + c ** 2)
    assert gram[0, 1] < 0
    out = cagrad(torch.from_numpy(grads), c).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


def test_nash_mtl_weights_orthogonal_gradients_by_inverse_norms():
    # K = diag(n^2) / s with s = ||diag(n^2)||_F, so alpha_i = sqrt(s) / n_i.
    grads = np.diag([0.5, 2.0, 4.0]) @ np.linalg.qr(
        np.random.default_rng(0).normal(size=(5, 3)))[0].T
    norms = np.linalg.norm(grads, axis=1)
    s = np.linalg.norm(norms ** 2)
    expected = (np.sqrt(s) / norms) @ grads
    out = nash_mtl(torch.from_numpy(grads)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6)


def test_nash_mtl_leaves_a_task_with_zero_gradient_out():
    # A batch without a labelled pixel of a task: its gradient is zero, no
    # alpha solves its condition, and the other two bargain as above.
    grads = np.diag([0.5, 2.0]) @ np.linalg.qr(
        np.random.default_rng(0).normal(size=(5, 2)))[0].T
    norms = np.linalg.norm(grads, axis=1)
    expected = (np.sqrt(np.linalg.norm(norms ** 2)) / norms) @ grads
    with_zero = np.insert(grads, 1, 0.0, axis=0)
    out = nash_mtl(torch.from_numpy(with_zero)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    assert not nash_mtl(torch.zeros(3, 5)).any()


def test_nash_mtl_solves_the_bargaining_condition_with_conflicts():
    grads = np.array([[1.0, 0.2, 0.0, 0.5], [-0.8, 1.0, 0.3, 0.0],
                      [0.1, -0.9, 1.0, 0.2]])
    gram = grads @ grads.T
    assert (gram[np.triu_indices(3, 1)] < 0).sum() == 2
    out = nash_mtl(torch.from_numpy(grads)).numpy()
    # The rows are independent: recover alpha from the combination.
    alpha = np.linalg.lstsq(grads.T, out, rcond=None)[0]
    np.testing.assert_allclose(alpha @ grads, out, atol=1e-10)
    assert (alpha > 0).all()
    np.testing.assert_allclose(alpha * (gram / np.linalg.norm(gram) @ alpha),
                               1.0, rtol=1e-6)


@pytest.mark.parametrize('chunk', [3, 10, 2**20])
def test_gram_matrix_sums_float64_products_chunk_by_chunk(chunk):
    grads = np.random.default_rng(0).standard_normal((4, 10)).astype(
        np.float32)
    gram = gram_matrix(torch.from_numpy(grads), chunk=chunk)
    assert gram.dtype == torch.float64
    np.testing.assert_allclose(gram.numpy(),
                               grads.astype(np.float64) @
                               grads.T.astype(np.float64), rtol=1e-12)


def test_conflict_stats_match_numpy():
    grads = np.array([[1.0, 0.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 2.0, 2.0]])
    stats = conflict_stats(gram_matrix(torch.from_numpy(grads)),
                           ['a', 'b', 'c'])
    unit = grads / np.linalg.norm(grads, axis=1, keepdims=True)
    cos = {f'cos_{x}_{y}': unit[i] @ unit[j] for (i, x), (j, y) in
           itertools.combinations(enumerate('abc'), 2)}
    for key, value in cos.items():
        assert stats[key] == pytest.approx(value)
    assert stats['cos_mean'] == pytest.approx(np.mean(list(cos.values())))
    assert stats['conflict_rate'] == pytest.approx(1 / 3)  # only a-b < 0
    norms = np.linalg.norm(grads, axis=1)
    assert stats['magnitude_ratio'] == pytest.approx(norms.max() / norms.min())


def test_a_task_without_gradient_is_left_out_of_the_conflict_stats():
    """A task with no label in the batch has a zero gradient: its pairs are
    not counted (they used to count as cosine 0, pulling the mean cosine
    towards 0 and the conflict rate down)."""
    grads = np.array([[1.0, 0.0, 0.0], [-1.0, 1.0, 0.0], [0.0, 0.0, 0.0],
                      [0.0, 2.0, 2.0]])
    with_zero = conflict_stats(gram_matrix(torch.from_numpy(grads)),
                               ['a', 'b', 'parts', 'c'])
    without = conflict_stats(gram_matrix(torch.from_numpy(grads[[0, 1, 3]])),
                             ['a', 'b', 'c'])
    assert with_zero == without
    assert without['pairs'] == 3
    assert not any('parts' in key for key in with_zero)
    only_one = conflict_stats(gram_matrix(torch.from_numpy(grads[[0, 2]])),
                              ['a', 'parts'])
    assert only_one == dict(pairs=0.0)


def two_task_problem(seed=0):
    """A shared linear layer and two task heads with conflicting targets."""
    torch.manual_seed(seed)
    shared, head_a, head_b = nn.Linear(4, 3), nn.Linear(3, 1), nn.Linear(3, 1)
    x = torch.randn(8, 4)
    feats = shared(x)
    losses = {'a': (head_a(feats) - 1).square().mean(),
              'b': (head_b(feats) + 1).square().mean()}
    return shared, (head_a, head_b), losses


def test_per_task_gradients_equal_separate_backwards_at_any_scale():
    shared, _, losses = two_task_problem()
    params = list(shared.parameters())
    grads = per_task_gradients(losses, params)
    scaled = per_task_gradients(losses, params, scale=1024.0)
    for row, loss in zip(grads, losses.values()):
        expected = torch.cat([g.reshape(-1) for g in
                              torch.autograd.grad(loss, params,
                                                  retain_graph=True)])
        torch.testing.assert_close(row, expected)
    torch.testing.assert_close(scaled, grads)
    assert all(p.grad is None for p in params)


def build_wrapper(aggregator: str, precision: str, optimizer, monkeypatch):
    """A surgery wrapper in ``precision``: ``'float32'``, ``'cpu_amp'``
    (CPU bfloat16) or ``'cuda_amp'``, whose mmengine ``AmpOptimWrapper``
    gets a CPU loss scaler with a static scale of 1024 (mmengine's asks
    for a GPU), so that the scaled path runs: per-task gradients of scaled
    losses, unscaled for the surgery, scaled back for the scaler's
    unscale-and-check step."""
    if precision != 'cuda_amp':
        return surgery(aggregator, optimizer, amp=precision == 'cpu_amp')
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    wrapper = surgery(aggregator, optimizer, amp=True, loss_scale=1024.0)
    monkeypatch.undo()
    wrapper.precision.loss_scaler = torch.amp.GradScaler(
        'cpu', init_scale=1024.0)
    return wrapper


PRECISIONS = ['float32', 'cuda_amp', pytest.param(
    'cpu_amp', marks=pytest.mark.skipif(not cpu_supports_bfloat16(),
                                        reason='no bfloat16 on this CPU'))]


@pytest.mark.parametrize('precision', PRECISIONS)
@pytest.mark.parametrize('name',
                         ['PCGrad', 'GradVac', 'CAGrad', 'NashMTL', 'ConFIG'])
def test_wrapper_applies_the_surgery_to_shared_params_only(
        name, precision, monkeypatch):
    shared, heads, losses = two_task_problem()
    params = list(shared.parameters())
    head_params = [p for h in heads for p in h.parameters()]
    grads = per_task_gradients(losses, params)
    assert grads[0] @ grads[1] < 0  # the surgery has something to do
    if name == 'PCGrad':
        expected = numpy_pcgrad(grads.numpy(), [[1], [0]])
    elif name == 'GradVac':
        expected = numpy_gradvac(grads.numpy(), [[1], [0]],
                                 np.zeros((2, 2)), 0.01)
    elif name == 'CAGrad':
        expected = cagrad(grads.double(), 0.4).numpy()
    elif name == 'ConFIG':
        expected = numpy_config(grads.numpy(), np.ones(2))
    else:
        expected = nash_mtl(grads.double()).numpy()
    head_expected = [g.clone() for g in torch.autograd.grad(
        sum(losses.values()), head_params, retain_graph=True)]
    before = [p.detach().clone() for p in params + head_params]
    optimizer = torch.optim.SGD(params + head_params, lr=1.0)
    wrapper = build_wrapper(name, precision, optimizer, monkeypatch)
    wrapper.update_params(sum(losses.values()),
                          task_losses=TaskLosses(losses, {}, params))
    if precision == 'cuda_amp':  # finite gradients: the scale is kept
        assert wrapper.loss_scaler.get_scale() == 1024.0
    step = torch.cat([(b - p.detach()).reshape(-1)
                      for b, p in zip(before, params)])
    np.testing.assert_allclose(step.numpy(), expected, rtol=1e-5, atol=1e-6)
    for b, p, g in zip(before[len(params):], head_params, head_expected):
        torch.testing.assert_close(b - p.detach(), g)


def test_the_ordinary_backward_stops_short_of_the_shared_parameters():
    """The per-task gradients replace the shared parameters' gradient:
    the ordinary backward (for the heads) does not run through the shared
    layer again (one backward there per task, not one more)."""
    torch.manual_seed(0)
    shared, head_a, head_b = nn.Linear(4, 3), nn.Linear(3, 1), nn.Linear(3, 1)
    feats = shared(torch.randn(8, 4))
    passes = []
    feats.register_hook(lambda grad: passes.append(grad))
    losses = {'a': (head_a(feats) - 1).square().mean(),
              'b': (head_b(feats) + 1).square().mean()}
    params = list(shared.parameters())
    heads = [*head_a.parameters(), *head_b.parameters()]
    wrapper = surgery('PCGrad', torch.optim.SGD(params + heads, lr=1.0))
    wrapper.update_params(sum(losses.values()),
                          task_losses=TaskLosses(losses, {}, params))
    assert len(passes) == 2


def test_config_wrapper_weights_tasks_by_its_pref_vector():
    shared, heads, losses = two_task_problem()
    params = list(shared.parameters())
    grads = per_task_gradients(losses, params).numpy()
    expected = numpy_config(grads, np.array([1.0, 3.0]))
    assert not np.allclose(expected, numpy_config(grads, np.ones(2)))
    before = [p.detach().clone() for p in params]
    wrapper = surgery('ConFIG', torch.optim.SGD(params, lr=1.0),
                      aggregator_args=dict(pref_vector=[1.0, 3.0]))
    wrapper.update_params(sum(losses.values()),
                          task_losses=TaskLosses(losses, {}, params))
    step = torch.cat([(b - p.detach()).reshape(-1)
                      for b, p in zip(before, params)])
    np.testing.assert_allclose(step.numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('name', ['PCGrad', 'GradVac'])
def test_published_code_variant_operates_on_all_unweighted_gradients(name):
    """``surgery_on='all', unweighted_losses=True``: the surgery of the
    unweighted losses' gradients over shared and head parameters together
    is the whole update; the task weights (2 and 3) play no part."""
    shared, heads, losses = two_task_problem()
    params = list(shared.parameters()) + [p for h in heads
                                          for p in h.parameters()]
    grads = per_task_gradients(losses, params).numpy()
    if name == 'PCGrad':
        expected = numpy_pcgrad(grads, [[1], [0]])
    else:
        expected = numpy_gradvac(grads, [[1], [0]], np.zeros((2, 2)), 0.01,
                                 below_target_only=True)
    before = [p.detach().clone() for p in params]
    extra = dict(target_update='below_target') if name == 'GradVac' else {}
    wrapper = surgery(name, torch.optim.SGD(params, lr=1.0),
                      surgery_on='all', unweighted_losses=True,
                      aggregator_args=extra)
    weights = dict(a=2.0, b=3.0)
    weighted = {t: weights[t] * v for t, v in losses.items()}
    wrapper.update_params(sum(weighted.values()), task_losses=TaskLosses(
        weighted, weights, list(shared.parameters())))
    step = torch.cat([(b - p.detach()).reshape(-1)
                      for b, p in zip(before, params)])
    np.testing.assert_allclose(step.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_model_hands_each_tasks_fixed_times_balanced_weight():
    from test_multitask_model import make_samples, tiny_model
    torch.manual_seed(0)
    model = tiny_model(tasks=('semseg', 'sal'),
                       task_weights=dict(semseg=1.0, sal=5.0),
                       loss_balancer=dict(type='TorchJDScalarization',
                                          scalarizer=dict(type='UW')))
    with torch.no_grad():
        model.loss_balancer.scalarizer.log_var.copy_(
            torch.tensor([0.5, -1.0]))
    losses = model(torch.randn(2, 3, 32, 32),
                   make_samples(tasks=('semseg', 'sal')), mode='loss')
    per_task = model.task_losses(losses)
    assert per_task.weights['semseg'] == pytest.approx(
        1.0 * 0.5 * math.exp(-0.5))
    assert per_task.weights['sal'] == pytest.approx(5.0 * 0.5 * math.exp(1))
    assert per_task.unweighted()['sal'].item() == pytest.approx(
        losses['sal.loss_bce'].item() / per_task.weights['sal'].item())
    assert per_task.shared_params == model.shared_parameters()


def test_wrapper_gives_the_gradient_the_parameters_layout():
    """A channels-last weight gets its surgery gradient channels-last, as
    autograd would leave it, with the surgery's values."""
    torch.manual_seed(0)
    shared = nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 6, 6).contiguous(memory_format=torch.channels_last)
    feats = shared(x)
    losses = {'a': feats.mean(), 'b': -feats.square().mean()}
    params = list(shared.parameters())
    grads = per_task_gradients(losses, params)
    expected = pcgrad(grads, [[1], [0]])[:shared.weight.numel()]
    optimizer = torch.optim.SGD(params, lr=0.1)
    seen = []
    optimizer.register_step_pre_hook(lambda *_: seen.append(
        shared.weight.grad.clone(memory_format=torch.preserve_format)))
    wrapper = surgery('PCGrad', optimizer)
    wrapper.update_params(sum(losses.values()),
                          task_losses=TaskLosses(losses, {}, params))
    grad, = seen
    assert grad.stride() == shared.weight.stride()
    assert grad.stride() != grad.contiguous().stride()
    torch.testing.assert_close(grad.reshape(-1), expected)


def test_wrapper_without_task_losses_says_what_is_missing():
    shared, _, losses = two_task_problem()
    wrapper = surgery('PCGrad', torch.optim.SGD(shared.parameters(), lr=0.1))
    with pytest.raises(TypeError, match='per-task losses'):
        wrapper.update_params(sum(losses.values()))


def test_amp_flag_sets_a_setting_and_keeps_class_names(monkeypatch):
    """--amp sets ``amp=True`` on gradient surgery and, as mmdet's tools,
    turns mmengine's OptimWrapper into its mixed-precision variant."""
    from mmengine.config import Config

    import toolkit.tool_setup as tool_setup
    from toolkit.tool_setup import enable_amp
    monkeypatch.setattr(tool_setup, 'cpu_supports_bfloat16', lambda: True)
    for cuda, plain in ((True, 'AmpOptimWrapper'),
                        (False, 'CPUAmpOptimWrapper')):
        monkeypatch.setattr(torch.cuda, 'is_available', lambda: cuda)
        cfg = Config(dict(optim_wrapper=dict(
            type='GradSurgeryOptimWrapper', aggregator=dict(type='PCGrad'))))
        enable_amp(cfg)
        assert cfg.optim_wrapper.type == 'GradSurgeryOptimWrapper'
        assert cfg.optim_wrapper.amp is True
        cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper')))
        enable_amp(cfg)
        assert cfg.optim_wrapper.type == plain
    with pytest.raises(ValueError, match='no mixed-precision setting'):
        enable_amp(Config(dict(optim_wrapper=dict(type='OptimWrapperDict'))))


def test_amp_on_a_cpu_without_bfloat16_fails_clearly(monkeypatch):
    from mmengine.config import Config

    import toolkit.tool_setup as tool_setup
    from toolkit.tool_setup import enable_amp
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(tool_setup, 'cpu_supports_bfloat16', lambda: False)
    with pytest.raises(RuntimeError, match='no bfloat16 support'):
        enable_amp(Config(dict(optim_wrapper=dict(type='OptimWrapper'))))


def test_cpu_amp_surgery_trains_under_bfloat16_autocast():
    """``amp=True`` without CUDA composes CPUAmpOptimWrapper: the forward
    runs in bfloat16 inside ``optim_context``."""
    if not cpu_supports_bfloat16():
        pytest.skip('no bfloat16 on this CPU')
    shared, heads, _ = two_task_problem()
    wrapper = surgery('PCGrad', torch.optim.SGD(shared.parameters(), lr=0.1),
                      amp=True)
    with wrapper.optim_context(shared):
        assert shared(torch.randn(2, 4)).dtype == torch.bfloat16


@pytest.mark.parametrize('precision', ['float32', 'cuda_amp'])
def test_dbmtl_matches_libmtls_update_over_steps(precision, monkeypatch):
    """Three updates against LibMTL's DB_MTL recomputed in numpy: moving
    averages of the log-losses' gradients, each scaled to the largest
    norm, on the shared layer; the log-losses' gradient on the heads."""
    torch.manual_seed(0)
    shared, head_a, head_b = nn.Linear(4, 3), nn.Linear(3, 1), nn.Linear(3, 1)
    x = torch.randn(8, 4)
    params = list(shared.parameters())
    head_params = list(head_a.parameters()) + list(head_b.parameters())

    def losses():
        feats = shared(x)
        return {'a': (head_a(feats) - 1).square().mean(),
                'b': 3 * (head_b(feats) + 1).square().mean()}

    reference = [p.detach().double().numpy().copy()
                 for p in params + head_params]
    average = np.zeros((2, sum(p.numel() for p in params)))
    wrapper = build_wrapper('DBMTL', precision,
                            torch.optim.SGD(params + head_params, lr=1.0),
                            monkeypatch)
    for step in range(1, 4):
        values = losses()
        grads = []
        for value in values.values():
            g = torch.autograd.grad(value, params + head_params,
                                    retain_graph=True, allow_unused=True)
            grads.append([np.zeros(p.shape) if gi is None else
                          (gi / (value.detach() + 1e-8)).double().numpy()
                          for gi, p in zip(g, params + head_params)])
        flat = np.stack([np.concatenate([gi.ravel()
                                         for gi in g[:len(params)]])
                         for g in grads])
        average = flat + 0.9 / step ** 0.5 * (average - flat)
        norms = np.linalg.norm(average, axis=1)
        update = (norms.max() / (norms + 1e-8)) @ average
        offset = 0
        for k, p in enumerate(params):
            reference[k] -= update[offset:offset + p.numel()].reshape(
                p.shape)
            offset += p.numel()
        for k in range(len(params), len(reference)):
            reference[k] -= grads[0][k] + grads[1][k]
        wrapper.update_params(sum(values.values()),
                              task_losses=TaskLosses(values, {}, params))
    for p, want in zip(params + head_params, reference):
        np.testing.assert_allclose(p.detach().numpy(), want, rtol=1e-5,
                                   atol=1e-6)
