"""Procedurally rendered demo datasets, and random data in other
packages' layouts."""
from .dataset_layouts import (make_coco_detection, make_nyud_mt,
                              make_pascal_context_59)
from .pascal_mt_demo import make_pascal_mt_demo
from .underwater_demo import make_underwater_demo

__all__ = ['make_coco_detection', 'make_nyud_mt', 'make_pascal_context_59',
           'make_pascal_mt_demo', 'make_underwater_demo']
