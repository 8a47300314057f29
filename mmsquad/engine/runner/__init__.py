"""Training loops."""
from .loops import ExactResumeEpochBasedTrainLoop

__all__ = ['ExactResumeEpochBasedTrainLoop']
