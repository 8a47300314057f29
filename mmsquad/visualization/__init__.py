"""Visualisation of multi-task predictions."""
from .colorize import colorize, voc_palette
from .multitask_visualizer import MultiTaskVisualizer

__all__ = ['MultiTaskVisualizer', 'colorize', 'voc_palette']
