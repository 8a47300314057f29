"""Hooks."""
from .checkpoint_fit_hook import CheckpointFitHook
from .grad_conflict_hook import GradConflictHook
from .non_finite_loss_hook import NonFiniteLossHook
from .progress_logger_hook import ProgressLoggerHook
from .random_state_hook import RandomStateHook
from .safe_checkpoint_hook import SafeCheckpointHook
from .single_sample_batch_hook import SingleSampleBatchHook
from .task_agreement_hook import TaskAgreementHook
from .visualization_hook import MultiTaskVisualizationHook

__all__ = [
    'CheckpointFitHook', 'GradConflictHook', 'NonFiniteLossHook',
    'ProgressLoggerHook',
    'RandomStateHook', 'SafeCheckpointHook', 'SingleSampleBatchHook',
    'TaskAgreementHook',
    'MultiTaskVisualizationHook']
