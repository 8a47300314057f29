"""Training loops."""
from .loops import (ExactResumeEpochBasedTrainLoop,
                    ExactResumeIterBasedTrainLoop)

__all__ = ['ExactResumeEpochBasedTrainLoop', 'ExactResumeIterBasedTrainLoop']
