"""Shared fixtures: registered modules and a small rendered dataset."""
import os.path as osp

import pytest

from mmsquad.datasets.synthetic import make_pascal_mt_demo
from mmsquad.utils import register_all_modules

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY_CONFIG = osp.join(REPO, 'tests', 'configs', 'tiny_demo.py')

register_all_modules()


@pytest.fixture(scope='session')
def demo_root(tmp_path_factory) -> str:
    """A PASCAL_MT-layout dataset of 8 train and 4 val 32x32 images."""
    root = str(tmp_path_factory.mktemp('PASCAL_MT_demo'))
    make_pascal_mt_demo(root, num_train=8, num_val=4, size=32, seed=1,
                        person_prob=0.7)
    return root
