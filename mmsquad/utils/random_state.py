"""Capture and restore every random generator a training step draws from."""
import random

import numpy as np
import torch

RandomState = dict


def get_random_state() -> RandomState:
    """The states of Python's, numpy's and torch's global generators (and
    CUDA's where present)."""
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: RandomState) -> None:
    """Restore what :func:`get_random_state` captured."""
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])
