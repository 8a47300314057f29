"""Encoders with one backbone per task, mixed after chosen stages."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.model import ModuleDict
from torch import Tensor, nn

from mmsquad.registry import MODELS
from ..backbones.resnet_stages import forward_stage, stage_modules
from .base_encoder import BaseMultiTaskEncoder


class BranchedEncoder(BaseMultiTaskEncoder):
    """One copy of the backbone per task (``branches``), their features
    mixed after ``mix_stages`` by the subclass's :attr:`mixers` (modules
    mapping the list of every task's features to a new list, with a
    ``reset_parameters`` that sets their published initial values and a
    ``shared_parameters(last)`` that says which of their parameters more
    than one task's loss reaches, ``last`` when no mixing follows).

    Every task's loss reaches every branch's stages up to the last mixed
    one; later stages of a branch serve its task only.

    Args:
        tasks: Task names.
        backbone: Config of one task's backbone.
        mix_stages: Stages after which the branches are mixed.
        out_stages: The stages whose outputs the heads receive.
        branch_init_cfgs: ``{task: init_cfg}`` of that task's backbone,
            replacing the backbone config's.
        init_cfg: Initialisation config.
    """

    def __init__(self,
                 tasks: Sequence[str],
                 backbone: dict,
                 mix_stages: Sequence[str],
                 out_stages: Sequence[str],
                 branch_init_cfgs: Optional[Dict[str, dict]] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(tasks, out_stages, init_cfg)
        inits = dict(branch_init_cfgs or {})
        unknown = sorted(set(inits) - set(self.tasks))
        if unknown:
            raise KeyError(f'branch_init_cfgs names tasks {unknown} that are '
                           f'not the model\'s {self.tasks}')
        # mmengine's ModuleDict, so that init_weights reaches every
        # branch's init_cfg.
        self.branches = ModuleDict({
            t: MODELS.build(dict(backbone, init_cfg=inits[t]) if t in inits
                            else backbone)
            for t in self.tasks})
        self._read_stages(self.branches[self.tasks[0]])
        self.check_stages(mix_stages, 'the mixed stages')
        self.mix_stages = [s for s in self.stages if s in mix_stages]

    @property
    def mixers(self) -> nn.ModuleDict:
        """``{stage: mixing unit}``."""
        raise NotImplementedError

    def init_weights(self) -> None:
        super().init_weights()
        for mixer in self.mixers.values():
            mixer.reset_parameters()

    def forward(self, x: Tensor) -> Dict[str, Tuple[Tensor, ...]]:
        """``{task: (features of every output stage)}``."""
        feats = [x] * len(self.tasks)
        outs: Dict[str, List[Tensor]] = {t: [] for t in self.tasks}
        for stage in self.stages:
            feats = [forward_stage(self.branches[t], stage, f)
                     for t, f in zip(self.tasks, feats)]
            if stage in self.mixers:
                feats = self.mixers[stage](feats)
            if stage in self.out_stages:
                for task, f in zip(self.tasks, feats):
                    outs[task].append(f)
        return {t: tuple(v) for t, v in outs.items()}

    def shared_parameters(self) -> List[nn.Parameter]:
        """What the mixers declare and every branch's stages up to the last
        mixed one."""
        last = max(self.stages.index(s) for s in self.mix_stages)
        shared = []
        for stage, mixer in self.mixers.items():
            shared.extend(mixer.shared_parameters(
                self.stages.index(stage) == last))
        for branch in self.branches.values():
            for stage in self.stages[:last + 1]:
                for module in stage_modules(branch, stage):
                    shared.extend(module.parameters())
        return shared
