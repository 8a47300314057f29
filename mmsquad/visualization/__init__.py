"""Visualization."""
from .multitask_visualizer import MultiTaskVisualizer

__all__ = ['MultiTaskVisualizer']
