"""Visualization."""
from .multitask_visualizer import MultiTaskVisualizer, class_names

__all__ = ['MultiTaskVisualizer', 'class_names']
