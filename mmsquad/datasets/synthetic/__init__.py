"""Procedurally rendered demo datasets."""
from .pascal_mt_demo import make_pascal_mt_demo
from .underwater_demo import make_underwater_demo

__all__ = ['make_pascal_mt_demo', 'make_underwater_demo']
