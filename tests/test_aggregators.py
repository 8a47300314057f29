"""Gradient surgery with every registered aggregator (mmsquad's and
torchjd's): the update of the shared parameters equals the aggregator
applied to the per-task gradients computed by separate backward passes;
mmsquad's own PCGrad, GradVac and ConFIG agree with torchjd's."""
import pytest
import torch
import torchjd.aggregation as aggregation
from mmengine.optim import OptimWrapper

from mmsquad.engine import (config_update, gradvac, pcgrad,
                            torchjd_aggregator_config,
                            torchjd_aggregator_names)
from mmsquad.registry import AGGREGATORS, MODELS, OPTIM_WRAPPERS
from mmsquad.structures import MultiTaskDataSample
from mmsquad.tasks import build_tasks
from mmsquad.utils.precision import cpu_supports_bfloat16

TASKS = ('sal', 'depth', 'normals')


def _model_and_batch():
    torch.manual_seed(0)
    tasks = build_tasks(TASKS)
    model = MODELS.build(dict(
        type='MultiTaskModel', tasks=tasks,
        backbone=dict(type='SquadNet', arch='tiny'),
        neck=dict(type='ExpertSquadNeck', levels=[2]),
        heads={name: dict(type='ASPPTaskHead', channels=8)
               for name in tasks})).eval()  # no dropout, fixed norms
    samples = []
    for _ in range(2):
        sample = MultiTaskDataSample(metainfo=dict(img_shape=(32, 32)))
        sample.set_field(tasks['sal'].pack(
            (torch.rand(32, 32) > 0.5).numpy().astype('uint8')), 'gt_sal')
        sample.set_field(tasks['depth'].pack(
            torch.rand(32, 32).add(0.5).numpy()), 'gt_depth')
        sample.set_field(tasks['normals'].pack(torch.nn.functional.normalize(
            torch.randn(32, 32, 3), dim=-1).numpy()), 'gt_normals')
        samples.append(sample)
    return model, torch.randn(2, 3, 32, 32), samples


def _config(name: str) -> dict:
    """The aggregator config of a registered name (torchjd's with the
    arguments they require)."""
    if name.startswith('torchjd.'):
        return torchjd_aggregator_config(name[len('torchjd.'):], len(TASKS))
    return dict(type=name)


def _build(name: str):
    try:
        return AGGREGATORS.build(_config(name))
    except ImportError as error:  # optional solver packages
        pytest.skip(str(error))


#: Every registered aggregator: mmsquad's and torchjd's.
ALL_AGGREGATORS = sorted(AGGREGATORS.module_dict) + [
    f'torchjd.{name}' for name in torchjd_aggregator_names()]


@pytest.mark.parametrize('name', ALL_AGGREGATORS)
def test_update_equals_the_aggregator_on_per_task_gradients(name):
    """For every aggregator: the surgery wrapper, fed by the model's own
    train_step, updates the shared parameters by the aggregator applied to
    the per-task gradients of separate backward passes."""
    if name == 'DBMTL':
        pytest.skip("DB-MTL combines the log-losses' gradients: "
                    'tests/test_grad_surgery.py checks it against LibMTL')
    _build(name)
    model, x, samples = _model_and_batch()
    shared = model.shared_parameters()
    losses = model(x, samples, mode='loss')
    per_task = []
    for task in TASKS:
        grads = torch.autograd.grad(
            sum(v for k, v in losses.items() if k.startswith(task + '.')),
            shared, allow_unused=True, retain_graph=True)
        per_task.append(torch.cat([
            (g if g is not None else torch.zeros_like(p)).reshape(-1)
            for g, p in zip(grads, shared)]))
    # torchjd's Random, GradDrop, PCGrad, ... draw from the global
    # generator, which the wrapper seeds with its seed (0) plus its update
    # count (0); mmsquad's from their own generators, seeded 0.
    torch.manual_seed(0)
    expected = _build(name)(torch.stack(per_task))

    before = [p.detach().clone() for p in shared]
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='GradSurgeryOptimWrapper', aggregator=_config(name),
        optimizer=torch.optim.SGD(model.parameters(), lr=1.0)))
    torch.manual_seed(1)  # whatever the global generator's state
    model.train_step(dict(inputs=x, data_samples=samples), wrapper)
    update = torch.cat([(b - p.detach()).reshape(-1)
                        for b, p in zip(before, shared)])
    torch.testing.assert_close(update, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('name', ['UPGrad', 'MGDA', 'DualProj'])
def test_gramian_weightings_see_a_float64_gramian(name):
    # Millions of float32 parameters, two tasks in conflict: torchjd's
    # float32 Gramian drifts by about 1e-5 to 1e-4 of the update here.
    generator = torch.Generator().manual_seed(0)
    grads = torch.randn(1, 4_000_000, generator=generator) + \
        0.3 * torch.randn(4, 4_000_000, generator=generator)
    grads *= torch.tensor([[1.0], [3.0], [0.5], [2.0]])
    grads[1] = -0.7 * grads[0] + 0.2 * grads[1]
    expected = getattr(aggregation, name)()(grads.double())
    combined = AGGREGATORS.build(dict(type=f'torchjd.{name}'))(grads)
    assert combined.dtype == torch.float32
    assert (combined.double() - expected).norm() <= 1e-6 * expected.norm()


def test_constant_weights_from_a_config_list():
    aggregator = AGGREGATORS.build(dict(type='torchjd.Constant',
                                        weights=[0.3, 0.7]))
    grads = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    torch.testing.assert_close(aggregator(grads), torch.tensor([0.3, 1.4]))


def test_unknown_aggregator_is_refused_when_the_wrapper_is_built():
    with pytest.raises(KeyError, match='UPGradd'):
        OPTIM_WRAPPERS.build(dict(
            type='GradSurgeryOptimWrapper',
            aggregator=dict(type='torchjd.UPGradd'),
            optimizer=torch.optim.SGD([torch.nn.Parameter(torch.ones(1))],
                                      lr=0.1)))


@pytest.mark.skipif(not cpu_supports_bfloat16(),
                    reason='CPU bfloat16 autocast needs avx512_bf16/AMX')
def test_cpu_amp_surgery_trains():
    model, x, samples = _model_and_batch()
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='GradSurgeryOptimWrapper', aggregator=dict(type='torchjd.UPGrad'),
        amp=True, optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    assert isinstance(wrapper, OptimWrapper)
    before = [p.detach().clone() for p in model.shared_parameters()]
    model.train_step(dict(inputs=x, data_samples=samples), wrapper)
    after = model.shared_parameters()
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(b, p) for b, p in zip(before, after))


