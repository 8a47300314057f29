"""Keep every rank's random generator states in the checkpoints."""
from typing import Optional

from mmengine.dist import all_gather_object, is_distributed
from mmengine.hooks import Hook

from mmsquad.registry import HOOKS
from mmsquad.utils.random_state import get_random_state, set_random_state

RANDOM_STATES_KEY = 'random_states'


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Record the random generator states of all ranks (Python, numpy,
    torch, CUDA) after every training iteration, as runtime information of
    the message hub, which every checkpoint holds; and leave them as they
    were across every validation, so that training draws the same numbers
    however often it validates (and whether or not a resumed run repeats a
    validation).

    mmengine's checkpoints do not hold them, so a resumed run draws other
    augmentations and dropout masks than the run it continues.
    :class:`~mmsquad.engine.runner.ExactResumeEpochBasedTrainLoop` restores
    them, per rank, where the saved run stood.

    The states are recorded before the checkpoint hook saves (priority
    NORMAL); mmengine saves on rank 0 only, so in distributed training they
    are gathered every iteration (two small collectives).
    """

    priority = 'NORMAL'

    def after_train_iter(self, runner, batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Record the states, a list indexed by rank."""
        state = get_random_state()
        states = all_gather_object(state) if is_distributed() else [state]
        runner.message_hub.update_info(RANDOM_STATES_KEY, states)

    def before_val(self, runner) -> None:
        """Keep the states validation would move (its data loader draws a
        seed)."""
        self._before_val = get_random_state()

    def after_val(self, runner) -> None:
        """Restore the states of :meth:`before_val`."""
        state = getattr(self, '_before_val', None)
        if state is not None:
            set_random_state(state)
            self._before_val = None
