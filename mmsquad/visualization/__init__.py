"""Visualisation of multi-task predictions."""
from .colorize import colorize, voc_palette
from .multitask_visualizer import MultiTaskVisualizer, draw_boxes

__all__ = ['MultiTaskVisualizer', 'colorize', 'draw_boxes', 'voc_palette']