def _conflicting(num_tasks: int, seed: int) -> torch.Tensor:
    """Per-task gradients where task 1 mostly opposes task 0."""
    rng = torch.Generator().manual_seed(seed)
    grads = torch.randn(num_tasks, 40, generator=rng, dtype=torch.float64)
    grads[1] = -grads[0] + 0.3 * torch.randn(40, generator=rng,
                                               dtype=torch.float64)
    return grads


@pytest.mark.parametrize('num_tasks', [2, 3, 4])
def test_mmsquad_pcgrad_equals_torchjds_in_the_same_order(num_tasks):
    """torchjd visits the others in ``randperm(num_tasks)`` order (skipping
    the task itself); given that order, mmsquad's PCGrad is the same."""
    grads = _conflicting(num_tasks, num_tasks)
    torch.manual_seed(7)
    order = [[int(j) for j in torch.randperm(num_tasks) if j != i]
             for i in range(num_tasks)]
    torch.manual_seed(7)
    theirs = aggregation.PCGrad()(grads)
    torch.testing.assert_close(pcgrad(grads, order), theirs)


@pytest.mark.parametrize('num_tasks', [2, 3])
def test_mmsquad_gradvac_equals_torchjds_over_steps(num_tasks):
    """The same target cosines, EMA (every pair, every step) and, given
    torchjd's order, the same update at every step."""
    theirs_aggregator = aggregation.GradVac(beta=0.3)
    targets = torch.zeros(num_tasks, num_tasks, dtype=torch.float64)
    for step in range(3):
        grads = _conflicting(num_tasks, 10 * num_tasks + step)
        torch.manual_seed(step)
        order = []
        for i in range(num_tasks):
            others = [j for j in range(num_tasks) if j != i]
            order.append([others[k] for k in
                          torch.randperm(len(others)).tolist()])
        ours = gradvac(grads, order, targets, 0.3)
        torch.manual_seed(step)
        torch.testing.assert_close(ours, theirs_aggregator(grads))


@pytest.mark.parametrize('num_tasks', [2, 3, 4])
@pytest.mark.parametrize('case', ['equal', 'preferences', 'a zero gradient'])
def test_mmsquad_config_equals_torchjds(num_tasks, case):
    grads = _conflicting(num_tasks, 20 + num_tasks)
    preferences = None
    if case == 'preferences':
        preferences = torch.tensor([1.0, 3.0, 0.5, 2.0][:num_tasks],
                                   dtype=torch.float64)
    elif case == 'a zero gradient':
        grads[-1] = 0.0
    theirs = aggregation.ConFIG(pref_vector=preferences)(grads)
    torch.testing.assert_close(config_update(grads, preferences), theirs)


def test_mmsquad_config_updates_where_torchjds_is_zero():
    """4 tasks of SquadNet-small's 9,121,536 shared parameters in float32:
    torchjd's pinv tolerance cuts every singular value. mmsquad's update
    is ConFIG's: the same cosine to every task's gradient, and the sum of
    the gradients' projections on it as its length."""
    grads = torch.randn(4, 9_121_536, generator=torch.Generator()
                        .manual_seed(0))
    grads[1] -= 0.5 * grads[0]
    assert not aggregation.ConFIG()(grads).any(), \
        "torchjd's ConFIG updates at this size now: retire mmsquad's"
    update = config_update(grads)
    cosines = torch.nn.functional.cosine_similarity(update[None], grads)
    assert cosines.min() > 0.3
    torch.testing.assert_close(cosines, cosines.mean().expand(4), rtol=1e-4,
                               atol=0.0)
    direction = update.double() / update.double().norm()
    torch.testing.assert_close(update.double().norm(),
                               (grads.double() @ direction).sum(),
                               rtol=1e-5, atol=0.0)
