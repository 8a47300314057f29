"""Deployment: the export graph of a multi-task model and ONNX export."""
from .onnx_export import (ExportableMultiTaskModel, export_onnx,
                          onnx_relative_errors)

__all__ = ['ExportableMultiTaskModel', 'export_onnx', 'onnx_relative_errors']
