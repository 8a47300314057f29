"""Logging how much the tasks' gradients of shared parameters conflict."""
import copy
import re
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.hooks import Hook
from torch import nn

from mmsquad.registry import HOOKS
from mmsquad.models.utils import inner_model, task_losses
from ..task_gradients import conflict_stats, gram_matrix, per_task_gradients

DATA_BATCH = Optional[dict]


def default_groups(model: nn.Module) -> Dict[str, List[str]]:
    """``{group: parameter names}``: every parameter the model declares
    shared (``shared``, the same definition for every architecture), those
    of them in the backbone, and in each of the backbone's child modules
    (the items of a ``ModuleList`` separately, e.g. the levels of
    SquadNet)."""
    shared = model.shared_parameter_names()
    groups = {'shared': shared,
              'backbone': [n for n in shared if n.startswith('backbone.')]}
    for name, child in model.backbone.named_children():
        subs = [f'{name}.{i}' for i in range(len(child))] \
            if isinstance(child, nn.ModuleList) else [name]
        for sub in subs:
            groups[f'backbone.{sub}'] = [
                n for n in shared if n.startswith(f'backbone.{sub}.')]
    return {group: names for group, names in groups.items() if names}


@HOOKS.register_module()
class GradConflictHook(Hook):
    """Every ``interval`` iterations, measure the per-task gradients of
    shared parameters and log how much they conflict.

    Before the iteration's own step, the batch is run once more through the
    model and each task's loss is differentiated separately; for every
    parameter group the message hub gets (and so every visualizer backend)
    ``grad_conflict/<group>/pairs`` (the task pairs measured: a task with
    no label in the batch has no gradient and is left out),
    ``.../cos_<a>_<b>``, ``.../cos_mean``, ``.../conflict_rate`` and
    ``.../magnitude_ratio`` (see
    :func:`~mmsquad.engine.task_gradients.conflict_stats`). BatchNorm
    statistics and the random state are restored afterwards, so training
    is unchanged; under AMP the losses are scaled by the current loss scale
    and the gradients unscaled; under DDP the per-task gradients are averaged
    over processes, once. Other iterations cost nothing.

    Args:
        interval: Measure every ``interval`` training iterations. Make the
            logger's interval divide it to log every measurement once.
        groups: ``{name: regular expression on parameter names}``; default:
            :func:`default_groups` (the parameters the model declares
            shared, see its ``shared_parameters``).
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 50,
                 groups: Optional[Dict[str, str]] = None) -> None:
        if interval < 1:
            raise ValueError(f'GradConflictHook: interval must be >= 1, got '
                             f'{interval}')
        self.interval = interval
        self.groups = groups

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        model = inner_model(runner.model)
        stats = self.measure(model, data_batch, runner.optim_wrapper)
        for key, value in stats.items():
            runner.message_hub.update_scalar(f'train/grad_conflict/{key}',
                                             value)

    def measure(self, model: nn.Module, data_batch: dict,
                optim_wrapper) -> Dict[str, float]:
        """``{<group>/<statistic>: value}`` on one batch, leaving the model
        as it was."""
        params, members = self._group_members(model)
        buffers = [b.clone() for b in model.buffers()]
        scaler = getattr(optim_wrapper, 'loss_scaler', None)
        scale = float(scaler.get_scale()) if scaler is not None else 1.0
        devices = [torch.cuda.current_device()] \
            if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices):
            with optim_wrapper.optim_context(model):
                data = model.data_preprocessor(copy.deepcopy(data_batch),
                                               True)
                losses = task_losses(model._run_forward(data, mode='loss'))
            if len(losses) < 2:
                raise ValueError('GradConflictHook needs at least two tasks, '
                                 f'the model has {list(losses)}')
            grads = per_task_gradients(losses, params, scale)
        with torch.no_grad():
            for buffer, saved in zip(model.buffers(), buffers):
                buffer.copy_(saved)
        # Per-parameter Gram matrices; a group's is the sum over its members.
        grams, offset = [], 0
        for p in params:
            grams.append(gram_matrix(grads[:, offset:offset + p.numel()]))
            offset += p.numel()
        stats = {}
        for group, indices in members.items():
            gram = sum(grams[i] for i in indices)
            for key, value in conflict_stats(gram, list(losses)).items():
                stats[f'{group}/{key}'] = value
        return stats

    def _group_members(self, model: nn.Module
                       ) -> Tuple[List[nn.Parameter], Dict[str, List[int]]]:
        """The parameters of any group, each once, and for every group the
        indices of its parameters in that list."""
        named = [(n, p) for n, p in model.named_parameters()
                 if p.requires_grad]
        if self.groups is None:
            groups = default_groups(model)
            members = {group: [i for i, (n, _) in enumerate(named)
                               if n in names]
                       for group, names in (
                           (g, set(names)) for g, names in groups.items())}
        else:
            groups = self.groups
            members = {group: [i for i, (n, _) in enumerate(named)
                               if re.search(pattern, n)]
                       for group, pattern in groups.items()}
        for group, indices in members.items():
            if not indices:
                raise ValueError(f'GradConflictHook: group {group!r} '
                                 f'(pattern {groups[group]!r}) matches no '
                                 'trainable parameter')
        used = sorted(set().union(*members.values()))
        position = {index: k for k, index in enumerate(used)}
        return ([named[i][1] for i in used],
                {group: [position[i] for i in indices]
                 for group, indices in members.items()})
