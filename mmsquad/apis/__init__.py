"""User-facing inference: building a trained model, the inferencer."""
from .inference import init_model
from .multitask_inferencer import MultiTaskInferencer

__all__ = ['MultiTaskInferencer', 'init_model']
