"""Gradient surgery as optim wrappers: PCGrad, GradVac, CAGrad, Nash-MTL,
ConFIG, DB-MTL.

Each wrapper replaces the gradient of the shared parameters (those the
model's ``shared_parameters`` declares) by a combination of the per-task
gradients; task-specific parameters keep their ordinary gradient (or, with
``surgery_on='all'``, the combination covers every parameter, see
:class:`GradSurgeryMixin`). The per-task gradients are averaged over
processes before the surgery, so every process applies the same update
under DDP; under AMP
they are taken from scaled losses and unscaled, and the result is scaled
back for the loss scaler's own unscale-and-check step.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import all_reduce, get_world_size
from mmengine.logging import MessageHub
from scipy.optimize import minimize
from torch import Tensor

from mmsquad.models.utils import (attached_task_losses,
                                  attached_unweighted_task_losses)
from ..task_gradients import gram_matrix, per_task_gradients


def pcgrad(grads: Tensor, order: List[List[int]]) -> Tensor:
    """PCGrad (Yu et al., 2020): project each task's gradient onto the
    normal plane of every other task's gradient it conflicts with; sum.

    Args:
        grads: (num_tasks, num_params) per-task gradients.
        order: For each task, the order of the other tasks to project on.
    """
    result = torch.zeros_like(grads[0])
    for i, others in enumerate(order):
        g = grads[i].clone()
        for j in others:
            dot = g @ grads[j]
            if dot < 0:
                g -= dot / grads[j].square().sum().clamp_min(1e-20) * grads[j]
        result += g
    return result


def gradvac(grads: Tensor, order: List[List[int]], targets: Tensor,
            beta: float, update: str = 'always') -> Tensor:
    """Gradient Vaccine (Wang et al., 2021) on the whole shared vector.

    Where the cosine of tasks ``i`` and ``j`` is below its running target
    ``targets[i, j]``, move ``g_i`` towards ``g_j`` until it reaches the
    target; then update the targets by an EMA with rate ``beta`` (in place):
    every visited pair (``update='always'``, the paper's rule) or only the
    pairs whose cosine was below target (``'below_target'``, the code the
    SquadNet paper's runs used). Returns the sum of the adjusted gradients.
    """
    result = torch.zeros_like(grads[0])
    for i, others in enumerate(order):
        g = grads[i].clone()
        for j in others:
            g_j = grads[j]
            cos = g @ g_j / (g.norm() * g_j.norm()).clamp_min(1e-20)
            target = targets[i, j]
            if cos < target:
                coef = g.norm() * (target * (1 - cos ** 2).sqrt() -
                                   cos * (1 - target ** 2).sqrt()) / (
                    g_j.norm() * (1 - target ** 2).sqrt()).clamp_min(1e-20)
                g = g + coef * g_j
            if update == 'always' or cos < target:
                targets[i, j] = (1 - beta) * target + beta * cos
        result += g
    return result


def cagrad(grads: Tensor, c: float) -> Tensor:
    """Conflict-Averse Gradient descent (Liu et al., 2021).

    Finds simplex weights ``w`` minimising ``g_w . g_0 + c ||g_0|| ||g_w||``
    (``g_0`` the mean gradient, ``g_w`` the ``w``-weighted one) and returns
    ``(g_0 + c ||g_0|| / ||g_w|| g_w) / (1 + c^2)``, as the authors' code.
    """
    num_tasks = grads.shape[0]
    gram = gram_matrix(grads).cpu().numpy()
    g0_norm = float(np.sqrt(gram.mean() + 1e-8))
    radius = c * g0_norm + 1e-8
    mean_w = np.full(num_tasks, 1.0 / num_tasks)

    def objective(w: np.ndarray) -> float:
        return float(w @ gram @ mean_w + radius * np.sqrt(w @ gram @ w + 1e-8))

    solution = minimize(objective, mean_w, bounds=[(0, 1)] * num_tasks,
                        constraints={'type': 'eq',
                                     'fun': lambda w: 1 - w.sum()})
    weights = torch.as_tensor(solution.x, dtype=grads.dtype,
                              device=grads.device)
    g_w = weights @ grads
    g = grads.mean(dim=0) + radius / (g_w.norm() + 1e-8) * g_w
    return g / (1 + c ** 2)


def nash_mtl(grads: Tensor) -> Tensor:
    """Nash-MTL (Navon et al., 2022): the bargaining solution ``sum_i
    alpha_i g_i`` with ``alpha > 0`` and ``alpha_i (K alpha)_i = 1`` for
    every task, ``K`` the Gram matrix of the gradients normalised by its
    Frobenius norm, as the authors' code.

    ``alpha`` is the minimiser of the convex ``alpha^T K alpha / 2 -
    sum_i log alpha_i``, whose stationarity condition is the one above;
    the authors reach it by concave-convex iterations instead.

    A task whose gradient is zero (a batch without a labelled pixel of
    it) has nothing to bargain with, and no ``alpha`` solves its
    condition: it gets weight 0 and the other tasks bargain among
    themselves. (The authors' solver fails on such a ``K`` and reuses the
    previous update's weights.)
    """
    gram = gram_matrix(grads).cpu().numpy()
    squared_norms = np.diag(gram)
    players = squared_norms > 1e-20 * squared_norms.max()
    alpha = np.zeros(len(gram))
    if players.any():
        alpha[players] = _bargaining_weights(gram[np.ix_(players, players)])
    return torch.as_tensor(alpha, dtype=grads.dtype,
                           device=grads.device) @ grads


def config_update(grads: Tensor,
                  weights: Optional[Tensor] = None) -> Tensor:
    """ConFIG (Liu et al., 2024, Eq. 2), computed from the Gram matrix.

    The direction is ``x = pinv(U) w``, ``U`` the rows ``g_i / ||g_i||``
    and ``w`` the preference weights (ones by default): the least-norm
    ``x`` with the same cosine to every task's gradient. The update is
    ``sum_i (g_i . x_hat) x_hat``. A zero gradient's row is zero, as in
    the authors' code.

    ``pinv(U) w = U^T pinv(U U^T) w``, and ``U U^T`` is the tasks' cosine
    matrix, so this solves a ``num_tasks``-square system and decides the
    rank from it. torchjd's ``ConFIG`` takes ``pinv`` of the
    (num_tasks, num_params) ``U`` with torch's default tolerance,
    ``max(num_tasks, num_params)`` float32 epsilons relative to the
    largest singular value: beyond about 8.4M parameters that is above
    1, every singular value is cut and its update is zero (and below, it
    drops directions of nearly parallel gradients).

    Args:
        grads: (num_tasks, num_params) per-task gradients.
        weights: (num_tasks,) preference weights; ones if None.
    """
    gram = gram_matrix(grads)
    norms = gram.diagonal().sqrt()
    inverse_norms = torch.where(norms > 0, 1 / norms, 0.0)
    cosines = inverse_norms[:, None] * gram * inverse_norms[None]
    if weights is None:
        weights = torch.ones_like(norms)
    # x = coefs @ grads, with coefs_i = (pinv(U U^T) w)_i / ||g_i||.
    coefs = inverse_norms * (torch.linalg.pinv(cosines, hermitian=True)
                             @ weights.to(gram))
    squared_norm = coefs @ gram @ coefs
    if squared_norm <= 0:
        return torch.zeros_like(grads[0])
    length = (gram @ coefs).sum() / squared_norm.sqrt()
    return (length / squared_norm.sqrt() * coefs).to(grads.dtype) @ grads


def _bargaining_weights(gram: np.ndarray) -> np.ndarray:
    """The ``alpha > 0`` of :func:`nash_mtl` for a Gram matrix whose
    diagonal is positive."""
    gram = gram / np.linalg.norm(gram)

    def objective(log_alpha: np.ndarray):
        alpha = np.exp(log_alpha)  # positivity by parametrisation
        k_alpha = gram @ alpha
        value = 0.5 * alpha @ k_alpha - log_alpha.sum()
        return value, alpha * k_alpha - 1.0

    solution = minimize(objective, np.zeros(len(gram)), jac=True,
                        method='L-BFGS-B',
                        options=dict(ftol=0.0, gtol=1e-12, maxiter=1000))
    return np.exp(solution.x)


class GradSurgeryMixin:
    """Backward with surgery on the shared parameters' gradient.

    By default the surgery combines the per-task gradients of the weighted
    task losses over the shared parameters, and the other parameters keep
    their ordinary gradient. ``surgery_on='all', unweighted_losses=True`` is
    the form of the PCGrad/GradVac code the SquadNet paper's runs used: the
    per-task gradients of the unweighted losses over every trained
    parameter (heads included), combined into the whole gradient, so the
    task weights play no part.

    Subclasses implement :meth:`combine`. Works on top of ``OptimWrapper``,
    ``AmpOptimWrapper`` and ``CPUAmpOptimWrapper`` (the registered
    combinations are in :mod:`.surgery_wrappers`).

    Args:
        surgery_on: ``'shared'`` (the model's shared parameters) or
            ``'all'`` (every parameter the optimizer trains).
        unweighted_losses: Differentiate the task losses before their
            weights (fixed and balanced) are applied.
        **kwargs: Arguments of the underlying optim wrapper.
    """

    def __init__(self, *args, surgery_on: str = 'shared',
                 unweighted_losses: bool = False, **kwargs) -> None:
        if surgery_on not in ('shared', 'all'):
            raise ValueError("surgery_on must be 'shared' or 'all', got "
                             f'{surgery_on!r}')
        super().__init__(*args, **kwargs)
        self.surgery_on = surgery_on
        self.unweighted_losses = unweighted_losses

    def update_params(self, loss: Tensor,
                      step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        """Backward with surgery, then step as ``OptimWrapper`` does."""
        losses, shared = attached_task_losses(loss)
        if self.unweighted_losses:
            losses = attached_unweighted_task_losses(loss)
        params = shared if self.surgery_on == 'shared' else [
            p for group in self.optimizer.param_groups
            for p in group['params'] if p.requires_grad]
        scaler = getattr(self, 'loss_scaler', None)
        scale = float(scaler.get_scale()) if scaler is not None else 1.0
        # scale_loss divides by the gradient-accumulation count, no more.
        grads = per_task_gradients(
            {task: self.scale_loss(value)
             for task, value in self.surgery_losses(losses).items()},
            params, scale)
        previous = [p.grad for p in params]
        for p in params:
            p.grad = None
        self.backward(self.scale_loss(self.ordinary_loss(loss, losses)))
        combined = self.combine(grads) * scale
        offset = 0
        for p, prev in zip(params, previous):
            # Written in the parameter's own layout (e.g. channels-last), as
            # autograd would leave it, so the optimizer step runs dense.
            part = torch.empty_like(p).copy_(
                combined[offset:offset + p.numel()].view_as(p))
            offset += p.numel()
            p.grad = part if prev is None else prev + part
        if self.should_update():
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))

    def combine(self, grads: Tensor) -> Tensor:
        """The shared gradient from the (num_tasks, num_params) ones."""
        raise NotImplementedError

    def surgery_losses(self, losses: Dict[str, Tensor]
                       ) -> Dict[str, Tensor]:
        """The per-task losses whose gradients :meth:`combine` gets (by
        default the task losses)."""
        return losses

    def ordinary_loss(self, loss: Tensor,
                      losses: Dict[str, Tensor]) -> Tensor:
        """The loss whose ordinary gradient the parameters outside the
        surgery get (by default the model's total loss)."""
        return loss


class RandomOrderSurgery(GradSurgeryMixin):
    """A surgery that visits the other tasks in a random order.

    Args:
        seed: Seed of the order (the same on every process, so every
            process applies the same update); the generator's state is
            part of the ``state_dict``, so a resumed run draws the orders
            it would have.
        **kwargs: Arguments of the underlying optim wrapper.
    """

    def __init__(self, *args, seed: int = 0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._generator = torch.Generator().manual_seed(seed)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['task_order_generator'] = self._generator.get_state()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        generator = state_dict.pop('task_order_generator', None)
        if generator is not None:
            self._generator.set_state(generator)
        super().load_state_dict(state_dict)

    def _task_order(self, num_tasks: int) -> List[List[int]]:
        """For each task, the other tasks in a random order."""
        order = []
        for i in range(num_tasks):
            others = [j for j in range(num_tasks) if j != i]
            perm = torch.randperm(len(others), generator=self._generator)
            order.append([others[k] for k in perm.tolist()])
        return order


class PCGrad(RandomOrderSurgery):
    """PCGrad surgery (see :func:`pcgrad`); ``seed`` as
    :class:`RandomOrderSurgery`."""

    def combine(self, grads: Tensor) -> Tensor:
        return pcgrad(grads, self._task_order(grads.shape[0]))


class GradVac(RandomOrderSurgery):
    """Gradient Vaccine surgery (see :func:`gradvac`).

    The defaults are the paper's; ``target_update='below_target',
    reset_every_epoch=True`` is the variant of the code the SquadNet paper's
    runs used.

    Args:
        beta: EMA rate of the target cosines.
        target_update: ``'always'`` or ``'below_target'`` (see
            :func:`gradvac`).
        reset_every_epoch: Set the targets back to zero at the first update
            of every epoch (the epoch as the runner's message hub has it).
        seed: Seed of the random task order (the same on every process).
        **kwargs: Arguments of the underlying optim wrapper.
    """

    def __init__(self, *args, beta: float = 0.01,
                 target_update: str = 'always',
                 reset_every_epoch: bool = False, **kwargs) -> None:
        if target_update not in ('always', 'below_target'):
            raise ValueError("target_update must be 'always' or "
                             f"'below_target', got {target_update!r}")
        super().__init__(*args, **kwargs)
        self.beta = beta
        self.target_update = target_update
        self.reset_every_epoch = reset_every_epoch
        self._targets: Optional[Tensor] = None
        self._targets_epoch: Optional[int] = None

    def combine(self, grads: Tensor) -> Tensor:
        epoch = int(MessageHub.get_current_instance().get_info('epoch', 0))
        if self._targets is None or (self.reset_every_epoch and
                                     epoch != self._targets_epoch):
            self._targets = grads.new_zeros(grads.shape[0], grads.shape[0])
        self._targets_epoch = epoch
        return gradvac(grads, self._task_order(grads.shape[0]),
                       self._targets, self.beta, self.target_update)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['gradvac_targets'] = self._targets
        state['gradvac_targets_epoch'] = self._targets_epoch
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        self._targets = state_dict.pop('gradvac_targets', None)
        self._targets_epoch = state_dict.pop('gradvac_targets_epoch', None)
        super().load_state_dict(state_dict)


class CAGrad(GradSurgeryMixin):
    """CAGrad surgery (see :func:`cagrad`).

    Args:
        c: Radius of the conflict-averse ball, relative to the mean
            gradient's norm (the paper's default 0.4).
        **kwargs: Arguments of the underlying optim wrapper.
    """

    def __init__(self, *args, c: float = 0.4, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.c = c

    def combine(self, grads: Tensor) -> Tensor:
        return cagrad(grads, self.c)


class NashMTL(GradSurgeryMixin):
    """Nash-MTL surgery (see :func:`nash_mtl`); weights are solved at every
    update. Clip the result with the wrapper's ``clip_grad`` as the authors
    do (``max_norm=1``) where wanted."""

    def combine(self, grads: Tensor) -> Tensor:
        return nash_mtl(grads)


class ConFIG(GradSurgeryMixin):
    """ConFIG surgery (see :func:`config_update`). torchjd's ``ConFIG``
    (``torchjd.ConFIG`` in configs) computes the same update where it
    works, but its update is zero on models with more than about 8.4M
    shared parameters; this one is the default.

    Args:
        pref_vector: Preference weight of each task, in the order of the
            model's tasks; equal if None.
        **kwargs: Arguments of the underlying optim wrapper.
    """

    def __init__(self, *args, pref_vector: Optional[Sequence[float]] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.pref_vector = pref_vector

    def combine(self, grads: Tensor) -> Tensor:
        weights = None if self.pref_vector is None else torch.tensor(
            self.pref_vector, dtype=torch.float64, device=grads.device)
        return config_update(grads, weights)


class DBMTL(GradSurgeryMixin):
    """Dual-balancing multi-task learning (Lin et al., 2023), as LibMTL's
    ``DB_MTL``: the loss scales balanced by taking ``log(L_t + eps)``, the
    gradient magnitudes by scaling every task's (moving-average) gradient
    to the largest norm.

    The per-task gradients of the log-losses enter a moving average
    ``m_t <- g_t + beta / k ** beta_sigma * (m_t - g_t)`` at update ``k``;
    the shared gradient is ``sum_t max_s ||m_s|| / ||m_t|| * m_t``, and
    the other parameters get the gradient of ``sum_t log(L_t + eps)``
    (the task weights cancel in the logarithm), ``L_t`` over the whole
    batch of all processes. Not in torchjd: the moving
    average and the log transform are outside its aggregator interface.
    The averages and the update count are part of the ``state_dict``.

    Args:
        beta: Moving-average rate (LibMTL's default 0.9).
        beta_sigma: Decay exponent of the rate over updates (0.5).
        eps: Added to the losses before the logarithm.
        **kwargs: Arguments of the underlying optim wrapper.
    """

    def __init__(self, *args, beta: float = 0.9, beta_sigma: float = 0.5,
                 eps: float = 1e-8, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.beta, self.beta_sigma, self.eps = beta, beta_sigma, eps
        self.updates = 0
        self._average: Optional[Tensor] = None

    def surgery_losses(self, losses: Dict[str, Tensor]
                       ) -> Dict[str, Tensor]:
        """Losses whose gradients are those of ``log(L_t + eps)`` with
        ``L_t`` the loss of the whole batch over all processes:
        ``L_t / (mean over processes of L_t + eps)``, the denominator
        detached (a logarithm per process would average ``grad L / L``
        of each process's part instead)."""
        values = torch.stack([v.detach() for v in losses.values()])
        if get_world_size() > 1:
            all_reduce(values, op='mean')
        return {task: value / (total + self.eps)
                for (task, value), total in zip(losses.items(), values)}

    def ordinary_loss(self, loss: Tensor,
                      losses: Dict[str, Tensor]) -> Tensor:
        return sum(self.surgery_losses(losses).values())

    def combine(self, grads: Tensor) -> Tensor:
        self.updates += 1
        if self._average is None:
            self._average = torch.zeros_like(grads)
        rate = self.beta / self.updates ** self.beta_sigma
        self._average = grads + rate * (self._average - grads)
        norms = self._average.norm(dim=1)
        return (norms.max() / (norms + 1e-8)) @ self._average

    def state_dict(self) -> dict:
        state = super().state_dict()
        state['dbmtl_updates'] = self.updates
        state['dbmtl_average'] = self._average
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        self.updates = state_dict.pop('dbmtl_updates', 0)
        self._average = state_dict.pop('dbmtl_average', None)
        super().load_state_dict(state_dict)

